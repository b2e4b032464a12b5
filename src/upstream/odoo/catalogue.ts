/**
 * The catalogue pull: products, categories, warehouses and stock from Odoo into the local store.
 *
 * - **Full pass** (first run, or asked; `reconcile.ts` does the cheap id comparison at every
 *   start and every `odooFullPassS`): every product.product (archived too)
 *   in pages of `odooPageSize` by id (keyset, so a product created meanwhile neither shifts nor
 *   repeats a page), with `qty_available` for the served warehouse; then every local goods Odoo
 *   did not list becomes inactive (deleted in Odoo).
 * - **Incremental** (every `odooPollS`): one product.product `search_read` of the products whose
 *   device-visible data changed in the window ({@link changedProductsDomain}: the product, its
 *   template, its attribute values, the warehouse's quants and done moves), full records with
 *   `qty_available`. When nothing changed that is the whole poll: one request (Odoo 17 and
 *   later; 16 asks stock apart). An idle store costs Odoo `60 / odooPollS` requests a minute.
 *
 * Cursors are a lagging low-water mark: Odoo's own clock (its HTTP `Date` at the start of the
 * pass, never the appliance's clock) minus `odooTransactionBoundS`. Odoo stamps `write_date` with
 * the start of the transaction (PostgreSQL `now()`), so a change committed up to that long after
 * it was made still falls inside the next window. Every poll therefore re-reads what changed in
 * the last bound; that is harmless because a local row is rewritten only when it changed.
 *
 * @module
 */
import type { Database } from "../../store/database.ts";
import type { Logger } from "../../log.ts";
import { type Many2one, type OdooClient, odooDatetime } from "./jsonrpc.ts";
import { type OdooSite, receiptRefusal } from "./site.ts";
import type { OdooSettings } from "./settings.ts";
import {
  type CategoryRecord,
  goodsName,
  odooDecimal,
  odooId,
  odooText,
  toCategory,
} from "./_values.ts";
import {
  categoryParents,
  deactivateGoodsExcept,
  forgetPricelist,
  getCursor,
  type GoodsRow,
  missingCategories,
  type PriceInput,
  setCursor,
  setStock,
  upsertCategories,
  upsertGoods,
  upsertPriceInputs,
  upsertWarehouses,
} from "../../store/odoo_catalogue.ts";
import { type OdooPricelist, repriceAll, type RulesSummary } from "./pricelist.ts";
import { replacePricelistSchedules } from "../../store/price_schedules.ts";
import type { Clock } from "../../clock.ts";

/** Cursor names in odoo_sync_cursors. */
export const CURSORS = {
  /**
   * Where the incremental window starts (Odoo time, `write_date` form). Named after the one
   * model it covered first; before the one-request poll, "product.template" and "stock" cursors
   * were kept beside it, always equal to it (rows left in older stores are unused).
   */
  window: "product.product",
  /** When the last full pass ended (ISO time, appliance clock). */
  fullPass: "full-pass",
  /** The pricelist id the goods' prices come from ("" or absent: the sale price). */
  pricelist: "pricelist",
} as const;

/** Seconds added to the bound for whole-second RPC datetimes and clock rounding. */
const CURSOR_SLACK_S = 2;

/** What one pull did. */
export interface PullStats {
  /** `ids`: the id comparison of `reconcile.ts` (start, then every `odooFullPassS`). */
  kind: "full" | "ids" | "incremental";
  /** Products read from Odoo. */
  products: number;
  /** Local goods inserted or changed (each fires the usual goods-change push). */
  goodsChanged: number;
  /** Local goods made inactive because Odoo no longer lists them (full pass only). */
  goodsDeactivated: number;
  /** Goods whose stock in the served warehouse changed. */
  stockChanged: number;
  categoriesChanged: number;
}

/** Progress of a full pass, for a progress line. */
export interface PullProgress {
  done: number;
  total: number;
}

/** What the puller needs. */
export interface CataloguePullerDeps {
  db: Database;
  odoo: OdooClient;
  site: OdooSite;
  settings: OdooSettings;
  log: Logger;
  /** The appliance's clock (to date the last full pass, and price with a pricelist). */
  clock: Clock;
  /** The store's pricelist (`odooPricelist`), when its prices come from one. */
  pricelist?: OdooPricelist;
}

interface ProductRecord {
  id: number;
  display_name: string | false;
  name: string | false;
  default_code: string | false;
  barcode: string | false;
  lst_price: number;
  standard_price: number;
  description_sale: string | false;
  categ_id: [number, string] | false;
  product_tmpl_id: [number, string] | false;
  uom_id: [number, string] | false;
  to_weight?: boolean;
  sale_ok?: boolean;
  active: boolean;
  qty_available: number;
  write_date: string;
  [field: string]: unknown;
}

/** Pulls the catalogue; one instance per connector. */
export class CataloguePuller {
  readonly #deps: CataloguePullerDeps;

  /** @param deps store, client, site, settings, logger */
  constructor(deps: CataloguePullerDeps) {
    this.#deps = deps;
  }

  #productFields(): string[] {
    const { site, settings } = this.#deps;
    const fields = [
      "id",
      "display_name",
      "name",
      "default_code",
      "barcode",
      "lst_price",
      "standard_price",
      "description_sale",
      "categ_id",
      "product_tmpl_id",
      "uom_id",
      "active",
      "qty_available",
      "write_date",
    ];
    // to_weight comes with Point of Sale, sale_ok with Sales: ask only for what exists.
    for (const optional of ["to_weight", "sale_ok", settings.originField, settings.featuresField]) {
      if (optional && site.productFields.has(optional) && !fields.includes(optional)) {
        fields.push(optional);
      }
    }
    return fields;
  }

  #toGoods(p: ProductRecord): GoodsRow {
    const { settings } = this.#deps;
    const row: GoodsRow = {
      id: p.id,
      barcode: odooText(p.barcode).trim() || null,
      name: goodsName(p.display_name, p.name, p.default_code) || `#${p.id}`,
      price: clampMoney(odooDecimal(p.lst_price, 2)),
      cost: clampMoney(odooDecimal(p.standard_price, 2)),
      description: odooText(p.description_sale),
      categoryId: odooId(p.categ_id),
      unit: odooText(p.uom_id) || "Units",
      weighed: p.to_weight === true,
      // Not for sale in Odoo: devices must not sell it either.
      active: p.active !== false && p.sale_ok !== false,
      writeDate: odooText(p.write_date),
    };
    if (settings.originField) row.origin = odooText(p[settings.originField]);
    if (settings.featuresField) row.features = odooText(p[settings.featuresField]);
    return row;
  }

  /**
   * Stores one batch of products: the categories they need (and those categories' parents),
   * goods (priced by the pricelist when there is one, its dated spans scheduled), stock.
   */
  async #store(products: ProductRecord[], stats: PullStats): Promise<void> {
    const { db, site, pricelist } = this.#deps;
    const rows = products.map((p) => this.#toGoods(p));
    const known = await this.#categories(
      rows.flatMap((r) => (r.categoryId === null ? [] : [r.categoryId])),
      stats,
    );
    // A category deleted in Odoo between the two reads: the goods goes without one.
    for (const r of rows) {
      if (r.categoryId !== null && !known.has(r.categoryId)) r.categoryId = null;
    }
    const inputs: PriceInput[] = products.map((p, i) => ({
      goodsId: p.id,
      templateId: odooId(p.product_tmpl_id) ?? 0,
      categoryId: rows[i].categoryId,
      listPrice: odooDecimal(p.lst_price, 12),
      cost: odooDecimal(p.standard_price, 12),
    }));
    const now = new Date(this.#deps.clock.now());
    // The id comparison at a start may store products before any poll read the rules.
    if (pricelist && !pricelist.loaded) await pricelist.load();
    const priced = pricelist?.price(inputs, await categoryParents(db), now.getTime());
    if (priced) { for (const r of rows) r.price = priced.regular.get(r.id)!; }
    await db.transaction(async (tx) => {
      stats.goodsChanged += (await upsertGoods(tx, rows)).length;
      stats.stockChanged += (await setStock(
        tx,
        site.warehouse.id,
        products.map((p) => ({ goodsId: p.id, quantity: odooDecimal(p.qty_available, 3) })),
      )).length;
      if (priced) {
        await upsertPriceInputs(tx, inputs);
        await replacePricelistSchedules(tx, rows.map((r) => r.id), priced.periods, now);
      }
    });
  }

  /**
   * Makes sure the store has categories `ids` and their parents (a category rule of a pricelist
   * applies to the children of its category); returns the ids Odoo still has.
   */
  async #categories(ids: number[], stats: PullStats): Promise<Set<number>> {
    const { db, odoo } = this.#deps;
    const present = new Set(ids);
    let missing = await missingCategories(db, ids);
    const read: CategoryRecord[] = [];
    while (missing.length > 0) {
      const cats = await odoo.executeKw<CategoryRecord[]>("product.category", "read", [missing], {
        fields: ["id", "name", "complete_name", "parent_id"],
      });
      for (const id of missing) if (!cats.some((c) => c.id === id)) present.delete(id);
      read.push(...cats);
      const parents = cats.flatMap((c) => odooId(c.parent_id) ?? [])
        .filter((id) => !read.some((c) => c.id === id));
      missing = await missingCategories(db, parents);
    }
    // All at once: a child is linked to its parent only once both rows exist.
    if (read.length > 0) {
      stats.categoriesChanged += await upsertCategories(db, read.map(toCategory));
    }
    return present;
  }

  /** Reads products by id, in pages, and stores them (the id comparison's missing ones). */
  async storeByIds(ids: number[], stats: PullStats): Promise<void> {
    const { odoo, site, settings } = this.#deps;
    const context = { ...site.stockContext, active_test: false };
    for (let i = 0; i < ids.length; i += settings.pageSize) {
      const batch = await odoo.executeKw<ProductRecord[]>("product.product", "read", [
        ids.slice(i, i + settings.pageSize),
      ], { fields: this.#productFields(), context });
      await this.#store(batch, stats);
      stats.products += batch.length;
    }
  }

  /** Categories and warehouses (small: read whole). */
  async pullStructure(stats: PullStats): Promise<void> {
    const { db, odoo } = this.#deps;
    // Every warehouse is kept (ids stay Odoo's); another company's is marked refused.
    const cats = await odoo.executeKw<CategoryRecord[]>("product.category", "search_read", [[]], {
      fields: ["id", "name", "complete_name", "parent_id"],
      order: "id",
    });
    stats.categoriesChanged += await upsertCategories(db, cats.map(toCategory));
    const warehouses = await odoo.executeKw<
      { id: number; code: string; name: string; company_id: Many2one }[]
    >("stock.warehouse", "search_read", [[]], {
      fields: ["id", "code", "name", "company_id"],
      order: "id",
    });
    await upsertWarehouses(
      db,
      warehouses.map((w) => ({ ...w, receiptsRefused: receiptRefusal(this.#deps.site, w) })),
    );
  }

  /** The start of the next incremental window: Odoo's clock now, minus the transaction bound. */
  #windowStart(fallback: string | undefined): string {
    const server = this.#deps.odoo.serverTimeMs;
    const lag = this.#deps.settings.transactionBoundMs + CURSOR_SLACK_S * 1000;
    if (server !== undefined) return odooDatetime(server - lag);
    return fallback ?? "1970-01-01 00:00:00";
  }

  /**
   * Full pass. `onProgress` is called after each page (for the CLI's progress line); a log line
   * is written every 10 pages and at the end.
   */
  async fullPull(onProgress?: (p: PullProgress) => void): Promise<PullStats> {
    const { db, odoo, site, settings, log, pricelist } = this.#deps;
    const stats = emptyStats("full");
    const started = Date.now();
    await this.pullStructure(stats);
    await pricelist?.load();
    const windowStart = this.#windowStart(undefined);
    const context = { ...site.stockContext, active_test: false };
    const total = await odoo.executeKw<number>("product.product", "search_count", [[]], {
      context,
    });
    const seen: number[] = [];
    let lastId = 0;
    let page = 0;
    log.info("odoo full pull started", { total, pageSize: settings.pageSize });
    for (;;) {
      const products = await odoo.executeKw<ProductRecord[]>(
        "product.product",
        "search_read",
        [[["id", ">", lastId]]],
        { fields: this.#productFields(), order: "id", limit: settings.pageSize, context },
      );
      if (products.length === 0) break;
      await this.#store(products, stats);
      for (const p of products) seen.push(p.id);
      lastId = products[products.length - 1].id;
      stats.products += products.length;
      page++;
      onProgress?.({ done: stats.products, total: Math.max(total, stats.products) });
      if (page % 10 === 0) {
        log.info("odoo full pull progress", {
          done: stats.products,
          total,
          percent: total ? Math.floor((stats.products * 100) / total) : 100,
        });
      }
      if (products.length < settings.pageSize) break;
    }
    if (seen.length === 0) {
      // A user without read rights, or the wrong company, sees no products at all: wiping the
      // store's whole catalogue on that would stop every till. Say so instead.
      log.error("odoo lists no products: local goods left as they are (check the user's rights)");
    } else {
      stats.goodsDeactivated = (await deactivateGoodsExcept(db, seen)).length;
    }
    await setCursor(db, CURSORS.window, windowStart);
    if (!pricelist) await forgetPricelist(db);
    await setCursor(db, CURSORS.pricelist, String(pricelist?.ref.id ?? ""));
    await setCursor(db, CURSORS.fullPass, new Date(this.#deps.clock.now()).toISOString());
    log.info("odoo full pull done", { ...stats, ms: Date.now() - started });
    return stats;
  }

  /**
   * Whether only a full pass will do: none ever completed, or the goods were priced by another
   * pricelist (or none) than the one configured now.
   */
  async needsFullPull(): Promise<boolean> {
    const { db, pricelist } = this.#deps;
    if ((await getCursor(db, CURSORS.window)) === undefined) return true;
    return ((await getCursor(db, CURSORS.pricelist)) ?? "") !== String(pricelist?.ref.id ?? "");
  }

  /** Whether a full pass is due (never done, or older than `odooFullPassS`). */
  async fullPassDue(): Promise<boolean> {
    const last = await getCursor(this.#deps.db, CURSORS.fullPass);
    if (last === undefined) return true;
    return this.#deps.clock.now() - Date.parse(last) >= this.#deps.settings.fullPassMs;
  }

  /**
   * Incremental pull of what changed in the window. On Odoo 17 and later this is one request
   * when nothing changed (see {@link changedProductsDomain}); on 16, which has no `any`, stock is
   * asked apart (three requests).
   */
  async incrementalPull(): Promise<PullStats> {
    const { db, site, log, pricelist } = this.#deps;
    const stats = emptyStats("incremental");
    const since = await getCursor(db, CURSORS.window);
    if (since === undefined) return await this.fullPull();
    const context = { ...site.stockContext, active_test: false };
    const done = new Set<number>();
    // The rules first, so that products read below are priced by the current ones; with the
    // add-on their summary comes with the first page instead (one request: see below).
    const addon = site.syncAddon && pricelist?.loaded;
    let rulesChanged = pricelist && !addon &&
      (!pricelist.loaded || await pricelist.changedSince(since)) && await pricelist.load();
    let rules: RulesSummary | undefined;
    const firstPage = site.syncAddon
      ? async (domain: unknown[]) => {
        const answer = await this.#deps.odoo.executeKw<
          { products: ProductRecord[]; rules?: RulesSummary }
        >(
          "newretail.sync",
          "poll",
          [domain, this.#productFields(), this.#deps.settings.pageSize, addon && pricelist.closure],
          { context },
        );
        rules = answer.rules;
        return answer.products;
      }
      : undefined;

    // The first answer's Date starts the next window.
    let windowStart: string | undefined;
    await this.#pages(changedProductsDomain(site, since), context, async (batch) => {
      windowStart ??= this.#windowStart(since);
      await this.#store(batch, stats);
      for (const p of batch) done.add(p.id);
      stats.products += batch.length;
    }, firstPage);
    windowStart ??= this.#windowStart(since);
    if (site.major < 17) await this.#pullStock16(since, done, stats);
    // With the add-on, products of this poll were priced before the rules' summary was known:
    // the repricing below covers them too.
    if (addon && rules && pricelist.rulesMoved(rules, since)) rulesChanged = await pricelist.load();
    if (rulesChanged && pricelist) {
      stats.goodsChanged += await repriceAll(db, pricelist, new Date(this.#deps.clock.now()));
    }

    await setCursor(db, CURSORS.window, windowStart);
    if (stats.goodsChanged || stats.stockChanged) log.info("odoo changes pulled", { ...stats });
    return stats;
  }

  /** Odoo 16: stock (quants and done moves of the warehouse) asked apart, then on-hand read. */
  async #pullStock16(since: string, done: Set<number>, stats: PullStats): Promise<void> {
    const { db, odoo, site, settings } = this.#deps;
    const root = site.warehouse.viewLocationId;
    const quants = await odoo.executeKw<{ product_id: [number, string] | false }[]>(
      "stock.quant",
      "search_read",
      [[["write_date", ">", since], ["location_id", "child_of", root]]],
      { fields: ["product_id"] },
    );
    const moves = await odoo.executeKw<{ product_id: [number, string] | false }[]>(
      "stock.move",
      "search_read",
      [[
        ["write_date", ">", since],
        ["state", "=", "done"],
        "|",
        ["location_id", "child_of", root],
        ["location_dest_id", "child_of", root],
      ]],
      { fields: ["product_id"] },
    );
    const stockIds = [
      ...new Set([...quants, ...moves].flatMap((q) => odooId(q.product_id) ?? [])),
    ].filter((id) => !done.has(id));
    const context = { ...site.stockContext, active_test: false };
    for (let i = 0; i < stockIds.length; i += settings.pageSize) {
      const rows = await odoo.executeKw<{ id: number; qty_available: number }[]>(
        "product.product",
        "read",
        [stockIds.slice(i, i + settings.pageSize)],
        { fields: ["id", "qty_available"], context },
      );
      stats.stockChanged += (await setStock(
        db,
        site.warehouse.id,
        rows.map((r) => ({ goodsId: r.id, quantity: odooDecimal(r.qty_available, 3) })),
      )).length;
    }
  }

  /** Reads `domain`'s products in pages by id; `firstPage` may read the first one instead. */
  async #pages(
    domain: unknown[],
    context: Record<string, unknown>,
    onBatch: (batch: ProductRecord[]) => Promise<void>,
    firstPage?: (domain: unknown[]) => Promise<ProductRecord[]>,
  ): Promise<void> {
    const { odoo, settings } = this.#deps;
    let lastId = 0;
    for (;;) {
      const paged = [...domain, ["id", ">", lastId]];
      const batch = lastId === 0 && firstPage ? await firstPage(paged) : await odoo.executeKw<
        ProductRecord[]
      >(
        "product.product",
        "search_read",
        [paged],
        { fields: this.#productFields(), order: "id", limit: settings.pageSize, context },
      );
      if (batch.length === 0) return;
      await onBatch(batch);
      lastId = batch[batch.length - 1].id;
      if (batch.length < settings.pageSize) return;
    }
  }
}

/**
 * The products whose device-visible data may have changed since `since` (Odoo time), as one
 * product.product domain: the product itself; its template (in 16 a template write does not
 * move its variants' write_date); the attribute values it is made of (a `price_extra` moves
 * neither); the quants of the served warehouse and its done moves (stock never moves a
 * product's write_date; a quant emptied and deleted by Odoo's clean-up leaves only its move).
 * Odoo 17 and 18 answer it with `any` subqueries in one statement: an idle poll is one request.
 * Odoo 16 has no `any`: there the template and attribute values are x2many/many2one paths (each
 * one leaf, so exact) and stock is asked apart.
 *
 * @example
 * ```ts
 * changedProductsDomain(site, "2026-12-01 10:00:00"); // ["|", "|", "|", "|", ["write_date", ">", …], …]
 * ```
 */
export function changedProductsDomain(
  site: Pick<OdooSite, "major" | "warehouse">,
  since: string,
): unknown[] {
  const after = ["write_date", ">", since];
  if (site.major < 17) {
    return [
      "|",
      "|",
      after,
      ["product_tmpl_id.write_date", ">", since],
      ["product_template_attribute_value_ids.write_date", ">", since],
    ];
  }
  const inWarehouse = (field: string) => [`${field}.warehouse_id`, "=", site.warehouse.id];
  return [
    "|",
    "|",
    "|",
    "|",
    after,
    ["product_tmpl_id", "any", [after]],
    ["product_template_attribute_value_ids", "any", [after]],
    ["stock_quant_ids", "any", [after, inWarehouse("location_id")]],
    ["stock_move_ids", "any", [
      after,
      ["state", "=", "done"],
      "|",
      inWarehouse("location_id"),
      inWarehouse("location_dest_id"),
    ]],
  ];
}

// Local prices are never negative (a check constraint); Odoo allows it for discounts lines.
function clampMoney(text: string): string {
  return text.startsWith("-") ? "0.00" : text;
}

/** Stats of a pull that did nothing yet. */
export function emptyStats(kind: PullStats["kind"]): PullStats {
  return {
    kind,
    products: 0,
    goodsChanged: 0,
    goodsDeactivated: 0,
    stockChanged: 0,
    categoriesChanged: 0,
  };
}
