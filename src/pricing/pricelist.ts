/**
 * A store's prices from an Odoo pricelist, computed on the appliance exactly as Odoo 17 computes
 * them (`product.pricelist._compute_price_rule` and `product.pricelist.item._compute_price`), for a
 * quantity of 1, in exact decimals. Odoo offers no remote call that prices a product for a
 * pricelist, and a promotion must start on time even when Odoo is unreachable: so the rules are
 * read once and applied here, and the dated ones become local price schedules
 * ({@link pricePeriods}).
 *
 * The rules are compiled once ({@link Pricelists}): parsed to integers and indexed by what they
 * target, so pricing a catalogue of 10,000 products under hundreds of rules reads only the few
 * rules each product can meet.
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
 * The rules' shape is Odoo's (`src/upstream/odoo/pricelist_rules.ts`); the Odoo connector is given
 * {@link compilePricelists} by the composition root (it sits below this floor).
 *
 * @module
 */
import { fromScaled, roundScaled, toScaled } from "../decimal.ts";
import {
  type AppliedOn,
  type PricedProduct,
  type PricelistBook,
  pricelistClosure,
  type PricelistRule,
  type PricePeriod,
  type PriceTimeline,
} from "../upstream/odoo/pricelist_rules.ts";

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

function cents(value: bigint): string {
  const rounded = roundScaled(value, SCALE - 2);
  return fromScaled(rounded < 0n ? 0n : rounded, 2);
}

const APPLIED_ORDER: Record<AppliedOn, number> = {
  "0_product_variant": 0,
  "1_product": 1,
  "2_product_category": 2,
  "3_global": 3,
};

/** Whether `rule`'s dates hold at `at` (epoch ms; Odoo compares whole seconds). */
export function holdsAt(rule: PricelistRule, at: number): boolean {
  return (rule.dateStart === null || rule.dateStart <= at) &&
    (rule.dateEnd === null || at < rule.dateEnd + 1000);
}

/** A rule with its numbers as integers of {@link SCALE} decimals. */
interface Compiled {
  rule: PricelistRule;
  minQuantity: bigint;
  fixed: bigint;
  percent: bigint;
  discount: bigint;
  surcharge: bigint;
  round: bigint;
  minMargin: bigint;
  maxMargin: bigint;
}

/** One pricelist's rules by what they target. */
interface RuleIndex {
  byProduct: Map<number, Compiled[]>;
  byTemplate: Map<number, Compiled[]>;
  byCategory: Map<number, Compiled[]>;
  everything: Compiled[];
}

function compile(rule: PricelistRule): Compiled {
  return {
    rule,
    minQuantity: units(rule.minQuantity),
    fixed: units(rule.fixedPrice),
    percent: units(rule.percentPrice),
    discount: units(rule.priceDiscount),
    surcharge: units(rule.priceSurcharge),
    round: units(rule.priceRound),
    minMargin: units(rule.priceMinMargin),
    maxMargin: units(rule.priceMaxMargin),
  };
}

function indexRules(rules: readonly PricelistRule[]): RuleIndex {
  const index: RuleIndex = {
    byProduct: new Map(),
    byTemplate: new Map(),
    byCategory: new Map(),
    everything: [],
  };
  const add = (map: Map<number, Compiled[]>, key: number | null, c: Compiled) => {
    if (key === null) return; // inconsistent (Odoo's constraints refuse it): it targets nothing
    const list = map.get(key);
    if (list) list.push(c);
    else map.set(key, [c]);
  };
  for (const rule of rules) {
    const c = compile(rule);
    if (rule.appliedOn === "0_product_variant") add(index.byProduct, rule.productId, c);
    else if (rule.appliedOn === "1_product") add(index.byTemplate, rule.templateId, c);
    else if (rule.appliedOn === "2_product_category") add(index.byCategory, rule.categoryId, c);
    else index.everything.push(c);
  }
  return index;
}

/**
 * Whether a rule may price `product` regardless of time: Odoo's search domain (category, template
 * and variant each empty or matching) and `_is_applicable_for` for a quantity of 1.
 */
function targets(c: Compiled, product: PricedProduct): boolean {
  const rule = c.rule;
  if (c.minQuantity > ONE) return false;
  if (rule.categoryId !== null && !product.categories.includes(rule.categoryId)) return false;
  if (rule.templateId !== null && rule.templateId !== product.templateId) return false;
  return rule.productId === null || rule.productId === product.id;
}

/** When a rule decides: `at` a moment, or "undated" (only rules without dates count). */
type When = number | "undated";

function holds(rule: PricelistRule, when: When): boolean {
  if (when === "undated") return rule.dateStart === null && rule.dateEnd === null;
  return holdsAt(rule, when);
}

/**
 * Pricelists compiled for pricing: every price decision a store makes from an Odoo pricelist.
 *
 * @example
 * ```ts
 * const rules = new Pricelists(new Map([[1, [tenPercentOff]]]));
 * rules.price(1, desk, Date.now()); // { price: "4.59", ruleId: 7 }
 * rules.periods(1, desk, Date.now()); // { regular: "4.59", periods: [] }
 * ```
 */
export class Pricelists {
  readonly #book: PricelistBook;
  readonly #index = new Map<number, RuleIndex>();

  /** @param book every rule of the pricelists, by pricelist id */
  constructor(book: PricelistBook) {
    this.#book = book;
    for (const [id, rules] of book) this.#index.set(id, indexRules(rules));
  }

  /** The pricelists `pricelistId` prices with: itself and those its rules are based on. */
  closure(pricelistId: number): number[] {
    return pricelistClosure(this.#book, pricelistId);
  }

  /** The rules of `pricelistId` that may price `product`, in the order Odoo tries them. */
  rulesFor(pricelistId: number, product: PricedProduct): PricelistRule[] {
    return this.#candidates(pricelistId, product).map((c) => c.rule);
  }

  #candidates(pricelistId: number, product: PricedProduct): Compiled[] {
    const index = this.#index.get(pricelistId);
    if (!index) return [];
    const found = [
      ...(index.byProduct.get(product.id) ?? []),
      ...(index.byTemplate.get(product.templateId) ?? []),
      ...product.categories.flatMap((c) => index.byCategory.get(c) ?? []),
      ...index.everything,
    ].filter((c) => targets(c, product));
    // Odoo's order: applied_on, min_quantity desc, category desc (its complete name: among a
    // product's categories, the deepest first), id desc.
    const depth = (c: Compiled) =>
      c.rule.categoryId === null ? -1 : product.categories.length -
        product.categories.indexOf(c.rule.categoryId);
    return found.sort((a, b) =>
      APPLIED_ORDER[a.rule.appliedOn] - APPLIED_ORDER[b.rule.appliedOn] ||
      (a.minQuantity > b.minQuantity ? -1 : a.minQuantity < b.minQuantity ? 1 : 0) ||
      depth(b) - depth(a) ||
      b.rule.id - a.rule.id
    );
  }

  /** The unrounded price (at {@link SCALE}) and the rule that gave it. */
  #raw(
    pricelistId: number,
    product: PricedProduct,
    when: When,
    depth: number,
    memo: Map<number, Compiled[]>,
  ): { value: bigint; ruleId: number | null } {
    let candidates = memo.get(pricelistId);
    if (!candidates) memo.set(pricelistId, candidates = this.#candidates(pricelistId, product));
    const c = candidates.find((c) => holds(c.rule, when));
    if (!c) return { value: units(product.listPrice), ruleId: null };
    const rule = c.rule;
    const base = () => {
      if (rule.base === "standard_price") return units(product.cost);
      if (rule.base === "pricelist" && rule.basePricelistId !== null && depth < MAX_DEPTH) {
        return this.#raw(rule.basePricelistId, product, when, depth + 1, memo).value;
      }
      return units(product.listPrice);
    };
    if (rule.computePrice === "fixed") return { value: c.fixed, ruleId: rule.id };
    if (rule.computePrice === "percentage") {
      const b = base();
      return { value: b - (times(b, c.percent) * ONE) / HUNDRED, ruleId: rule.id };
    }
    const limit = base();
    let price = limit - (times(limit, c.discount) * ONE) / HUNDRED;
    if (c.round !== 0n) price = roundToStep(price, c.round);
    price += c.surcharge;
    if (c.minMargin !== 0n && price < limit + c.minMargin) price = limit + c.minMargin;
    if (c.maxMargin !== 0n && price > limit + c.maxMargin) price = limit + c.maxMargin;
    return { value: price, ruleId: rule.id };
  }

  /** `product`'s price under pricelist `pricelistId` at `at` (epoch ms), and the rule that set it. */
  price(
    pricelistId: number,
    product: PricedProduct,
    at: number,
  ): { price: string; ruleId: number | null } {
    const { value, ruleId } = this.#raw(pricelistId, product, at, 0, new Map());
    return { price: cents(value), ruleId };
  }

  /**
   * `product`'s prices under pricelist `pricelistId` over time, from `now` on: the regular price
   * (no dated rule holds) and each span in which the dated rules make it another, merged where
   * neighbours agree. A span that started before `now` keeps its start (null when it holds
   * since before every rule's start), so the same rules give the same spans at every call.
   */
  periods(pricelistId: number, product: PricedProduct, now: number): PriceTimeline {
    const memo = new Map<number, Compiled[]>();
    const regular = cents(this.#raw(pricelistId, product, "undated", 0, memo).value);
    const edges = new Set<number>();
    for (const id of this.closure(pricelistId)) {
      let candidates = memo.get(id);
      if (!candidates) memo.set(id, candidates = this.#candidates(id, product));
      for (const { rule } of candidates) {
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
      const price = cents(this.#raw(pricelistId, product, at, 0, memo).value);
      const last = spans.at(-1);
      if (last && last.price === price) last.until = until;
      else spans.push({ from, until, price });
    }
    return {
      regular,
      periods: spans.filter((s) => s.price !== regular && (s.until === null || s.until > now)),
    };
  }
}

/** Compiles a pricelist book: what the Odoo connector is given to price with. */
export function compilePricelists(book: PricelistBook): Pricelists {
  return new Pricelists(book);
}
