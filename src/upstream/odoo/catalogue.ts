/**
 * The catalogue pull: products, categories, warehouses and stock from Odoo into the local store.
 *
 * - **Full pass** (first run, or asked; `reconcile.ts` does the cheap id comparison at every
 *   start and every `odooFullPassS`): every product.product (archived too)
 *   in pages of `odooPageSize` by id (keyset, so a product created meanwhile neither shifts nor
 *   repeats a page), with `qty_available` for the served warehouse; then every local goods Odoo
 *   did not list becomes inactive (deleted in Odoo).
 * - **Incremental** (every `odooPollS`): `write_date > cursor` on product.product, on
 *   product.template (in 16 a template write does not move its variants' write_date; 17 does,
 *   see 04-price-change-write-date.json), on product.template.attribute.value (a variant's
 *   `price_extra` moves neither the variant's nor the template's write_date) and, for stock
 *   (which never moves a product's write_date), on stock.quant and done stock.move in the
 *   warehouse.
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
  deactivateGoodsExcept,
  getCursor,
  type GoodsRow,
  missingCategories,
  setCursor,
  setStock,
  upsertCategories,
  upsertGoods,
  upsertWarehouses,
} from "./local_store.ts";

/** Cursor names in odoo_sync_cursors. */
export const CURSORS = {
  products: "product.product",
  templates: "product.template",
  stock: "stock",
  /** When the last full pass ended (ISO time, appliance clock). */
  fullPass: "full-pass",
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
  /** The appliance's clock (only to date the last full pass). */
  now?: () => number;
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
  readonly #now: () => number;

  /** @param deps store, client, site, settings, logger */
  constructor(deps: CataloguePullerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
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

  /** Stores one batch of products: categories they need, goods, stock. */
  async #store(products: ProductRecord[], stats: PullStats): Promise<void> {
    const { db, odoo, site } = this.#deps;
    const rows = products.map((p) => this.#toGoods(p));
    const missing = await missingCategories(
      db,
      rows.flatMap((r) => (r.categoryId === null ? [] : [r.categoryId])),
    );
    if (missing.length > 0) {
      const cats = await odoo.executeKw<CategoryRecord[]>("product.category", "read", [missing], {
        fields: ["id", "name", "complete_name", "parent_id"],
      });
      stats.categoriesChanged += await upsertCategories(db, cats.map(toCategory));
      // A category deleted in Odoo between the two reads: the goods goes without one.
      const known = new Set(cats.map((c) => c.id));
      for (const r of rows) {
        if (r.categoryId !== null && missing.includes(r.categoryId) && !known.has(r.categoryId)) {
          r.categoryId = null;
        }
      }
    }
    await db.transaction(async (tx) => {
      stats.goodsChanged += (await upsertGoods(tx, rows)).length;
      stats.stockChanged += (await setStock(
        tx,
        site.warehouse.id,
        products.map((p) => ({ goodsId: p.id, quantity: odooDecimal(p.qty_available, 3) })),
      )).length;
    });
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
    const { db, odoo, site, settings, log } = this.#deps;
    const stats = emptyStats("full");
    const started = Date.now();
    await this.pullStructure(stats);
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
    for (const name of [CURSORS.products, CURSORS.templates, CURSORS.stock]) {
      await setCursor(db, name, windowStart);
    }
    await setCursor(db, CURSORS.fullPass, new Date(this.#now()).toISOString());
    log.info("odoo full pull done", { ...stats, ms: Date.now() - started });
    return stats;
  }

  /** Whether a full pass has ever completed (the cursors exist). */
  async everPulled(): Promise<boolean> {
    return (await getCursor(this.#deps.db, CURSORS.products)) !== undefined;
  }

  /** Whether a full pass is due (never done, or older than `odooFullPassS`). */
  async fullPassDue(): Promise<boolean> {
    const last = await getCursor(this.#deps.db, CURSORS.fullPass);
    if (last === undefined) return true;
    return this.#now() - Date.parse(last) >= this.#deps.settings.fullPassMs;
  }

  /** Incremental pull of what changed since the cursors. */
  async incrementalPull(): Promise<PullStats> {
    const { db, odoo, site, log } = this.#deps;
    const stats = emptyStats("incremental");
    const cursorProducts = await getCursor(db, CURSORS.products);
    const cursorTemplates = await getCursor(db, CURSORS.templates) ?? cursorProducts;
    const cursorStock = await getCursor(db, CURSORS.stock) ?? cursorProducts;
    if (cursorProducts === undefined) return await this.fullPull();
    const context = { ...site.stockContext, active_test: false };
    const done = new Set<number>();

    // 1. Products written since the cursor; the first answer's Date starts the next window.
    let windowStart: string | undefined;
    await this.#pages([["write_date", ">", cursorProducts]], context, async (batch) => {
      windowStart ??= this.#windowStart(cursorProducts);
      await this.#store(batch, stats);
      for (const p of batch) done.add(p.id);
      stats.products += batch.length;
    });
    windowStart ??= this.#windowStart(cursorProducts);

    // 2. Templates, and attribute values (variant extra prices), written since the cursor:
    // re-read their variants.
    const templates = await odoo.executeKw<{ id: number }[]>(
      "product.template",
      "search_read",
      [[["write_date", ">", cursorTemplates]]],
      { fields: ["id"], order: "id", context: { active_test: false } },
    );
    const templateIds = new Set(templates.map((t) => t.id));
    const values = await odoo.executeKw<{ product_tmpl_id: [number, string] | false }[]>(
      "product.template.attribute.value",
      "search_read",
      [[["write_date", ">", cursorTemplates]]],
      { fields: ["product_tmpl_id"], context: { active_test: false } },
    );
    for (const v of values) {
      const id = odooId(v.product_tmpl_id);
      if (id !== null) templateIds.add(id);
    }
    if (templateIds.size > 0) {
      await this.#pages(
        [["product_tmpl_id", "in", [...templateIds].sort((a, b) => a - b)]],
        context,
        async (batch) => {
          const fresh = batch.filter((p) => !done.has(p.id));
          await this.#store(fresh, stats);
          for (const p of fresh) done.add(p.id);
          stats.products += fresh.length;
        },
      );
    }

    // 3. Stock: quants and done moves of the warehouse written since the cursor.
    const root = site.warehouse.viewLocationId;
    const quants = await odoo.executeKw<{ product_id: [number, string] | false }[]>(
      "stock.quant",
      "search_read",
      [[["write_date", ">", cursorStock], ["location_id", "child_of", root]]],
      { fields: ["product_id"] },
    );
    const moves = await odoo.executeKw<{ product_id: [number, string] | false }[]>(
      "stock.move",
      "search_read",
      [[
        ["write_date", ">", cursorStock],
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
    for (let i = 0; i < stockIds.length; i += this.#deps.settings.pageSize) {
      const slice = stockIds.slice(i, i + this.#deps.settings.pageSize);
      const rows = await odoo.executeKw<{ id: number; qty_available: number }[]>(
        "product.product",
        "read",
        [slice],
        { fields: ["id", "qty_available"], context },
      );
      stats.stockChanged += (await setStock(
        db,
        site.warehouse.id,
        rows.map((r) => ({ goodsId: r.id, quantity: odooDecimal(r.qty_available, 3) })),
      )).length;
    }

    for (const name of [CURSORS.products, CURSORS.templates, CURSORS.stock]) {
      await setCursor(db, name, windowStart);
    }
    if (stats.goodsChanged || stats.stockChanged) log.info("odoo changes pulled", { ...stats });
    return stats;
  }

  async #pages(
    domain: unknown[],
    context: Record<string, unknown>,
    onBatch: (batch: ProductRecord[]) => Promise<void>,
  ): Promise<void> {
    const { odoo, settings } = this.#deps;
    let lastId = 0;
    for (;;) {
      const batch = await odoo.executeKw<ProductRecord[]>(
        "product.product",
        "search_read",
        [[...domain, ["id", ">", lastId]]],
        { fields: this.#productFields(), order: "id", limit: settings.pageSize, context },
      );
      if (batch.length === 0) return;
      await onBatch(batch);
      lastId = batch[batch.length - 1].id;
      if (batch.length < settings.pageSize) return;
    }
  }
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
