/**
 * The admin HTTP server over real HTTP, on every database backend: /healthz (and its 503 while
 * the database is away), /metrics through a strict Prometheus parser, /devices, the HTML page.
 */
import assert from "node:assert/strict";
import { type Backend, backends } from "./_support/databases.ts";
import { parsePrometheus } from "./_support/prometheus.ts";
import { startTcpProxy } from "./_support/tcp_proxy.ts";
import { MetricsRegistry } from "../src/metrics.ts";
import { type ComponentHealth, startAdminServer } from "../src/admin/server.ts";
import { createServerMetrics } from "../src/server/server_metrics.ts";
import { admitDevice, listDevices, markOffline } from "../src/store/devices.ts";
import type { Database } from "../src/store/database.ts";
import { openPostgres } from "../src/store/postgres.ts";
import { openPglite } from "../src/store/pglite/pglite.ts";
import { createMemoryLogger } from "../src/log.ts";
import { EventBus } from "../src/events.ts";
import { systemClock } from "../src/clock.ts";
import { defaultConfig } from "../src/config/config.ts";

async function get(port: number, path: string, method = "GET") {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    body: await response.text(),
  };
}

/**
 * A database the test can stop and restart: PostgreSQL behind a TCP proxy (the real server stays
 * up for everyone else), or PGlite closed and reopened from its directory.
 */
interface StoppableDatabase {
  current(): Database;
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

function stoppable(
  backend: Backend,
  opened: { db: Database; url?: string; stateDir?: string },
): StoppableDatabase {
  if (backend.name === "postgres") {
    const url = new URL(opened.url!);
    const proxy = startTcpProxy({ hostname: url.hostname, port: Number(url.port || 5432) });
    url.hostname = "127.0.0.1";
    url.port = String(proxy.port);
    const db = openPostgres(url.toString(), { maxConnections: 2, connectTimeoutS: 1 });
    return {
      current: () => db,
      stop: () => proxy.stop(),
      restart: () => Promise.resolve(proxy.start()),
      async close() {
        await proxy.close();
        await db.close().catch(() => {});
      },
    };
  }
  let db: Database | undefined = opened.db;
  return {
    current: () => {
      if (!db) throw new Error("database stopped");
      return db;
    },
    async stop() {
      await db?.close();
      db = undefined;
    },
    async restart() {
      db = await openPglite(opened.stateDir!);
    },
    async close() {
      await db?.close();
      // the backend's dispose closes its own handle again: harmless, close is idempotent
    },
  };
}

async function adminSuite(backend: Backend, t: Deno.TestContext) {
  const opened = await backend.open({ demo: false });
  const store = stoppable(backend, opened);
  const log = createMemoryLogger("debug");
  const registry = new MetricsRegistry();
  const live = new Map([["DZBQ", 1]]);
  const metrics = createServerMetrics(registry, { open: () => 2, loggedInByKind: () => live });
  let mqtt: ComponentHealth = { state: "up", detail: "mqtt://127.0.0.1:1883" };
  const admin = startAdminServer({
    clock: systemClock,
    hostname: "127.0.0.1",
    port: 0,
    log,
    metrics: registry,
    pingDatabase: async () => {
      await store.current().query("select 1 as one");
    },
    listDevices: () => listDevices(store.current()),
    mqtt: () => mqtt,
    payment: () => {
      throw new Error("connection refused");
    },
    databaseTimeoutS: 3,
    version: "9.9.9",
    // The console reads whichever database handle is current (the suite stops and restarts it).
    console: {
      db: new Proxy({} as Database, {
        get: (_, key) => {
          const db = store.current() as unknown as Record<string | symbol, unknown>;
          const value = db[key];
          return typeof value === "function" ? value.bind(db) : value;
        },
      }),
      events: new EventBus(log),
      clock: systemClock,
      log,
      config: defaultConfig(),
    },
  });
  try {
    await t.step("/healthz is 200 with each component's state", async () => {
      const r = await get(admin.port, "/healthz");
      assert.equal(r.status, 200);
      assert.match(r.type!, /application\/json/);
      const h = JSON.parse(r.body);
      assert.equal(h.status, "ok");
      assert.equal(h.version, "9.9.9");
      assert.equal(h.database.state, "up");
      assert.equal(typeof h.database.latencyMs, "number");
      assert.deepEqual(h.mqtt, { state: "up", detail: "mqtt://127.0.0.1:1883" });
      assert.deepEqual(h.payment, { state: "down", detail: "connection refused" });
    });

    await t.step("/devices lists identity, kind, online, address, last seen", async () => {
      const at = new Date("2026-01-02T03:04:05Z");
      const db = store.current();
      await admitDevice(db, {
        equipId: "DZBQ_0001",
        kind: "DZBQ",
        address: "10.0.0.7:5000",
        at,
        policy: "open",
      });
      await admitDevice(db, {
        equipId: "DZC_0002",
        kind: "DZC",
        address: "10.0.0.8:5001",
        at,
        policy: "open",
      });
      await markOffline(db, "DZC_0002", 1, new Date("2026-01-02T04:00:00Z"));
      const r = await get(admin.port, "/devices");
      assert.equal(r.status, 200);
      const list = JSON.parse(r.body);
      assert.deepEqual(
        list.map((
          d: { equipId: string; kind: string; online: boolean; address: string },
        ) => [d.equipId, d.kind, d.online, d.address]),
        [
          ["DZBQ_0001", "DZBQ", true, "10.0.0.7:5000"],
          ["DZC_0002", "DZC", false, "10.0.0.8:5001"],
        ],
      );
      assert.equal(list[0].lastSeenAt, "2026-01-02T03:04:05.000Z");
      assert.equal(list[1].lastSeenAt, "2026-01-02T04:00:00.000Z");
    });

    await t.step("the console lists the devices (kinds in words, state), escaped", async () => {
      await admitDevice(store.current(), {
        equipId: "POS_<b>x</b>",
        kind: "POS",
        address: "10.0.0.9:1",
        at: new Date(),
        policy: "open",
      });
      const r = await get(admin.port, "/console/devices");
      assert.equal(r.status, 200);
      assert.match(r.type!, /text\/html/);
      assert.match(
        r.body,
        /DZBQ_0001<\/td><td>shelf-label base station<\/td><td class="state online">/,
      );
      assert.match(r.body, /DZC_0002<\/td><td>scale<\/td><td class="state offline">/);
      assert.ok(r.body.includes("POS_&lt;b&gt;x&lt;/b&gt;") && !r.body.includes("<b>x</b>"));
      assert.match((await get(admin.port, "/")).body, /2 \/ 3 online/);
    });

    await t.step("/metrics is valid Prometheus text and matches what was recorded", async () => {
      metrics.connectionsTotal.inc({}, 5);
      metrics.connectionsRefused.inc({}, 1);
      for (let i = 0; i < 3; i++) {
        metrics.requests.inc({ action: "getGoods" });
        metrics.requestSeconds.observe(0.002 * (i + 1), { action: "getGoods" });
      }
      metrics.requestErrors.inc({ action: "getGoods" });
      metrics.protocolErrors.inc({ reason: 'header "length" missing\\' });
      const r = await get(admin.port, "/metrics");
      assert.equal(r.status, 200);
      assert.equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
      const m = parsePrometheus(r.body);
      assert.equal(m.value("newretail_connections_open"), 2);
      assert.equal(m.value("newretail_connections_total"), 5);
      assert.equal(m.value("newretail_connections_refused_total"), 1);
      assert.equal(m.value("newretail_devices_logged_in", { kind: "DZBQ" }), 1);
      assert.equal(m.value("newretail_requests_total", { action: "getGoods" }), 3);
      assert.equal(m.value("newretail_request_errors_total", { action: "getGoods" }), 1);
      assert.equal(m.value("newretail_request_duration_seconds_count", { action: "getGoods" }), 3);
      assert.equal(
        m.value("newretail_request_duration_seconds_bucket", { action: "getGoods", le: "0.005" }),
        2,
      );
      assert.equal(
        m.value("newretail_protocol_errors_total", { reason: 'header "length" missing\\' }),
        1,
      );
      assert.equal(m.value("newretail_database_up"), 1);
      assert.equal(m.types.get("newretail_request_duration_seconds"), "histogram");
    });

    await t.step("/healthz is 503 while the database is away, 200 when it is back", async () => {
      await store.stop();
      const down = await get(admin.port, "/healthz");
      assert.equal(down.status, 503);
      const h = JSON.parse(down.body);
      assert.equal(h.status, "unhealthy");
      assert.equal(h.database.state, "down");
      assert.ok(h.database.detail.length > 0);
      assert.equal(h.mqtt.state, "up", "the other components are still reported");
      const metricsDown = parsePrometheus((await get(admin.port, "/metrics")).body);
      assert.equal(metricsDown.value("newretail_database_up"), 0);
      assert.equal((await get(admin.port, "/")).status, 503);
      const devices = await get(admin.port, "/devices");
      assert.equal(devices.status, 503);

      await store.restart();
      // PostgreSQL's pool reconnects on the next query; no retry loop, one request must do.
      const up = await get(admin.port, "/healthz");
      assert.equal(up.status, 200, up.body);
      assert.equal(JSON.parse(up.body).database.state, "up");
    });

    await t.step("MQTT state changes are reported as they are", async () => {
      mqtt = { state: "connecting", detail: "ECONNREFUSED" };
      const h = JSON.parse((await get(admin.port, "/healthz")).body);
      assert.equal(h.status, "ok", "MQTT down does not make the appliance unhealthy");
      assert.equal(h.mqtt.state, "connecting");
    });

    await t.step("unknown paths are 404, other methods 405, HEAD works", async () => {
      assert.equal((await get(admin.port, "/nope")).status, 404);
      assert.equal((await get(admin.port, "/healthz", "POST")).status, 405);
      const head = await get(admin.port, "/healthz", "HEAD");
      assert.equal(head.status, 200);
      assert.equal(head.body, "");
    });
  } finally {
    await admin.close();
    await store.close();
    await opened.dispose();
  }
}

for (const backend of backends()) {
  Deno.test(`admin HTTP (${backend.name})`, (t) => adminSuite(backend, t));
}

Deno.test("admin HTTP: a taken port is one clear error", async () => {
  const log = createMemoryLogger();
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (blocker.addr as Deno.NetAddr).port;
    assert.throws(
      () =>
        startAdminServer({
          clock: systemClock,
          hostname: "127.0.0.1",
          port,
          log,
          metrics: new MetricsRegistry(),
          pingDatabase: () => Promise.resolve(),
          listDevices: () => Promise.resolve([]),
        }),
      new RegExp(`admin HTTP cannot listen on 127.0.0.1:${port}: .*NEWRETAIL_ADMIN_PORT`),
    );
  } finally {
    blocker.close();
  }
  await Promise.resolve();
});
