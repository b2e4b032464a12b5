/**
 * The device TCP server (`node:net`, see session.ts for why): accept, connection cap, one {@link Session} per connection, the
 * registry of logged-in devices, heartbeats, login timeouts and graceful shutdown. It is also the
 * {@link DeviceLink} through which pushes reach devices.
 *
 * @module
 */
import { createServer, type Server, type Socket } from "node:net";
import type { DeviceLoginEvent, DeviceOfflineEvent } from "../events.ts";
import type { DeviceIdentity, DeviceLink, PushOptions, PushOutcome } from "../device_link.ts";
import { DEVICE_LOGIN_EVENT, DEVICE_OFFLINE_EVENT } from "../events.ts";
import type { MetricsRegistry } from "../metrics.ts";
import { encodeBody, type JsonObject } from "../protocol/body.ts";
import { markOffline, touchDevices } from "../store/devices.ts";
import { dispatch, type DispatchDeps } from "./dispatch.ts";
import { SessionRegistry } from "./registry.ts";
import { type CloseReason, Session, type SessionHooks } from "./session.ts";
import { createServerMetrics, type ServerMetrics } from "./server_metrics.ts";
import { errorMessage } from "../errors.ts";
import { Deadlines, waitAtMost } from "../deadline.ts";

/** What the server is built from (all passed in: two servers can run in one process). */
export interface DeviceServerDeps extends Omit<DispatchDeps, "metrics" | "deadlines"> {
  /** The server registers its own metrics here (dispatch gets them made). */
  metrics: MetricsRegistry;
}

// How often `last_seen_at` of active devices is written: one batched UPDATE, not one per frame.
const TOUCH_INTERVAL_MS = 30_000;
// Devices per `last_seen_at` UPDATE.
const TOUCH_SLICE = 250;
// A refused-connection storm is logged once per interval with a count, not once per connection.
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * TEST ONLY, NEVER IN A STORE: set to `1`, the heartbeat still goes out but never closes a
 * connection, however many `healthReturn`s are missing. The fault lab's `--guard-off` run of the
 * network scenario sets it to show that the lab then finds dead connections left open and their
 * sessions leaked (docs/FAULTS.md). Read here and nowhere else; the server logs a warning when it
 * is on.
 */
export const UNSAFE_NO_HEARTBEAT_CLOSE_SWITCH = "NEWRETAIL_FAULT_LAB_UNSAFE_NO_HEARTBEAT_CLOSE";

/** True when the fault lab turned the heartbeat's close off ({@link UNSAFE_NO_HEARTBEAT_CLOSE_SWITCH}). */
function heartbeatCloseTurnedOff(): boolean {
  try {
    return Deno.env.get(UNSAFE_NO_HEARTBEAT_CLOSE_SWITCH) === "1";
  } catch {
    return false; // no permission to read it: a store's scoped environment, so it is not set
  }
}

/** The running device server. Create with {@link DeviceServer.listen}. */
export class DeviceServer implements DeviceLink {
  readonly #deps: DeviceServerDeps;
  readonly #listener: Server;
  readonly #addr: Deno.NetAddr;
  readonly #sessions = new Set<Session>();
  readonly #registry = new SessionRegistry<Session>();
  readonly #metrics: ServerMetrics;
  readonly #dispatchDeps: DispatchDeps;
  readonly #hooks: SessionHooks;
  readonly #offlineWrites = new Set<Promise<void>>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #lastTouch: number;
  #refusedSinceLog = 0;
  #lastRefusalLog = -Infinity;
  #stopping = false;
  #touching: Promise<void> | undefined;
  readonly #closeDeadConnections = !heartbeatCloseTurnedOff();

  private constructor(deps: DeviceServerDeps, listener: Server, addr: Deno.NetAddr) {
    this.#deps = deps;
    this.#listener = listener;
    this.#addr = addr;
    this.#lastTouch = deps.clock.monotonic();
    this.#metrics = createServerMetrics(deps.metrics, {
      open: () => this.#sessions.size,
      loggedInByKind: () => {
        const counts = new Map<string, number>();
        for (const s of this.#registry.values()) {
          const kind = s.device?.kind ?? "OTHER";
          counts.set(kind, (counts.get(kind) ?? 0) + 1);
        }
        return counts;
      },
    });
    this.#dispatchDeps = { ...deps, metrics: this.#metrics, deadlines: new Deadlines() };
    this.#hooks = {
      handle: (session, frame) => dispatch(this.#dispatchDeps, session, frame),
      onLogin: (session, device) => this.#onLogin(session, device),
      takeOver: (session, equipId, generation) => this.#takeOver(session, equipId, generation),
      onClose: (session, reason) => this.#onClose(session, reason),
      onProtocolError: (session, error) => {
        this.#metrics.protocolErrors.inc({ reason: error.reason });
        session.log.warn("protocol error, closing connection", {
          reason: error.reason,
          detail: error.message,
        });
      },
    };
  }

  /**
   * Listens on the configured host and port and starts accepting.
   *
   * @example
   * ```ts
   * const server = await DeviceServer.listen({ db, config, clock, log, actions, events, metrics });
   * console.log(server.addr.port);
   * await server.shutdown();
   * ```
   */
  static async listen(deps: DeviceServerDeps): Promise<DeviceServer> {
    const listener = createServer({ noDelay: true, allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen({ host: deps.config.host, port: deps.config.port, backlog: 4096 }, () => {
        listener.removeListener("error", reject);
        resolve();
      });
    });
    const address = listener.address() as { address: string; port: number };
    const server = new DeviceServer(deps, listener, {
      transport: "tcp",
      hostname: address.address,
      port: address.port,
    });
    listener.on("connection", (socket: Socket) => server.#accept(socket));
    // EMFILE and friends: log the message only (printing its stack has crashed Deno).
    listener.on("error", (e: Error) => deps.log.error("accept failed", { error: e.message }));
    if (!server.#closeDeadConnections) {
      deps.log.warn("TEST ONLY: dead connections are never closed by the heartbeat", {
        switch: UNSAFE_NO_HEARTBEAT_CLOSE_SWITCH,
      });
    }
    server.#startSweeper();
    return server;
  }

  /** The address listened on (the real port when configured as 0). */
  get addr(): Deno.NetAddr {
    return this.#addr;
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.#sessions.size;
  }

  #accept(socket: Socket): void {
    const { config, log } = this.#deps;
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    this.#metrics.connectionsTotal.inc();
    if (this.#sessions.size >= config.maxConnections) {
      this.#refuse(socket);
      return;
    }
    const session = new Session(socket, this.#hooks, {
      decoder: {
        byteOrder: config.byteOrder,
        limits: {
          minHeaderBytes: 2,
          maxHeaderBytes: config.maxHeaderBytes,
          maxBodyBytes: config.maxBodyBytes,
        },
      },
      writeQueueBytes: config.writeQueueBytes,
      uniqueIdMode: config.uniqueIdMode,
      pushTimeoutMs: config.pushTimeoutS * 1000,
      clock: this.#deps.clock,
    }, log);
    this.#sessions.add(session);
    session.log.info("connected");
  }

  #refuse(socket: Socket): void {
    this.#metrics.connectionsRefused.inc();
    socket.on("error", () => {});
    socket.destroy();
    this.#refusedSinceLog++;
    const now = this.#deps.clock.monotonic();
    if (now - this.#lastRefusalLog >= REFUSAL_LOG_INTERVAL_MS) {
      this.#deps.log.warn("connection cap reached, refusing connections", {
        maxConnections: this.#deps.config.maxConnections,
        refused: this.#refusedSinceLog,
      });
      this.#refusedSinceLog = 0;
      this.#lastRefusalLog = now;
    }
  }

  #takeOver(session: Session, equipId: string, generation: number): boolean {
    const current = this.#registry.get(equipId);
    if (current && current !== session && current.loginGeneration > generation) {
      // Two logins at once whose replies came back from the store out of order: the newer
      // generation (the one the store's row names) keeps the device.
      session.log.info("login lost to a newer login of the same device", { newer: current.peer });
      session.close("taken_over");
      return false;
    }
    if (session.device && session.device.equipId !== equipId) {
      // The same connection logs in under another name: the first identity ends here.
      this.#registry.release(session.device.equipId, session);
      this.#recordOffline(session.device.equipId, session.loginGeneration);
    }
    const older = this.#registry.takeOver(equipId, session);
    if (older) session.log.info("login takes over an older connection", { older: older.peer });
    return true;
  }

  #onLogin(session: Session, device: DeviceIdentity): void {
    this.#metrics.logins.inc({ kind: device.kind });
    session.log.info("logged in", { kind: device.kind });
    const detail: DeviceLoginEvent = { equipId: device.equipId, kind: device.kind };
    this.#deps.events.emit(DEVICE_LOGIN_EVENT, detail);
  }

  #onClose(session: Session, reason: CloseReason): void {
    this.#sessions.delete(session);
    this.#metrics.disconnects.inc({ reason });
    const fields = { reason, loggedIn: session.device !== undefined };
    if (
      reason === "peer_closed" || reason === "logout" || reason === "shutdown" ||
      reason === "disabled"
    ) {
      session.log.info("disconnected", fields);
    } else {
      session.log.warn("disconnected", fields);
    }
    if (session.device) {
      this.#registry.release(session.device.equipId, session);
      this.#recordOffline(session.device.equipId, session.loginGeneration);
    }
  }

  #recordOffline(equipId: string, generation: number): void {
    if (generation === 0) return;
    const write = markOffline(this.#deps.db, equipId, generation, new Date(this.#deps.clock.now()))
      .then(() => {
        const detail: DeviceOfflineEvent = { equipId };
        this.#deps.events.emit(DEVICE_OFFLINE_EVENT, detail);
      }, (e) => {
        this.#deps.log.warn("could not mark device offline", {
          equipId,
          error: errorMessage(e),
        });
      });
    this.#offlineWrites.add(write);
    write.finally(() => this.#offlineWrites.delete(write));
  }

  #startSweeper(): void {
    const { config } = this.#deps;
    // Fine enough for the shortest configured timeout, and 10 times a second at least: the
    // heartbeats due in one tick go out together, and with 10,000 devices on a 10 s interval a
    // 1 s tick sent 1,000 health frames (and took 1,000 replies) in one burst, which was the
    // open-loop p99 (bench/RESULTS.md). Each tick is a pass over the sessions: cheap.
    const tickMs = Math.max(
      10,
      Math.min(
        100,
        config.heartbeatIntervalS * 250,
        config.loginTimeoutS * 250,
        config.frameTimeoutS * 250,
      ),
    );
    this.#sweeper = setInterval(() => this.#sweep(), tickMs);
  }

  // Durations all (heartbeats, login and frame timeouts): elapsed time, never the wall clock (a
  // wall clock stepped a day back silenced every heartbeat for that day; the clock lab scenario).
  #sweep(): void {
    const { config, clock } = this.#deps;
    const now = clock.monotonic();
    const loginTimeoutMs = config.loginTimeoutS * 1000;
    const heartbeatMs = config.heartbeatIntervalS * 1000;
    const frameTimeoutMs = config.frameTimeoutS * 1000;
    for (const session of this.#sessions) {
      if (session.closed) continue;
      const partialSince = session.partialFrameSince;
      if (partialSince !== undefined && now - partialSince >= frameTimeoutMs) {
        session.log.warn("frame not completed in time, closing connection", {
          frameTimeoutS: config.frameTimeoutS,
        });
        session.close("frame_timeout");
        continue;
      }
      if (!session.device) {
        if (now - session.connectedAt >= loginTimeoutMs) {
          session.close("login_timeout");
        }
        continue;
      }
      if (now - session.lastHeartbeatAt < heartbeatMs) continue;
      if (session.missedHeartbeats >= config.heartbeatMisses && this.#closeDeadConnections) {
        session.log.warn("no healthReturn, closing connection", {
          missed: session.missedHeartbeats,
        });
        session.close("heartbeat_timeout");
        continue;
      }
      session.sendHeartbeat();
    }
    if (now - this.#lastTouch >= TOUCH_INTERVAL_MS) {
      this.#lastTouch = now;
      this.#touchActive(new Date(clock.now()));
    }
  }

  #touchActive(at: Date): void {
    if (this.#touching) return; // the last round is still being written: next time
    const heard: string[] = [];
    for (const session of this.#registry.values()) {
      if (!session.heardFrom || !session.device) continue;
      session.heardFrom = false;
      heard.push(session.device.equipId);
    }
    this.#touching = (async () => {
      // In slices, one after the other: the embedded database runs on this thread, and one
      // UPDATE of 10,000 rows held every device's request for ~0.3 s (open-loop p99).
      for (let i = 0; i < heard.length; i += TOUCH_SLICE) {
        await touchDevices(this.#deps.db, heard.slice(i, i + TOUCH_SLICE), at);
      }
    })().catch((e) => {
      this.#deps.log.warn("could not record last seen times", { error: errorMessage(e) });
    }).finally(() => this.#touching = undefined);
  }

  /** Pushes a frame to the device's current session and waits for its `…Return`. */
  async push(
    equipId: string,
    action: string,
    body: JsonObject | null,
    options: PushOptions = {},
  ): Promise<PushOutcome> {
    const session = this.#registry.get(equipId);
    let outcome: PushOutcome;
    if (!session || session.closed) {
      outcome = { ok: false, reason: "offline" };
    } else {
      outcome = await session.push(action, encodeBody(body, options.encoding), options.timeoutMs);
    }
    this.#metrics.pushes.inc({ action, outcome: outcome.ok ? "acknowledged" : outcome.reason });
    return outcome;
  }

  /** The logged-in devices. */
  online(): { equipId: string; kind: string }[] {
    const list: { equipId: string; kind: string }[] = [];
    for (const s of this.#registry.values()) {
      if (s.device && !s.closed) list.push({ equipId: s.device.equipId, kind: s.device.kind });
    }
    return list;
  }

  /** Closes the device's logged-in session, if any (`devices disable`); false when none. */
  disconnect(equipId: string, reason: CloseReason): boolean {
    const session = this.#registry.get(equipId);
    if (!session || session.closed) return false;
    session.log.info("closing the connection", { reason });
    session.close(reason, { flushMs: 1000 });
    return true;
  }

  /** Whether the device has a logged-in session. */
  isOnline(equipId: string): boolean {
    const session = this.#registry.get(equipId);
    return session !== undefined && !session.closed;
  }

  /**
   * Graceful shutdown: stop accepting, let in-flight requests finish (at most `graceMs`), flush and
   * close every connection, and wait until every device is marked offline. The caller closes the
   * database afterwards.
   */
  async shutdown(graceMs = 5000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#sweeper);
    const closed = new Promise<void>((resolve) => this.#listener.close(() => resolve()));
    const sessions = [...this.#sessions];
    await waitAtMost(graceMs, Promise.all(sessions.map((s) => s.settle())));
    await Promise.all(sessions.map((s) => s.close("shutdown", { flushMs: 1000 })));
    await Promise.all(this.#offlineWrites);
    await this.#touching;
    await closed;
  }
}
