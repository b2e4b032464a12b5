/**
 * The checkout flow end to end (PROTOCOL.md §3–5): the real appliance on a free port, devices
 * over TCP, a real MQTT broker (Mosquitto from MQTT_URL, else in-process aedes) and a local HTTP
 * server standing in for the payment server. Runs on every store backend.
 */
import assert from "node:assert/strict";
import { type Backend, backends, type TestDatabase } from "./_support/databases.ts";
import {
  eventually,
  PaymentServerStandIn,
  publish,
  startBroker,
  type TestBroker,
  uniqueShop,
} from "./payment_support.ts";
import { type Appliance, startAppliance } from "../src/app.ts";
import { type Config, defaultConfig } from "../src/config/config.ts";
import { createMemoryLogger } from "../src/log.ts";
import { DeviceClient } from "../src/device/client.ts";
import { callState } from "../src/store/payment_calls.ts";
import { currentCustomer } from "../src/store/door_sessions.ts";
import { findTerminalOrder } from "../src/store/orders.ts";

interface World {
  broker: TestBroker;
  stand: PaymentServerStandIn;
  opened: TestDatabase;
  shop: string;
  config: Config;
  log: ReturnType<typeof createMemoryLogger>;
  app: Appliance;
}

function applianceConfig(world: Omit<World, "config" | "app" | "log">): Config {
  const config = defaultConfig();
  config.host = "127.0.0.1";
  config.port = 0;
  config.adminEnabled = false;
  config.discoveryEnabled = false;
  config.demo = false;
  if (world.opened.url) config.databaseUrl = world.opened.url;
  else config.stateDir = world.opened.stateDir!;
  config.shopId = world.shop;
  config.mqttUrl = world.broker.url;
  config.mqttReconnectS = 0.2;
  config.paymentServerUrl = world.stand.url;
  config.paymentTimeoutS = 0.5;
  config.paymentRetryMinS = 0.05;
  config.paymentRetryMaxS = 0.2;
  config.pushTimeoutS = 0.5;
  config.pushTries = 2;
  config.payUrlTemplate = "https://pay.test/qr?order={order}&amount={amount}&shop={shop}";
  return config;
}

async function start(world: World | Omit<World, "app">): Promise<Appliance> {
  const app = await startAppliance({
    config: world.config,
    configSources: ["test"],
    log: world.log,
  });
  await app.payments.mqtt.subscribed();
  return app;
}

function device(world: World, equipId: string): Promise<DeviceClient> {
  return DeviceClient.login({
    host: "127.0.0.1",
    port: world.app.server.addr.port,
    equipId,
    timeoutMs: 5000,
  });
}

const doorTopic = (w: World) => `/newretail/door/${w.shop}`;
const payTopic = (w: World) => `/newretail/pay/${w.shop}`;
const payMessage = (w: World, code: string, result = "ok") =>
  JSON.stringify({ id: ` ${w.shop}`, action: "pay", result, order_id: code });

async function orderOf(world: World, equipId: string, terminalOrderId: string) {
  return await eventually(
    () => findTerminalOrder(world.app.db, equipId, terminalOrderId),
    `order ${terminalOrderId}`,
  );
}

async function stateOf(world: World, equipId: string, terminalOrderId: string, state: string) {
  await eventually(async () => {
    const order = await findTerminalOrder(world.app.db, equipId, terminalOrderId);
    return order?.state === state ? order : undefined;
  }, `order ${terminalOrderId} ${state}`);
}

async function flow(t: Deno.TestContext, world: World) {
  await t.step(
    "door open → getPayInfo → payment server gets the openid → pay → sendPayResult",
    async () => {
      await publish(world.broker.url, [{
        topic: doorTopic(world),
        payload: JSON.stringify({ id: world.shop, action: "open", openId: "oWx_customer_42" }),
      }]);
      await eventually(
        async () =>
          (await currentCustomer(world.app.db, world.shop)) === "oWx_customer_42" || undefined,
        "door session",
      );
      const pos = await device(world, "POS_0001");
      try {
        const reply = await pos.request("getPayInfo", {
          order_id: "T-1001",
          totalPrice: 11.5,
          goods: [{ gid: 9, price: 2, qty: 4 }, { gid: 10, price: 3.5, qty: 1 }],
        });
        assert.equal(reply.json?.exception, "");
        const order = await orderOf(world, "POS_0001", "T-1001");
        assert.equal(
          reply.json?.url,
          `https://pay.test/qr?order=${order.code}&amount=11.50&shop=${world.shop}`,
        );
        await world.stand.waitFor((calls) =>
          calls.some((c) => c.orderCode === order.code && c.status === 200)
        );
        const calls = world.stand.calls.filter((c) => c.orderCode === order.code);
        assert.deepEqual(calls.map(({ contentType: _, ...c }) => c), [{
          orderCode: order.code,
          price: "11.50",
          openid: "oWx_customer_42",
          uniqueId: "POS_0001",
          status: 200,
        }]);

        // The cloud repeats itself and sends noise; the device is told once.
        await publish(world.broker.url, [
          { topic: payTopic(world), payload: payMessage(world, order.code) },
          { topic: payTopic(world), payload: "{not json" },
          { topic: payTopic(world), payload: payMessage(world, "999999999999999") },
          { topic: payTopic(world), payload: payMessage(world, order.code) },
        ]);
        const push = await pos.nextPush("sendPayResult");
        pos.acknowledge("sendPayResult");
        assert.deepEqual(push.json, {
          order_id: "T-1001",
          totalPrice: 11.5,
          result: "success",
          printList: JSON.stringify({
            totalAmount: "11.50",
            productList: [
              { name: "农夫山泉 550ml", count: "4", price: "2.00", total: "8.00" },
              { name: "可口可乐 330ml", count: "1", price: "3.50", total: "3.50" },
            ],
          }),
          exception: "",
        });
        await stateOf(world, "POS_0001", "T-1001", "paid");
        await eventually(
          () =>
            world.log.lines.some((l) =>
              /payment result ignored: order already paid/.test(String(l.msg))
            ) ||
            undefined,
          "duplicate logged",
        );
        assert.ok(world.log.lines.some((l) => l.msg === "MQTT message ignored"));
        assert.ok(
          world.log.lines.some((l) => l.msg === "payment result for an unknown order ignored"),
        );
        await assert.rejects(pos.nextPush("sendPayResult", 300), /timed out/);
      } finally {
        await pos.close();
      }
    },
  );

  await t.step(
    "scale order in the old list form; wrong total; unknown goods; retried request",
    async () => {
      await publish(world.broker.url, [{
        topic: doorTopic(world),
        payload: JSON.stringify({ id: world.shop, action: "close" }),
      }]);
      await eventually(
        async () => (await currentCustomer(world.app.db, world.shop)) === "" || undefined,
        "closed",
      );
      const scale = await device(world, "DZC_0001");
      try {
        const goods = { gid: "1,2", standardPrice: "12.8,6.98", weight: "0.413,1.5" }; // 5.29 + 10.47
        const wrong = await scale.request("getPayInfo", {
          order_id: "W1",
          totalPrice: 15.74,
          goods,
        });
        assert.deepEqual(wrong.json, { exception: "errorPrice", url: "" });
        const unknown = await scale.request("getPayInfo", {
          order_id: "W1",
          totalPrice: 1,
          goods: { gid: "424242", weight: "1" },
        });
        assert.deepEqual(unknown.json, { exception: "unknown goods: gid 424242", url: "" });
        // Failures found before the handler runs also carry the empty url.
        const garbled = await scale.request("getPayInfo", new TextEncoder().encode("{order_id"));
        assert.equal(garbled.json?.url, "");
        assert.match(String(garbled.json?.exception), /JSON/);
        const stranger = await DeviceClient.connect({
          host: "127.0.0.1",
          port: world.app.server.addr.port,
          equipId: "DZC_0404",
        });
        try {
          const refused = await stranger.request("getPayInfo", { order_id: "W1", goods });
          assert.deepEqual(refused.json, { url: "", exception: "not logged in" });
        } finally {
          await stranger.close();
        }
        const first = await scale.request("getPayInfo", {
          order_id: "W1",
          totalPrice: 15.76,
          goods,
        });
        const again = await scale.request("getPayInfo", {
          order_id: "W1",
          totalPrice: 15.76,
          goods,
        });
        assert.equal(first.json?.exception, "");
        assert.deepEqual(again.json, first.json);
        const order = await orderOf(world, "DZC_0001", "W1");
        assert.equal(order.kind, "scale");
        assert.equal(order.amount, "15.76");
        assert.equal(order.openId, "");
        await eventually(
          async () => (await callState(world.app.db, order.id))?.state === "sent" || undefined,
          "sent",
        );
        assert.deepEqual(
          world.stand.calls.filter((c) => c.orderCode === order.code).map((
            c,
          ) => [c.openid, c.status]),
          [["", 200]],
        );

        // A failed payment: the order fails and the device hears "error".
        await publish(world.broker.url, [{
          topic: payTopic(world),
          payload: payMessage(world, order.code, "fail"),
        }]);
        const push = await scale.nextPush("sendPayResult");
        scale.acknowledge("sendPayResult");
        assert.deepEqual(push.json, {
          order_id: "W1",
          totalPrice: 15.76,
          result: "error",
          printList: "",
          exception: "payment failed",
        });
        await stateOf(world, "DZC_0001", "W1", "failed");
      } finally {
        await scale.close();
      }
    },
  );

  await t.step("makePayment over TCP is idempotent; unknown order is an exception", async () => {
    const pos = await device(world, "POS_0002");
    try {
      const created = await pos.request("getPayInfo", {
        order_id: "C1",
        totalPrice: 2,
        goods: [{ gid: 9, qty: 1 }],
      });
      assert.equal(created.json?.exception, "");
      assert.deepEqual((await pos.request("makePayment", { oid: "C1" })).json, { exception: "" });
      assert.deepEqual((await pos.request("makePayment", { oid: "C1" })).json, { exception: "" });
      await stateOf(world, "POS_0002", "C1", "paid");
      assert.deepEqual((await pos.request("makePayment", { oid: "nope" })).json, {
        exception: "unknown order: nope",
      });
    } finally {
      await pos.close();
    }
  });

  await t.step(
    "a device offline when the payment arrives gets the result when it logs in",
    async () => {
      let scale = await device(world, "DZC_0002");
      await scale.request("getPayInfo", {
        order_id: "O1",
        totalPrice: 12.8,
        goods: [{ gid: 1, weight: 1 }],
      });
      const order = await orderOf(world, "DZC_0002", "O1");
      await scale.close();
      await eventually(() => !world.app.server.isOnline("DZC_0002") || undefined, "offline");
      await publish(world.broker.url, [{
        topic: payTopic(world),
        payload: payMessage(world, order.code),
      }]);
      await stateOf(world, "DZC_0002", "O1", "paid");
      scale = await device(world, "DZC_0002");
      try {
        const push = await scale.nextPush("sendPayResult");
        scale.acknowledge("sendPayResult");
        assert.equal(push.json?.order_id, "O1");
        assert.equal(push.json?.result, "success");
        assert.match(String(push.json?.printList), /"count":"1","price":"12.80","total":"12.80"/);
      } finally {
        await scale.close();
      }
    },
  );

  await t.step(
    "a device that does not answer is retried, then served at its next login",
    async () => {
      const pos = await device(world, "POS_0003");
      await pos.request("getPayInfo", {
        order_id: "N1",
        totalPrice: 3.5,
        goods: [{ gid: 10, qty: 1 }],
      });
      const order = await orderOf(world, "POS_0003", "N1");
      await publish(world.broker.url, [{
        topic: payTopic(world),
        payload: payMessage(world, order.code),
      }]);
      // pushTries = 2: two unanswered pushes.
      await pos.nextPush("sendPayResult");
      await pos.nextPush("sendPayResult");
      await eventually(
        () =>
          world.log.lines.some((l) => /undelivered/.test(String(l.msg)) && l.code === order.code) ||
          undefined,
        "undelivered logged",
      );
      // The same hardware reconnects: the new connection takes over and gets the result.
      const again = await device(world, "POS_0003");
      try {
        const push = await again.nextPush("sendPayResult");
        again.acknowledge("sendPayResult");
        assert.equal(push.json?.order_id, "N1");
        await eventually(async () => {
          const rows = await world.app.db.query<{ delivered: boolean }>(
            "select delivered from pay_results where order_id = $1",
            [order.id],
          );
          return rows[0]?.delivered || undefined;
        }, "delivered");
      } finally {
        await again.close();
        await pos.close();
      }
    },
  );

  await t.step(
    "a result unanswered on a connection that stays up is offered again on it (network lab)",
    async () => {
      const pos = await device(world, "POS_0005");
      try {
        await pos.request("getPayInfo", {
          order_id: "K1",
          totalPrice: 3.5,
          goods: [{ gid: 10, qty: 1 }],
        });
        const order = await orderOf(world, "POS_0005", "K1");
        await publish(world.broker.url, [{
          topic: payTopic(world),
          payload: payMessage(world, order.code),
        }]);
        // The link drops the first round (pushTries = 2) and comes back; no new login.
        await pos.nextPush("sendPayResult");
        await pos.nextPush("sendPayResult");
        const again = await pos.nextPush("sendPayResult");
        pos.acknowledge("sendPayResult");
        assert.equal(again.json?.order_id, "K1");
        await eventually(async () => {
          const rows = await world.app.db.query<{ delivered: boolean }>(
            "select delivered from pay_results where order_id = $1",
            [order.id],
          );
          return rows[0]?.delivered || undefined;
        }, "delivered on the same connection");
      } finally {
        await pos.close();
      }
    },
  );

  await t.step(
    "an appliance restart between order and payment-server call loses nothing",
    async () => {
      world.stand.mode = "fail";
      const pos = await device(world, "POS_0004");
      const reply = await pos.request("getPayInfo", {
        order_id: "R1",
        totalPrice: 2,
        goods: [{ gid: 9, qty: 1 }],
      });
      await pos.close();
      assert.equal(reply.json?.exception, "");
      const order = await orderOf(world, "POS_0004", "R1");
      await world.stand.waitFor((calls) => calls.some((c) => c.orderCode === order.code));
      await world.app.shutdown();
      world.stand.mode = "ok";
      world.app = await start(world);
      await world.stand.waitFor((calls) =>
        calls.some((c) => c.orderCode === order.code && c.status === 200)
      );
      await eventually(
        async () => (await callState(world.app.db, order.id))?.state === "sent" || undefined,
        "sent",
      );
      assert.equal(world.stand.accepted.filter((c) => c.orderCode === order.code).length, 1);
    },
  );

  await t.step("an order not paid in time expires and its device is told", async () => {
    await world.app.shutdown();
    world.config = { ...world.config, orderTtlS: 1 };
    world.app = await start(world);
    world.stand.mode = "fail"; // the call is still being retried when the order expires
    const scale = await device(world, "DZC_0003");
    try {
      await scale.request("getPayInfo", {
        order_id: "X1",
        totalPrice: 6.98,
        goods: [{ gid: 2, weight: 1 }],
      });
      const order = await orderOf(world, "DZC_0003", "X1");
      const push = await scale.nextPush("sendPayResult", 10_000);
      scale.acknowledge("sendPayResult");
      assert.deepEqual(push.json, {
        order_id: "X1",
        totalPrice: 6.98,
        result: "error",
        printList: "",
        exception: "order expired",
      });
      await stateOf(world, "DZC_0003", "X1", "expired");
      await eventually(
        async () => (await callState(world.app.db, order.id))?.state === "cancelled" || undefined,
        "cancelled",
      );
    } finally {
      await scale.close();
    }
  });
}

for (const backend of backends()) {
  Deno.test(`payment flow end to end (${backend.name})`, async (t) => {
    const broker = await startBroker();
    const stand = new PaymentServerStandIn();
    const opened = await (backend as Backend).open();
    // The appliance opens the store itself; the embedded one admits one process.
    if (!opened.url) await opened.db.close();
    const partial = { broker, stand, opened, shop: uniqueShop() };
    const world = {
      ...partial,
      config: applianceConfig(partial),
      log: createMemoryLogger(),
    } as World;
    try {
      world.app = await start(world);
      await flow(t, world);
    } finally {
      await world.app?.shutdown();
      await opened.dispose();
      await stand.close();
      await broker.close();
    }
  });
}
