/**
 * The catalogue as pricing needs it: name, sale price and whether goods are weighed. It is read
 * with price parity applied by `chargedGoods` (src/pricing/parity.ts).
 *
 * @module
 */

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
