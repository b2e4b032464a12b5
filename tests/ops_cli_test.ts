/**
 * `check-config` and start-up with a bad configuration, as processes under the appliance's own
 * permission flags: one line naming the key on stderr and a non-zero exit; a good configuration is
 * printed with its secrets masked.
 */
import assert from "node:assert/strict";
import { REPO, run } from "./_support/release.ts";
import { baseEnv } from "./_support/appliance_process.ts";

function newretail(args: string[], env: Record<string, string>) {
  return run("deno", ["run", "-P=appliance", "main.ts", ...args], {
    env: { ...baseEnv(), ...env },
    cwd: REPO,
  });
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "" && !/experimental feature/.test(l));
}

Deno.test("check-config prints the effective config with secrets masked", async () => {
  const r = await newretail(["check-config"], {
    NEWRETAIL_PORT: "9100",
    DATABASE_URL: "postgres://app:s3cret@db.local:5432/newretail",
    NEWRETAIL_MQTT_PASSWORD: "brokerpw",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes("s3cret") && !r.stdout.includes("brokerpw"));
  const printed = JSON.parse(r.stdout);
  assert.equal(printed.config.port, 9100);
  assert.equal(printed.config.databaseUrl, "postgres://app:***@db.local:5432/newretail");
  assert.equal(printed.config.mqttPassword, "***");
  assert.deepEqual(printed.sources, [
    "defaults",
    "env NEWRETAIL_PORT",
    "env DATABASE_URL",
    "env NEWRETAIL_MQTT_PASSWORD",
  ]);
});

Deno.test("check-config and serve refuse a bad value with one line naming the key", async (t) => {
  const cases: [Record<string, string>, string][] = [
    [{ NEWRETAIL_PORT: "80860" }, "invalid config: port: "],
    [{ NEWRETAIL_BYTE_ORDER: "middle" }, "invalid config: byteOrder: "],
    [{ NEWRETAIL_PAYMENT_SERVER_URL: "pay.example.com" }, "invalid config: paymentServerUrl: "],
    [{ NEWRETAIL_REQUEST_TIMEOUT_S: "-1" }, "invalid config: requestTimeoutS: "],
    [{ DATABASE_URL: "postgres//u:hunter2@db/x" }, "invalid config: databaseUrl: "],
  ];
  for (const [env, prefix] of cases) {
    for (const command of ["check-config", "serve"]) {
      await t.step(`${command} ${Object.keys(env)[0]}`, async () => {
        const r = await newretail([command], env);
        assert.equal(r.code, 1);
        const err = lines(r.stderr);
        assert.equal(err.length, 1, r.stderr);
        assert.ok(err[0].startsWith(prefix), err[0]);
        assert.ok(!r.stderr.includes("hunter2"));
        assert.equal(r.stdout, "", "serve did not start");
      });
    }
  }
  await t.step("an unreadable --config file", async () => {
    const r = await newretail(["check-config", "--config", "/nonexistent/config.json"], {});
    assert.equal(r.code, 1);
    assert.match(
      lines(r.stderr)[0],
      /^invalid config: config: cannot read \/nonexistent\/config.json/,
    );
  });
});

Deno.test("permissions follow the command and the configuration", async () => {
  const serve = await newretail(["permissions", "--", "serve", "--port", "9100"], {
    NEWRETAIL_DISCOVERY: "off",
    NEWRETAIL_PAYMENT_SERVER_URL: "https://pay.example.com/orders",
  });
  assert.equal(serve.code, 0, serve.stderr);
  const flags = serve.stdout.trim().split("\n");
  assert.equal(flags[0], "--allow-net=0.0.0.0:9100,127.0.0.1:8687,pay.example.com:443");
  assert.ok(flags.some((f) => f.startsWith("--allow-write=./data")));
  const device = await newretail([
    "permissions",
    "--",
    "device",
    "--port",
    "1",
    "--equip",
    "X",
    "health",
  ], {
    NEWRETAIL_DISCOVERY: "off",
  });
  assert.equal(device.stdout.split("\n")[0], "--allow-net", "the simulator connects anywhere");
  const help = await newretail(["permissions", "--", "--help"], {});
  assert.match(help.stdout, /^--allow-/, "after --, --help belongs to the command run next");
});
