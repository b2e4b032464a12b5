/**
 * End-to-end: sendGoods pushes, getPosition, sendPosition refill jobs and UDP discovery, over real
 * TCP and UDP against the real appliance, on PostgreSQL (when DATABASE_URL is set) and PGlite.
 * Changes are made by plain SQL outside the appliance (a separate connection on PostgreSQL).
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import type { Appliance } from "../src/app.ts";
import type { Config } from "../src/config/config.ts";
import { DeviceClient, parseBody, type ReceivedFrame } from "../src/device/client.ts";
import { backends } from "./_support/databases.ts";
import { eventually, startTestAppliance, type TestAppliance } from "./_support/appliance.ts";
import { discover } from "../src/discovery/probe.ts";

const MAC1 = "AC:23:3F:00:00:01"; // goods 1, 红富士苹果
const MAC2 = "AC:23:3F:00:00:02"; // goods 2, 香蕉

/** Plain SQL from outside the appliance. */
type Sql = (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

interface Harness {
  app: Appliance;
  sql: Sql;
  logLines: Record<string, unknown>[];
  dispose(): Promise<void>;
}

const CONFIG: Partial<Config> = {
  discoveryEnabled: true,
  discoveryPort: 0,
  pushTimeoutS: 0.5,
  pushTries: 2,
  heartbeatIntervalS: 600,
  refillRetryS: 600,
};

async function start(backend: "postgres" | "pglite"): Promise<Harness> {
  const t: TestAppliance = await startTestAppliance(backend, { config: CONFIG });
  if (backend === "pglite") {
    return {
      app: t.app,
      logLines: t.logs,
      // PGlite has one connection: plain SQL straight into it, not through appliance code.
      sql: (text, params) => t.app.db.query(text, params),
      dispose: () => t.stop(),
    };
  }
  // A connection of its own, as psql or the ERP would have.
  const plain = postgres(t.config.databaseUrl, { max: 1, onnotice: () => {} });
  return {
    app: t.app,
    logLines: t.logs,
    // deno-lint-ignore no-explicit-any
    sql: async (text, params = []) => [...await plain.unsafe(text, params as any[])],
    async dispose() {
      await plain.end();
      await t.stop();
    },
  };
}

async function login(app: Appliance, equipId: string): Promise<DeviceClient> {
  return await DeviceClient.login({
    host: "127.0.0.1",
    port: app.server.addr.port,
    equipId,
    timeoutMs: 5000,
  });
}

/** Waits until `check` holds (polling; no timing is asserted). */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  await eventually(check, what, 10_000);
}

async function fannedOut(sql: Sql, gid: number): Promise<boolean> {
  const rows = await sql(
    "select (change_no = pushed_no) as done from goods_changes where goods_id = $1",
    [gid],
  );
  return rows[0]?.done === true;
}

function gbkGoods(frame: ReceivedFrame): Record<string, unknown>[] {
  const body = parseBody(frame.body, "gbk");
  assert.ok(body, "sendGoods body is GBK JSON");
  assert.equal(body.exception, "");
  return body.goods as Record<string, unknown>[];
}

/** Answers every push of `action` (like a scale's firmware), keeping what it received. */
function autoAck(client: DeviceClient, action: string): ReceivedFrame[] {
  const received: ReceivedFrame[] = [];
  (async () => {
    while (!client.closed) {
      try {
        const frame = await client.nextPush(action, 60_000);
        received.push(frame);
        client.acknowledge(action);
      } catch {
        // closed
      }
    }
  })();
  return received;
}

function suite(start: () => Promise<Harness>, postgresOnly: boolean) {
  return async (t: Deno.TestContext) => {
    const h = await start();
    const { app, sql } = h;
    const clients: DeviceClient[] = [];
    const connect = async (equipId: string) => {
      const c = await login(app, equipId);
      clients.push(c);
      return c;
    };
    try {
      // A label base station that asked for its label (learned), and a scale.
      const label = await connect("DZBQ_0001");
      await label.request("getGoods", { mac_id: MAC1 }, { encoding: "gbk" });
      const scale = await connect("DZC_0001");
      const scaleFrames = autoAck(scale, "sendGoods");

      await t.step(
        "a price UPDATE by plain SQL reaches the label in GBK with its mac",
        async () => {
          await sql("update goods set price = 8.88 where id = 1");
          const push = await label.nextPush("sendGoods");
          const goods = gbkGoods(push);
          assert.equal(goods.length, 1);
          assert.equal(goods[0].gid, 1);
          assert.equal(goods[0].mac, MAC1);
          assert.equal(goods[0].price, 8.88);
          assert.equal(goods[0].name, "红富士苹果");
          // GBK, not UTF-8: the name's bytes differ.
          assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(push.body));
          label.acknowledge("sendGoods");
          await until(
            "the label push is acknowledged",
            async () =>
              (await sql("select count(*)::int as n from pending_label_pushes where mac = $1", [
                MAC1,
              ]))[0]
                .n === 0,
          );
        },
      );

      await t.step("scales get the change too (UTF-8)", async () => {
        await until(
          "the scale acknowledged goods 1 at 8.88",
          () =>
            Promise.resolve(
              scaleFrames.some((f) =>
                (f.json?.goods as { gid: number; price: number }[] | undefined)?.some((g) =>
                  g.gid === 1 && g.price === 8.88
                )
              ),
            ),
        );
        await until(
          "no scale push pending",
          async () => (await sql("select count(*)::int as n from pending_scale_pushes"))[0].n === 0,
        );
      });

      await t.step("an offline label gets exactly one push, the newest, at re-login", async () => {
        const second = await connect("DZBQ_0002");
        await second.request("getGoods", { mac_id: MAC2 }, { encoding: "gbk" });
        await second.close();
        await until("DZBQ_0002 offline", () => Promise.resolve(!app.server.isOnline("DZBQ_0002")));
        for (const price of ["5.01", "5.02", "5.03"]) {
          await sql("update goods set price = $1::numeric where id = 2", [price]);
        }
        await until("the changes are fanned out", () => fannedOut(sql, 2));
        const again = await connect("DZBQ_0002");
        const push = await again.nextPush("sendGoods");
        const goods = gbkGoods(push);
        assert.deepEqual(goods.map((g) => [g.gid, g.mac, g.price]), [[2, MAC2, 5.03]]);
        again.acknowledge("sendGoods");
        await until(
          "nothing pending for the label",
          async () =>
            (await sql("select count(*)::int as n from pending_label_pushes where mac = $1", [
              MAC2,
            ]))[0]
              .n === 0,
        );
        // Nothing is left to send, so a second push cannot come.
        await assert.rejects(again.nextPush("sendGoods", 300), /timed out/);
      });

      await t.step("an unanswered push is retried, then kept for the next login", async () => {
        await sql("update goods set price = 7.77 where id = 1");
        const first = await label.nextPush("sendGoods");
        const retry = await label.nextPush("sendGoods"); // not acknowledged: tried again
        assert.equal(gbkGoods(retry)[0].price, 7.77);
        assert.equal(gbkGoods(first)[0].price, 7.77);
        await until(
          "the push is out of tries",
          async () =>
            (await sql("select tries from pending_label_pushes where mac = $1", [MAC1]))[0]
              ?.tries === 2,
        );
        await label.close();
        const back = await connect("DZBQ_0001");
        const push = await back.nextPush("sendGoods");
        assert.equal(gbkGoods(push)[0].price, 7.77);
        back.acknowledge("sendGoods");
        await until(
          "delivered after re-login",
          async () =>
            (await sql("select count(*)::int as n from pending_label_pushes where mac = $1", [
              MAC1,
            ]))[0]
              .n === 0,
        );
      });

      await t.step(
        "a push out of tries is offered again on a connection that stays up (network lab)",
        async () => {
          const station = await connect("DZBQ_0001");
          await sql("update goods set price = 7.88 where id = 1");
          // The link drops the first round (pushTries = 2) and comes back; no new login.
          await station.nextPush("sendGoods");
          await station.nextPush("sendGoods");
          const again = await station.nextPush("sendGoods");
          assert.equal(gbkGoods(again)[0].price, 7.88);
          station.acknowledge("sendGoods");
          await until(
            "confirmed on the same connection",
            async () =>
              (await sql("select price::text as price from label_shown where mac = $1", [MAC1]))[0]
                ?.price === "7.88",
          );
        },
      );

      await t.step("getPosition over TCP: found, unknown goods, no position", async () => {
        await sql(
          `insert into goods_positions (goods_id, stock_x, stock_y, stock_z, shelf_x, shelf_y, shelf_z,
             shelf_capacity)
           values (3, 'B2', '4', '1', 'A1', '7', '2', 20)`,
        );
        const agv = await connect("AGV_0009");
        const found = await agv.request("getPosition", { gid: 3 });
        assert.deepEqual(found.json, {
          exception: "",
          stockPosition: { posx: "B2", posy: "4", posz: "1" },
          goodsPosition: { posx: "A1", posy: "7", posz: "2" },
        });
        const unknown = await agv.request("getPosition", { gid: 999999 });
        assert.match(String(unknown.json?.exception), /unknown goods/);
        const none = await agv.request("getPosition", { gid: 4 });
        assert.match(String(none.json?.exception), /no position/);
        await agv.close();
      });

      await t.step(
        "sendPosition: retried on a silent AGV, then acknowledged by another",
        async () => {
          const silent = await connect("AGV_0001");
          const worker = await connect("AGV_0002");
          const [job] = await sql(
            "insert into refill_jobs (goods_id, reason) values (3, 'manual') returning id",
          );
          const offers = [
            await silent.nextPush("sendPosition"),
            await silent.nextPush("sendPosition"),
          ];
          for (const offer of offers) {
            // The shelf holds 9.75 kg of its 20: the job asks for the rest.
            assert.deepEqual(offer.json, {
              stockPosition: { posx: "B2", posy: "4", posz: "1" },
              goodsPosition: { posx: "A1", posy: "7", posz: "2" },
              gid: 3,
              qty: "10.25",
            });
          }
          const taken = await worker.nextPush("sendPosition");
          assert.equal(taken.json?.gid, 3);
          worker.acknowledge("sendPosition");
          await until("the job is done by AGV_0002", async () => {
            const [row] = await sql("select state, equip_id from refill_jobs where id = $1", [
              job.id,
            ]);
            return row.state === "done" && row.equip_id === "AGV_0002";
          });
        },
      );

      await t.step("shelf stock below its threshold makes a refill job by itself", async () => {
        await sql("update goods_positions set refill_below = 5 where goods_id = 3");
        const worker = clients.find((c) => c.equipId === "AGV_0002")!;
        await sql("update stock set quantity = 2 where goods_id = 3 and warehouse_id = 1");
        const offer = await worker.nextPush("sendPosition");
        assert.equal(offer.json?.gid, 3);
        assert.equal(offer.json?.qty, "18");
        worker.acknowledge("sendPosition");
        await until("the threshold job is done", async () =>
          (await sql(
            "select count(*)::int as n from refill_jobs where reason = 'threshold' and state = 'done'",
          ))[0].n === 1);
      });

      await t.step("discovery: a probe is answered with the TCP port, garbage is not", async () => {
        const port = app.discovery!.addr.port;
        const replies = await discover({ target: "127.0.0.1", port, timeoutMs: 500 });
        assert.deepEqual(replies.map((r) => [r.ip, r.port, r.shop]), [
          ["127.0.0.1", app.server.addr.port, "shop0001"],
        ]);
        const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
        try {
          await socket.send(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"), {
            transport: "udp",
            hostname: "127.0.0.1",
            port,
          });
        } finally {
          socket.close();
        }
        const after = await discover({ target: "127.0.0.1", port, timeoutMs: 500 });
        assert.equal(after.length, 1);
        assert.equal(app.discovery!.stats.ignored, 1);
      });

      if (postgresOnly) {
        await t.step("the listener backend is terminated: re-LISTEN and catch up", async () => {
          const back = clients.find((c) => c.equipId === "DZBQ_0001" && !c.closed)!;
          const listens = () => h.logLines.filter((l) => l.msg === "listening for goods changes");
          const before = listens().length;
          const [killed] = await sql(
            `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
             where datname = current_database() and query ilike 'listen%'`,
          );
          assert.equal(killed.n, 1);
          // Changed while the appliance is not listening: only the catch-up can find it.
          await sql("update goods set price = 6.66 where id = 1");
          const push = await back.nextPush("sendGoods", 15_000);
          assert.equal(gbkGoods(push)[0].price, 6.66);
          back.acknowledge("sendGoods");
          await until("re-listened", () => Promise.resolve(listens().length > before));
        });
      }
    } finally {
      for (const c of clients) await c.close();
      await h.dispose();
    }
  };
}

for (const backend of backends()) {
  Deno.test(
    `push end to end (${backend.name})`,
    suite(() => start(backend.name), backend.name === "postgres"),
  );
}

for (const backend of backends()) {
  Deno.test(`a refill job refused by every AGV is offered again after refillRetryS (${backend.name})`, async () => {
    const t = await startTestAppliance(backend.name, {
      config: { ...CONFIG, refillRetryS: 0.2, pushTries: 1 },
    });
    const agv = await login(t.app, "AGV_0009");
    try {
      await t.app.db.query(
        `insert into goods_positions (goods_id, stock_x, stock_y, stock_z, shelf_x, shelf_y, shelf_z,
           shelf_capacity)
         values (3, 'B2', '4', '1', 'A1', '7', '2', 20)`,
      );
      const [job] = await t.app.db.query<{ id: number }>(
        "insert into refill_jobs (goods_id, reason) values (3, 'manual') returning id",
      );
      const first = await agv.nextPush("sendPosition");
      assert.equal(first.json?.gid, 3);
      agv.acknowledge("sendPosition", { exception: "battery low" });
      // The only AGV refused: the job stays open until the next look, refillRetryS later.
      const again = await agv.nextPush("sendPosition");
      assert.equal(again.json?.gid, 3);
      agv.acknowledge("sendPosition");
      await until("the job is done by AGV_0009", async () => {
        const [row] = await t.app.db.query<{ state: string; equip_id: string }>(
          "select state, equip_id from refill_jobs where id = $1",
          [job.id],
        );
        return row.state === "done" && row.equip_id === "AGV_0009";
      });
    } finally {
      await agv.close();
      await t.stop();
    }
  });
}
