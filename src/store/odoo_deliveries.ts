/**
 * What a delivery to Odoo reads of the local record it delivers: a paid order and its lines, a
 * booked receipt and its lines, the stock move of a finished refill job. Rows keep the tables'
 * column names; money and quantities are exact decimal text.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** An order as a sale-order delivery reads it. */
export interface OrderToDeliver extends Record<string, unknown> {
  id: number;
  code: string;
  state: string;
}

/** An order line as a sale-order delivery reads it. */
export interface OrderLineToDeliver extends Record<string, unknown> {
  goods_id: number;
  unit_price: string;
  quantity: string;
}

/** A receipt as a stock-receipt delivery reads it. */
export interface ReceiptToDeliver extends Record<string, unknown> {
  id: number;
  equip_id: string;
  ref: string;
  warehouse_id: number;
}

/** A receipt line: the goods and the quantity received. */
export interface ReceiptLineToDeliver extends Record<string, unknown> {
  goods_id: number;
  quantity: string;
}

/** The move of a refill job: the goods, quantity, and the warehouses from and to. */
export interface RefillMoveToDeliver extends Record<string, unknown> {
  goods_id: number;
  quantity: string;
  from_id: number;
  to_id: number;
}

/** Order `orderId`, or undefined when it no longer exists. */
export function orderToDeliver(
  db: Queryable,
  orderId: number,
): Promise<OrderToDeliver | undefined> {
  return firstRow(db.query<OrderToDeliver>("select id, code, state from orders where id = $1", [
    orderId,
  ]));
}

/** The lines of order `orderId`, in line order. */
export function orderLinesToDeliver(db: Queryable, orderId: number): Promise<OrderLineToDeliver[]> {
  return db.query<OrderLineToDeliver>(
    `select goods_id, unit_price::text as unit_price, quantity::text as quantity
       from order_lines where order_id = $1 order by line_no`,
    [orderId],
  );
}

/**
 * Receipt `receiptId` with its lines in line order, or undefined when it no longer exists.
 */
export async function receiptToDeliver(
  db: Queryable,
  receiptId: number,
): Promise<ReceiptToDeliver & { lines: ReceiptLineToDeliver[] } | undefined> {
  const [receipt] = await db.query<ReceiptToDeliver>(
    "select id, equip_id, ref, warehouse_id from stock_receipts where id = $1",
    [receiptId],
  );
  if (!receipt) return undefined;
  const lines = await db.query<ReceiptLineToDeliver>(
    `select goods_id, quantity::text as quantity from stock_receipt_lines
     where receipt_id = $1 order by line_no`,
    [receiptId],
  );
  return { ...receipt, lines };
}

/** The stock move refill job `jobId` made, or undefined when it moved nothing. */
export function refillMoveToDeliver(
  db: Queryable,
  jobId: number,
): Promise<RefillMoveToDeliver | undefined> {
  return firstRow(db.query<RefillMoveToDeliver>(
    `select goods_id, quantity::text as quantity, from_warehouse_id as from_id,
       to_warehouse_id as to_id
     from stock_moves where reason = 'refill' and reference = 'refill:' || $1::text`,
    [jobId],
  ));
}

async function firstRow<T>(rows: Promise<T[]>): Promise<T | undefined> {
  return (await rows)[0];
}
