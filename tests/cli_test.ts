/**
 * The command-line contract, as an installer uses it: `serve` on a free port with the embedded
 * database and the demo catalogue, the `device` simulator against it, the lock that keeps a second
 * process out, graceful stop on SIGTERM, and `devices`.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** Reads JSON log lines from a child's stdout until `predicate` matches one. */
async function waitForLine(
  reader: ReadableStreamDefaultReader<string>,
  predicate: (line: Record<string, unknown>) => boolean,
  seen: string[],
): Promise<Record<string, unknown>> {
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`process ended before the expected line:\n${seen.join("\n")}`);
    buffered += value;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      seen.push(line);
      try {
        const parsed = JSON.parse(line);
        if (predicate(parsed)) return parsed;
      } catch {
        // not a log line
      }
    }
  }
}

Deno.test("serve, simulator, lock, SIGTERM and devices from the command line", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "newretail-cli-" });
  const env = { NEWRETAIL_ADMIN: "false", NEWRETAIL_DISCOVERY: "false", DATABASE_URL: "" };
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      MAIN,
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--state-dir",
      stateDir,
    ],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const seen: string[] = [];
  try {
    const started = await waitForLine(reader, (l) => l.msg === "newretail started", seen);
    assertEquals(started.database, "pglite");
    const port = Number(started.port);
    assert(port > 0, "port 0 picks a free port, and the log says which");
    assert(seen.some((l) => l.includes("demo catalogue")), "a new embedded database gets the demo");

    const label = await run([
      "device",
      "--port",
      String(port),
      "--equip",
      "DZBQ_0001",
      "getGoods",
      "mac_id=AC:23:3F:00:00:01",
    ]);
    assertEquals(label.code, 0, label.stderr);
    assert(label.stdout.includes('"name": "红富士苹果"'), label.stdout);
    assert(label.stdout.includes('"getGoodsReturn"'));

    const refused = await run([
      "device",
      "--port",
      String(port),
      "--equip",
      "POS_0001",
      "getWarehouseGoods",
      "whid:=42",
    ]);
    assertEquals(refused.code, 1, "an exception is a failure");
    assert(refused.stdout.includes("unknown warehouse: 42"));

    const locked = await run(["seed-demo", "--state-dir", stateDir], env);
    assertEquals(locked.code, 1);
    assertEquals(locked.stderr.trim().split("\n").length, 1, locked.stderr);
    assert(locked.stderr.includes("in use by another newretail process"), locked.stderr);

    server.kill("SIGTERM");
    await waitForLine(reader, (l) => l.msg === "stopped", seen);
    assertEquals((await server.status).code, 0);

    const list = await run(["devices", "list", "--state-dir", stateDir], env);
    assertEquals(list.code, 0, list.stderr);
    const row = list.stdout.split("\n").find((l) => l.startsWith("DZBQ_0001"));
    assert(row, list.stdout);
    assertEquals(
      row.split("\t").slice(0, 4),
      ["DZBQ_0001", "DZBQ", "yes", "no"],
      "offline after stop",
    );

    const disable = await run(["devices", "disable", "DZBQ_0001", "--state-dir", stateDir], env);
    assertEquals([disable.code, disable.stdout.trim()], [0, "DZBQ_0001 disabled"]);
    const bad = await run(["devices", "disable", "not a device", "--state-dir", stateDir], env);
    assertEquals(bad.code, 2);
  } finally {
    try {
      server.kill("SIGKILL");
    } catch {
      // already stopped
    }
    await reader.cancel();
    await server.stderr.cancel();
    await server.status;
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("a listing on a state directory where nothing has run says so and makes no database", async () => {
  const parent = await Deno.makeTempDir({ prefix: "newretail-cli-empty-" });
  const stateDir = `${parent}/store`;
  const env = { DATABASE_URL: "", NEWRETAIL_ADMIN: "false" };
  try {
    for (
      const args of [
        ["devices", "list"],
        ["outbox", "list"],
        ["positions", "list"],
        ["prices", "list"],
        ["stock", "show", "1"],
      ]
    ) {
      const listed = await run([...args, "--state-dir", stateDir], env);
      assertEquals(listed.code, 1, `${args.join(" ")}: ${listed.stderr}`);
      assertEquals(
        listed.stderr,
        `no store database in ${stateDir}: the appliance makes it at its first start ` +
          "(newretail serve); is this the state directory it runs with?\n",
      );
      const made = await Deno.stat(`${stateDir}/db`).then(() => true, () => false);
      assert(!made, `${args.join(" ")} made a database in ${stateDir}`);
    }
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("device simulator: unreachable server and bad arguments fail with one line", async () => {
  const unreachable = await run([
    "device",
    "--port",
    "1",
    "--equip",
    "POS_0001",
    "getGoods",
    "gid=1",
  ]);
  assertEquals(unreachable.code, 1);
  assert(unreachable.stderr.startsWith("cannot log in to 127.0.0.1:1"), unreachable.stderr);
  const noEquip = await run(["device", "getGoods"]);
  assertEquals(noEquip.code, 2);
  assert(noEquip.stderr.includes("--equip"));
  const badJson = await run(["device", "--equip", "POS_0001", "getGoods", "gid:=[1,"]);
  assertEquals(badJson.code, 2);
});

Deno.test("an invalid configuration stops start-up with one line naming the key", async () => {
  const result = await run(["serve", "--port", "0"], { NEWRETAIL_HEARTBEAT_INTERVAL_S: "-3" });
  assertEquals(result.code, 1);
  assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
  assert(result.stderr.startsWith("invalid config: heartbeatIntervalS:"), result.stderr);
});
