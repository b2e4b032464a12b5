/**
 * Stock in Odoo mode (issue 13), against the Odoo stand-in: a paid order's delivery picking is
 * validated with the sold quantities (Odoo's on-hand drops as the local shelf did); a pull leaves
 * goods in an open local move alone and, for the others, Odoo wins with an `upstream` move, so
 * both sides converge and the stock table stays the sum of its moves; a refill becomes a
 * validated internal transfer from the back store's stock location to the shelf's.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { startOdooStandin } from "./_support/odoo_standin.ts";
import { standinDelivery } from "./_support/odoo.ts";
import type { Database } from "../src/store/database.ts";
import { setUpstreamEnabled } from "../src/store/odoo_catalogue.ts";
import { deliverOrder } from "../src/upstream/odoo/orders.ts";
import { OutboxWorker } from "../src/upstream/odoo/outbox.ts";
import { createOrder, settleOrder } from "../src/store/orders.ts";
import { adjustStock, configureStock, ledgerDifferences } from "../src/store/stock_moves.ts";
import { completeRefill, planRefill } from "../src/store/refill_stock.ts";
import { setPosition } from "../src/store/positions.ts";
import { deliverRefill } from "../src/upstream/odoo/refills.ts";
import { systemClock } from "../src/clock.ts";

const PLACE = { posx: "A", posy: "1", posz: "1" };

async function localStock(db: Database, gid: number): Promise<number> {
  const [row] = await db.query<{ q: string }>(
    "select quantity::text as q from stock where warehouse_id = 1 and goods_id = $1",
    [gid],
  );
  return Number(row?.q ?? 0);
}

for (const backend of backends()) {
  Deno.test(`odoo stock: sales validated in Odoo, pulls converge (${backend.name})`, async (t) => {
    const { db, dispose } = await backend.open({ demo: false });
    const odoo = await startOdooStandin({ version: 17 });
    try {
      const { log, puller, ctx } = await standinDelivery(db, odoo);
      await puller.fullPull();
      await setUpstreamEnabled(db, true);
      // The store's shelf is the Odoo warehouse (WH, local id 1).
      await configureStock(db, { shelfWarehouse: "WH", stockWarehouse: "WH" });
      const worker = new OutboxWorker({
        db,
        log,
        clock: systemClock,
        maxRefusals: 3,
        backoffMs: () => 0,
        deliver: (row) =>
          row.kind === "refill"
            ? deliverRefill(ctx, row.local_id)
            : deliverOrder(ctx, row.local_id),
      });
      const gid = 42;
      const odooBefore = odoo.state.onHand(gid, 1);
      strictEqual(await localStock(db, gid), odooBefore);
      // The first pull brought Odoo's on-hand in as upstream moves; later ones come after these.
      const [{ first }] = await db.query<{ first: number }>(
        "select coalesce(max(id), 0)::int as first from stock_moves",
      );

      await t.step("a sale lowers local stock at once, Odoo's once delivered", async () => {
        const { order } = await createOrder(db, {
          equipId: "POS_0001",
          uniqueId: "POS_0001",
          terminalOrderId: "S-1",
          kind: "normal",
          amount: "9.00",
          deviceTotal: "9.00",
          shopId: "shop0001",
          lines: [{ goodsId: gid, name: "g", unitPrice: "4.50", quantity: "2", amount: "9.00" }],
          createdAt: new Date(),
          expiresAt: new Date(Date.now() + 600_000),
          payUrl: (code) => `https://pay.example.com/qr?order=${code}`,
        });
        await settleOrder(db, order.id, {
          outcome: "paid",
          by: "mqtt",
          at: new Date(),
          notifyDevice: false,
        });
        strictEqual(await localStock(db, gid), odooBefore - 2);
        // A pull before the delivery: the goods is in an open local move, Odoo does not win yet.
        await puller.fullPull();
        strictEqual(await localStock(db, gid), odooBefore - 2);
        await worker.runDue();
        const [sale] = odoo.state.all("sale.order").filter((o) =>
          o.client_order_ref === order.code
        );
        strictEqual(sale.state, "sale");
        const deliveries = odoo.state.all("stock.picking").filter((p) => p.sale_id === sale.id);
        deepStrictEqual(deliveries.map((p) => p.state), ["done"]);
        const moves = odoo.state.all("stock.move").filter((m) => m.picking_id === deliveries[0].id);
        deepStrictEqual(moves.map((m) => [m.product_id, m.quantity]), [[gid, 2]]);
        strictEqual(odoo.state.onHand(gid, 1), odooBefore - 2);
        // Delivered again (a retry): nothing more leaves Odoo's stock.
        await deliverOrder(ctx, order.id);
        strictEqual(odoo.state.onHand(gid, 1), odooBefore - 2);
        await puller.fullPull();
        strictEqual(await localStock(db, gid), odooBefore - 2);
        const [{ n }] = await db.query<{ n: number }>(
          `select count(*)::int as n from stock_moves
           where goods_id = $1 and reason = 'upstream' and id > $2`,
          [gid, first],
        );
        strictEqual(n, 0, "local and Odoo agreed: no upstream correction");
      });

      await t.step("a count in Odoo wins: the difference is an upstream move", async () => {
        odoo.state.setOnHand(gid, odooBefore + 5);
        await puller.fullPull();
        strictEqual(await localStock(db, gid), odooBefore + 5);
        const [move] = await db.query<{ quantity: string; to_warehouse_id: number }>(
          `select quantity::text as quantity, to_warehouse_id from stock_moves
           where goods_id = $1 and reason = 'upstream' and id > $2`,
          [gid, first],
        );
        deepStrictEqual(move, { quantity: "7.000", to_warehouse_id: 1 });
        deepStrictEqual(await ledgerDifferences(db), []);
      });

      await t.step(
        "a refill is an internal transfer from the back store to the shelf",
        async () => {
          // A back-store warehouse of the same company, with its internal operation type.
          const view = odoo.state.create("stock.location", {
            name: "BK",
            complete_name: "BK",
            usage: "view",
            location_id: false,
          });
          const lot = odoo.state.create("stock.location", {
            name: "Stock",
            complete_name: "BK/Stock",
            usage: "internal",
            location_id: view,
          });
          const type = odoo.state.create("stock.picking.type", {
            name: "Internal Transfers",
            code: "internal",
            default_location_src_id: lot,
            default_location_dest_id: lot,
            sequence_code: "INT",
            create_backorder: "ask",
          });
          const back = odoo.state.create("stock.warehouse", {
            name: "Back store",
            code: "BK",
            company_id: 1,
            lot_stock_id: lot,
            view_location_id: view,
            int_type_id: type,
          });
          odoo.state.write("stock.picking.type", [type], { warehouse_id: back });
          odoo.state.create("stock.quant", { product_id: gid, location_id: lot, quantity: 30 });
          await puller.fullPull();
          await configureStock(db, { shelfWarehouse: "WH", stockWarehouse: "BK" });
          await adjustStock(db, { gid, warehouse: "BK", quantity: "30", note: "count", by: "t" });
          const shelf = await localStock(db, gid);
          await setPosition(db, gid, PLACE, PLACE, null, String(shelf + 4));
          const [job] = await db.query<{ id: number }>(
            "insert into refill_jobs (goods_id, reason) values ($1, 'manual') returning id",
            [gid],
          );
          const refill = {
            shelfWarehouse: "WH",
            stockWarehouse: "BK",
            threshold: "0",
            target: "0",
          };
          deepStrictEqual(await planRefill(db, job.id, refill), { action: "send", quantity: "4" });
          strictEqual((await completeRefill(db, job.id, "AGV_0001", refill)).closed, true);
          strictEqual(await localStock(db, gid), shelf + 4);
          await worker.runDue();
          const [transfer] = odoo.state.all("stock.picking").filter((p) =>
            p.picking_type_id === type
          );
          deepStrictEqual([transfer.state, transfer.location_id, transfer.location_dest_id], [
            "done",
            lot,
            8,
          ]);
          strictEqual(odoo.state.onHand(gid, 1), shelf + 4);
          strictEqual(odoo.state.onHand(gid, back), 26);
          // Delivered again: found by origin, not moved twice.
          await deliverRefill(ctx, job.id);
          strictEqual(
            odoo.state.all("stock.picking").filter((p) => p.picking_type_id === type).length,
            1,
          );
          strictEqual(odoo.state.onHand(gid, 1), shelf + 4);
          await puller.fullPull();
          strictEqual(await localStock(db, gid), shelf + 4);
          deepStrictEqual(await ledgerDifferences(db), []);
        },
      );
    } finally {
      await odoo.close();
      await dispose();
    }
  });
}
