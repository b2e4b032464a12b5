/**
 * End-to-end (issue 14): price parity between the shelf labels and the till, the parity window,
 * scheduled prices (while running and applied at start), scale barcodes, `GET /labels`, the label
 * metrics and `labels audit`, over real TCP against the real appliance, on PostgreSQL (when
 * DATABASE_URL is set) and PGlite. Prices are changed with plain SQL from outside the appliance.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { type Appliance, startAppliance } from "../src/app.ts";
import { type Config, defaultConfig } from "../src/config/config.ts";
import { createMemoryLogger, type LogFields } from "../src/log.ts";
import { DeviceClient, parseBody, type ReceivedFrame } from "../src/device/client.ts";
import { DEMO_GOODS, seedDemo } from "../src/store/demo.ts";
import { openPglite } from "../src/store/pglite/pglite.ts";
import { LABEL_CONFIRMED_EVENT } from "../src/events.ts";
import { DEFAULT_SCALE_RULES, scaleBarcode } from "../src/scale_barcode.ts";
import { createPostgresDatabase, testPostgresUrl } from "./_support/databases.ts";
import { eventually } from "./_support/appliance.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const MAC1 = "AC:23:3F:00:00:01"; // goods 1, 红富士苹果 12.80/kg, PLU 1
const MAC9 = "AC:23:3F:00:00:09"; // goods 9, 农夫山泉 2.00
const MAC10 = "AC:23:3F:00:00:0A"; // goods 10, 可口可乐 3.50
const [AMOUNT_RULE, WEIGHT_RULE] = DEFAULT_SCALE_RULES;

type Backend = "postgres" | "pglite";
type Sql = (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/** Where one store's database lives, across restarts of its appliance. */
interface Store {
  backend: Backend;
  config: Config;
  dispose(): Promise<void>;
}

interface Running {
  app: Appliance;
  logs: LogFields[];
  sql: Sql;
  adminPort: number;
  clients: DeviceClient[];
  device(equipId: string): Promise<DeviceClient>;
  stop(): Promise<void>;
}

async function newStore(backend: Backend, extra: Partial<Config>): Promise<Store> {
  const config: Config = {
    ...defaultConfig(),
    host: "127.0.0.1",
    port: 0,
    discoveryEnabled: false,
    adminEnabled: true,
    adminHost: "127.0.0.1",
    adminPort: 0,
    logLevel: "debug",
    heartbeatIntervalS: 600,
    pushTimeoutS: 30,
    pushTries: 1,
    ...extra,
  };
  if (backend === "postgres") {
    const created = await createPostgresDatabase(testPostgresUrl()!);
    config.databaseUrl = created.url;
    return { backend, config, dispose: created.drop };
  }
  const stateDir = await Deno.makeTempDir({ prefix: "newretail-price-" });
  config.databaseUrl = "";
  config.stateDir = stateDir;
  config.demo = true;
  return { backend, config, dispose: () => Deno.remove(stateDir, { recursive: true }) };
}

async function run(store: Store, seed: boolean): Promise<Running> {
  const log = createMemoryLogger("debug");
  const app = await startAppliance({
    config: store.config,
    configSources: ["test"],
    log,
  });
  if (store.backend === "postgres" && seed) await seedDemo(app.db);
  // Every change so far fanned out: no push of the seeding reaches a label asked for later.
  await eventually(
    async () =>
      (await app.db.query<{ n: number }>(
        "select count(*)::int as n from goods_changes where change_no > pushed_no",
      ))[0].n === 0,
    "the catalogue's changes fanned out",
    15_000,
  );
  let sql: Sql;
  let closeSql = () => Promise.resolve();
  if (store.backend === "pglite") {
    // PGlite has one connection: plain SQL straight into it, not through appliance code.
    sql = (text, params) => app.db.query(text, params);
  } else {
    // A connection of its own, as psql or the ERP would have.
    const plain = postgres(store.config.databaseUrl, { max: 1, onnotice: () => {} });
    // deno-lint-ignore no-explicit-any
    sql = async (text, params = []) => [...await plain.unsafe(text, params as any[])];
    closeSql = () => plain.end();
  }
  const clients: DeviceClient[] = [];
  return {
    app,
    logs: log.lines,
    sql,
    adminPort: app.admin!.port,
    clients,
    async device(equipId) {
      const c = await DeviceClient.login({
        host: "127.0.0.1",
        port: app.server.addr.port,
        equipId,
        timeoutMs: 10_000,
      });
      clients.push(c);
      return c;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.close()));
      await closeSql();
      await app.shutdown();
    },
  };
}

async function goods(
  client: DeviceClient,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>[]> {
  const reply = await client.request("getGoods", body);
  assert.equal(reply.json?.exception, "", JSON.stringify(reply.json));
  return reply.json!.goods as Record<string, unknown>[];
}

let orderNo = 0;
async function pay(
  client: DeviceClient,
  totalPrice: number,
  lines: Record<string, unknown>[],
): Promise<Record<string, unknown>> {
  const reply = await client.request("getPayInfo", {
    order_id: `T${++orderNo}`,
    totalPrice,
    goods: lines,
  });
  return reply.json!;
}

async function lastLines(sql: Sql): Promise<Record<string, unknown>[]> {
  return await sql(
    `select l.unit_price::text as "unitPrice", l.quantity::text as quantity,
       l.amount::text as amount, l.price_reason as reason
     from order_lines l where l.order_id = (select max(id) from orders) order by l.line_no`,
  );
}

async function labelsJson(r: Running, query = ""): Promise<Record<string, unknown>[]> {
  const response = await fetch(`http://127.0.0.1:${r.adminPort}/labels${query}`);
  assert.equal(response.status, 200);
  return await response.json();
}

async function metrics(r: Running): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${r.adminPort}/metrics`);
  return await response.text();
}

/** The CLI as a separate process; on PGlite it reaches the running appliance's admin API. */
async function cli(store: Store, r: Running, args: string[]) {
  const env: Record<string, string> = {
    NO_COLOR: "1",
    NEWRETAIL_ADMIN_PORT: String(r.adminPort),
    NEWRETAIL_ADMIN_HOST: "127.0.0.1",
    DATABASE_URL: store.config.databaseUrl,
    NEWRETAIL_STATE_DIR: store.config.stateDir,
  };
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

function pushedGoods(frame: ReceivedFrame): Record<string, unknown>[] {
  const body = parseBody(frame.body, "gbk");
  assert.ok(body);
  return body.goods as Record<string, unknown>[];
}

/** Asks for a label by MAC as a label does: it then shows what it was answered. */
async function labelAsks(label: DeviceClient, mac: string): Promise<void> {
  const reply = await label.request("getGoods", { mac_id: mac }, { encoding: "gbk" });
  assert.equal(parseBody(reply.body, "gbk")?.exception, "");
}

function parityAndScale(backend: Backend) {
  return async (t: Deno.TestContext) => {
    const store = await newStore(backend, { priceParityMaxS: 3600 });
    const r = await run(store, true);
    const confirmed: unknown[] = [];
    const off = r.app.events.on(LABEL_CONFIRMED_EVENT, (d) => void confirmed.push(d));
    try {
      const label = await r.device("DZBQ_0001");
      const till = await r.device("POS_0001");
      await labelAsks(label, MAC10);
      await labelAsks(label, MAC1);
      assert.equal(confirmed.length, 2, "a label's own mac_id look-up is a confirmation");

      await t.step(
        "a price raise: the till sees and is charged the label's price until it confirms",
        async () => {
          await r.sql("update goods set price = 4.00 where id = 10");
          // The label gets the new price; it does not answer yet (a slow label, a dead battery).
          const push = await label.nextPush("sendGoods", 10_000);
          assert.equal(pushedGoods(push)[0].price, 4, "labels always get the current price");
          assert.equal((await goods(till, { gid: 10 }))[0].price, 3.5);
          assert.equal((await goods(till, { code: DEMO_GOODS[9].barcode }))[0].price, 3.5);
          assert.equal(
            (await goods(label, { gid: 10 }))[0].price,
            4,
            "a label asking gets the current one",
          );
          const page = await till.request("getAllGoods", { ost: 9, lmt: 1 });
          assert.equal((page.json!.goods as { price: number }[])[0].price, 3.5);
          assert.equal((await pay(till, 4.5, [{ gid: 10, qty: 1 }])).exception, "errorPrice");
          // A device that already has the new price (a pushed scale) is not refused: it is
          // charged what the shelf shows.
          assert.equal((await pay(till, 4, [{ gid: 10, qty: 1 }])).exception, "");
          assert.equal((await lastLines(r.sql))[0].amount, "3.50", "charged the shelf price");
          assert.equal((await pay(till, 7, [{ gid: 10, qty: 2 }])).exception, "");
          assert.deepEqual(await lastLines(r.sql), [
            {
              unitPrice: "3.50",
              quantity: "2.000",
              amount: "7.00",
              reason: `label ${MAC10} shows 3.50`,
            },
          ]);
          const stale = await labelsJson(r, "?state=stale");
          assert.deepEqual(
            stale.map((l) => [l.mac, l.gid, l.device, l.shownPrice, l.currentPrice]),
            [
              [MAC10, 10, "DZBQ_0001", "3.50", "4.00"],
            ],
          );
          assert.match(await metrics(r), /newretail_labels\{state="stale"\} 1\n/);

          label.acknowledge("sendGoods");
          await eventually(
            async () => (await goods(till, { gid: 10 }))[0].price === 4,
            "the till sees the new price once the label confirmed",
            10_000,
          );
          assert.equal((await pay(till, 4, [{ gid: 10, qty: 1 }])).exception, "");
          assert.deepEqual(await lastLines(r.sql), [
            { unitPrice: "4.00", quantity: "1.000", amount: "4.00", reason: "current" },
          ]);
          assert.deepEqual(
            (await labelsJson(r)).filter((l) => l.mac === MAC10).map((
              l,
            ) => [l.state, l.shownPrice]),
            [["fresh", "4.00"]],
          );
          await eventually(
            () => Promise.resolve(confirmed.length === 3),
            "an acknowledged push is a confirmation too",
            10_000,
          );
        },
      );

      await t.step("a price cut applies at once", async () => {
        await r.sql("update goods set price = 3.00 where id = 10");
        await label.nextPush("sendGoods", 10_000); // left unanswered: the label shows 4.00
        assert.equal((await goods(till, { gid: 10 }))[0].price, 3);
        assert.equal((await pay(till, 3, [{ gid: 10, qty: 1 }])).exception, "");
        assert.equal((await lastLines(r.sql))[0].reason, "current");
        label.acknowledge("sendGoods");
      });

      await t.step("scale barcodes: both default rules and a bad check digit", async () => {
        const weighed = scaleBarcode(WEIGHT_RULE, 1, 500); // 0.5 kg of apples
        const total = scaleBarcode(AMOUNT_RULE, 1, 640); // apples for 6.40
        const [byWeight] = await goods(till, { code: weighed });
        assert.deepEqual(
          [byWeight.gid, byWeight.scanCode, byWeight.price, byWeight.weight, byWeight.amount],
          [1, weighed, 12.8, 0.5, undefined],
        );
        const [byTotal] = await goods(till, { code: total });
        assert.deepEqual(
          [byTotal.gid, byTotal.scanCode, byTotal.price, byTotal.amount, byTotal.weight],
          [1, total, 12.8, 6.4, undefined],
        );
        const bad = total.slice(0, 12) + String((Number(total[12]) + 1) % 10);
        assert.deepEqual(await goods(till, { code: bad }), []);
        assert.equal((await pay(till, 6.4, [{ code: weighed }])).exception, "");
        assert.deepEqual(await lastLines(r.sql), [
          { unitPrice: "12.80", quantity: "0.500", amount: "6.40", reason: "current" },
        ]);
        assert.equal((await pay(till, 6.4, [{ code: total }])).exception, "");
        assert.deepEqual(await lastLines(r.sql), [
          { unitPrice: "12.80", quantity: "0.500", amount: "6.40", reason: "current" },
        ]);
        const refused = await pay(till, 6.4, [{ code: bad }]);
        assert.match(String(refused.exception), /is not a scale barcode/);
        assert.equal(refused.url, "");
      });

      await t.step("price parity with a total embedded at the new price", async () => {
        await r.sql("update goods set price = 16.00 where id = 1");
        await label.nextPush("sendGoods", 10_000); // not answered yet
        // The scale priced 0.5 kg at the new 16.00: 8.00 printed; the shelf still says 12.80.
        const printed = scaleBarcode(AMOUNT_RULE, 1, 800);
        const [seen] = await goods(till, { code: printed });
        assert.deepEqual([seen.price, seen.amount], [12.8, 6.4]);
        assert.equal((await pay(till, 7, [{ code: printed }])).exception, "errorPrice");
        assert.equal((await pay(till, 8, [{ code: printed }])).exception, "");
        assert.equal((await lastLines(r.sql))[0].amount, "6.40", "charged the shelf price");
        assert.equal((await pay(till, 6.4, [{ code: printed }])).exception, "");
        assert.deepEqual(await lastLines(r.sql), [
          {
            unitPrice: "12.80",
            quantity: "0.500",
            amount: "6.40",
            reason: `label ${MAC1} shows 12.80`,
          },
        ]);
        label.acknowledge("sendGoods");
        await eventually(
          async () => (await goods(till, { code: printed }))[0].amount === 8,
          "the printed total once the label confirmed",
          10_000,
        );
        assert.equal((await pay(till, 8, [{ code: printed }])).exception, "");
      });
    } finally {
      off();
      await r.stop();
      await store.dispose();
    }
  };
}

function windowAndAudit(backend: Backend) {
  return async (t: Deno.TestContext) => {
    const store = await newStore(backend, { priceParityMaxS: 2 });
    const r = await run(store, true);
    try {
      const label = await r.device("DZBQ_0001");
      const till = await r.device("POS_0001");
      await labelAsks(label, MAC9);

      await t.step(
        "a label that never confirms stops holding the price after the window",
        async () => {
          await r.sql("update goods set price = 2.50 where id = 9");
          await label.nextPush("sendGoods", 10_000); // never answered
          assert.equal((await goods(till, { gid: 9 }))[0].price, 2);
          await eventually(
            async () => (await goods(till, { gid: 9 }))[0].price === 2.5,
            "the current price after priceParityMaxS",
            15_000,
          );
          assert.equal((await pay(till, 2.5, [{ gid: 9, qty: 1 }])).exception, "");
          assert.equal((await lastLines(r.sql))[0].reason, "current");
          await eventually(
            () =>
              Promise.resolve(
                r.logs.some((l) => /never confirmed/.test(String(l.msg)) && l.mac === MAC9),
              ),
            "the expired label is logged",
            10_000,
          );
          const text = await metrics(r);
          assert.match(text, /newretail_label_parity_expired_total 1\n/);
          const age = Number(/newretail_label_oldest_stale_seconds (\d+)/.exec(text)?.[1]);
          assert.ok(age >= 2, `oldest stale label age ${age}`);
        },
      );

      await t.step("/labels and labels audit: stale longer than --max-stale exits 1", async () => {
        const all = await labelsJson(r);
        const nine = all.find((l) => l.mac === MAC9)!;
        assert.deepEqual([nine.state, nine.shownPrice, nine.currentPrice, nine.name], [
          "stale",
          "2.00",
          "2.50",
          "农夫山泉 550ml",
        ]);
        assert.ok(all.some((l) => l.state === "unknown"), "labels never heard from are unknown");
        const bad = await fetch(`http://127.0.0.1:${r.adminPort}/labels?state=old`);
        assert.equal(bad.status, 400);
        await bad.body?.cancel();
        const late = await cli(store, r, ["labels", "audit", "--csv", "--max-stale", "1"]);
        assert.equal(late.code, 1, late.stderr);
        assert.match(
          late.stdout,
          /^mac,gid,name,device,shownPrice,currentPrice,state,since,staleS\n/,
        );
        assert.match(
          late.stdout,
          new RegExp(`${MAC9},9,农夫山泉 550ml,DZBQ_0001,2.00,2.50,stale,`),
        );
        assert.match(late.stderr, new RegExp(`stale for more than 1 s: ${MAC9}`));
        const fine = await cli(store, r, ["labels", "audit", "--max-stale", "3600"]);
        assert.equal(fine.code, 0, fine.stderr);
        assert.match(fine.stdout, /1 stale/);
      });
    } finally {
      await r.stop();
      await store.dispose();
    }
  };
}

function schedules(backend: Backend) {
  return async (t: Deno.TestContext) => {
    const store = await newStore(backend, { priceParityMaxS: 3600 });
    let r = await run(store, true);
    try {
      await t.step(
        "a schedule starts and ends while the appliance runs (CLI, through the API on PGlite)",
        async () => {
          const label = await r.device("DZBQ_0001");
          const till = await r.device("POS_0001");
          await labelAsks(label, MAC10);
          // Far enough ahead for two CLI processes to start on a loaded machine before it starts.
          const from = new Date(Date.now() + 8000);
          const until = new Date(from.getTime() + 3000);
          const made = await cli(store, r, [
            "prices",
            "schedule",
            "--gid",
            "10",
            "--price",
            "2.99",
            "--from",
            from.toISOString(),
            "--until",
            until.toISOString(),
          ]);
          assert.equal(made.code, 0, made.stderr);
          const listed = await cli(store, r, ["prices", "list"]);
          assert.match(listed.stdout, /\t10\t可口可乐 330ml\t2.99\t.*\tscheduled\t/);
          // At --from: the appliance changes the price itself and pushes the label.
          const started = await label.nextPush("sendGoods", 15_000);
          assert.ok(Date.now() >= from.getTime() - 50);
          assert.equal(pushedGoods(started)[0].price, 2.99);
          label.acknowledge("sendGoods");
          assert.equal((await goods(till, { gid: 10 }))[0].price, 2.99);
          // At --until: the regular price returns; until the label confirms, the till keeps 2.99.
          const ended = await label.nextPush("sendGoods", 15_000);
          assert.equal(pushedGoods(ended)[0].price, 3.5);
          assert.equal((await goods(till, { gid: 10 }))[0].price, 2.99);
          assert.equal((await pay(till, 2.99, [{ gid: 10, qty: 1 }])).exception, "");
          label.acknowledge("sendGoods");
          await eventually(
            async () => (await goods(till, { gid: 10 }))[0].price === 3.5,
            "the regular price once the label confirmed",
            10_000,
          );
          const audit = await r.sql("select action, actor from audit_log order by id");
          // On PGlite the CLI could not open the database: the write went through the admin API.
          assert.deepEqual(audit.map((a) => [a.action, a.actor]), [
            ["price.schedule", backend === "pglite" ? "loopback" : "cli"],
          ]);
        },
      );

      await t.step(
        "a schedule that started while the appliance was stopped applies at start",
        async () => {
          await r.stop();
          const from = new Date(Date.now() - 60_000);
          const until = new Date(Date.now() + 3_600_000);
          const insert =
            `insert into price_schedules (goods_id, price, starts_at, ends_at, created_by)
          values (9, 1.50, $1, $2, 'psql')`;
          if (backend === "pglite") {
            const db = await openPglite(store.config.stateDir);
            await db.query(insert, [from, until]);
            await db.close();
          } else {
            const plain = postgres(store.config.databaseUrl, { max: 1, onnotice: () => {} });
            await plain.unsafe(insert, [from, until]);
            await plain.end();
          }
          r = await run(store, false);
          const till = await r.device("POS_0001");
          await eventually(
            async () => (await goods(till, { gid: 9 }))[0].price === 1.5,
            "the scheduled price applied at start",
            10_000,
          );
          const [row] = await r.sql(
            "select price::text, regular_price::text from goods where id = 9",
          );
          assert.deepEqual(row, { price: "1.50", regular_price: "2.00" });
          // A price written meanwhile by someone else (an Odoo pull, psql) is the new regular price.
          await r.sql("update goods set price = 2.20 where id = 9");
          const [kept] = await r.sql(
            "select price::text, regular_price::text from goods where id = 9",
          );
          assert.deepEqual(kept, { price: "1.50", regular_price: "2.20" });
          const [id] = await r.sql("select id from price_schedules where goods_id = 9");
          const cancelled = await cli(store, r, ["prices", "cancel", String(id.id)]);
          assert.equal(cancelled.code, 0, cancelled.stderr);
          await eventually(
            async () =>
              (await r.sql("select price::text from goods where id = 9"))[0].price === "2.20",
            "the regular price back after cancel",
            10_000,
          );
        },
      );
    } finally {
      await r.stop();
      await store.dispose();
    }
  };
}

const BACKENDS: Backend[] = testPostgresUrl() ? ["postgres", "pglite"] : ["pglite"];
for (const backend of BACKENDS) {
  Deno.test(`price parity and scale barcodes over TCP (${backend})`, parityAndScale(backend));
  Deno.test(
    `parity window, /labels, metrics and labels audit (${backend})`,
    windowAndAudit(backend),
  );
  Deno.test(`scheduled prices while running and at start (${backend})`, schedules(backend));
}
