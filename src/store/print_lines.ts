/**
 * The printed lines of an order (PROTOCOL.md §4 `printList`), as the device will print them.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** One printed line of a payment receipt (PROTOCOL.md §4 printList). */
export interface PrintLine {
  name: string;
  /** The quantity as the device wrote it. */
  count: string;
  /** Unit price, two decimals. */
  price: string;
  /** Line amount, two decimals. */
  total: string;
}

/** The lines of an order, in the device's order. */
export function printLines(db: Queryable, orderId: number): Promise<PrintLine[]> {
  return db.query<PrintLine & Record<string, unknown>>(
    `select name, quantity_text as count, unit_price::text as price, amount::text as total
     from order_lines where order_id = $1 order by line_no`,
    [orderId],
  );
}
