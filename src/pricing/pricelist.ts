/**
 * A store's prices from an Odoo pricelist, computed on the appliance exactly as Odoo 17 computes
 * them (`product.pricelist._compute_price_rule` and `product.pricelist.item._compute_price`), for a
 * quantity of 1, in exact decimals. Odoo offers no remote call that prices a product for a
 * pricelist, and a promotion must start on time even when Odoo is unreachable: so the rules are
 * read once and applied here, and the dated ones become local price schedules
 * ({@link pricePeriods}).
 *
 * Odoo's semantics, rule by rule:
 * - The rules of a pricelist are tried in Odoo's order (`applied_on`: variant, product, category,
 *   all; then `min_quantity` descending; then the category, deepest first; then newest first); the
 *   first one that applies sets the price; none: the sale price (`lst_price`, variant extra
 *   included).
 * - A rule applies when its `min_quantity` is at most 1, its dates hold (`date_start <= now <=
 *   date_end`, both inclusive, to the second), and it targets the product: its variant, its
 *   template, its category or a parent of it, or everything.
 * - `fixed`: the fixed price. `percentage`: base − base × percent / 100. `formula`: base − base ×
 *   discount / 100, rounded to a multiple of `price_round` (half away from zero), plus the
 *   surcharge, then held within base + min margin and base + max margin (each when not 0).
 * - The base is the sale price, the cost, or another pricelist's price for the product (its own
 *   rules, recursively); a rule "based on another pricelist" that names none uses the sale price.
 * - The result is rounded to cents, half away from zero (Odoo's `float_round`); a negative price
 *   is 0 (devices never sell below nothing).
 *
 * Currencies are not converted: the store's pricelists are expected in the company's currency.
 *
 * @module
 */
import { fromScaled, roundScaled, toScaled } from "../decimal.ts";

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

// Every computation runs on integers of this many decimals: the inputs have at most 12 (Odoo
// floats read to 15 significant digits), a product of two at most 24, a percentage of it 26.
const SCALE = 30;
const ONE = 10n ** BigInt(SCALE);
const HUNDRED = 100n * ONE;
// Recursion through "based on another pricelist" stops here (Odoo would loop forever).
const MAX_DEPTH = 16;

function units(text: string): bigint {
  return toScaled(text, SCALE);
}

function times(a: bigint, b: bigint): bigint {
  // Exact for inputs of at most 12 decimals (see SCALE).
  return (a * b) / ONE;
}

/** `value` rounded to a multiple of `step` (> 0), ties away from zero (Odoo's float_round). */
function roundToStep(value: bigint, step: bigint): bigint {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const steps = (2n * abs + step) / (2n * step);
  return (negative ? -steps : steps) * step;
}

const APPLIED_ORDER: Record<AppliedOn, number> = {
  "0_product_variant": 0,
  "1_product": 1,
  "2_product_category": 2,
  "3_global": 3,
};

/**
 * Whether `rule` may price `product` regardless of time: Odoo's search domain (category, template
 * and variant each empty or matching) and `_is_applicable_for` for a quantity of 1.
 */
export function targets(rule: PricelistRule, product: PricedProduct): boolean {
  if (units(rule.minQuantity) > ONE) return false;
  if (rule.categoryId !== null && !product.categories.includes(rule.categoryId)) return false;
  if (rule.templateId !== null && rule.templateId !== product.templateId) return false;
  if (rule.productId !== null && rule.productId !== product.id) return false;
  switch (rule.appliedOn) {
    case "2_product_category":
      return rule.categoryId !== null;
    case "1_product":
      return rule.templateId === product.templateId;
    case "0_product_variant":
      return rule.productId === product.id;
    default:
      return true;
  }
}

/** Whether `rule`'s dates hold at `at` (epoch ms; Odoo compares whole seconds). */
export function holdsAt(rule: PricelistRule, at: number): boolean {
  return (rule.dateStart === null || rule.dateStart <= at) &&
    (rule.dateEnd === null || at < rule.dateEnd + 1000);
}

/** The rules that may price `product`, in the order Odoo tries them. */
export function rulesFor(rules: readonly PricelistRule[], product: PricedProduct): PricelistRule[] {
  const depth = (r: PricelistRule) =>
    r.categoryId === null
      ? -1
      : product.categories.length - product.categories.indexOf(r.categoryId);
  return rules.filter((r) => targets(r, product)).sort((a, b) =>
    APPLIED_ORDER[a.appliedOn] - APPLIED_ORDER[b.appliedOn] ||
    compareUnits(units(b.minQuantity), units(a.minQuantity)) ||
    depth(b) - depth(a) ||
    b.id - a.id
  );
}

function compareUnits(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** When a rule decides: `at` a moment, or "undated" (only rules without dates count). */
type When = number | "undated";

function holds(rule: PricelistRule, when: When): boolean {
  if (when === "undated") return rule.dateStart === null && rule.dateEnd === null;
  return holdsAt(rule, when);
}

/** The unrounded price (at {@link SCALE}) and the rule that gave it. */
function rawPrice(
  book: PricelistBook,
  pricelistId: number,
  product: PricedProduct,
  when: When,
  depth: number,
): { value: bigint; ruleId: number | null } {
  const rule = rulesFor(book.get(pricelistId) ?? [], product).find((r) => holds(r, when));
  if (!rule) return { value: units(product.listPrice), ruleId: null };
  const base = () => {
    if (rule.base === "standard_price") return units(product.cost);
    if (rule.base === "pricelist" && rule.basePricelistId !== null && depth < MAX_DEPTH) {
      return rawPrice(book, rule.basePricelistId, product, when, depth + 1).value;
    }
    return units(product.listPrice);
  };
  if (rule.computePrice === "fixed") return { value: units(rule.fixedPrice), ruleId: rule.id };
  if (rule.computePrice === "percentage") {
    const b = base();
    return { value: b - (times(b, units(rule.percentPrice)) * ONE) / HUNDRED, ruleId: rule.id };
  }
  const limit = base();
  let price = limit - (times(limit, units(rule.priceDiscount)) * ONE) / HUNDRED;
  const step = units(rule.priceRound);
  if (step !== 0n) price = roundToStep(price, step);
  price += units(rule.priceSurcharge);
  const minMargin = units(rule.priceMinMargin);
  if (minMargin !== 0n && price < limit + minMargin) price = limit + minMargin;
  const maxMargin = units(rule.priceMaxMargin);
  if (maxMargin !== 0n && price > limit + maxMargin) price = limit + maxMargin;
  return { value: price, ruleId: rule.id };
}

function cents(value: bigint): string {
  const rounded = roundScaled(value, SCALE - 2);
  return fromScaled(rounded < 0n ? 0n : rounded, 2);
}

/**
 * `product`'s price under pricelist `pricelistId` at `at` (epoch ms), and the rule that set it.
 *
 * @example
 * ```ts
 * const rule = { ...everything, computePrice: "percentage", percentPrice: "15" };
 * pricelistPrice(new Map([[1, [rule]]]), 1, desk, Date.now()); // { price: "4.34", ruleId: 7 }
 * ```
 */
export function pricelistPrice(
  book: PricelistBook,
  pricelistId: number,
  product: PricedProduct,
  at: number,
): { price: string; ruleId: number | null } {
  const { value, ruleId } = rawPrice(book, pricelistId, product, at, 0);
  return { price: cents(value), ruleId };
}

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

/**
 * `product`'s prices under pricelist `pricelistId` over time, from `now` on: the regular price
 * (no dated rule holds) and each span in which the dated rules make it another, merged where
 * neighbours agree. A span that started before `now` keeps its start (null when it holds since
 * before every rule's start), so the same rules give the same spans at every call.
 *
 * @example
 * ```ts
 * pricePeriods(book, 1, desk, Date.parse("2026-12-20T00:00:00Z"));
 * // { regular: "5.10", periods: [{ from: <Dec 24 00:00>, until: <Dec 27 00:00>, price: "3.99" }] }
 * ```
 */
export function pricePeriods(
  book: PricelistBook,
  pricelistId: number,
  product: PricedProduct,
  now: number,
): PriceTimeline {
  const regular = cents(rawPrice(book, pricelistId, product, "undated", 0).value);
  const edges = new Set<number>();
  for (const id of pricelistClosure(book, pricelistId)) {
    for (const rule of book.get(id) ?? []) {
      if (!targets(rule, product)) continue;
      if (rule.dateStart !== null) edges.add(rule.dateStart);
      if (rule.dateEnd !== null) edges.add(rule.dateEnd + 1000);
    }
  }
  if (edges.size === 0) return { regular, periods: [] };
  const sorted = [...edges].sort((a, b) => a - b);
  // Spans: before the first edge, between edges, after the last; priced at their start.
  const spans: PricePeriod[] = [];
  const starts: (number | null)[] = [null, ...sorted];
  for (let i = 0; i < starts.length; i++) {
    const from = starts[i];
    const until = i + 1 < starts.length ? starts[i + 1] : null;
    const at = from ?? sorted[0] - 1000;
    const price = pricelistPrice(book, pricelistId, product, at).price;
    const last = spans.at(-1);
    if (last && last.price === price) last.until = until;
    else spans.push({ from, until, price });
  }
  return {
    regular,
    periods: spans.filter((s) => s.price !== regular && (s.until === null || s.until > now)),
  };
}
