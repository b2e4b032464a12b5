/**
 * systemd's notification protocol (sd_notify): `READY=1` once devices can be served,
 * `STOPPING=1` when the graceful shutdown starts, and `WATCHDOG=1` keep-alives at half the
 * interval systemd gives in `WATCHDOG_USEC`, sent from a timer so that they stop when the event
 * loop is wedged and systemd restarts the service (`WatchdogSec=` in the unit).
 *
 * Each message is one datagram to the unix socket named by `NOTIFY_SOCKET`. Deno cannot send from
 * an unbound socket under scoped permissions, so the sender binds a socket file of its own in the
 * unit's `RuntimeDirectory` (`RUNTIME_DIRECTORY`); Deno cannot address abstract (`@…`) sockets at
 * all, so such a `NOTIFY_SOCKET` is reported once and notification stays off.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { errorMessage } from "../errors.ts";

/** Environment names systemd sets for notification (the permission set must let serve read them). */
export const NOTIFY_ENV = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "RUNTIME_DIRECTORY"];

/** Where and how often to notify, from systemd's environment. */
export interface NotifySettings {
  /** The socket file systemd listens on. */
  socket: string;
  /** The socket file this process binds to send from (`RUNTIME_DIRECTORY/notify.sock`). */
  sender?: string;
  /** Keep-alive period (half of `WATCHDOG_USEC`), or undefined when the watchdog is off. */
  watchdogMs?: number;
}

/** The sender's socket file in a runtime directory. */
export function senderPath(runtimeDir: string): string {
  return `${runtimeDir.replace(/\/$/, "")}/notify.sock`;
}

/**
 * Reads systemd's environment: undefined when not started by systemd with `Type=notify`, an
 * `{ off }` reason when notification cannot work here.
 */
export function notifySettings(
  env: (name: string) => string | undefined,
  pid: number,
): NotifySettings | { off: string } | undefined {
  const socket = env("NOTIFY_SOCKET");
  if (!socket) return undefined;
  if (socket.startsWith("@") || socket.startsWith("\0")) {
    return { off: `NOTIFY_SOCKET ${socket} is an abstract socket, which Deno cannot address` };
  }
  const runtimeDir = env("RUNTIME_DIRECTORY")?.split(":")[0];
  const usec = Number(env("WATCHDOG_USEC"));
  const watchPid = env("WATCHDOG_PID");
  const forUs = watchPid === undefined || watchPid === "" || Number(watchPid) === pid;
  return {
    socket,
    sender: runtimeDir ? senderPath(runtimeDir) : undefined,
    watchdogMs: Number.isFinite(usec) && usec > 0 && forUs
      ? Math.max(1, Math.floor(usec / 2000))
      : undefined,
  };
}

/** Sends notifications to systemd. */
export interface Notifier {
  /** Sends one message (`READY=1`, `STATUS=…`); a failure is logged, never thrown. */
  send(message: string): Promise<void>;
  /** Stops the keep-alives and closes the socket. Idempotent. */
  close(): void;
}

/** A notifier that sends nothing (not under systemd). */
export const NO_NOTIFIER: Notifier = { send: () => Promise.resolve(), close() {} };

/**
 * Opens the sender socket and starts the watchdog keep-alives. Failures are logged once and give a
 * notifier that sends nothing: notification is systemd's convenience, never a reason not to serve.
 */
export function openNotifier(settings: NotifySettings, log: Logger): Notifier {
  let conn: Deno.DatagramConn;
  try {
    if (settings.sender) {
      // A file left by a killed predecessor would make the bind fail.
      try {
        Deno.removeSync(settings.sender);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    // Without a runtime directory: an autobound socket (needs unrestricted permissions).
    conn = Deno.listenDatagram({ transport: "unixpacket", path: settings.sender ?? "" });
  } catch (e) {
    log.warn("systemd notification off: cannot open a socket to send from", {
      sender: settings.sender ?? "(autobind; set RuntimeDirectory= in the unit)",
      error: errorMessage(e),
    });
    return NO_NOTIFIER;
  }
  const target: Deno.UnixAddr = { transport: "unixpacket", path: settings.socket };
  const encoder = new TextEncoder();
  let closed = false;
  let warned = false;
  const send = async (message: string) => {
    if (closed) return;
    try {
      await conn.send(encoder.encode(message), target);
    } catch (e) {
      if (warned) return;
      warned = true;
      log.warn("systemd notification failed", {
        socket: settings.socket,
        error: errorMessage(e),
      });
    }
  };
  // The keep-alive is a plain timer: it fires only while the event loop turns.
  const timer = settings.watchdogMs === undefined
    ? undefined
    : setInterval(() => void send("WATCHDOG=1"), settings.watchdogMs);
  return {
    send,
    close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      conn.close();
      if (settings.sender) {
        try {
          Deno.removeSync(settings.sender);
        } catch {
          // gone already, or the directory was removed by systemd
        }
      }
    },
  };
}

/** The notifier for this process: from systemd's environment, or one that sends nothing. */
export function notifierFromEnv(
  env: (name: string) => string | undefined,
  log: Logger,
  pid: number = Deno.pid,
): Notifier {
  const settings = notifySettings(env, pid);
  if (settings === undefined) return NO_NOTIFIER;
  if ("off" in settings) {
    log.warn("systemd notification off", { reason: settings.off });
    return NO_NOTIFIER;
  }
  return openNotifier(settings, log);
}
