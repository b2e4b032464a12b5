import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import { eventually } from "../../tests/_support/eventually.ts";
import { GoodsCache } from "./goods_cache.ts";
import type { Database, Row } from "./database.ts";
import { bookStockReceipt } from "./stock.ts";
import { systemClock } from "../clock.ts";

async function priceOf(cache: GoodsCache, code: string): Promise<string | undefined> {
  return (await cache.byBarcodes([code]))[0]?.price;
}

for (const backend of backends()) {
  Deno.test(`goods cache stays coherent with the database (${backend.name})`, async (t) => {
    const { db, dispose } = await backend.open();
    let now = 1_000_000;
    const cache = new GoodsCache(db, {
      ttlMs: 60_000,
      clock: { now: () => now, monotonic: () => performance.now() },
    });
    try {
      await cache.start();

      await t.step("a second look-up is a hit, in the order asked", async () => {
        const first = await cache.byBarcodes(["6901234500103", "6901234500011", "nope"]);
        assert.deepEqual(first.map((g) => g.gid), [10, 1]);
        const misses = cache.misses;
        const again = await cache.byBarcodes(["6901234500011", "6901234500103", "nope"]);
        assert.deepEqual(again.map((g) => g.gid), [1, 10]);
        assert.equal(cache.misses, misses, "answered from memory, the unknown code too");
        assert.deepEqual((await cache.byIds([10, 1])).map((g) => g.barcode), [
          "6901234500103",
          "6901234500011",
        ]);
      });

      await t.step("a price changed by plain SQL is seen at once", async () => {
        await db.query("update goods set price = 13.50 where id = 1");
        await eventually(
          async () => (await priceOf(cache, "6901234500011")) === "13.50",
          "new price",
        );
        assert.equal((await cache.byIds([1]))[0].price, "13.50");
      });

      await t.step("deactivated goods disappear; stock and label changes refresh", async () => {
        await db.query("update goods set active = false where id = 10");
        await eventually(
          async () => (await cache.byBarcodes(["6901234500103"])).length === 0,
          "gone",
        );
        await db.query("update goods set active = true where id = 10");
        await eventually(async () => (await cache.byIds([10])).length === 1, "back");

        const before = Number((await cache.byIds([1]))[0].stock);
        await bookStockReceipt(db as Database, {
          equipId: "POS_0001",
          ref: "cache-1",
          warehouseId: 1,
          lines: [{ gid: 1, qty: "2" }],
        });
        await eventually(
          async () => Number((await cache.byIds([1]))[0].stock) === before + 2,
          "stock",
        );

        await db.query("delete from label_bindings where goods_id = 1");
        await eventually(async () => (await cache.byIds([1]))[0].mac === "", "label unbound");
      });

      await t.step("a code unknown before is found once goods get it", async () => {
        assert.deepEqual(await cache.byBarcodes(["6900000000001"]), []);
        await db.query(
          `insert into goods (barcode, name, price, cost, active) values ('6900000000001', '新品', 1, 1, true)`,
        );
        await eventually(
          async () => (await cache.byBarcodes(["6900000000001"])).length === 1,
          "new",
        );
      });

      await t.step("a fill racing an invalidation is not kept", async () => {
        cache.clear();
        const pending = cache.byIds([2]);
        cache.invalidate([2]); // a change committed while the read was in flight
        await pending;
        const misses = cache.misses;
        await cache.byIds([2]);
        assert.equal(cache.misses, misses + 1, "read again from the database");
      });

      await t.step("concurrent misses share one read; a change starts a fresh one", async () => {
        // The real database, with its queries counted.
        let reads = 0;
        const counted: Database = {
          ...db,
          query: <T extends Row = Row>(text: string, params?: unknown[]) => {
            reads++;
            return db.query<T>(text, params);
          },
        };
        const shared = new GoodsCache(counted, { clock: systemClock });
        await shared.start();
        try {
          const together = await Promise.all([1, 2, 3].map(() => shared.byIds([4])));
          assert.deepEqual(together.map((r) => r[0].gid), [4, 4, 4]);
          assert.equal(reads, 1, `three concurrent misses of one id: one query, got ${reads}`);
        } finally {
          await shared.stop();
        }
        cache.clear();
        const first = cache.byIds([5]);
        cache.invalidate([5]);
        const second = cache.byIds([5]);
        await Promise.all([first, second]);
        const after = cache.misses;
        await cache.byIds([5]);
        assert.equal(cache.misses, after, "…the read started after the change was kept");
      });

      await t.step(
        "label MACs: from memory once read; a binding moved is seen at once",
        async () => {
          const mac = "AC:23:3F:00:00:09"; // bound to goods 9
          assert.equal(cache.labelsNow([mac]), undefined, "not read yet");
          assert.deepEqual((await cache.byLabels([mac, "AC:00:00:00:00:00"])).map((g) => g.gid), [
            9,
          ]);
          const now = cache.labelsNow([mac, "AC:00:00:00:00:00"]);
          assert.deepEqual(now?.map((g) => [g.gid, g.mac]), [[9, mac]], "the unknown MAC too");
          await db.query("update label_bindings set goods_id = 11 where mac = $1", [mac]);
          await eventually(() => Promise.resolve(cache.labelsNow([mac]) === undefined), "dropped");
          assert.deepEqual((await cache.byLabels([mac])).map((g) => g.gid), [11]);
          await db.query(
            "insert into label_bindings (mac, goods_id) values ('AC:00:00:00:00:00', 12)",
          );
          await eventually(
            async () => (await cache.byLabels(["AC:00:00:00:00:00"]))[0]?.gid === 12,
            "a MAC unknown before",
          );
          assert.equal(
            cache.barcodesNow(["6901234500103", "never-read"]),
            undefined,
            "one missing",
          );
        },
      );

      await t.step("entries expire after the TTL", async () => {
        // A late notification of the step before (a loaded machine) may discard the first fill
        // (a fill racing an invalidation is not kept): read until it is in memory.
        await eventually(async () => {
          await cache.byIds([3]);
          return cache.idsNow([3])?.[0].gid === 3;
        }, "goods 3 in memory");
        const misses = cache.misses;
        now += 60_001;
        assert.equal(cache.idsNow([3]), undefined, "too old for memory");
        await cache.byIds([3]);
        assert.equal(cache.misses, misses + 1);
      });
    } finally {
      await cache.stop();
      await dispose();
    }
  });
}
