import assert from "node:assert/strict";
import { createMemoryLogger } from "../log.ts";
import { notifierFromEnv, notifySettings, openNotifier, senderPath } from "./notify.ts";

/** A unix datagram socket standing in for systemd's notification socket. */
function standIn(path: string) {
  const socket = Deno.listenDatagram({ transport: "unixpacket", path });
  const decoder = new TextDecoder();
  return {
    async next(): Promise<string> {
      const [data] = await socket.receive();
      return decoder.decode(data);
    },
    close: () => socket.close(),
  };
}

Deno.test("notify settings: systemd's environment, half the watchdog interval, abstract names off", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.equal(notifySettings(env({}), 7), undefined, "not under systemd");
  assert.deepEqual(
    notifySettings(
      env({
        NOTIFY_SOCKET: "/run/systemd/notify",
        WATCHDOG_USEC: "30000000",
        WATCHDOG_PID: "7",
        RUNTIME_DIRECTORY: "/run/newretail",
      }),
      7,
    ),
    {
      socket: "/run/systemd/notify",
      sender: "/run/newretail/notify.sock",
      watchdogMs: 15_000,
    },
  );
  assert.equal(
    (notifySettings(
      env({ NOTIFY_SOCKET: "/n", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "8" }),
      7,
    ) as {
      watchdogMs?: number;
    }).watchdogMs,
    undefined,
    "the watchdog is another process's",
  );
  assert.deepEqual(notifySettings(env({ NOTIFY_SOCKET: "@sd-notify" }), 7), {
    off: "NOTIFY_SOCKET @sd-notify is an abstract socket, which Deno cannot address",
  });
  const log = createMemoryLogger();
  notifierFromEnv(env({ NOTIFY_SOCKET: "@sd-notify" }), log).close();
  assert.deepEqual(log.lines.map((l) => [l.level, l.msg, l.reason]), [[
    "warn",
    "systemd notification off",
    "NOTIFY_SOCKET @sd-notify is an abstract socket, which Deno cannot address",
  ]]);
});

Deno.test("notify: READY, WATCHDOG keep-alives and STOPPING reach the socket; close removes the sender", async () => {
  const dir = await Deno.makeTempDir({ prefix: "newretail-notify-" });
  const systemd = standIn(`${dir}/notify`);
  const log = createMemoryLogger();
  const settings = { socket: `${dir}/notify`, sender: senderPath(dir), watchdogMs: 20 };
  // A file left by a killed predecessor does not stop the next start.
  await Deno.writeTextFile(settings.sender, "stale");
  const notifier = openNotifier(settings, log);
  try {
    await notifier.send("READY=1\nSTATUS=serving");
    assert.equal(await systemd.next(), "READY=1\nSTATUS=serving");
    assert.equal(await systemd.next(), "WATCHDOG=1");
    assert.equal(await systemd.next(), "WATCHDOG=1", "repeatedly, from the timer");
    await notifier.send("STOPPING=1");
    let message = await systemd.next();
    while (message === "WATCHDOG=1") message = await systemd.next();
    assert.equal(message, "STOPPING=1");
  } finally {
    notifier.close();
    systemd.close();
  }
  await assert.rejects(Deno.stat(settings.sender), Deno.errors.NotFound);
  assert.deepEqual(log.lines.filter((l) => l.level !== "debug"), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("notify: without a runtime directory it sends from an autobound socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "newretail-notify-" });
  const systemd = standIn(`${dir}/notify`);
  const notifier = openNotifier({ socket: `${dir}/notify` }, createMemoryLogger());
  try {
    await notifier.send("READY=1");
    assert.equal(await systemd.next(), "READY=1");
  } finally {
    notifier.close();
    systemd.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("notify: a socket nobody listens on is logged once, never thrown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "newretail-notify-" });
  const log = createMemoryLogger();
  const notifier = openNotifier({ socket: `${dir}/nobody`, sender: senderPath(dir) }, log);
  try {
    await notifier.send("READY=1");
    await notifier.send("STOPPING=1");
  } finally {
    notifier.close();
  }
  assert.deepEqual(log.lines.map((l) => l.msg), ["systemd notification failed"]);
  await Deno.remove(dir, { recursive: true });
});
