/**
 * The store's conformance suite: written once, run on every backend (STYLE.md: aedes-persistence).
 * A behaviour difference between PostgreSQL and PGlite shows up here as a failing step.
 */
import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { type Backend, backends } from "./_support/databases.ts";
import type { Database } from "../src/store/database.ts";
import { DatabaseLockedError } from "../src/store/database.ts";
import { migrate, MIGRATIONS, schemaVersion } from "../src/store/migrate.ts";
import { openPglite } from "../src/store/pglite/pglite.ts";
import { seedDemo } from "../src/store/demo.ts";
import {
  goodsByBarcodes,
  goodsById,
  goodsByLabels,
  goodsByName,
  goodsByRfids,
  goodsPage,
  learnLabelDevices,
  warehouseGoods,
} from "../src/store/goods.ts";
import { bookStockReceipt } from "../src/store/stock.ts";
import { labelStates, recordAnswers, recordShown } from "../src/store/label_shown.ts";
import {
  admitDevice,
  getDevice,
  listDevices,
  markAllOffline,
  markOffline,
  setDeviceEnabled,
} from "../src/store/devices.ts";
import { UserError } from "../src/errors.ts";

async function stockOf(db: Database, warehouse: number, gid: number): Promise<string> {
  const rows = await db.query<{ q: string }>(
    "select quantity::text as q from stock where warehouse_id = $1 and goods_id = $2",
    [warehouse, gid],
  );
  return rows[0]?.q ?? "0";
}

function storeSuite(backend: Backend) {
  Deno.test(`store conformance (${backend.name})`, async (t) => {
    const { db, dispose } = await backend.open();
    try {
      await t.step("migrations are recorded and a second run applies nothing", async () => {
        assertEquals(await schemaVersion(db), MIGRATIONS.at(-1)!.version);
        assertEquals(await migrate(db), []);
      });

      await t.step("seeding twice leaves one copy of the demo catalogue", async () => {
        const before = await db.query<{ n: number }>("select count(*)::int as n from goods");
        await seedDemo(db);
        const after = await db.query<{ n: number }>("select count(*)::int as n from goods");
        assertEquals(after, before);
      });

      await t.step("money and quantities come back exact, as text", async () => {
        const [apple] = await goodsById(db, [1]);
        assertEquals([apple.price, apple.cost, typeof apple.gid], ["12.80", "8.50", "number"]);
        await db.query("update goods set price = 0.10 + 0.20 where id = 3");
        assertEquals((await goodsById(db, [3]))[0].price, "0.30");
      });

      await t.step("look-ups keep the order asked and leave unknown keys out", async () => {
        const byCode = await goodsByBarcodes(db, ["6901234500103", "nope", "6901234500011"]);
        assertEquals(byCode.map((g) => g.gid), [10, 1]);
        const byMac = await goodsByLabels(db, ["AC:23:3F:00:00:0D", "AC:23:3F:00:01:0D"]);
        assertEquals(byMac.map((g) => [g.gid, g.mac]), [
          [13, "AC:23:3F:00:00:0D"],
          [13, "AC:23:3F:00:01:0D"],
        ]);
        const byTag = await goodsByRfids(db, ["E28011606000020400001901", "E280XXXX"]);
        assertEquals(byTag.map((g) => g.gid), [19]);
        const byName = await goodsByName(db, "%", 100);
        assertEquals(byName, [], "LIKE wildcards in the text are literal");
        assert((await goodsByName(db, "可口", 100)).some((g) => g.gid === 10));
      });

      await t.step("inactive goods are not served", async () => {
        await db.query("update goods set active = false where id = 20");
        assertEquals(await goodsById(db, [20]), []);
        assertEquals(await goodsByBarcodes(db, ["6901234500202"]), []);
        const page = await goodsPage(db, 0, 1000);
        assert(!page.some((g) => g.gid === 20));
        await db.query("update goods set active = true where id = 20");
      });

      await t.step("warehouse goods carry that warehouse's stock", async () => {
        const rows = await warehouseGoods(db, 1, 0, null);
        for (const g of rows.slice(0, 5)) assertEquals(g.stock, await stockOf(db, 1, g.gid));
      });

      await t.step(
        "label learning: only bound labels, configured bindings win, the last of a MAC",
        async () => {
          await learnLabelDevices(db, [
            { mac: "AC:23:3F:00:00:02", equipId: "DZBQ_0008" },
            { mac: "FF:FF:FF:FF:FF:FF", equipId: "DZBQ_0009" },
            { mac: "AC:23:3F:00:00:02", equipId: "DZBQ_0009" },
          ]);
          await db.query(
            `insert into label_devices (mac, equip_id, source) values ('AC:23:3F:00:00:05', 'DZBQ_BASE', 'configured')`,
          );
          await learnLabelDevices(db, [{ mac: "AC:23:3F:00:00:05", equipId: "DZBQ_0009" }]);
          const rows = await db.query<{ mac: string; equip_id: string; source: string }>(
            "select mac, equip_id, source from label_devices order by mac",
          );
          assertEquals(rows, [
            { mac: "AC:23:3F:00:00:02", equip_id: "DZBQ_0009", source: "learned" },
            { mac: "AC:23:3F:00:00:05", equip_id: "DZBQ_BASE", source: "configured" },
          ]);
        },
      );

      await t.step(
        "label confirmations of many devices in one batch; the latest one wins",
        async () => {
          const [g1, g2] = await goodsByLabels(db, ["AC:23:3F:00:00:01", "AC:23:3F:00:00:02"]);
          const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s));
          await recordShown(db, [
            {
              mac: g1.mac,
              gid: g1.gid,
              name: g1.name,
              price: "0.01",
              equipId: "DZBQ_A",
              at: at(2),
            },
            {
              mac: g2.mac,
              gid: g2.gid,
              name: g2.name,
              price: g2.price,
              equipId: "DZBQ_B",
              at: at(1),
            },
            // The same label twice in one batch: its later confirmation is what it shows.
            {
              mac: g1.mac,
              gid: g1.gid,
              name: g1.name,
              price: g1.price,
              equipId: "DZBQ_A",
              at: at(3),
            },
          ], "push");
          const rows = await labelStates(db);
          const shown = (mac: string) => rows.find((r) => r.mac === mac);
          assertEquals(
            [shown(g1.mac)?.state, shown(g1.mac)?.shownPrice, shown(g2.mac)?.state],
            ["fresh", g1.price, "fresh"],
          );
          const by = await db.query<{ equip_id: string }>(
            "select equip_id from label_shown where mac = any($1::text[]) order by mac",
            [[g1.mac, g2.mac]],
          );
          assertEquals(by.map((r) => r.equip_id), ["DZBQ_A", "DZBQ_B"]);
          await recordShown(db, [], "push");
        },
      );

      await t.step(
        "labels' own look-ups in one statement: the asker learned, what it shows recorded",
        async () => {
          const [g3, g4, g5] = await goodsByLabels(db, [
            "AC:23:3F:00:00:09",
            "AC:23:3F:00:00:0A",
            "AC:23:3F:00:00:05",
          ]);
          const at = new Date(Date.UTC(2025, 0, 1, 0, 1, 0));
          const answer = (g: typeof g3, equipId: string, price: string) => ({
            mac: g.mac,
            gid: g.gid,
            name: g.name,
            price,
            equipId,
            at,
          });
          // The configured device of AC:23:3F:00:00:05 (above) is kept.
          await recordAnswers(db, [
            answer(g3, "DZBQ_C", g3.price),
            answer(g4, "DZBQ_D", "0.01"),
            answer(g5, "DZBQ_E", g5.price),
          ]);
          const devices = await db.query<{ mac: string; equip_id: string; source: string }>(
            "select mac, equip_id, source from label_devices where mac = any($1::text[]) order by mac",
            [["AC:23:3F:00:00:09", "AC:23:3F:00:00:0A", "AC:23:3F:00:00:05"]],
          );
          assertEquals(devices, [
            { mac: "AC:23:3F:00:00:05", equip_id: "DZBQ_BASE", source: "configured" },
            { mac: "AC:23:3F:00:00:09", equip_id: "DZBQ_C", source: "learned" },
            { mac: "AC:23:3F:00:00:0A", equip_id: "DZBQ_D", source: "learned" },
          ]);
          const rows = await labelStates(db);
          const shown = (mac: string) => rows.find((r) => r.mac === mac);
          assertEquals(
            [
              shown(g3.mac)?.state,
              shown(g4.mac)?.state,
              shown(g4.mac)?.shownPrice,
              shown(g5.mac)?.state,
            ],
            ["fresh", "stale", "0.01", "fresh"],
          );
          const via = await db.query<{ via: string }>(
            "select distinct via from label_shown where mac = any($1::text[])",
            [[g3.mac, g4.mac, g5.mac]],
          );
          assertEquals(via, [{ via: "getGoods" }]);
          await recordAnswers(db, []);
        },
      );

      await t.step(
        "a confirmation written after a later one of its label changes neither display nor device",
        async () => {
          // AC:23:3F:00:00:09 was answered at 00:01:00 through DZBQ_C (above).
          const [g3] = await goodsByLabels(db, ["AC:23:3F:00:00:09"]);
          const answer = (equipId: string, price: string, at: Date) => ({
            mac: g3.mac,
            gid: g3.gid,
            name: g3.name,
            price,
            equipId,
            at,
          });
          const shown = async () =>
            (await db.query<{ equip_id: string; price: string; device: string; via: string }>(
              `select s.equip_id, s.price::text as price, d.equip_id as device, s.via
               from label_shown s join label_devices d using (mac) where s.mac = $1`,
              [g3.mac],
            ))[0];
          const before = await shown();
          await recordAnswers(db, [answer("DZBQ_OLD", "0.02", new Date(Date.UTC(2025, 0, 1)))]);
          await recordShown(
            db,
            [answer("DZBQ_OLD", "0.02", new Date(Date.UTC(2025, 0, 1)))],
            "push",
          );
          assertEquals(await shown(), before);
          const later = new Date(Date.UTC(2025, 0, 1, 0, 2, 0));
          await recordAnswers(db, [answer("DZBQ_NEW", g3.price, later)]);
          assertEquals(await shown(), {
            equip_id: "DZBQ_NEW",
            price: g3.price,
            device: "DZBQ_NEW",
            via: "getGoods",
          });
        },
      );

      await t.step("stock receipts: atomic, idempotent per device and ref", async () => {
        const before = await stockOf(db, 2, 4);
        const receipt = {
          equipId: "POS_0001",
          ref: "R-1",
          warehouseId: 2,
          lines: [{ gid: 4, qty: "1.250" }, { gid: 4, qty: "0.750" }],
        };
        const first = await bookStockReceipt(db, receipt);
        assertEquals(first.created, true);
        assertEquals(Number(await stockOf(db, 2, 4)), Number(before) + 2);
        assertEquals(await bookStockReceipt(db, receipt), {
          receiptId: first.receiptId,
          created: false,
        });
        const other = await bookStockReceipt(db, { ...receipt, equipId: "POS_0002" });
        assert(other.created && other.receiptId !== first.receiptId, "the ref is per device");
        await rejects(
          bookStockReceipt(db, {
            ...receipt,
            ref: "R-2",
            lines: [{ gid: 4, qty: "1" }, { gid: 999, qty: "1" }],
          }),
          (e) => e instanceof UserError && e.message === "unknown goods: gid 999",
        );
        await rejects(
          bookStockReceipt(db, { ...receipt, ref: "R-3", warehouseId: 77 }),
          (e) => e instanceof UserError && e.message === "unknown warehouse: 77",
        );
        assertEquals(
          Number(await stockOf(db, 2, 4)),
          Number(before) + 4,
          "failed ones booked nothing",
        );
      });

      await t.step("concurrent identical receipts book once", async () => {
        const before = await stockOf(db, 1, 5);
        const receipt = {
          equipId: "POS_0003",
          ref: "R-race",
          warehouseId: 1,
          lines: [{ gid: 5, qty: "3" }],
        };
        const results = await Promise.all([1, 2, 3, 4].map(() => bookStockReceipt(db, receipt)));
        assertEquals(new Set(results.map((r) => r.receiptId)).size, 1);
        assertEquals(results.filter((r) => r.created).length, 1);
        assertEquals(Number(await stockOf(db, 1, 5)), Number(before) + 3);
      });

      await t.step(
        "devices: admission, offline guarded by login time, enable/disable",
        async () => {
          const at = new Date("2026-11-29T08:00:00Z");
          const open = await admitDevice(db, {
            equipId: "DZC_0009",
            kind: "DZC",
            address: "10.0.0.9:1",
            at,
            policy: "open",
          });
          assertEquals(open, { admitted: true, registered: true, generation: 1 });
          const again = await admitDevice(db, {
            equipId: "DZC_0009",
            kind: "DZC",
            address: "10.0.0.9:2",
            at: new Date(at.getTime() + 1000),
            policy: "open",
          });
          assertEquals(again, { admitted: true, registered: false, generation: 2 });
          // The first connection's close arrives late: it must not mark the new session offline.
          await markOffline(db, "DZC_0009", 1, new Date(at.getTime() + 2000));
          assertEquals((await getDevice(db, "DZC_0009"))?.online, true);
          await markOffline(db, "DZC_0009", 2, new Date(at.getTime() + 3000));
          assertEquals((await getDevice(db, "DZC_0009"))?.online, false);

          const refused = await admitDevice(db, {
            equipId: "DZC_0010",
            kind: "DZC",
            address: "x",
            at,
            policy: "registered",
          });
          assertEquals(refused, {
            admitted: false,
            code: "not_registered",
            reason: "device DZC_0010 is not registered",
          });
          assertEquals(await setDeviceEnabled(db, "DZC_0010", "DZC", false), { created: true });
          const disabled = await admitDevice(db, {
            equipId: "DZC_0010",
            kind: "DZC",
            address: "x",
            at,
            policy: "open",
          });
          assertEquals(disabled, {
            admitted: false,
            code: "disabled",
            reason: "device DZC_0010 is disabled",
          });
          assertEquals(await setDeviceEnabled(db, "DZC_0010", "DZC", true), { created: false });
          assertEquals(
            (await admitDevice(db, {
              equipId: "DZC_0010",
              kind: "DZC",
              address: "x",
              at,
              policy: "registered",
            })).admitted,
            true,
          );
          assert(await markAllOffline(db, at) >= 1);
          assert((await listDevices(db)).every((d) => !d.online));
        },
      );

      await t.step("LISTEN/NOTIFY reaches a listener", async () => {
        const got = Promise.withResolvers<string>();
        const unlisten = await db.listen("nr_test_channel", (payload) => got.resolve(payload));
        await db.query("select pg_notify('nr_test_channel', 'hello')");
        let timer: ReturnType<typeof setTimeout> | undefined;
        const payload = await Promise.race([
          got.promise,
          new Promise<string>((_, reject) =>
            timer = setTimeout(() => reject(new Error("no notify")), 5000)
          ),
        ]);
        clearTimeout(timer);
        assertEquals(payload, "hello");
        await unlisten();
      });

      await t.step("a failed transaction leaves nothing behind", async () => {
        await rejects(db.transaction(async (tx) => {
          await tx.query("insert into warehouses (id, code, name) values (50, 'TMP', 'temp')");
          throw new Error("boom");
        }));
        assertEquals(await db.query("select 1 from warehouses where id = 50"), []);
      });
    } finally {
      await dispose();
    }
  });
}

for (const backend of backends()) storeSuite(backend);

Deno.test("the embedded database is locked against a second process", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "newretail-lock-" });
  try {
    const db = await openPglite(stateDir);
    try {
      assertEquals(db.created, true);
      await rejects(openPglite(stateDir), (e) => {
        assert(e instanceof DatabaseLockedError);
        assert(e.message.includes(`pid ${Deno.pid}`), e.message);
        return true;
      });
    } finally {
      await db.close();
    }
    const reopened = await openPglite(stateDir);
    assertEquals(reopened.created, false);
    await reopened.close();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
