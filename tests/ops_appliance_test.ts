/**
 * The appliance as it runs in a store, under exactly its permission flags, on every database
 * backend: `deno run -P=appliance main.ts serve` (deno.json's fixed set), and the bundle
 * through the installed launcher (what systemd runs), whose flags are computed from its config
 * file with discovery off, so the network permission lists hosts. A device logs in and asks for
 * goods over TCP; /healthz, /devices and /metrics must agree with that traffic; SIGTERM stops it
 * cleanly. A permission missing from either set fails here.
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { type Backend, backends } from "./_support/databases.ts";
import {
  type ApplianceProcess,
  assertRuntimeSettings,
  baseEnv,
  startApplianceProcess,
} from "./_support/appliance_process.ts";
import { buildRelease, install, REPO } from "./_support/release.ts";
import { parsePrometheus } from "./_support/prometheus.ts";
import { DeviceClient } from "../src/device/client.ts";
import { DEMO_GOODS } from "../src/store/demo.ts";
import {
  eventually,
  PaymentServerStandIn,
  publish,
  startBroker,
  uniqueShop,
} from "./payment_support.ts";

const VERSION = denoJson.version;

const WATER = DEMO_GOODS.find((g) => g.id === 9)!;

/** The store's outside world in these tests: a real broker and a payment server stand-in. */
interface Outside {
  shop: string;
  brokerUrl: string;
  payment: PaymentServerStandIn;
}

async function json(port: number, path: string) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.json() };
}

/** What every form of the appliance must do once started. */
async function exercise(
  t: Deno.TestContext,
  app: ApplianceProcess,
  equipId: string,
  outside: Outside,
) {
  await t.step("a device logs in and gets goods over TCP", async () => {
    const device = await DeviceClient.login({
      host: "127.0.0.1",
      port: app.port,
      equipId,
      timeoutMs: 15000,
    });
    try {
      const reply = await device.request("getGoods", { code: WATER.barcode });
      assert.equal(reply.json?.exception, "");
      const goods = reply.json?.goods as { gid: number; name: string; price: number }[];
      assert.deepEqual(goods.map((g) => [g.gid, g.name, g.price]), [[
        WATER.id,
        WATER.name,
        Number(WATER.price),
      ]]);
      const unknown = await device.request("getGoods", { code: "0000000000000" });
      assert.deepEqual(unknown.json?.goods, []);

      const health = await json(app.adminPort, "/healthz");
      assert.equal(health.status, 200);
      assert.equal(health.body.database.state, "up");
      assert.equal(health.body.version, VERSION, "deno.json's version, in the bundle too");
      const devices = await json(app.adminPort, "/devices");
      const me = devices.body.find((d: { equipId: string }) => d.equipId === equipId);
      assert.equal(me.online, true);
      assert.match(me.address, /^127\.0\.0\.1:\d+$/);
    } finally {
      await device.close();
    }
  });

  await t.step("/metrics counts exactly that traffic", async () => {
    const r = await fetch(`http://127.0.0.1:${app.adminPort}/metrics`);
    const m = parsePrometheus(await r.text());
    assert.equal(m.value("newretail_connections_total"), 1);
    assert.equal(m.value("newretail_requests_total", { action: "getGoods" }), 2);
    assert.equal(m.value("newretail_request_duration_seconds_count", { action: "getGoods" }), 2);
    assert.equal(m.sum("newretail_request_errors_total"), 0);
    assert.equal(m.sum("newretail_protocol_errors_total"), 0);
    assert.equal(m.value("newretail_database_up"), 1);
    assert.equal(m.types.get("newretail_goods_cache_lookups_total"), "counter");
    assert.equal(m.types.get("newretail_logins_total"), "counter");
  });

  await t.step("a door event over MQTT reaches the payment call of the next order", async () => {
    const openId = `oTest${crypto.randomUUID().slice(0, 8)}`;
    await eventually(async () => {
      const health = await json(app.adminPort, "/healthz");
      return health.body.mqtt.state === "up" ? true : undefined;
    }, "MQTT connected");
    const device = await DeviceClient.login({
      host: "127.0.0.1",
      port: app.port,
      equipId,
      timeoutMs: 15000,
    });
    try {
      // The subscription follows the connection by a moment: publish until an order carries it.
      const call = await eventually(
        async () => {
          await publish(outside.brokerUrl, [{
            topic: `/newretail/door/${outside.shop}`,
            payload: JSON.stringify({ id: outside.shop, action: "open", openId }),
          }]);
          const reply = await device.request("getPayInfo", {
            order_id: `T${crypto.randomUUID().slice(0, 8)}`,
            totalPrice: 2,
            goods: [{ gid: WATER.id, price: 2, qty: 1 }],
          });
          assert.equal(reply.json?.exception, "");
          assert.match(String(reply.json?.url), /^https?:\/\//);
          await new Promise((r) => setTimeout(r, 200));
          return outside.payment.accepted.find((c) => c.openid === openId);
        },
        "a payment call with the door's openId",
        20_000,
      );
      assert.equal(call.price, "2.00");
      assert.equal(call.uniqueId, equipId);
    } finally {
      await device.close();
    }
  });
}

async function stopCleanly(app: ApplianceProcess) {
  const { code, stderr } = await app.stop();
  assert.equal(code, 0, stderr);
  // Deno notes once that permission sets in deno.json are experimental; anything else is not ok.
  const other = stderr.split("\n").filter((l) =>
    l.trim() !== "" && !/Permissions in the config file is an experimental feature/.test(l)
  );
  assert.deepEqual(other, [], "nothing on stderr: no permission prompt, no stack trace");
  assert.ok(app.lines.some((l) => l.msg === "stopped"), "graceful shutdown logged");
}

async function fromSource(backend: Backend, t: Deno.TestContext) {
  const opened = backend.name === "postgres" ? await backend.open({ demo: true }) : undefined;
  const broker = await startBroker();
  const outside = {
    shop: uniqueShop(),
    brokerUrl: broker.url,
    payment: new PaymentServerStandIn(),
  };
  // The appliance set may write ./data only: the test's embedded database goes below it.
  const stateDir = `./data/test-${crypto.randomUUID()}`;
  const env = {
    ...baseEnv(),
    NEWRETAIL_HOST: "127.0.0.1",
    NEWRETAIL_PORT: "0",
    NEWRETAIL_ADMIN_PORT: "0",
    NEWRETAIL_STATE_DIR: stateDir,
    NEWRETAIL_SHOP_ID: outside.shop,
    NEWRETAIL_PAYMENT_SERVER_URL: outside.payment.url,
    MQTT_URL: outside.brokerUrl,
    ...(opened ? { DATABASE_URL: opened.url! } : {}),
  };
  try {
    const app = await startApplianceProcess(
      "deno",
      ["run", "-P=appliance", "main.ts", "serve"],
      env,
      REPO,
    );
    try {
      await exercise(t, app, "POS_0001", outside);
    } finally {
      await stopCleanly(app);
    }
  } finally {
    await outside.payment.close();
    await broker.close();
    await opened?.dispose();
    await Deno.remove(`${REPO}/${stateDir}`, { recursive: true }).catch(() => {});
  }
}

async function fromBundle(backend: Backend, t: Deno.TestContext) {
  const work = await Deno.makeTempDir({ prefix: "newretail-bundle-" });
  const opened = backend.name === "postgres" ? await backend.open({ demo: true }) : undefined;
  const broker = await startBroker();
  const outside = {
    shop: uniqueShop(),
    brokerUrl: broker.url,
    payment: new PaymentServerStandIn(),
  };
  const payment = outside.payment;
  try {
    await buildRelease(`${work}/release`);
    await Deno.mkdir(`${work}/root`);
    const installed = await install(`${work}/release`, ["--root", `${work}/root`]);
    assert.equal(installed.code, 0, installed.stderr);
    // The installed launcher runs from the scratch root it was installed into.
    const launcher = `${work}/root/usr/local/bin/newretail`;
    const help = await new Deno.Command("sh", {
      args: [launcher, "--help"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(help.code, 0, new TextDecoder().decode(help.stderr));
    assert.match(
      new TextDecoder().decode(help.stdout),
      /Usage: newretail/,
      "--help passes through the launcher",
    );

    const config = {
      "//": "test config: discovery off, so net is scoped to the hosts below",
      host: "127.0.0.1",
      port: 0,
      adminPort: 0,
      discoveryEnabled: false,
      stateDir: `${work}/state`,
      databaseUrl: opened?.url ?? "",
      demo: true,
      shopId: outside.shop,
      paymentServerUrl: payment.url,
      mqttUrl: broker.url,
    };
    await Deno.writeTextFile(`${work}/config.json`, JSON.stringify(config, null, 2));

    const flags = await new Deno.Command("sh", {
      args: [launcher, "permissions", "--config", `${work}/config.json`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    // The launcher execs the bundle's `permissions` as the real command here: its output is the
    // flag list the launcher uses for serve.
    const list = new TextDecoder().decode(flags.stdout).trim().split("\n");
    const net = list.find((f) => f.startsWith("--allow-net"))!;
    assert.notEqual(net, "--allow-net", "network scoped to hosts with discovery off");
    assert.ok(net.includes(new URL(payment.url).host), net);

    const app = await startApplianceProcess(
      "sh",
      [launcher, "serve", "--config", `${work}/config.json`],
      baseEnv(),
      work,
    );
    try {
      // What systemd runs: the launcher gives the runtime its settings.
      const started = app.lines.find((l) => l.msg === "newretail started")!;
      await assertRuntimeSettings(Number(started.pid));
      await exercise(t, app, "DZC_0001", outside);
    } finally {
      await stopCleanly(app);
    }
  } finally {
    await payment.close();
    await broker.close();
    await opened?.dispose();
    await Deno.remove(work, { recursive: true });
  }
}

for (const backend of backends()) {
  Deno.test(`appliance under -P=appliance from source (${backend.name})`, (t) =>
    fromSource(backend, t));
  Deno.test(`appliance bundle under its computed permissions (${backend.name})`, (t) =>
    fromBundle(backend, t));
}
