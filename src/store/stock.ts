/**
 * Stock receipts (入库): one transaction books the receipt, its lines and the stock changes.
 *
 * @module
 */
import type { Database, Queryable } from "./database.ts";
import { UserError } from "../errors.ts";
import { requireWholePieces } from "../fields.ts";

/** One received line: goods by id or by barcode, and a positive quantity as exact decimal text. */
export type ReceiptLine = ({ gid: number } | { code: string }) & { qty: string };

/** A stock receipt as a device sends it. */
export interface StockReceipt {
  equipId: string;
  ref: string;
  warehouseId: number;
  lines: ReceiptLine[];
}

/** The booked receipt; `created` is false when the same device already booked this `ref`. */
export interface BookedReceipt {
  receiptId: number;
  created: boolean;
}

async function existingReceipt(db: Queryable, equipId: string, ref: string) {
  const rows = await db.query<{ id: number }>(
    "select id from stock_receipts where equip_id = $1 and ref = $2",
    [equipId, ref],
  );
  return rows[0]?.id;
}

interface ReceivedGoods {
  id: number;
  name: string;
  weighed: boolean;
}

async function resolveGoods(tx: Queryable, lines: ReceiptLine[]): Promise<number[]> {
  const ids = lines.flatMap((l) => "gid" in l ? [l.gid] : []);
  const codes = lines.flatMap((l) => "code" in l ? [l.code] : []);
  const byId = new Map(
    (await tx.query<ReceivedGoods & Record<string, unknown>>(
      "select id, name, weighed from goods where id = any($1::int[])",
      [ids],
    )).map((r) => [r.id, r]),
  );
  const byCode = new Map(
    (await tx.query<ReceivedGoods & { barcode: string } & Record<string, unknown>>(
      "select id, name, weighed, barcode from goods where active and barcode = any($1::text[])",
      [codes],
    )).map((r) => [r.barcode, r]),
  );
  return lines.map((line, i) => {
    const goods = "gid" in line ? byId.get(line.gid) : byCode.get(line.code);
    if (goods === undefined) {
      throw new UserError(
        "gid" in line ? `unknown goods: gid ${line.gid}` : `unknown goods: code ${line.code}`,
      );
    }
    requireWholePieces(goods, line.qty, `goods[${i}]`);
    return goods.id;
  });
}

/**
 * Books a receipt atomically. A line naming unknown goods, a fractional quantity of goods sold by
 * the piece, or an unknown warehouse books nothing
 * ({@link UserError}). The same `(equipId, ref)` twice returns the first receipt.
 */
export async function bookStockReceipt(
  db: Database,
  receipt: StockReceipt,
): Promise<BookedReceipt> {
  const earlier = await existingReceipt(db, receipt.equipId, receipt.ref);
  if (earlier !== undefined) return { receiptId: earlier, created: false };
  try {
    return await bookNew(db, receipt);
  } catch (e) {
    // numeric_value_out_of_range: the stock of a goods would leave the column's range.
    if ((e as { code?: unknown })?.code === "22003") {
      throw new UserError("stock quantity out of range: the receipt would overflow the stock");
    }
    throw e;
  }
}

function bookNew(db: Database, receipt: StockReceipt): Promise<BookedReceipt> {
  return db.transaction(async (tx) => {
    const [warehouse] = await tx.query<{ refused: string }>(
      "select receipts_refused as refused from warehouses where id = $1",
      [receipt.warehouseId],
    );
    if (!warehouse) throw new UserError(`unknown warehouse: ${receipt.warehouseId}`);
    // Odoo would refuse the receipt (another company's warehouse): book nothing, say why.
    if (warehouse.refused) {
      throw new UserError(
        `warehouse ${receipt.warehouseId} does not take receipts: ${warehouse.refused}`,
      );
    }
    const goodsIds = await resolveGoods(tx, receipt.lines);
    // A concurrent identical request waits on the unique key here, then finds nothing inserted.
    const inserted = await tx.query<{ id: number }>(
      `insert into stock_receipts (equip_id, ref, warehouse_id) values ($1, $2, $3)
       on conflict (equip_id, ref) do nothing returning id`,
      [receipt.equipId, receipt.ref, receipt.warehouseId],
    );
    if (inserted.length === 0) {
      return {
        receiptId: (await existingReceipt(tx, receipt.equipId, receipt.ref))!,
        created: false,
      };
    }
    const receiptId = inserted[0].id;
    await tx.query(
      `insert into stock_receipt_lines (receipt_id, line_no, goods_id, quantity)
       select $1, n, g, q::numeric from unnest($2::int[], $3::text[]) with ordinality as l(g, q, n)`,
      [receiptId, goodsIds, receipt.lines.map((l) => l.qty)],
    );
    // One receipt move per goods; the ledger applies it to the stock (migration 008).
    await tx.query(
      `insert into stock_moves (goods_id, to_warehouse_id, quantity, reason, reference)
       select g, $1, sum(q::numeric), 'receipt', 'receipt:' || $4::text
       from unnest($2::int[], $3::text[]) as l(g, q) group by g`,
      [receipt.warehouseId, goodsIds, receipt.lines.map((l) => l.qty), receiptId],
    );
    return { receiptId, created: true };
  });
}
