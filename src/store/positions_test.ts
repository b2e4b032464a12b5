import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import { UserError } from "../errors.ts";
import { fanOutChanges } from "./goods_changes.ts";
import {
  cancelRefillJob,
  checkRefillThresholds,
  createRefillJob,
  listPositions,
  openRefillJobs,
  positionOf,
  recordRefillAttempt,
  refillJob,
  setPosition,
} from "./positions.ts";
import { completeRefill } from "./refill_stock.ts";

const STOCK = { posx: "A3", posy: "S2", posz: "1" };
const SHELF = { posx: "A1", posy: "S7", posz: "3" };
const REFILL = { shelfWarehouse: "MD", threshold: "0" };
const WAREHOUSES = { shelfWarehouse: "MD", stockWarehouse: "HC" };

function suite(backend: ReturnType<typeof backends>[number]) {
  return async (t: Deno.TestContext) => {
    const { db, dispose } = await backend.open();
    try {
      await t.step("positions by gid and by barcode", async () => {
        await setPosition(db, 3, STOCK, SHELF);
        const code =
          (await db.query<{ barcode: string }>("select barcode from goods where id = 3"))[0]
            .barcode;
        const expected = { gid: 3, stockPosition: STOCK, goodsPosition: SHELF };
        assert.deepEqual(await positionOf(db, { gid: 3 }), expected);
        assert.deepEqual(await positionOf(db, { code }), expected);
      });

      await t.step("unknown goods and goods without a position are user errors", async () => {
        await assert.rejects(positionOf(db, { gid: 99999 }), UserError, "unknown goods: gid 99999");
        await assert.rejects(
          positionOf(db, { code: "nope" }),
          UserError,
          "unknown goods: code nope",
        );
        await assert.rejects(positionOf(db, { gid: 4 }), UserError, "no position for goods 4");
        await assert.rejects(setPosition(db, 99999, STOCK, SHELF), UserError);
      });

      await t.step("a manual job is opened once per goods", async () => {
        const first = await createRefillJob(db, 3);
        assert.equal(first.created, true);
        assert.equal(first.job.state, "open");
        assert.equal(first.job.reason, "manual");
        const again = await createRefillJob(db, 3);
        assert.equal(again.created, false);
        assert.equal(again.job.id, first.job.id);
        await assert.rejects(createRefillJob(db, 4), UserError, "no position for goods 4");
      });

      await t.step("attempts are counted; an acknowledgement closes the job once", async () => {
        const [job] = await openRefillJobs(db, 10);
        await recordRefillAttempt(db, job.id, "timeout from AGV_0001");
        assert.equal((await refillJob(db, job.id))?.attempts, 1);
        assert.equal((await completeRefill(db, job.id, "AGV_0002", WAREHOUSES)).closed, true);
        assert.equal((await completeRefill(db, job.id, "AGV_0001", WAREHOUSES)).closed, false);
        const done = await refillJob(db, job.id);
        assert.equal(done?.state, "done");
        assert.equal(done?.equipId, "AGV_0002");
        assert.equal(done?.attempts, 2);
        assert.equal((await openRefillJobs(db, 10)).length, 0);
      });

      await t.step("shelf stock falling below the threshold opens one job per fall", async () => {
        // Goods 3: the shop floor (MD) holds 9.75 kg in the demo.
        await setPosition(db, 3, STOCK, SHELF, "5");
        assert.deepEqual(await checkRefillThresholds(db, [3], REFILL), []);
        await db.query("update stock set quantity = 4 where goods_id = 3 and warehouse_id = 1");
        const out = await fanOutChanges(db, 10000, REFILL);
        assert.equal(out.refillJobs.length, 1);
        const job = await refillJob(db, out.refillJobs[0]);
        assert.equal(job?.reason, "threshold");
        assert.equal(job?.goodsId, 3);
        // Another sale while low: no second job, even once the first is done.
        await completeRefill(db, job!.id, "AGV_0001", WAREHOUSES);
        await db.query("update stock set quantity = 3 where goods_id = 3 and warehouse_id = 1");
        assert.deepEqual((await fanOutChanges(db, 10000, REFILL)).refillJobs, []);
        // Refilled, then sold down again: a new job.
        await db.query("update stock set quantity = 20 where goods_id = 3 and warehouse_id = 1");
        assert.deepEqual((await fanOutChanges(db, 10000, REFILL)).refillJobs, []);
        await db.query("update stock set quantity = 1 where goods_id = 3 and warehouse_id = 1");
        assert.equal((await fanOutChanges(db, 10000, REFILL)).refillJobs.length, 1);
      });

      await t.step(
        "the configured default threshold applies to goods without their own",
        async () => {
          await setPosition(db, 6, STOCK, SHELF);
          await db.query("update stock set quantity = 2 where goods_id = 6 and warehouse_id = 1");
          assert.deepEqual(await checkRefillThresholds(db, [6], REFILL), []); // default 0: off
          const jobs = await checkRefillThresholds(db, [6], { ...REFILL, threshold: "2.5" });
          assert.equal(jobs.length, 1);
          await cancelRefillJob(db, jobs[0], "test");
          assert.equal((await refillJob(db, jobs[0]))?.state, "cancelled");
        },
      );

      await t.step("the listing shows thresholds and shelf quantities", async () => {
        const rows = await listPositions(db, "MD");
        assert.deepEqual(
          rows.map((r) => [r.gid, r.refillBelow, r.shelfQuantity, r.weighed]),
          [[3, "5.000", "1.000", true], [6, null, "2.000", true]],
        );
        assert.deepEqual((await listPositions(db, "NOPE")).map((r) => r.shelfQuantity), [
          null,
          null,
        ]);
      });

      await t.step("no job when the shelf warehouse does not exist", async () => {
        await db.query("update goods_positions set refill_armed = true");
        const jobs = await checkRefillThresholds(db, [6], {
          shelfWarehouse: "NOPE",
          threshold: "99",
        });
        assert.deepEqual(jobs, []);
      });
    } finally {
      await dispose();
    }
  };
}

for (const backend of backends()) {
  Deno.test(`positions and refill jobs (${backend.name})`, suite(backend));
}
