/**
 * Stock that follows the store (issue 13), end to end over real TCP and a real MQTT broker: a
 * scale order paid over MQTT takes its weight off the shelf once, even when the pay result is
 * delivered twice and the appliance (a child process) is killed with SIGKILL between the payment
 * and the result; a sale that takes the shelf under its threshold makes a refill job, the AGV
 * acknowledges it, and the stock moves from the stock room to the shelf once. Devices see the
 * figures (getWarehouseGoods, getGoods), and the stock table is the sum of its moves.
 */
import assert from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { createPostgresDatabase } from "./_support/databases.ts";
import { freePort } from "./_support/pg_cluster.ts";
import { ServeProcess } from "./_support/serve_process.ts";
import { eventually, startTestAppliance } from "./_support/appliance.ts";
import { PaymentServerStandIn, publish, startBroker, uniqueShop } from "./payment_support.ts";
import { DeviceClient } from "../src/device/client.ts";
import type { Database } from "../src/store/database.ts";
import { openPostgres } from "../src/store/postgres.ts";
import { openPglite } from "../src/store/pglite/pglite.ts";
import { migrate } from "../src/store/migrate.ts";
import { seedDemo } from "../src/store/demo.ts";
import { ledgerDifferences } from "../src/store/stock_moves.ts";

const SHELF = 1; // demo warehouse MD
const ROOM = 2; // demo warehouse HC

async function stockOf(db: Database, warehouse: number, gid: number): Promise<string> {
  const [row] = await db.query<{ q: string }>(
    "select quantity::text as q from stock where warehouse_id = $1 and goods_id = $2",
    [warehouse, gid],
  );
  return row?.q ?? "none";
}

async function saleMoves(db: Database, gid: number): Promise<string[]> {
  const rows = await db.query<{ q: string }>(
    "select quantity::text as q from stock_moves where reason = 'sale' and goods_id = $1",
    [gid],
  );
  return rows.map((r) => r.q);
}

/** What a device is told: the goods' stock in a warehouse (getWarehouseGoods) and in all (getGoods). */
async function deviceFigures(device: DeviceClient, gid: number, whid: number) {
  const inWarehouse = await device.request("getWarehouseGoods", { whid });
  assert.equal(inWarehouse.json?.exception, "");
  const listed = (inWarehouse.json?.goods as { gid: number; stock: unknown }[])
    .find((g) => g.gid === gid);
  const goods = await device.request("getGoods", { gid: String(gid) });
  assert.equal(goods.json?.exception, "", JSON.stringify(goods.json));
  const [one] = goods.json?.goods as { gid: number; stock: unknown }[];
  return { warehouse: Number(listed?.stock), total: Number(one.stock) };
}

Deno.test({
  name:
    "a scale order paid over MQTT takes its weight off the shelf once: result twice, appliance SIGKILLed between payment and result",
  async fn() {
    const [backend] = backends();
    const broker = await startBroker();
    const stand = new PaymentServerStandIn();
    const shop = uniqueShop();
    let env: Record<string, string>;
    let openStore: () => Promise<Database>;
    let cleanup: () => Promise<void>;
    if (backend.name === "postgres") {
      const created = await createPostgresDatabase(Deno.env.get("DATABASE_URL")!);
      env = { DATABASE_URL: created.url };
      openStore = () => Promise.resolve(openPostgres(created.url, { maxConnections: 2 }));
      cleanup = created.drop;
    } else {
      const stateDir = await Deno.makeTempDir({ prefix: "newretail-stock-" });
      env = { DATABASE_URL: "", NEWRETAIL_STATE_DIR: stateDir };
      openStore = () => openPglite(stateDir);
      cleanup = () => Deno.remove(stateDir, { recursive: true });
    }
    let gid: number;
    let shelfBefore: number;
    const setup = await openStore();
    try {
      await migrate(setup);
      await seedDemo(setup);
      [{ gid }] = await setup.query<{ gid: number }>(
        "select min(id) as gid from goods where weighed",
      );
      // 8.00 a kg: 1.25 kg cost exactly 10.00.
      await setup.query("update goods set price = 8 where id = $1", [gid]);
      shelfBefore = Number(await stockOf(setup, SHELF, gid));
    } finally {
      await setup.close();
    }
    Object.assign(env, {
      MQTT_URL: broker.url,
      NEWRETAIL_SHOP_ID: shop,
      NEWRETAIL_PAYMENT_SERVER_URL: stand.url,
      NEWRETAIL_PAYMENT_TIMEOUT_S: "1",
      NEWRETAIL_PUSH_TIMEOUT_S: "1",
    });
    const port = freePort();
    const args = ["--host", "127.0.0.1", "--port", String(port)];
    const first = new ServeProcess(args, env);
    let second: ServeProcess | undefined;
    let scale: DeviceClient | undefined;
    try {
      await first.started();
      await eventually(() => first.lines.some((l) => l.includes("MQTT connected")), "MQTT", 20_000);
      scale = await DeviceClient.login({ host: "127.0.0.1", port, equipId: "DZC_7001" });
      const reply = await scale.request("getPayInfo", {
        order_id: "W-1",
        totalPrice: 10,
        goods: [{ gid, weight: 1.25 }],
      });
      assert.equal(reply.json?.exception, "", JSON.stringify(reply.json));
      // The customer pays: the payment server has the order. Then the appliance dies.
      await stand.waitFor((calls) => calls.some((c) => c.status === 200), 20_000);
      const code = stand.accepted[0].orderCode;
      await first.kill("SIGKILL");
      await scale.close();
      second = new ServeProcess(args, env);
      await second.started();
      await eventually(
        () => second!.lines.some((l) => l.includes("MQTT connected")),
        "MQTT",
        20_000,
      );
      const pay = JSON.stringify({ id: shop, action: "pay", result: "ok", order_id: code });
      const topic = `/newretail/pay/${shop}`;
      await publish(broker.url, [{ topic, payload: pay }, { topic, payload: pay }]);
      scale = await DeviceClient.login({ host: "127.0.0.1", port, equipId: "DZC_7001" });
      const result = await scale.nextPush("sendPayResult", 20_000);
      assert.equal(result.json?.result, "success", JSON.stringify(result.json));
      scale.acknowledge("sendPayResult");
      await eventually(
        () => second!.lines.some((l) => /already paid/.test(l)),
        "the second delivery of the result is seen as a duplicate",
        20_000,
      );
      const figures = await deviceFigures(scale, gid, SHELF);
      assert.equal(figures.warehouse, shelfBefore - 1.25);
      await scale.close();
      assert.equal(await second.kill("SIGTERM"), 0, second.lines.slice(-20).join("\n"));
    } finally {
      await scale?.close();
      await first.kill("SIGKILL");
      await second?.kill("SIGKILL");
      await stand.close();
      await broker.close();
    }
    const db = await openStore();
    try {
      assert.equal(Number(await stockOf(db, SHELF, gid)), shelfBefore - 1.25);
      assert.deepEqual(await saleMoves(db, gid), ["1.250"]);
      assert.deepEqual(await ledgerDifferences(db), []);
    } finally {
      await db.close();
      await cleanup();
    }
  },
});

for (const backend of backends()) {
  Deno.test(`a sale under the threshold makes a refill job; the AGV's acknowledgement moves the stock once (${backend.name})`, async () => {
    const broker = await startBroker();
    const shop = uniqueShop();
    const stand = new PaymentServerStandIn();
    const t = await startTestAppliance(backend.name, {
      config: {
        shopId: shop,
        mqttUrl: broker.url,
        mqttReconnectS: 0.2,
        paymentServerUrl: stand.url,
        paymentTimeoutS: 1,
        pushTimeoutS: 1,
        refillRetryS: 0.3,
      },
    });
    try {
      const db = t.app.db;
      await t.app.payments.mqtt.subscribed();
      const gid = 9; // a bottle, sold by the piece
      const shelf = Number(await stockOf(db, SHELF, gid));
      const room = Number(await stockOf(db, ROOM, gid));
      // Threshold 5 and capacity 12: selling all but 2 makes a job for 10.
      await db.query(
        `insert into goods_positions (goods_id, stock_x, stock_y, stock_z, shelf_x, shelf_y, shelf_z,
           refill_below, shelf_capacity) values ($1, 'B', '1', '1', 'A', '2', '3', 5, 12)`,
        [gid],
      );
      const agv = await t.device("AGV_7002");
      const pos = await t.device("POS_7003");
      const [{ price }] = await db.query<{ price: string }>(
        "select price::text as price from goods where id = $1",
        [gid],
      );
      const sold = shelf - 2;
      const reply = await pos.request("getPayInfo", {
        order_id: "R-1",
        totalPrice: Number((Number(price) * sold).toFixed(2)),
        goods: [{ gid, qty: sold }],
      });
      assert.equal(reply.json?.exception, "", JSON.stringify(reply.json));
      const [{ code }] = await db.query<{ code: string }>(
        "select code from orders where terminal_order_id = 'R-1'",
      );
      const pay = JSON.stringify({ id: shop, action: "pay", result: "ok", order_id: code });
      await publish(broker.url, [{ topic: `/newretail/pay/${shop}`, payload: pay }]);
      const offer = await agv.nextPush("sendPosition", 20_000);
      assert.deepEqual(offer.json, {
        stockPosition: { posx: "B", posy: "1", posz: "1" },
        goodsPosition: { posx: "A", posy: "2", posz: "3" },
        gid,
        qty: "10",
      });
      assert.equal(Number(await stockOf(db, SHELF, gid)), 2);
      // The AGV could only carry 8; a second acknowledgement of the same job moves nothing.
      agv.acknowledge("sendPosition", { exception: "", qty: "8" });
      await eventually(async () => {
        const [job] = await db.query<{ state: string; moved: string }>(
          "select state, moved::text as moved from refill_jobs where goods_id = $1",
          [gid],
        );
        return job?.state === "done" && job.moved === "8.000";
      }, "the job is closed with what was moved");
      assert.equal(Number(await stockOf(db, SHELF, gid)), 10);
      assert.equal(Number(await stockOf(db, ROOM, gid)), room - 8);
      const [{ n }] = await db.query<{ n: number }>(
        "select count(*)::int as n from stock_moves where reason = 'refill' and goods_id = $1",
        [gid],
      );
      assert.equal(n, 1);
      // Devices see it: the shelf has 10, the store as a whole lost only what was sold.
      const figures = await deviceFigures(pos, gid, SHELF);
      assert.deepEqual(figures, { warehouse: 10, total: 10 + room - 8 });
      assert.deepEqual(await ledgerDifferences(db), []);

      // An empty stock room: the next job is not sent, it waits and says why.
      await db.query("update stock set quantity = 0 where goods_id = $1 and warehouse_id = $2", [
        gid,
        ROOM,
      ]);
      await db.query("insert into refill_jobs (goods_id, reason) values ($1, 'manual')", [gid]);
      await eventually(async () => {
        const [job] = await db.query<{ last_error: string | null }>(
          "select last_error from refill_jobs where goods_id = $1 and state = 'open'",
          [gid],
        );
        return job?.last_error === "no stock in the stock room HC";
      }, "the job waits for stock");
      const pushed = await agv.waitFor(
        (f) => f.header.action === "sendPosition",
        "sendPosition",
        700,
      ).then(
        () => true,
        () => false,
      );
      assert.equal(pushed, false, "a job with nothing to bring is not sent");
    } finally {
      await t.stop();
      await stand.close();
      await broker.close();
    }
  });
}
