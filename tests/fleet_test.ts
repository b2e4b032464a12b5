/**
 * The chain's fleet view against a real broker (Mosquitto from MQTT_URL in CI): each appliance's
 * retained status, changes published, a clean stop, and the last-will when the process is killed.
 * Each test uses a topic of its own and clears its retained messages afterwards.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { startBroker, uniqueShop } from "./payment_support.ts";
import { eventually } from "./_support/eventually.ts";
import { startTestAppliance } from "./_support/appliance.ts";
import { createPostgresDatabase, testPostgresUrl } from "./_support/databases.ts";
import { ServeProcess } from "./_support/serve_process.ts";
import { readFleet } from "../src/fleet/fleet_view.ts";
import { parseStatus, type StoreStatus } from "../src/fleet/status.ts";
import { VERSION } from "../src/version.ts";

/** A live subscription to one test's status topic: the latest status of each store. */
async function watchStatuses(url: string, topicTemplate: string) {
  const client = await mqtt.connectAsync(url, {
    clientId: `test-fleet-${crypto.randomUUID().slice(0, 8)}`,
    reconnectPeriod: 0,
  });
  const latest = new Map<string, StoreStatus & { retained: boolean }>();
  const topics = new Set<string>();
  client.on("message", (topic, payload, packet) => {
    topics.add(topic);
    if (payload.byteLength === 0) return;
    const status = parseStatus(payload);
    if ("ignored" in status) return;
    latest.set(status.shop, { ...status, retained: packet.retain });
  });
  await client.subscribeAsync(topicTemplate.replace("{shop}", "+"), { qos: 1 });
  return {
    latest,
    async close() {
      // Retained messages outlive the test in the broker: an empty retained payload clears each.
      for (const topic of topics) await client.publishAsync(topic, "", { qos: 1, retain: true });
      await client.endAsync();
    },
  };
}

const uniqueTopic = () => `test-${crypto.randomUUID().slice(0, 8)}/{shop}/status`;

Deno.test("fleet: an appliance's retained status follows its devices; a clean stop says offline", async () => {
  const broker = await startBroker();
  const topic = uniqueTopic();
  const shop = uniqueShop();
  const watch = await watchStatuses(broker.url, topic);
  const appliance = await startTestAppliance(testPostgresUrl() ? "postgres" : "pglite", {
    config: {
      shopId: shop,
      adminEnabled: true,
      adminPort: 0,
      chainMqttUrl: broker.url,
      chainStatusTopic: topic,
      mqttReconnectS: 0.2,
    },
  });
  let stopped = false;
  try {
    const first = await eventually(() => watch.latest.get(shop), "the first status");
    assert.equal(first.state, "online");
    assert.equal(first.version, VERSION);
    assert.deepEqual(first.devices, { online: 0, total: 0 });
    assert.equal(first.staleLabels, 0);
    assert.deepEqual(first.outbox, { payment: 0, odoo: 0 });
    assert.equal(first.odoo, null, "no Odoo configured");
    assert.ok(first.alerts !== null, "the admin server's console evaluates alerts");
    assert.equal(typeof first.uptimeS, "number");

    // Retained: a client that subscribes later gets it at once.
    const fleet = await readFleet({ url: broker.url, topic, waitMs: 5000 });
    assert.equal(fleet.stores.get(shop)?.state, "online");
    assert.deepEqual(fleet.ignored, []);

    // A change is published without waiting for the minute.
    const scale = await appliance.device("DZC_FLEET01");
    const after = await eventually(
      () => watch.latest.get(shop)?.devices?.online === 1 && watch.latest.get(shop),
      "the status with one device online",
    );
    assert.deepEqual(after.devices, { online: 1, total: 1 });
    await scale.close();
    await eventually(
      () => watch.latest.get(shop)?.devices?.online === 0,
      "the status with the device offline",
    );

    await appliance.stop();
    stopped = true;
    const last = await eventually(
      () => watch.latest.get(shop)?.state === "offline" && watch.latest.get(shop),
      "the offline status of a clean stop",
    );
    assert.equal(last.reason, "stopped");
    assert.deepEqual(last.devices, { online: 0, total: 1 }, "the last readings are kept");
    const retained = await readFleet({ url: broker.url, topic, waitMs: 5000 });
    assert.equal(retained.stores.get(shop)?.reason, "stopped");
  } finally {
    if (!stopped) await appliance.stop();
    await watch.close();
    await broker.close();
  }
});

// SIGKILL: the kernel closes the socket and the broker sees it at once. SIGSTOP: the process is
// frozen with its socket open, as a store whose power or network is cut: the keep-alive decides.
for (const [signal, how] of [["SIGKILL", "killed"], ["SIGSTOP", "frozen"]] as const) {
  Deno.test({
    name:
      `fleet: a ${how} appliance (${signal}) is shown offline by its last-will within the keep-alive`,
    ignore: !testPostgresUrl(),
    async fn() {
      const broker = await startBroker();
      const topic = uniqueTopic();
      const shop = uniqueShop();
      const keepaliveS = 2;
      const watch = await watchStatuses(broker.url, topic);
      const database = await createPostgresDatabase(testPostgresUrl()!);
      const serve = new ServeProcess([], {
        DATABASE_URL: database.url,
        NEWRETAIL_HOST: "127.0.0.1",
        NEWRETAIL_PORT: "0",
        NEWRETAIL_SHOP_ID: shop,
        NEWRETAIL_CHAIN_MQTT_URL: broker.url,
        NEWRETAIL_CHAIN_STATUS_TOPIC: topic,
        NEWRETAIL_CHAIN_KEEPALIVE_S: String(keepaliveS),
      });
      try {
        await serve.started();
        const online = await eventually(
          () => watch.latest.get(shop),
          "the appliance's first status",
          30_000,
        );
        assert.equal(online.state, "online");
        const stoppedAt = Date.now();
        if (signal === "SIGKILL") assert.equal(await serve.kill("SIGKILL"), 137);
        else serve.signal("SIGSTOP");
        // The broker waits 1.5 keep-alives without a packet; the margin is for a busy machine.
        const offline = await eventually(
          () => watch.latest.get(shop)?.state === "offline" && watch.latest.get(shop),
          "the last-will",
          keepaliveS * 1500 + 30_000,
        );
        assert.equal(offline.reason, "connection lost");
        assert.equal(offline.version, VERSION);
        assert.equal(offline.devices, null, "a will knows no readings");
        console.log(`${signal}: last-will seen ${Date.now() - stoppedAt} ms later`);
        const fleet = await readFleet({ url: broker.url, topic, waitMs: 5000 });
        assert.equal(fleet.stores.get(shop)?.state, "offline", "and it is retained");
      } finally {
        await serve.kill("SIGKILL");
        await watch.close();
        await database.drop();
        await broker.close();
      }
    },
  });
}

async function runFleet(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      new URL("../main.ts", import.meta.url).pathname,
      "fleet",
      ...args,
    ],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("fleet CLI: lists every store on the broker; --exit-offline; no broker is a usage error", async () => {
  const broker = await startBroker();
  const topic = uniqueTopic();
  const watch = await watchStatuses(broker.url, topic);
  const [a, b] = [uniqueShop(), uniqueShop()].sort();
  const publisher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  try {
    const online = {
      shop: a,
      state: "online",
      version: "9.9.9",
      uptimeS: 90,
      startedAt: new Date(Date.now() - 90_000).toISOString(),
      devices: { online: 4, total: 5 },
      staleLabels: 2,
      alerts: { critical: 0, warning: 1, rules: ["device_offline"] },
      outbox: { payment: 0, odoo: 3 },
      odoo: null,
      at: new Date().toISOString(),
    };
    const gone = { shop: b, state: "offline", reason: "connection lost", version: "9.9.8" };
    for (const s of [online, gone]) {
      await publisher.publishAsync(topic.replace("{shop}", s.shop), JSON.stringify(s), {
        qos: 1,
        retain: true,
      });
    }
    await publisher.publishAsync(topic.replace("{shop}", "junk"), "not json", {
      qos: 1,
      retain: true,
    });
    await eventually(() => watch.latest.size === 2, "both statuses retained");
    const env = { NEWRETAIL_CHAIN_STATUS_TOPIC: topic };
    const table = await runFleet(["--broker", broker.url], env);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split("\n");
    assert.match(lines[0], /^SHOP\s+STATE/);
    assert.match(
      lines[1],
      new RegExp(`^${a}\\s+online\\s+9\\.9\\.9\\s+\\d+s\\s+4/5\\s+2\\s+0c 1w\\s+0p 3o`),
    );
    assert.match(lines[2], new RegExp(`^${b}\\s+offline \\(connection lost\\)\\s+9\\.9\\.8`));
    assert.equal(lines[3], "2 stores: 1 online, 0 degraded, 1 offline");
    assert.match(table.stderr, /ignored .*junk.*: payload is not JSON/);

    const json = await runFleet(["--broker", broker.url, "--json", "--exit-offline"], env);
    assert.equal(json.code, 1, "a store is offline");
    assert.deepEqual(JSON.parse(json.stdout).map((s: { shop: string }) => s.shop), [a, b]);

    const none = await runFleet([], { NEWRETAIL_CHAIN_MQTT_URL: "" });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no chain broker: set chainMqttUrl/);
  } finally {
    await publisher.publishAsync(topic.replace("{shop}", "junk"), "", { qos: 1, retain: true });
    await publisher.endAsync();
    await watch.close();
    await broker.close();
  }
});
