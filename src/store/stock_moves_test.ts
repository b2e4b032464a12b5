import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import { UserError } from "../errors.ts";
import type { Database } from "./database.ts";
import { migrate, MIGRATIONS } from "./migrate.ts";
import { createOrder, type OrderDraft, settleOrder } from "./orders.ts";
import { bookStockReceipt } from "./stock.ts";
import { setPosition } from "./positions.ts";
import { seedDemo } from "./demo.ts";
import {
  adjustStock,
  configureStock,
  goodsStock,
  ledgerDifferences,
  movesSince,
  negativeStock,
  negativeStockCount,
} from "./stock_moves.ts";
import { completeRefill, openRefills, planRefill } from "./refill_stock.ts";

const T0 = new Date(Date.UTC(2026, 0, 1, 8, 0, 0));
const SETTINGS = { shelfWarehouse: "MD", stockWarehouse: "HC", threshold: "0", target: "0" };
const PLACE = { posx: "A", posy: "1", posz: "1" };

function draft(terminalOrderId: string, lines: OrderDraft["lines"]): OrderDraft {
  return {
    equipId: "DZC_0001",
    uniqueId: "DZC_0001",
    terminalOrderId,
    kind: "scale",
    amount: "9.99",
    deviceTotal: "9.99",
    shopId: "shopS",
    lines,
    createdAt: T0,
    expiresAt: new Date(T0.getTime() + 60_000),
    payUrl: (code) => `https://pay/${code}`,
  };
}

async function qty(db: Database, warehouse: string, gid: number): Promise<string> {
  const rows = await db.query<{ q: string }>(
    `select s.quantity::text as q from stock s join warehouses w on w.id = s.warehouse_id
     where w.code = $1 and s.goods_id = $2`,
    [warehouse, gid],
  );
  return rows[0]?.q ?? "none";
}

/** The weighed demo goods (kg) and a goods sold by the piece. */
async function demoGoods(db: Database): Promise<{ weighed: number; piece: number }> {
  const [w] = await db.query<{ id: number }>("select min(id) as id from goods where weighed");
  const [p] = await db.query<{ id: number }>("select min(id) as id from goods where not weighed");
  return { weighed: w.id, piece: p.id };
}

function suite(backend: ReturnType<typeof backends>[number]) {
  return async (t: Deno.TestContext) => {
    const { db, dispose } = await backend.open();
    try {
      const { weighed, piece } = await demoGoods(db);

      await t.step("the demo catalogue's stock is explained by its moves", async () => {
        assert.deepEqual(await ledgerDifferences(db), []);
        const moves = await movesSince(db, new Date(0));
        assert.ok(moves.length > 0);
        assert.ok(
          moves.every((m) => m.reason === "adjustment" && m.reference === "demo catalogue"),
        );
      });

      await t.step(
        "a paid order takes each line off the shelf once, weight for weighed goods",
        async () => {
          const shelfBefore = Number(await qty(db, "MD", weighed));
          const { order } = await createOrder(
            db,
            draft("t1", [
              {
                goodsId: weighed,
                name: "w",
                unitPrice: "10.00",
                quantity: "0.735",
                amount: "7.35",
              },
              { goodsId: piece, name: "p", unitPrice: "1.32", quantity: "1", amount: "1.32" },
              { goodsId: piece, name: "p", unitPrice: "1.32", quantity: "1", amount: "1.32" },
            ]),
          );
          const pieceBefore = Number(await qty(db, "MD", piece));
          const paid = {
            outcome: "paid" as const,
            by: "mqtt" as const,
            at: T0,
            notifyDevice: true,
          };
          assert.equal((await settleOrder(db, order.id, paid))?.changed, true);
          // The result delivered again, by another path: nothing moves twice.
          assert.equal((await settleOrder(db, order.id, paid))?.changed, false);
          assert.equal(
            (await settleOrder(db, order.id, { ...paid, by: "device" }))?.changed,
            false,
          );
          assert.equal(Number(await qty(db, "MD", weighed)), shelfBefore - 0.735);
          assert.equal(Number(await qty(db, "MD", piece)), pieceBefore - 2);
          const sale = (await goodsStock(db, piece)).moves[0];
          assert.deepEqual(
            [sale.reason, sale.from, sale.to, sale.quantity, sale.reference],
            ["sale", "MD", null, "2.000", `order:${order.code}`],
          );
          assert.deepEqual(await ledgerDifferences(db), []);
        },
      );

      await t.step("a failed then late-paid order moves stock when it is paid, once", async () => {
        const before = Number(await qty(db, "MD", piece));
        const { order } = await createOrder(
          db,
          draft("t2", [
            { goodsId: piece, name: "p", unitPrice: "1.32", quantity: "3", amount: "3.96" },
          ]),
        );
        const base = { by: "mqtt" as const, at: T0, notifyDevice: false };
        await settleOrder(db, order.id, { ...base, outcome: "failed" });
        assert.equal(Number(await qty(db, "MD", piece)), before);
        await settleOrder(db, order.id, { ...base, outcome: "paid" });
        await settleOrder(db, order.id, { ...base, outcome: "paid" });
        assert.equal(Number(await qty(db, "MD", piece)), before - 3);
      });

      await t.step("a sale beyond the stock goes negative, is flagged, never refused", async () => {
        const shelf = Number(await qty(db, "MD", piece));
        const { order } = await createOrder(
          db,
          draft("t3", [
            { goodsId: piece, name: "p", unitPrice: "1", quantity: String(shelf + 4), amount: "9" },
          ]),
        );
        const settled = await settleOrder(db, order.id, {
          outcome: "paid",
          by: "device",
          at: T0,
          notifyDevice: false,
        });
        assert.equal(settled?.changed, true);
        assert.equal(await qty(db, "MD", piece), "-4.000");
        assert.deepEqual(
          (await negativeStock(db)).map((n) => [n.gid, n.warehouse, n.quantity]),
          [[piece, "MD", "-4.000"]],
        );
        assert.equal(await negativeStockCount(db), 1);
      });

      await t.step("an inventory count sets the stock with one adjustment move", async () => {
        const move = await adjustStock(db, {
          gid: piece,
          warehouse: "MD",
          quantity: "6",
          note: "counted on the shelf",
          by: "cli",
        });
        assert.deepEqual(
          [move?.reason, move?.from, move?.to, move?.quantity, move?.note],
          ["adjustment", null, "MD", "10.000", "counted on the shelf"],
        );
        assert.equal(await qty(db, "MD", piece), "6.000");
        assert.equal(
          await adjustStock(db, {
            gid: piece,
            warehouse: "MD",
            quantity: "6",
            note: "x",
            by: "cli",
          }),
          null,
        );
        await assert.rejects(
          adjustStock(db, { gid: piece, warehouse: "NOPE", quantity: "1", note: "x", by: "cli" }),
          UserError,
          "unknown warehouse: NOPE",
        );
        await assert.rejects(
          adjustStock(db, { gid: 999999, warehouse: "MD", quantity: "1", note: "x", by: "cli" }),
          UserError,
          "unknown goods",
        );
        assert.throws(
          () =>
            adjustStock(db, { gid: piece, warehouse: "MD", quantity: "1", note: " ", by: "cli" }),
          UserError,
        );
        assert.equal(await negativeStockCount(db), 0);
      });

      await t.step("a receipt and a direct write both come with their move", async () => {
        const booked = await bookStockReceipt(db, {
          equipId: "PDA_1",
          ref: "r1",
          warehouseId: 2,
          lines: [{ gid: piece, qty: "5" }],
        });
        const receipt = (await goodsStock(db, piece)).moves[0];
        assert.deepEqual(
          [receipt.reason, receipt.to, receipt.quantity, receipt.reference],
          ["receipt", "HC", "5.000", `receipt:${booked.receiptId}`],
        );
        await db.query("update stock set quantity = quantity + 2 where goods_id = $1", [piece]);
        await db.query("delete from stock where goods_id = $1 and warehouse_id = 2", [weighed]);
        assert.deepEqual(await ledgerDifferences(db), []);
      });

      await t.step(
        "a refill is planned from the target and moves once when acknowledged",
        async () => {
          await setPosition(db, piece, PLACE, PLACE);
          await db.query("update goods_positions set shelf_capacity = 20 where goods_id = $1", [
            piece,
          ]);
          const shelf = Number(await qty(db, "MD", piece));
          const room = Number(await qty(db, "HC", piece));
          const [job] = await db.query<{ id: number }>(
            "insert into refill_jobs (goods_id, reason) values ($1, 'manual') returning id",
            [piece],
          );
          assert.deepEqual(await planRefill(db, job.id, SETTINGS), {
            action: "send",
            quantity: String(20 - shelf),
          });
          assert.equal((await openRefills(db))[0].quantity, `${20 - shelf}.000`);
          const done = await completeRefill(db, job.id, "AGV_1", SETTINGS, "3");
          assert.deepEqual(done, { closed: true, moved: "3" });
          assert.deepEqual(await completeRefill(db, job.id, "AGV_1", SETTINGS), {
            closed: false,
            moved: "0",
          });
          assert.equal(Number(await qty(db, "MD", piece)), shelf + 3);
          assert.equal(Number(await qty(db, "HC", piece)), room - 3);
          const move = (await goodsStock(db, piece)).moves[0];
          assert.deepEqual([move.reason, move.from, move.to, move.reference], [
            "refill",
            "HC",
            "MD",
            `refill:${job.id}`,
          ]);
        },
      );

      await t.step(
        "no stock in the stock room: the job waits; a full shelf: cancelled",
        async () => {
          await adjustStock(db, { gid: piece, warehouse: "HC", quantity: "0", note: "x", by: "t" });
          const [job] = await db.query<{ id: number }>(
            "insert into refill_jobs (goods_id, reason) values ($1, 'manual') returning id",
            [piece],
          );
          assert.deepEqual(await planRefill(db, job.id, SETTINGS), {
            action: "wait",
            reason: "no stock in the stock room HC",
          });
          await adjustStock(db, {
            gid: piece,
            warehouse: "HC",
            quantity: "50",
            note: "x",
            by: "t",
          });
          await adjustStock(db, {
            gid: piece,
            warehouse: "MD",
            quantity: "20",
            note: "x",
            by: "t",
          });
          assert.equal((await planRefill(db, job.id, SETTINGS)).action, "cancel");
          // Without a capacity or target, twice the threshold; none at all: it waits, saying why.
          await db.query("update goods_positions set shelf_capacity = null where goods_id = $1", [
            piece,
          ]);
          assert.deepEqual(await planRefill(db, job.id, { ...SETTINGS, threshold: "15" }), {
            action: "send",
            quantity: "10",
          });
          assert.equal((await planRefill(db, job.id, SETTINGS)).action, "wait");
        },
      );

      await t.step("weighed goods refill by weight, pieces in whole pieces", async () => {
        await configureStock(db, { shelfWarehouse: "MD", stockWarehouse: "HC" });
        await setPosition(db, weighed, PLACE, PLACE);
        await adjustStock(db, {
          gid: weighed,
          warehouse: "MD",
          quantity: "0.5",
          note: "x",
          by: "t",
        });
        await adjustStock(db, {
          gid: weighed,
          warehouse: "HC",
          quantity: "1.25",
          note: "x",
          by: "t",
        });
        const [job] = await db.query<{ id: number }>(
          "insert into refill_jobs (goods_id, reason) values ($1, 'manual') returning id",
          [weighed],
        );
        assert.deepEqual(await planRefill(db, job.id, { ...SETTINGS, target: "3" }), {
          action: "send",
          quantity: "1.25",
        });
        assert.deepEqual(await ledgerDifferences(db), []);
      });
    } finally {
      await dispose();
    }
  };
}

for (const backend of backends()) {
  Deno.test(`stock ledger (${backend.name})`, suite(backend));
}

Deno.test("migration 8 gives existing stock an opening move (PGlite)", async () => {
  const [backend] = backends().filter((b) => b.name === "pglite");
  const { db, dispose } = await backend.open({ demo: false });
  try {
    // Back to before migration 8: a store with stock and no ledger.
    await db.exec(
      "drop table stock_moves cascade; drop table stock_settings; delete from schema_migrations where version = 8; " +
        "drop function stock_move_applied; drop function stock_written cascade; " +
        "alter table goods_positions drop column shelf_capacity; " +
        "alter table refill_jobs drop column quantity, drop column moved; " +
        "drop function odoo_outbox_refill cascade;",
    );
    await seedDemo(db);
    const [{ n }] = await db.query<{ n: number }>("select count(*)::int as n from stock");
    assert.ok(n > 0);
    await db.query("update stock set quantity = -1.5 where goods_id = 1 and warehouse_id = 1");
    assert.deepEqual(await migrate(db, MIGRATIONS), [8]);
    assert.deepEqual(await ledgerDifferences(db), []);
    const opening = await movesSince(db, new Date(0));
    assert.equal(opening.length, n);
    assert.ok(opening.every((m) => m.reference === "opening"));
  } finally {
    await dispose();
  }
});
