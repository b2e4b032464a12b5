/**
 * The store's Odoo pricelist (`odooPricelist`): which one it is, its rules (and those of the
 * pricelists they are based on) read from Odoo, whether they changed, and the store's prices
 * from them. The rules are applied on the appliance by `src/pricing/pricelist.ts` (passed in as
 * {@link CompilePricelists}); their dated
 * spans become price schedules of source `odoo` (`src/store/price_schedules.ts`), so a promotion
 * starts and ends on time whether or not Odoo answers then.
 *
 * Cost: one `read_group` a poll (how many rules there are and when the last was written); the
 * rules themselves are read only when that moves.
 *
 * @module
 */
import type { Logger } from "../../log.ts";
import type { Database } from "../../store/database.ts";
import {
  type AppliedOn,
  type CompilePricelists,
  type PricedProduct,
  type PricelistBook,
  pricelistClosure,
  type PricelistRule,
  type PricelistRules,
} from "./pricelist_rules.ts";
import type { PricelistPeriod } from "../../store/price_schedules.ts";
import {
  categoryParents,
  type PriceInput,
  priceInputs,
  storePricelistPrices,
} from "../../store/odoo_catalogue.ts";
import { type Many2one, type OdooClient, OdooError } from "./jsonrpc.ts";
import { odooDecimal, odooId, odooText } from "./_values.ts";

/** The configured pricelist, as Odoo names it. */
export interface OdooPricelistRef {
  id: number;
  name: string;
  /** Its currency's name (prices are not converted: it should be the company's). */
  currency: string;
}

/** Finds the pricelist `wanted` names (an id, or an exact name); throws when none or several. */
export async function resolvePricelist(
  odoo: OdooClient,
  wanted: string,
): Promise<OdooPricelistRef> {
  const domain = /^\d+$/.test(wanted) ? [["id", "=", Number(wanted)]] : [["name", "=", wanted]];
  const found = await odoo.executeKw<{ id: number; name: string; currency_id: Many2one }[]>(
    "product.pricelist",
    "search_read",
    [domain],
    { fields: ["id", "name", "currency_id"], order: "id", context: { active_test: false } },
  );
  if (found.length !== 1) {
    throw new OdooError(
      "server",
      found.length === 0
        ? `Odoo has no pricelist "${wanted}" (odooPricelist: an id or the exact name)`
        : `Odoo has ${found.length} pricelists named "${wanted}" (ids ${
          found.map((p) => p.id).join(", ")
        }): set odooPricelist to the id`,
    );
  }
  return { id: found[0].id, name: found[0].name, currency: odooText(found[0].currency_id) };
}

const RULE_FIELDS = [
  "id",
  "pricelist_id",
  "applied_on",
  "categ_id",
  "product_tmpl_id",
  "product_id",
  "min_quantity",
  "date_start",
  "date_end",
  "compute_price",
  "base",
  "base_pricelist_id",
  "fixed_price",
  "percent_price",
  "price_discount",
  "price_surcharge",
  "price_round",
  "price_min_margin",
  "price_max_margin",
];

type RuleRecord = Record<string, unknown> & { id: number };

/**
 * An Odoo datetime (UTC, "YYYY-MM-DD HH:MM:SS") as epoch ms; a date alone (before 16) is its
 * day's start, or with `endOfDay` its last second.
 */
function odooTime(value: unknown, endOfDay = false): number | null {
  const text = odooText(value);
  if (!text) return null;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    return Date.parse(`${text}T${endOfDay ? "23:59:59" : "00:00:00"}Z`);
  }
  return Date.parse(`${text.replace(" ", "T")}Z`);
}

function number(value: unknown): string {
  return odooDecimal(value, 12);
}

/** A `product.pricelist.item` record as a rule. */
export function toRule(r: RuleRecord): PricelistRule {
  return {
    id: r.id,
    pricelistId: odooId(r.pricelist_id) ?? 0,
    appliedOn: (odooText(r.applied_on) || "3_global") as AppliedOn,
    categoryId: odooId(r.categ_id),
    templateId: odooId(r.product_tmpl_id),
    productId: odooId(r.product_id),
    minQuantity: number(r.min_quantity),
    dateStart: odooTime(r.date_start),
    dateEnd: odooTime(r.date_end, true),
    computePrice: (odooText(r.compute_price) || "fixed") as PricelistRule["computePrice"],
    base: (odooText(r.base) || "list_price") as PricelistRule["base"],
    basePricelistId: odooId(r.base_pricelist_id),
    fixedPrice: number(r.fixed_price),
    percentPrice: number(r.percent_price),
    priceDiscount: number(r.price_discount),
    priceSurcharge: number(r.price_surcharge),
    priceRound: number(r.price_round),
    priceMinMargin: number(r.price_min_margin),
    priceMaxMargin: number(r.price_max_margin),
  };
}

/** How many rules the pricelists have and when the last was written (Odoo time). */
export interface RulesSummary {
  count: number;
  write_date?: string | false;
}

/** The prices of some goods under the pricelist: regular prices and dated spans. */
export interface PricedGoods {
  regular: Map<number, string>;
  periods: Map<number, PricelistPeriod[]>;
}

/** The store's pricelist: its rules as last read, and the store's prices from them. */
export class OdooPricelist {
  readonly ref: OdooPricelistRef;
  readonly #odoo: OdooClient;
  readonly #log: Logger;
  readonly #compile: CompilePricelists;
  #book: PricelistBook | undefined;
  #rules: PricelistRules | undefined;
  #count = 0;
  #signature = "";

  /** @param ref the pricelist @param odoo client @param log logger @param compile the pricer */
  constructor(ref: OdooPricelistRef, odoo: OdooClient, log: Logger, compile: CompilePricelists) {
    this.ref = ref;
    this.#odoo = odoo;
    this.#log = log;
    this.#compile = compile;
  }

  /** The rules as last read (empty before {@link load}). */
  get book(): PricelistBook {
    return this.#book ?? new Map();
  }

  #compiled(): PricelistRules {
    if (!this.#rules) throw new Error("the pricelist's rules are not read yet (load first)");
    return this.#rules;
  }

  /** Whether the rules were read since this process started. */
  get loaded(): boolean {
    return this.#book !== undefined;
  }

  /**
   * Reads the rules of the pricelist and of those they are based on. Returns whether they differ
   * from the rules held before (the first read: true).
   */
  async load(): Promise<boolean> {
    const book = new Map<number, PricelistRule[]>();
    let pending = [this.ref.id];
    while (pending.length > 0) {
      const records = await this.#odoo.executeKw<RuleRecord[]>(
        "product.pricelist.item",
        "search_read",
        [[["pricelist_id", "in", pending]]],
        { fields: RULE_FIELDS, order: "id", context: { active_test: false } },
      );
      for (const id of pending) book.set(id, []);
      for (const rule of records.map(toRule)) book.get(rule.pricelistId)?.push(rule);
      pending = pricelistClosure(book, this.ref.id).filter((id) => !book.has(id));
    }
    const signature = JSON.stringify([...book].sort(([a], [b]) => a - b));
    const changed = signature !== this.#signature;
    this.#book = book;
    if (changed || !this.#rules) this.#rules = this.#compile(book);
    this.#signature = signature;
    this.#count = [...book.values()].reduce((n, rules) => n + rules.length, 0);
    if (changed) {
      this.#log.info("odoo pricelist rules read", {
        pricelist: this.ref.name,
        pricelists: book.size,
        rules: this.#count,
      });
    }
    return changed;
  }

  /** The pricelists whose rules are held: this one and those its rules are based on. */
  get closure(): number[] {
    return pricelistClosure(this.book, this.ref.id);
  }

  /**
   * Whether a rule may have changed since `since` (Odoo time, the poll's window start): one
   * `read_group` of the rules' count and last `write_date` ({@link rulesMoved}).
   */
  async changedSince(since: string): Promise<boolean> {
    const [group] = await this.#odoo.executeKw<{ __count: number; write_date: string | false }[]>(
      "product.pricelist.item",
      "read_group",
      [[["pricelist_id", "in", this.closure]], ["write_date:max"], []],
      { context: { active_test: false } },
    );
    return this.rulesMoved({ count: group?.__count ?? 0, write_date: group?.write_date }, since);
  }

  /**
   * Whether the rules' count and last write (as `read_group` or the add-on's poll tell them)
   * say a rule changed since `since`: one written in the window, or one deleted (the count
   * differs from the rules held).
   */
  rulesMoved(rules: RulesSummary, since: string): boolean {
    return rules.count !== this.#count || (rules.write_date || "") > since;
  }

  /** Prices `inputs` at `now`: each goods' regular price and dated spans. */
  price(inputs: PriceInput[], categoryParents: ReadonlyMap<number, number | null>, now: number) {
    const priced: PricedGoods = { regular: new Map(), periods: new Map() };
    for (const input of inputs) {
      const product: PricedProduct = {
        id: input.goodsId,
        templateId: input.templateId,
        categories: categoryChain(input.categoryId, categoryParents),
        listPrice: input.listPrice,
        cost: input.cost,
      };
      const timeline = this.#compiled().periods(this.ref.id, product, now);
      priced.regular.set(input.goodsId, timeline.regular);
      priced.periods.set(
        input.goodsId,
        timeline.periods.map((p) => ({
          from: p.from === null ? null : new Date(p.from),
          until: p.until === null ? null : new Date(p.until),
          price: p.price,
        })),
      );
    }
    return priced;
  }
}

/** The store's pricelist for `site`, or undefined when its prices are the sale prices. */
export function pricelistOf(
  site: { pricelist?: OdooPricelistRef },
  odoo: OdooClient,
  log: Logger,
  compile: CompilePricelists,
): OdooPricelist | undefined {
  return site.pricelist ? new OdooPricelist(site.pricelist, odoo, log, compile) : undefined;
}

/** A category and its parents, nearest first (a loop in the data ends the chain). */
export function categoryChain(
  categoryId: number | null,
  parents: ReadonlyMap<number, number | null>,
): number[] {
  const chain: number[] = [];
  for (let id = categoryId; id !== null && !chain.includes(id);) {
    chain.push(id);
    id = parents.get(id) ?? null;
  }
  return chain;
}

/**
 * Prices every goods Odoo sent under the rules held now (after they changed): regular prices
 * written where they differ, schedules replaced. Returns the goods whose price row changed.
 */
export async function repriceAll(
  db: Database,
  pricelist: OdooPricelist,
  now: Date,
): Promise<number> {
  const inputs = await priceInputs(db);
  const priced = pricelist.price(inputs, await categoryParents(db), now.getTime());
  return await storePricelistPrices(db, inputs.map((i) => i.goodsId), priced, now);
}
