/**
 * An Odoo pricelist's rules (`product.pricelist.item`) and what a product brings to its pricing,
 * in the shape the connector reads them: the data of Odoo's pricing. The decisions made from them
 * live in `src/pricing/pricelist.ts`, which the composition root hands the connector as
 * {@link CompilePricelists} (the connector's floor is below pricing's).
 *
 * @module
 */

/** Where a rule applies (Odoo's `applied_on`). */
export type AppliedOn = "3_global" | "2_product_category" | "1_product" | "0_product_variant";

/** One pricelist rule (`product.pricelist.item`), its numbers as exact decimal text. */
export interface PricelistRule {
  id: number;
  pricelistId: number;
  appliedOn: AppliedOn;
  categoryId: number | null;
  templateId: number | null;
  productId: number | null;
  minQuantity: string;
  /** Epoch ms of `date_start`, or null (no start). */
  dateStart: number | null;
  /** Epoch ms of `date_end`, or null (no end). The rule holds through that whole second. */
  dateEnd: number | null;
  computePrice: "fixed" | "percentage" | "formula";
  base: "list_price" | "standard_price" | "pricelist";
  basePricelistId: number | null;
  fixedPrice: string;
  percentPrice: string;
  priceDiscount: string;
  priceSurcharge: string;
  priceRound: string;
  priceMinMargin: string;
  priceMaxMargin: string;
}

/** What a product brings to its pricing. */
export interface PricedProduct {
  id: number;
  templateId: number;
  /** Its category and that category's parents, nearest first (empty when it has none). */
  categories: number[];
  /** `lst_price`: the template's sale price plus the variant's extra. */
  listPrice: string;
  /** `standard_price`. */
  cost: string;
}

/** Every rule of the pricelists a store prices with (its own and those its rules build on). */
export type PricelistBook = ReadonlyMap<number, readonly PricelistRule[]>;

/** A time span with one price, from a rule with dates. */
export interface PricePeriod {
  /** Epoch ms; null: since before any rule's start (in force now). */
  from: number | null;
  /** Epoch ms (exclusive); null: no end. */
  until: number | null;
  /** Two decimals. */
  price: string;
}

/** A product's prices under a pricelist: the price without dated rules, and the dated periods. */
export interface PriceTimeline {
  /** The price when no dated rule holds (two decimals). */
  regular: string;
  /** Spans whose price differs from `regular`, in time order, none ended before `now`. */
  periods: PricePeriod[];
}

/** The price decisions the connector needs from a compiled book (`src/pricing/pricelist.ts`). */
export interface PricelistRules {
  /** `product`'s regular price and dated spans under `pricelistId`, from `now` on. */
  periods(pricelistId: number, product: PricedProduct, now: number): PriceTimeline;
}

/** Compiles rules for pricing (`compilePricelists` of `src/pricing/pricelist.ts`). */
export type CompilePricelists = (book: PricelistBook) => PricelistRules;

/** The pricelists `pricelistId` prices with: itself and those its rules are based on. */
export function pricelistClosure(book: PricelistBook, pricelistId: number): number[] {
  const seen = [pricelistId];
  for (let i = 0; i < seen.length; i++) {
    for (const rule of book.get(seen[i]) ?? []) {
      const next = rule.base === "pricelist" ? rule.basePricelistId : null;
      if (next !== null && !seen.includes(next)) seen.push(next);
    }
  }
  return seen;
}
