/**
 * The backlog gauges of `/metrics` over real HTTP, against the real appliance on every backend:
 * sendGoods pushes pending and out of tries (an offline label, an unanswered push), the
 * payment-server outbox (a payment server that is down), payment results owed to an offline till
 * (paid over real MQTT), open refill jobs. And a database that does not answer does not hang the
 * scrape.
 */
import assert from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { eventually, startTestAppliance } from "./_support/appliance.ts";
import { type Exposition, parsePrometheus } from "./_support/prometheus.ts";
import { publish, startBroker, uniqueShop } from "./payment_support.ts";
import { type BacklogCounts, BacklogMetrics } from "../src/admin/backlog_metrics.ts";
import { MetricsRegistry } from "../src/metrics.ts";
import { startAdminServer } from "../src/admin/server.ts";
import { createMemoryLogger } from "../src/log.ts";
import { unpushedChanges } from "../src/store/goods_changes.ts";
import { callState } from "../src/store/payment_calls.ts";
import { findTerminalOrder } from "../src/store/orders.ts";
import { cancelRefillJob, createRefillJob, setPosition } from "../src/store/positions.ts";
import { systemClock } from "../src/clock.ts";

const MAC1 = "AC:23:3F:00:00:01"; // demo: bound to goods 1

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

async function scrape(port: number): Promise<Exposition> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  return parsePrometheus(await response.text());
}

for (const backend of backends()) {
  Deno.test(`backlog gauges on /metrics (${backend.name})`, async (t) => {
    const broker = await startBroker();
    const shop = uniqueShop();
    const appliance = await startTestAppliance(backend.name, {
      config: {
        adminEnabled: true,
        adminHost: "127.0.0.1",
        adminPort: 0,
        shopId: shop,
        mqttUrl: broker.url,
        mqttReconnectS: 0.2,
        paymentServerUrl: `http://127.0.0.1:${closedPort()}/pay/create`,
        paymentTimeoutS: 0.5,
        paymentRetryMinS: 0.05,
        paymentRetryMaxS: 0.2,
        pushTimeoutS: 0.3,
        pushTries: 2,
        heartbeatIntervalS: 600,
      },
    });
    const { app } = appliance;
    const adminPort = app.admin!.port;
    const gauge = async (name: string, labels?: Record<string, string>) =>
      (await scrape(adminPort)).value(name, labels);
    const until = (what: string, name: string, labels: Record<string, string>, value: number) =>
      eventually(async () => (await gauge(name, labels)) === value, what, 10_000);
    try {
      await app.payments.mqtt.subscribed();
      // The demo catalogue's own changes are fanned out before any device learns a label.
      await eventually(async () => (await unpushedChanges(app.db)) === 0, "demo fanned out");

      await t.step("a fresh appliance owes nothing", async () => {
        const m = await scrape(adminPort);
        assert.equal(m.types.get("newretail_pushes_pending"), "gauge");
        assert.equal(m.value("newretail_database_up"), 1);
        assert.equal(m.value("newretail_pushes_pending", { device: "label" }), 0);
        assert.equal(m.value("newretail_pushes_pending", { device: "scale" }), 0);
        assert.equal(m.value("newretail_pushes_failed", { device: "label" }), 0);
        assert.equal(m.value("newretail_payment_outbox"), 0);
        assert.equal(m.value("newretail_pay_results_owed"), 0);
        assert.equal(m.value("newretail_refill_jobs_open"), 0);
      });

      await t.step("an offline label with a price change: one push pending", async () => {
        const label = await appliance.device("DZBQ_0001");
        const learned = await label.request("getGoods", { mac_id: MAC1 }, { encoding: "gbk" });
        assert.equal(learned.json?.exception, "");
        await label.close();
        await eventually(() => !app.server.isOnline("DZBQ_0001"), "label offline");
        await app.db.query("update goods set price = 8.88 where id = 1");
        await until("one label push pending", "newretail_pushes_pending", { device: "label" }, 1);
        assert.equal(await gauge("newretail_pushes_failed", { device: "label" }), 0);

        const again = await appliance.device("DZBQ_0001");
        await again.nextPush("sendGoods");
        again.acknowledge("sendGoods");
        await until("the push acknowledged", "newretail_pushes_pending", { device: "label" }, 0);
        await again.close();
      });

      await t.step("an unanswered push runs out of tries: failed 1", async () => {
        const label = await appliance.device("DZBQ_0001");
        await app.db.query("update goods set price = 7.77 where id = 1");
        await label.nextPush("sendGoods"); // never acknowledged
        await label.nextPush("sendGoods"); // the retry, neither
        await until("the push out of tries", "newretail_pushes_failed", { device: "label" }, 1);
        assert.equal(await gauge("newretail_pushes_pending", { device: "label" }), 1);
        await label.close();
      });

      await t.step("payment server down: outbox depth 1; paid: the result is owed", async () => {
        const pos = await appliance.device("POS_0001");
        const reply = await pos.request("getPayInfo", {
          order_id: "T-M1",
          totalPrice: 11.5,
          goods: [{ gid: 9, price: 2, qty: 4 }, { gid: 10, price: 3.5, qty: 1 }],
        });
        assert.equal(reply.json?.exception, "");
        // Written in the order's transaction, kept while the payment server is unreachable.
        assert.equal(await gauge("newretail_payment_outbox"), 1);
        const order = await findTerminalOrder(app.db, "POS_0001", "T-M1");
        await eventually(
          async () => ((await callState(app.db, order!.id))?.attempts ?? 0) >= 2,
          "the call tried and failed twice",
        );
        assert.equal(await gauge("newretail_payment_outbox"), 1);
        await pos.close();
        await eventually(() => !app.server.isOnline("POS_0001"), "till offline");

        await publish(broker.url, [{
          topic: `/newretail/pay/${shop}`,
          payload: JSON.stringify({
            id: ` ${shop}`,
            action: "pay",
            result: "ok",
            order_id: order!.code,
          }),
        }]);
        await until("the result owed to the offline till", "newretail_pay_results_owed", {}, 1);
        // A paid order is not announced to the payment server any more.
        await until("the call cancelled", "newretail_payment_outbox", {}, 0);

        const back = await appliance.device("POS_0001");
        const push = await back.nextPush("sendPayResult");
        assert.equal(push.json?.result, "success");
        back.acknowledge("sendPayResult");
        await until("the result delivered", "newretail_pay_results_owed", {}, 0);
        await back.close();
      });

      await t.step("a refill job no AGV takes stays open", async () => {
        await setPosition(app.db, 3, { posx: "A", posy: "1", posz: "1" }, {
          posx: "B",
          posy: "2",
          posz: "1",
        });
        const { job } = await createRefillJob(app.db, 3);
        assert.equal(await gauge("newretail_refill_jobs_open"), 1);
        await cancelRefillJob(app.db, job.id, "test");
        assert.equal(await gauge("newretail_refill_jobs_open"), 0);
      });
    } finally {
      await appliance.stop();
      await broker.close();
    }
  });
}

Deno.test("a backlog read that hangs does not hang /metrics: the last values are shown", async () => {
  const registry = new MetricsRegistry();
  const counts: BacklogCounts = {
    pushesPending: { label: 4, scale: 2 },
    pushesFailed: { label: 1, scale: 0 },
    paymentCalls: 3,
    payResultsOwed: 0,
    refillJobsOpen: 5,
  };
  let hang = false;
  const hanging: (() => void)[] = [];
  const backlog = new BacklogMetrics(
    registry,
    () =>
      hang
        ? new Promise<BacklogCounts>((_, reject) =>
          hanging.push(() => reject(new Error("released")))
        )
        : Promise.resolve(structuredClone(counts)),
  );
  const admin = startAdminServer({
    clock: systemClock,
    hostname: "127.0.0.1",
    port: 0,
    log: createMemoryLogger(),
    metrics: registry,
    pingDatabase: () => Promise.resolve(),
    listDevices: () => Promise.resolve([]),
    refreshMetrics: () => backlog.refresh(),
    databaseTimeoutS: 0.2,
  });
  try {
    const first = await scrape(admin.port);
    assert.equal(first.value("newretail_pushes_pending", { device: "label" }), 4);
    assert.equal(first.value("newretail_payment_outbox"), 3);
    hang = true;
    counts.paymentCalls = 99;
    const second = await scrape(admin.port);
    assert.equal(second.value("newretail_payment_outbox"), 3);
    assert.equal(second.value("newretail_refill_jobs_open"), 5);
    // Scrapes during a slow read share it rather than stacking up queries.
    await scrape(admin.port);
    assert.equal(hanging.length, 1);
  } finally {
    for (const release of hanging) release();
    await admin.close();
  }
});

Deno.test("before the first backlog read the gauges have no series (no made-up zeros)", () => {
  const registry = new MetricsRegistry();
  new BacklogMetrics(registry, () => Promise.reject(new Error("database down")));
  const m = parsePrometheus(registry.render());
  assert.equal(m.types.get("newretail_payment_outbox"), "gauge");
  assert.equal(m.value("newretail_payment_outbox"), undefined);
  assert.equal(m.samples.length, 0);
});
