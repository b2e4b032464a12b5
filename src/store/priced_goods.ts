/**
 * The catalogue as pricing needs it: name, sale price and whether goods are weighed.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** What pricing needs of a goods. */
export interface PricedGoods {
  id: number;
  name: string;
  /** Sale price, two decimals. */
  price: string;
  weighed: boolean;
  /** Why this is the price: `current`, or `label AC:… shows 3.50` (price parity). */
  reason?: string;
  /** The goods' current price when `price` is a held one (price parity); else absent. */
  listPrice?: string;
}

/** The active goods among `ids`. */
export function pricedGoods(db: Queryable, ids: number[]): Promise<PricedGoods[]> {
  return db.query<PricedGoods & Record<string, unknown>>(
    "select id, name, price::text as price, weighed from goods where active and id = any($1::int[])",
    [ids],
  );
}
