import assert from "node:assert/strict";
import { publish, startBroker, uniqueShop } from "../../tests/payment_support.ts";
import { defaultConfig } from "../config/config.ts";
import { createMemoryLogger } from "../log.ts";
import { DatabaseUnavailableError } from "../store/database.ts";
import { parseStoreMessage, type StoreMessage, StoreMqtt } from "./mqtt.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("parseStoreMessage reads door and pay messages, trimming ids", () => {
  assert.deepEqual(
    parseStoreMessage(
      "door",
      text('{"id":" shop0001 ","action":"open","openId":" oWx1 "}'),
      "shop0001",
    ),
    { topic: "door", action: "open", openId: "oWx1" },
  );
  assert.deepEqual(
    parseStoreMessage("door", text('{"id":"shop0001","action":"close"}'), "shop0001"),
    {
      topic: "door",
      action: "close",
    },
  );
  assert.deepEqual(
    parseStoreMessage(
      "pay",
      text('{"id":"shop0001","action":"pay","result":"ok","order_id":" 120292012883939"}'),
      "shop0001",
    ),
    { topic: "pay", action: "pay", orderCode: "120292012883939", ok: true, result: "ok" },
  );
  assert.deepEqual(
    parseStoreMessage(
      "pay",
      text('{"action":"pay","result":"fail","order_id":120292012883939}'),
      "shop0001",
    ),
    { topic: "pay", action: "pay", orderCode: "120292012883939", ok: false, result: "fail" },
  );
});

Deno.test("parseStoreMessage ignores what it cannot act on, saying why", () => {
  const cases: [("door" | "pay"), string, RegExp][] = [
    ["pay", "not json", /not JSON/],
    ["pay", "[1]", /not a JSON object/],
    ["pay", "null", /not a JSON object/],
    ["pay", new TextDecoder().decode(new Uint8Array([0xff, 0xfe])), /not JSON/],
    ["pay", '{"id":"shop0002","action":"pay","result":"ok","order_id":"1"}', /another store/],
    [
      "pay",
      '{"id":"shop0001","action":"refund","result":"ok","order_id":"1"}',
      /unknown pay action/,
    ],
    ["pay", '{"id":"shop0001","action":"pay","result":"ok"}', /without order_id/],
    ["pay", '{"id":"shop0001","action":"pay","result":"ok","order_id":1.5}', /without order_id/],
    ["pay", '{"id":"shop0001","action":"pay","order_id":"1"}', /without result/],
    ["door", '{"id":"shop0001","action":"open"}', /without openId/],
    ["door", '{"id":"shop0001","action":"knock"}', /unknown door action/],
  ];
  for (const [topic, payload, reason] of cases) {
    const parsed = parseStoreMessage(topic, text(payload), "shop0001");
    assert.ok("ignored" in parsed, payload);
    assert.match(parsed.ignored, reason, payload);
  }
});

function mqttConfig(url: string, shop: string) {
  const config = defaultConfig();
  config.mqttUrl = url;
  config.shopId = shop;
  config.mqttReconnectS = 0.2;
  return config;
}

Deno.test("StoreMqtt: one connection hears both topics; bad payloads are logged and skipped", async () => {
  const broker = await startBroker();
  const shop = uniqueShop();
  const received: StoreMessage[] = [];
  const log = createMemoryLogger();
  const conn = new StoreMqtt({
    config: mqttConfig(broker.url, shop),
    log,
    onMessage: (m) => {
      received.push(m);
      return Promise.resolve();
    },
  });
  try {
    await conn.start();
    await conn.subscribed();
    assert.equal(conn.connected, true);
    await publish(broker.url, [
      {
        topic: `/newretail/door/${shop}`,
        payload: `{"id":" ${shop}","action":"open","openId":"o1"}`,
      },
      { topic: `/newretail/pay/${shop}`, payload: "garbage{" },
      {
        topic: `/newretail/pay/${shop}`,
        payload: `{"id":"other","action":"pay","result":"ok","order_id":"9"}`,
      },
      {
        topic: `/newretail/pay/${shop}`,
        payload: `{"id":"${shop}","action":"pay","result":"ok","order_id":"9"}`,
      },
    ]);
    while (received.length < 2) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(received, [
      { topic: "door", action: "open", openId: "o1" },
      { topic: "pay", action: "pay", orderCode: "9", ok: true, result: "ok" },
    ]);
    const ignored = log.lines.filter((l) => l.msg === "MQTT message ignored").map((l) => l.reason);
    assert.deepEqual(ignored, ["payload is not JSON", 'message for another store: "other"']);
  } finally {
    await conn.stop();
    await broker.close();
  }
});

Deno.test("StoreMqtt: a persistent session receives what was published while it was away", async () => {
  const broker = await startBroker();
  const shop = uniqueShop();
  const received: StoreMessage[] = [];
  const make = () =>
    new StoreMqtt({
      config: mqttConfig(broker.url, shop),
      log: createMemoryLogger(),
      onMessage: (m) => {
        received.push(m);
        return Promise.resolve();
      },
    });
  const first = make();
  await first.start();
  await first.subscribed();
  await first.stop();
  const second = make();
  try {
    await publish(broker.url, [{
      topic: `/newretail/pay/${shop}`,
      payload: `{"id":"${shop}","action":"pay","result":"ok","order_id":"77"}`,
    }]);
    await second.start();
    while (received.length < 1) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(received, [{
      topic: "pay",
      action: "pay",
      orderCode: "77",
      ok: true,
      result: "ok",
    }]);
  } finally {
    await second.stop();
    await broker.close();
  }
});

Deno.test("StoreMqtt: a message not handled for want of the database is delivered again", async () => {
  const broker = await startBroker();
  const shop = uniqueShop();
  const seen: string[] = [];
  let failing = true;
  const make = () =>
    new StoreMqtt({
      config: mqttConfig(broker.url, shop),
      log: createMemoryLogger(),
      onMessage: (m) => {
        seen.push((m as { orderCode: string }).orderCode);
        return failing
          ? Promise.reject(new DatabaseUnavailableError("database down"))
          : Promise.resolve();
      },
    });
  const first = make();
  await first.start();
  await first.subscribed();
  await publish(broker.url, [{
    topic: `/newretail/pay/${shop}`,
    payload: `{"id":"${shop}","action":"pay","result":"ok","order_id":"55"}`,
  }]);
  while (seen.length < 1) await new Promise((r) => setTimeout(r, 10));
  await first.stop(); // gives up at once: left unacknowledged
  failing = false;
  const before = seen.length;
  const second = make();
  try {
    await second.start();
    while (seen.length <= before) await new Promise((r) => setTimeout(r, 10));
    assert.equal(seen.at(-1), "55");
  } finally {
    await second.stop();
    await broker.close();
  }
});

Deno.test("StoreMqtt without a broker configured says so once and does nothing", async () => {
  const log = createMemoryLogger();
  const conn = new StoreMqtt({
    config: mqttConfig("", "shopX"),
    log,
    onMessage: () => Promise.resolve(),
  });
  await conn.start();
  await conn.stop();
  assert.equal(conn.configured, false);
  assert.equal(log.lines.filter((l) => /MQTT not configured/.test(String(l.msg))).length, 1);
});
