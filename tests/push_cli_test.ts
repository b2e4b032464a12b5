/**
 * The operator commands `push-goods`, `refill` and `device discover`, run as real processes
 * against a running appliance (PostgreSQL), and `push-goods` recorded while the embedded
 * appliance is stopped and pushed when it starts (PGlite).
 */
import assert from "node:assert/strict";
import { type Appliance, startAppliance } from "../src/app.ts";
import { type Config, defaultConfig } from "../src/config/config.ts";
import { createMemoryLogger } from "../src/log.ts";
import { DeviceClient, parseBody } from "../src/device/client.ts";
import { testPostgresUrl } from "./_support/databases.ts";
import { startTestAppliance } from "./_support/appliance.ts";

const MAC1 = "AC:23:3F:00:00:01";
const MAIN = new URL("../main.ts", import.meta.url).pathname;

function testConfig(overrides: Partial<Config>): Config {
  return {
    ...defaultConfig(),
    host: "127.0.0.1",
    port: 0,
    discoveryPort: 0,
    adminEnabled: false,
    pushTimeoutS: 2,
    heartbeatIntervalS: 600,
    ...overrides,
  };
}

async function cli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NEWRETAIL_LOG_LEVEL: "warn", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

function login(app: Appliance, equipId: string) {
  return DeviceClient.login({ host: "127.0.0.1", port: app.server.addr.port, equipId });
}

const pgUrl = testPostgresUrl();
if (pgUrl) {
  Deno.test("push-goods, refill and device discover against a running appliance", async (t) => {
    const test = await startTestAppliance("postgres", {
      config: { discoveryEnabled: true, discoveryPort: 0, pushTimeoutS: 2 },
    });
    const app = test.app;
    const env = { DATABASE_URL: test.config.databaseUrl };
    const label = await test.device("DZBQ_0001");
    const agv = await test.device("AGV_0001");
    try {
      await label.request("getGoods", { mac_id: MAC1 }, { encoding: "gbk" });

      await t.step("positions set and list", async () => {
        const set = await cli(
          [
            "positions",
            "set",
            "--gid",
            "3",
            "--stock",
            "B,1,2",
            "--shelf",
            "A,3,1",
            "--capacity",
            "12",
          ],
          env,
        );
        assert.equal(set.code, 0, set.text);
        const badCapacity = await cli(
          [
            "positions",
            "set",
            "--gid",
            "3",
            "--stock",
            "B,1,2",
            "--shelf",
            "A,3,1",
            "--capacity",
            "0",
          ],
          env,
        );
        assert.equal(badCapacity.code, 2);
        assert.match(badCapacity.text, /--capacity must be a quantity > 0 or "default", got 0/);
        const bad = await cli([
          "positions",
          "set",
          "--gid",
          "3",
          "--stock",
          "B,1",
          "--shelf",
          "A,3,1",
        ], env);
        assert.equal(bad.code, 2);
        assert.match(bad.text, /--stock must be AISLE,SHELF,HEIGHT/);
        const unknown = await cli(
          ["positions", "set", "--gid", "999999", "--stock", "B,1,2", "--shelf", "A,3,1"],
          env,
        );
        assert.equal(unknown.code, 1);
        assert.match(unknown.text, /unknown goods/);
        const list = await cli(["positions", "list"], env);
        assert.equal(list.code, 0, list.text);
        assert.match(list.text, /^3\t\S+\tB,1,2\tA,3,1\tdefault \(0\)\t9\.750$/m);
      });

      await t.step("push-goods --gid 1 pushes to the label and reports done", async () => {
        const run = cli(["push-goods", "--gid", "1", "--wait", "20"], env);
        const push = await label.nextPush("sendGoods", 20_000);
        const goods = parseBody(push.body, "gbk")?.goods as { gid: number; mac: string }[];
        assert.deepEqual(goods.map((g) => [g.gid, g.mac]), [[1, MAC1]]);
        label.acknowledge("sendGoods");
        const { code, text } = await run;
        assert.equal(code, 0, text);
        assert.match(text, /1 goods marked for push/);
        assert.match(text, /fanned out 1\/1 goods/);
        assert.match(text, /done: delivered to the online devices/);
      });

      await t.step("push-goods refuses bad arguments", async () => {
        const none = await cli(["push-goods"], env);
        assert.equal(none.code, 2);
        assert.match(none.text, /give --gid N or --all/);
        const bad = await cli(["push-goods", "--gid", "x"], env);
        assert.equal(bad.code, 2);
        const unknown = await cli(["push-goods", "--gid", "999999", "--wait", "0"], env);
        assert.equal(unknown.code, 1);
        assert.match(unknown.text, /no such goods/);
      });

      await t.step("refill --gid 3 is acknowledged by the AGV", async () => {
        const run = cli(["refill", "--gid", "3", "--wait", "20"], env);
        const offer = await agv.nextPush("sendPosition", 20_000);
        assert.equal(offer.json?.gid, 3);
        assert.equal(offer.json?.qty, "2.25"); // up to the capacity 12 from 9.75 kg
        agv.acknowledge("sendPosition");
        const { code, text } = await run;
        assert.equal(code, 0, text);
        assert.match(text, /refill job \d+ opened for goods 3/);
        assert.match(text, /acknowledged by AGV_0001/);
        const nopos = await cli(["refill", "--gid", "4", "--wait", "0"], env);
        assert.equal(nopos.code, 1);
        assert.match(nopos.text, /no position for goods 4/);
      });

      await t.step("device discover finds the appliance", async () => {
        const port = String(app.discovery!.addr.port);
        const { code, text } = await cli([
          "device",
          "discover",
          "--broadcast",
          "127.0.0.1",
          "--port",
          port,
        ]);
        assert.equal(code, 0, text);
        assert.match(
          text,
          new RegExp(`connect to 127\\.0\\.0\\.1:${app.server.addr.port}\\tshop shop0001`),
        );
        assert.match(text, /1 appliance\(s\) answered/);
      });
    } finally {
      await test.stop();
    }
  });
}

Deno.test("push-goods --all while the embedded appliance is stopped: pushed when it starts", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "newretail-pushcli-" });
  const config = testConfig({ stateDir, databaseUrl: "" });
  try {
    let app = await startAppliance({
      config,
      configSources: ["test"],
      log: createMemoryLogger("warn"),
    });
    let label = await login(app, "DZBQ_0001");
    await label.request("getGoods", { mac_id: MAC1 }, { encoding: "gbk" });
    await label.close();
    await app.shutdown();

    const { code, text } = await cli([
      "push-goods",
      "--all",
      "--wait",
      "0",
      "--state-dir",
      stateDir,
    ], { DATABASE_URL: "" });
    assert.equal(code, 0, text);
    assert.match(text, /20 goods marked for push/);
    assert.match(text, /the appliance is not running: they are pushed when it starts/);

    app = await startAppliance({
      config,
      configSources: ["test"],
      log: createMemoryLogger("warn"),
    });
    try {
      label = await login(app, "DZBQ_0001");
      const push = await label.nextPush("sendGoods", 20_000);
      const goods = parseBody(push.body, "gbk")?.goods as { gid: number; mac: string }[];
      assert.deepEqual(goods.map((g) => [g.gid, g.mac]), [[1, MAC1]]);
      label.acknowledge("sendGoods");
      await label.close();
    } finally {
      await app.shutdown();
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
