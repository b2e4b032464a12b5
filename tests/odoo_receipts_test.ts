/**
 * Stock receipts upstream through the outbox, against the Odoo stand-in, on every backend: the
 * outbox row is written with the receipt, delivered as a validated incoming picking, looked up by
 * origin after a lost answer (no second picking), kept while Odoo is down (never parked for
 * that), parked after repeated refusals and retried by the operator; Odoo 16 and 18 variants.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { type OdooStandin, startOdooStandin } from "./_support/odoo_standin.ts";
import { standinDelivery } from "./_support/odoo.ts";
import type { Database } from "../src/store/database.ts";
import { bookStockReceipt } from "../src/store/stock.ts";
import { installationId, setUpstreamEnabled } from "../src/store/odoo_catalogue.ts";
import { deliverReceipt, receiptOrigin } from "../src/upstream/odoo/receipts.ts";
import { OutboxWorker } from "../src/upstream/odoo/outbox.ts";
import { listOutbox, outboxCounts, type OutboxRow, retryOutbox } from "../src/store/odoo_outbox.ts";
import { systemClock } from "../src/clock.ts";

async function setup(db: Database, odoo: OdooStandin, maxRefusals = 3) {
  const { puller, ctx, log } = await standinDelivery(db, odoo, { outboxTries: maxRefusals });
  await puller.fullPull();
  await setUpstreamEnabled(db, true);
  const worker = new OutboxWorker({
    db,
    log,
    clock: systemClock,
    maxRefusals,
    backoffMs: () => 0, // every row is due again at once: each runDue() is one more attempt
    deliver: (row: OutboxRow) => deliverReceipt(ctx, row.local_id),
  });
  return { worker, log, ctx };
}

function pickingsWithOrigin(odoo: OdooStandin, origin: string) {
  return odoo.state.all("stock.picking").filter((p) => p.origin === origin && !p.backorder_id);
}

async function outboxRow(db: Database, receiptId: number) {
  const rows = await listOutbox(db);
  return rows.find((r) => r.kind === "stock-receipt" && r.local_id === receiptId)!;
}

for (const backend of backends()) {
  Deno.test(`odoo stock receipts through the outbox (${backend.name})`, async (t) => {
    const { db, dispose } = await backend.open({ demo: false });
    const odoo = await startOdooStandin({ version: 17 });
    try {
      const { worker } = await setup(db, odoo, 3);

      await t.step("a receipt delivered as a validated incoming picking", async () => {
        const before = odoo.state.onHand(42, 1);
        const { receiptId } = await bookStockReceipt(db, {
          equipId: "RK_0001",
          ref: "NR-RCPT-1",
          warehouseId: 1,
          lines: [{ gid: 42, qty: "10" }, { code: "2300001000008", qty: "2.5" }],
        });
        // Written in the receipt's transaction, before anything talked to Odoo.
        strictEqual((await outboxRow(db, receiptId)).state, "pending");
        strictEqual(await worker.runDue(), 1);
        const row = await outboxRow(db, receiptId);
        strictEqual(row.state, "delivered");
        ok(/^WH\/IN\/\d{5}$/.test(row.odoo_name), row.odoo_name);
        const origin = receiptOrigin("shop0001", await installationId(db), {
          id: receiptId,
          ref: "NR-RCPT-1",
        });
        const [picking] = pickingsWithOrigin(odoo, origin);
        strictEqual(picking.state, "done");
        strictEqual(picking.name, row.odoo_name);
        strictEqual(odoo.state.onHand(42, 1), before + 12.5);
        const ids = await db.query(
          "select odoo_id, odoo_name from odoo_ids where model = 'stock.picking' and local_id = $1",
          [receiptId],
        );
        deepStrictEqual([...ids], [{ odoo_id: picking.id, odoo_name: picking.name }]);
        strictEqual(await worker.runDue(), 0); // nothing left
      });

      await t.step(
        "answer lost after Odoo created the picking: found by origin, not made twice",
        async () => {
          odoo.fault({ match: "stock.picking.create", action: "lose-response" });
          const { receiptId } = await bookStockReceipt(db, {
            equipId: "RK_0001",
            ref: "NR-RCPT-2",
            warehouseId: 1,
            lines: [{ gid: 18, qty: "4" }],
          });
          const origin = receiptOrigin("shop0001", await installationId(db), {
            id: receiptId,
            ref: "NR-RCPT-2",
          });
          await worker.runDue();
          let row = await outboxRow(db, receiptId);
          strictEqual(row.state, "pending");
          ok(/HTTP 502/.test(row.last_error), row.last_error);
          strictEqual(pickingsWithOrigin(odoo, origin).length, 1); // Odoo has it, still draft
          strictEqual(pickingsWithOrigin(odoo, origin)[0].state, "draft");
          await worker.runDue();
          row = await outboxRow(db, receiptId);
          strictEqual(row.state, "delivered");
          const pickings = pickingsWithOrigin(odoo, origin);
          strictEqual(pickings.length, 1);
          strictEqual(pickings[0].state, "done");
        },
      );

      await t.step(
        "Odoo down: the row waits (never parked), then drains once, nothing doubled",
        async () => {
          odoo.setDown(true);
          const { receiptId } = await bookStockReceipt(db, {
            equipId: "RK_0002",
            ref: "D-1",
            warehouseId: 1,
            lines: [{ gid: 30, qty: "1" }],
          });
          for (let i = 0; i < 5; i++) await worker.runDue(); // more than the 3 refusals allowed
          let row = await outboxRow(db, receiptId);
          strictEqual(row.state, "pending");
          strictEqual(row.refusals, 0);
          ok(/unreachable|HTTP 503/.test(row.last_error), row.last_error);
          await odoo.stop(); // connection refused this time
          await worker.runDue();
          ok(/unreachable/.test((await outboxRow(db, receiptId)).last_error));
          await odoo.restart();
          odoo.setDown(false);
          await worker.runDue();
          row = await outboxRow(db, receiptId);
          strictEqual(row.state, "delivered");
          const origin = receiptOrigin("shop0001", await installationId(db), {
            id: receiptId,
            ref: "D-1",
          });
          strictEqual(pickingsWithOrigin(odoo, origin).length, 1);
        },
      );

      await t.step(
        "refused by Odoo N times: parked with the reason; retry delivers it",
        async () => {
          odoo.fault({
            match: "stock.picking.create",
            action: "error",
            name: "odoo.exceptions.ValidationError",
            message: "The operation type is archived",
            times: 3,
          });
          const { receiptId } = await bookStockReceipt(db, {
            equipId: "RK_0002",
            ref: "R-1",
            warehouseId: 1,
            lines: [{ gid: 31, qty: "2" }],
          });
          for (let i = 0; i < 3; i++) await worker.runDue();
          let row = await outboxRow(db, receiptId);
          strictEqual(row.state, "failed");
          strictEqual(row.refusals, 3);
          ok(
            /ValidationError: The operation type is archived/.test(row.last_error),
            row.last_error,
          );
          strictEqual(await worker.runDue(), 0); // parked rows are left alone
          deepStrictEqual((await outboxCounts(db)).failed, 1);
          ok(await retryOutbox(db, row.id));
          await worker.runDue();
          row = await outboxRow(db, receiptId);
          strictEqual(row.state, "delivered");
          strictEqual(await retryOutbox(db, row.id), false);
        },
      );

      await t.step("goods that are not Odoo products: parked at once with the reason", async () => {
        const [local] = await db.query<{ id: number }>(
          "insert into goods (name, price) values ('本地商品', 1) returning id",
        );
        const { receiptId } = await bookStockReceipt(db, {
          equipId: "RK_0002",
          ref: "L-1",
          warehouseId: 1,
          lines: [{ gid: local.id, qty: "1" }],
        });
        await worker.runDue();
        const row = await outboxRow(db, receiptId);
        strictEqual(row.state, "failed");
        ok(/not Odoo products/.test(row.last_error), row.last_error);
      });

      await t.step("local mode: a receipt owes Odoo nothing", async () => {
        await setUpstreamEnabled(db, false);
        const { receiptId } = await bookStockReceipt(db, {
          equipId: "RK_0003",
          ref: "LOCAL-1",
          warehouseId: 1,
          lines: [{ gid: 42, qty: "1" }],
        });
        strictEqual(await outboxRow(db, receiptId), undefined);
        await setUpstreamEnabled(db, true);
      });
    } finally {
      await odoo.close();
      await dispose();
    }
  });
}

for (const version of [16, 18] as const) {
  Deno.test(`odoo stock receipts: Odoo ${version}`, async () => {
    const { db, dispose } = await backends().at(-1)!.open({ demo: false });
    const odoo = await startOdooStandin({ version });
    try {
      const { worker } = await setup(db, odoo);
      const before = odoo.state.onHand(42, 1);
      const { receiptId } = await bookStockReceipt(db, {
        equipId: "RK_0001",
        ref: `V${version}`,
        warehouseId: 1,
        lines: [{ gid: 42, qty: "3" }],
      });
      await worker.runDue();
      const row = await outboxRow(db, receiptId);
      strictEqual(row.state, "delivered", row.last_error);
      strictEqual(odoo.state.onHand(42, 1), before + 3);
      const wrote = odoo.calls.filter((c) => c.model === "stock.move" && c.modelMethod === "write");
      const field = version === 16 ? "quantity_done" : "quantity";
      ok(wrote.every((c) => field in ((c.args as unknown[])[1] as object)));
    } finally {
      await odoo.close();
      await dispose();
    }
  });
}
