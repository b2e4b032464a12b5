/**
 * A real local HTTP server that answers `/jsonrpc` like Odoo 16, 17 or 18, for tests of the Odoo
 * connector. It is seeded from the real recorded Odoo 17 exchanges in `tests/fixtures/odoo17/`
 * (products, categories, warehouses, quants, partner) and keeps state: products and templates,
 * quants, sale orders, pickings and moves, wizards. What it answers follows the recordings: the
 * envelope, HTTP 200 for errors, error objects with `data.name`/`data.message`, many2one as
 * `[id, "name"]`, `false` for empty values, floats not rounded, datetimes as whole-second UTC
 * strings while the stored value keeps microseconds (so `write_date > last seen` repeats).
 *
 * Where versions differ (noted at each place):
 * - 16: `stock.move.quantity_done` (no `quantity`/`picked`); validating with nothing done returns
 *   the `stock.immediate.transfer` wizard; a template write does not move its variants'
 *   `write_date`.
 * - 17: `stock.move.quantity` + `picked` (`quantity_done` is an invalid field); a template write
 *   moves its variants' `write_date` (04-price-change-write-date.json).
 * - 18: as 17, but on-hand quantities per warehouse read the context key `warehouse_id`.
 *
 * @module
 */
import versionLogin from "../fixtures/odoo17/01-version-login.json" with { type: "json" };
import productReads from "../fixtures/odoo17/02-product-search-read.json" with { type: "json" };
import catalogue from "../fixtures/odoo17/03-catalog-stock-barcode.json" with { type: "json" };

/** A record as stored: field name → value (many2one as an id or false). */
type Rec = Record<string, unknown> & { id: number };

interface Exchange {
  request: { params: { service: string; method: string; args: unknown[] } };
  response: { result?: unknown; error?: unknown };
}

type FieldType =
  | "integer"
  | "char"
  | "text"
  | "float"
  | "boolean"
  | "datetime"
  | "selection"
  | "many2one"
  | "one2many"
  | "many2many";

interface FieldDef {
  type: FieldType;
  relation?: string;
  /** Computed when read; never stored. */
  compute?: (rec: Rec, ctx: Record<string, unknown>) => unknown;
}

type Domain = unknown[];

/** An error object exactly as Odoo sends it. */
class OdooFault extends Error {
  constructor(readonly odooName: string, message: string) {
    super(message);
  }
}

/** A fault injected by a test for the next matching call. */
export interface Fault {
  /** Matches `model.method` (e.g. `sale.order.create`) or `common.login`. */
  match: string;
  /**
   * `lose-response`: do the call, then answer HTTP 502 (Odoo did it; the caller never learns).
   * `http-502`: answer 502 without doing it. `error`: answer an Odoo error object.
   */
  action: "lose-response" | "http-502" | "error";
  /** For `error`: the Odoo exception class and message. */
  name?: string;
  message?: string;
  /** How many calls it affects (default 1). */
  times?: number;
}

/** One `execute_kw` (or `common.*`) call the stand-in received. */
export interface RecordedCall {
  service: string;
  method: string;
  model?: string;
  modelMethod?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
}

/** Options of {@link startOdooStandin}. */
export interface OdooStandinOptions {
  version?: 16 | 17 | 18;
  db?: string;
  login?: string;
  password?: string;
  /** Custom fields on product.product (e.g. `{ x_origin: "char" }`), empty on seeded products. */
  customProductFields?: Record<string, "char">;
}

const FIXTURE_FIELDS = [
  "id",
  "display_name",
  "name",
  "barcode",
  "default_code",
  "lst_price",
  "list_price",
  "standard_price",
  "description_sale",
  "categ_id",
  "uom_id",
  "to_weight",
  "available_in_pos",
  "active",
  "qty_available",
  "write_date",
  "product_tmpl_id",
];

/** The next double above `x`: Odoo 17 read variant prices as 5.1000000000000005 for 5.1. */
function nextUp(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0);
}

function m2oId(value: unknown): number | false {
  if (Array.isArray(value)) return value[0] as number;
  return typeof value === "number" ? value : false;
}

/** The stand-in's state and rules: a tiny Odoo ORM over in-memory tables. */
class OdooState {
  readonly version: 16 | 17 | 18;
  readonly tables = new Map<string, Map<number, Rec>>();
  readonly fields = new Map<string, Record<string, FieldDef>>();
  #nextId = new Map<string, number>();
  #lastMicros = 0;
  #sequences = new Map<string, number>();

  constructor(version: 16 | 17 | 18, customProductFields: Record<string, "char">) {
    this.version = version;
    this.#defineModels(customProductFields);
    this.#seed();
  }

  /** Now with microseconds, strictly increasing ("YYYY-MM-DD HH:MM:SS.ffffff"). */
  now(): string {
    const micros = Math.max(Date.now() * 1000, this.#lastMicros + 1);
    this.#lastMicros = micros;
    const iso = new Date(Math.floor(micros / 1000)).toISOString();
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${
      String(micros % 1_000_000).padStart(6, "0")
    }`;
  }

  table(model: string): Map<number, Rec> {
    const t = this.tables.get(model);
    if (!t) throw new OdooFault("odoo.exceptions.UserError", `Object ${model} doesn't exist`);
    return t;
  }

  insert(model: string, values: Record<string, unknown>): Rec {
    const table = this.table(model);
    const id = (values.id as number | undefined) ?? (this.#nextId.get(model) ?? 1);
    const rec = { ...values, id } as Rec;
    table.set(id, rec);
    this.#nextId.set(model, Math.max(this.#nextId.get(model) ?? 1, id + 1));
    return rec;
  }

  #define(model: string, fields: Record<string, FieldDef>) {
    this.tables.set(model, new Map());
    this.fields.set(model, {
      id: { type: "integer" },
      display_name: { type: "char", compute: (r) => this.displayName(model, r) },
      write_date: { type: "datetime" },
      create_date: { type: "datetime" },
      ...fields,
    });
  }

  #defineModels(custom: Record<string, "char">) {
    const m2o = (relation: string): FieldDef => ({ type: "many2one", relation });
    const tmpl = (field: string): FieldDef => ({
      type: this.fields.get("product.template")![field].type,
      relation: this.fields.get("product.template")![field].relation,
      compute: (r) => this.get("product.template", r.product_tmpl_id as number)?.[field] ?? false,
    });
    this.#define("uom.uom", { name: { type: "char" } });
    this.#define("product.category", {
      name: { type: "char" },
      complete_name: { type: "char" },
      parent_id: m2o("product.category"),
    });
    this.#define("product.template", {
      name: { type: "char" },
      list_price: { type: "float" },
      categ_id: m2o("product.category"),
      uom_id: m2o("uom.uom"),
      description_sale: { type: "text" },
      to_weight: { type: "boolean" },
      available_in_pos: { type: "boolean" },
      sale_ok: { type: "boolean" },
      active: { type: "boolean" },
      product_variant_ids: {
        type: "one2many",
        relation: "product.product",
        compute: (r) =>
          [...this.table("product.product").values()].filter((p) => p.product_tmpl_id === r.id)
            .map((p) => p.id),
      },
    });
    this.#define("product.product", {
      product_tmpl_id: m2o("product.template"),
      name: tmpl("name"),
      list_price: { type: "float", compute: (r) => r.lst_price },
      lst_price: { type: "float" },
      categ_id: tmpl("categ_id"),
      uom_id: tmpl("uom_id"),
      description_sale: tmpl("description_sale"),
      to_weight: tmpl("to_weight"),
      available_in_pos: tmpl("available_in_pos"),
      sale_ok: tmpl("sale_ok"),
      barcode: { type: "char" },
      default_code: { type: "char" },
      standard_price: { type: "float" },
      active: { type: "boolean" },
      qty_available: { type: "float", compute: (r, ctx) => this.onHand(r.id, ctx) },
      ...Object.fromEntries(Object.keys(custom).map((f) => [f, { type: "char" as const }])),
    });
    this.#define("stock.location", {
      name: { type: "char" },
      complete_name: { type: "char" },
      usage: { type: "selection" },
      location_id: m2o("stock.location"),
    });
    this.#define("stock.warehouse", {
      name: { type: "char" },
      code: { type: "char" },
      lot_stock_id: m2o("stock.location"),
      view_location_id: m2o("stock.location"),
      in_type_id: m2o("stock.picking.type"),
      out_type_id: m2o("stock.picking.type"),
    });
    this.#define("stock.picking.type", {
      name: { type: "char" },
      code: { type: "selection" },
      default_location_src_id: m2o("stock.location"),
      default_location_dest_id: m2o("stock.location"),
      warehouse_id: m2o("stock.warehouse"),
      sequence_code: { type: "char" },
      create_backorder: { type: "selection" },
    });
    this.#define("stock.quant", {
      product_id: m2o("product.product"),
      location_id: m2o("stock.location"),
      quantity: { type: "float" },
    });
    this.#define("stock.picking", {
      name: { type: "char" },
      state: { type: "selection" },
      origin: { type: "char" },
      picking_type_id: m2o("stock.picking.type"),
      location_id: m2o("stock.location"),
      location_dest_id: m2o("stock.location"),
      partner_id: m2o("res.partner"),
      date_done: { type: "datetime" },
      backorder_id: m2o("stock.picking"),
      sale_id: m2o("sale.order"),
      move_ids: {
        type: "one2many",
        relation: "stock.move",
        compute: (r) =>
          [...this.table("stock.move").values()].filter((m) => m.picking_id === r.id).map((m) =>
            m.id
          ),
      },
      backorder_ids: {
        type: "one2many",
        relation: "stock.picking",
        compute: (r) =>
          [...this.table("stock.picking").values()].filter((p) => p.backorder_id === r.id).map((
            p,
          ) => p.id),
      },
    });
    // Odoo 16 has quantity_done; 17 and 18 have quantity and picked (07-errors.json).
    const moveQuantities: Record<string, FieldDef> = this.version === 16
      ? { quantity_done: { type: "float" }, reserved_availability: { type: "float" } }
      : { quantity: { type: "float" }, picked: { type: "boolean" } };
    this.#define("stock.move", {
      name: { type: "char" },
      picking_id: m2o("stock.picking"),
      product_id: m2o("product.product"),
      product_uom_qty: { type: "float" },
      product_uom: m2o("uom.uom"),
      location_id: m2o("stock.location"),
      location_dest_id: m2o("stock.location"),
      state: { type: "selection" },
      ...moveQuantities,
    });
    this.#define("stock.backorder.confirmation", {
      pick_ids: { type: "many2many", relation: "stock.picking" },
    });
    this.#define("stock.immediate.transfer", {
      pick_ids: { type: "many2many", relation: "stock.picking" },
    });
    this.#define("res.partner", {
      name: { type: "char" },
      comment: { type: "text" },
      customer_rank: { type: "integer" },
      active: { type: "boolean" },
    });
    this.#define("sale.order", {
      name: { type: "char" },
      state: { type: "selection" },
      partner_id: m2o("res.partner"),
      client_order_ref: { type: "char" },
      origin: { type: "char" },
      warehouse_id: m2o("stock.warehouse"),
      date_order: { type: "datetime" },
      amount_total: {
        type: "float",
        compute: (r) =>
          this.#linesOf(r.id).reduce(
            (sum, l) => sum + (l.product_uom_qty as number) * (l.price_unit as number),
            0,
          ),
      },
      order_line: {
        type: "one2many",
        relation: "sale.order.line",
        compute: (r) => this.#linesOf(r.id).map((l) => l.id),
      },
      picking_ids: {
        type: "one2many",
        relation: "stock.picking",
        compute: (r) =>
          [...this.table("stock.picking").values()].filter((p) => p.sale_id === r.id).map((p) =>
            p.id
          ),
      },
    });
    this.#define("sale.order.line", {
      order_id: m2o("sale.order"),
      product_id: m2o("product.product"),
      name: { type: "text" },
      product_uom_qty: { type: "float" },
      price_unit: { type: "float" },
    });
    this.#define("ir.module.module", {
      name: { type: "char" },
      shortdesc: { type: "char" },
      installed_version: { type: "char" },
      state: { type: "selection" },
    });
  }

  #linesOf(orderId: number): Rec[] {
    return [...this.table("sale.order.line").values()].filter((l) => l.order_id === orderId);
  }

  displayName(model: string, r: Rec): string {
    if (model === "product.product") {
      const name = this.get("product.template", r.product_tmpl_id as number)?.name ?? "";
      const base = r.default_code ? `[${r.default_code}] ${name}` : String(name);
      return base + (r.attribute_suffix ?? "");
    }
    if (model === "product.template") {
      return r.default_code ? `[${r.default_code}] ${r.name}` : String(r.name);
    }
    if (model === "stock.picking.type") {
      return `${this.get("stock.warehouse", r.warehouse_id as number)?.name}: ${r.name}`;
    }
    if (model === "stock.location" || model === "product.category") {
      return String(r.complete_name ?? r.name);
    }
    return String(r.name ?? `${model},${r.id}`);
  }

  get(model: string, id: number): Rec | undefined {
    return this.table(model).get(id);
  }

  #seed() {
    const recorded = [...productReads, ...catalogue] as unknown as Exchange[];
    const results = (model: string, method: string) =>
      recorded.filter((e) =>
        e.request.params.args[3] === model && e.request.params.args[4] === method
      )
        .map((e) => e.response.result as Rec[]);
    for (const uom of [[1, "Units"], [3, "Days"], [4, "Hours"], [12, "kg"]] as const) {
      this.insert("uom.uom", { id: uom[0], name: uom[1] });
    }
    for (const c of results("product.category", "search_read").flat()) {
      this.insert("product.category", { ...c, parent_id: m2oId(c.parent_id) });
    }
    const locations = [
      [4, "Partners/Vendors", "supplier", false],
      [5, "Partners/Customers", "customer", false],
      [7, "WH", "view", false],
      [8, "WH/Stock", "internal", 7],
      [27, "CHIC1", "view", false],
      [28, "CHIC1/Stock", "internal", 27],
    ] as const;
    for (const [id, name, usage, parent] of locations) {
      this.insert("stock.location", {
        id,
        name: name.split("/").pop(),
        complete_name: name,
        usage,
        location_id: parent,
      });
    }
    const types = [
      [1, "Receipts", "incoming", false, 8, 1, "IN"],
      [2, "Delivery Orders", "outgoing", 8, 5, 1, "OUT"],
      [6, "Receipts", "incoming", false, 28, 2, "IN"],
      [7, "Delivery Orders", "outgoing", 28, 5, 2, "OUT"],
    ] as const;
    for (const [id, name, code, src, dest, wh, seq] of types) {
      this.insert("stock.picking.type", {
        id,
        name,
        code,
        default_location_src_id: src,
        default_location_dest_id: dest,
        warehouse_id: wh,
        sequence_code: seq,
        create_backorder: "ask",
      });
    }
    for (const w of results("stock.warehouse", "search_read").flat()) {
      this.insert("stock.warehouse", {
        id: w.id,
        name: w.name,
        code: w.code,
        lot_stock_id: m2oId(w.lot_stock_id),
        view_location_id: m2oId(w.view_location_id),
        in_type_id: m2oId(w.in_type_id),
        out_type_id: w.id === 1 ? 2 : 7,
      });
    }
    // Products: every full record recorded (search_read with the full field list).
    const products = new Map<number, Rec>();
    for (const page of results("product.product", "search_read")) {
      for (const p of page ?? []) {
        if (FIXTURE_FIELDS.every((f) => f in p) && !products.has(p.id)) products.set(p.id, p);
      }
    }
    for (const p of [...products.values()].sort((a, b) => a.id - b.id)) {
      const tmplId = m2oId(p.product_tmpl_id) as number;
      const listPrice = Number((p.list_price as number).toPrecision(15));
      const base = p.default_code ? `[${p.default_code}] ${p.name}` : String(p.name);
      const tmplCode = /^\[([^\]]+)\] /.exec((p.product_tmpl_id as [number, string])[1]);
      if (!this.get("product.template", tmplId)) {
        this.insert("product.template", {
          id: tmplId,
          default_code: tmplCode ? tmplCode[1] : false,
          name: p.name,
          list_price: listPrice,
          categ_id: m2oId(p.categ_id),
          uom_id: m2oId(p.uom_id),
          description_sale: p.description_sale,
          to_weight: p.to_weight,
          available_in_pos: p.available_in_pos,
          sale_ok: true,
          active: true,
          write_date: `${p.write_date}.000000`,
        });
      }
      this.insert("product.product", {
        id: p.id,
        product_tmpl_id: tmplId,
        lst_price: p.lst_price,
        price_extra: Number(((p.lst_price as number) - listPrice).toPrecision(12)),
        // Variant attributes shown in display_name: "(Steel, White)".
        attribute_suffix: String(p.display_name).slice(base.length),
        barcode: p.barcode,
        default_code: p.default_code,
        standard_price: p.standard_price,
        active: p.active,
        write_date: `${p.write_date}.000000`,
      });
    }
    // Quants: the recorded ones, then the rest of each product's recorded on-hand quantity in
    // WH/Stock; product 17 holds 200 in CHIC1/Stock (02-product-search-read.json, offset 10).
    for (const q of results("stock.quant", "search_read").flat()) {
      this.insert("stock.quant", {
        id: q.id,
        product_id: m2oId(q.product_id),
        location_id: m2oId(q.location_id),
        quantity: q.quantity,
        write_date: `${q.write_date}.000000`,
      });
    }
    for (const p of products.values()) {
      const total = p.qty_available as number;
      const held = p.id === 17 ? 200 : 0;
      const inWh = total - held - this.onHand(p.id, { warehouse: 1 });
      if (inWh !== 0) {
        this.insert("stock.quant", {
          product_id: p.id,
          location_id: 8,
          quantity: inWh,
          write_date: "2026-11-29 01:36:53.000000",
        });
      }
      if (held) {
        this.insert("stock.quant", {
          product_id: p.id,
          location_id: 28,
          quantity: held,
          write_date: "2026-11-29 01:36:53.000000",
        });
      }
    }
    // Partner 9 is the customer found in 05-sale-order.json.
    this.insert("res.partner", { id: 1, name: "YourCompany", customer_rank: 0, active: true });
    this.insert("res.partner", { id: 9, name: "Wood Corner", customer_rank: 2, active: true });
    for (const m of (versionLogin as unknown as Exchange[]).at(-1)!.response.result as Rec[]) {
      this.insert("ir.module.module", m);
    }
    // Continue the recorded sequences (S00026, WH/IN/00009 were the last ones made).
    this.#nextId.set("sale.order", 27);
    this.#nextId.set("sale.order.line", 54);
    this.#nextId.set("stock.picking", 33);
    this.#nextId.set("stock.move", 62);
    this.#sequences.set("sale.order", 26);
    this.#sequences.set("1", 9);
  }

  /** On-hand quantity, per the warehouse in the context (key by version) or all internal. */
  onHand(productId: number, ctx: Record<string, unknown>): number {
    // 16 and 17 read `warehouse`; 18 reads `warehouse_id`.
    const warehouse = this.version >= 18 ? ctx.warehouse_id : ctx.warehouse;
    let root: number | undefined;
    if (typeof warehouse === "number") {
      root = this.get("stock.warehouse", warehouse)?.view_location_id as number | undefined;
      if (root === undefined) return 0;
    }
    let sum = 0;
    for (const q of this.table("stock.quant").values()) {
      if (q.product_id !== productId) continue;
      const loc = this.get("stock.location", q.location_id as number)!;
      if (loc.usage !== "internal") continue;
      if (root !== undefined && !this.#isChildOf(loc.id, root)) continue;
      sum += q.quantity as number;
    }
    return sum;
  }

  #isChildOf(locationId: number, root: number): boolean {
    for (let id: number | false = locationId; id;) {
      if (id === root) return true;
      id = (this.get("stock.location", id)?.location_id ?? false) as number | false;
    }
    return false;
  }

  nextName(key: string, format: (n: number) => string): string {
    const n = (this.#sequences.get(key) ?? 0) + 1;
    this.#sequences.set(key, n);
    return format(n);
  }

  // --- reading ---------------------------------------------------------------------------

  fieldDef(model: string, field: string): FieldDef {
    const def = this.fields.get(model)?.[field];
    if (!def) {
      throw new OdooFault("builtins.ValueError", `Invalid field '${field}' on model '${model}'`);
    }
    return def;
  }

  raw(model: string, rec: Rec, field: string, ctx: Record<string, unknown>): unknown {
    const def = this.fieldDef(model, field);
    if (def.compute) return def.compute(rec, ctx);
    return rec[field] ?? (def.type === "boolean" ? false : def.type === "float" ? 0 : false);
  }

  /** A field as Odoo sends it: many2one `[id, name]`, empty `false`, datetimes to the second. */
  format(model: string, rec: Rec, field: string, ctx: Record<string, unknown>): unknown {
    const def = this.fieldDef(model, field);
    const value = this.raw(model, rec, field, ctx);
    switch (def.type) {
      case "many2one": {
        if (!value) return false;
        const target = this.get(def.relation!, value as number);
        return target ? [target.id, this.displayName(def.relation!, target)] : false;
      }
      case "datetime":
        return typeof value === "string" ? value.slice(0, 19) : false;
      case "one2many":
      case "many2many":
        return Array.isArray(value) ? value : [];
      case "char":
      case "text":
      case "selection":
        return value === "" || value === null || value === undefined ? false : value;
      default:
        return value;
    }
  }

  read(model: string, recs: Rec[], fields: string[] | undefined, ctx: Record<string, unknown>) {
    const names = fields && fields.length ? fields : Object.keys(this.fields.get(model)!);
    return recs.map((r) => {
      const out: Record<string, unknown> = { id: r.id };
      for (const f of names) out[f] = this.format(model, r, f, ctx);
      return out;
    });
  }

  #path(model: string, rec: Rec, path: string, ctx: Record<string, unknown>): unknown {
    const [head, ...rest] = path.split(".");
    const value = this.raw(model, rec, head, ctx);
    if (rest.length === 0) return value;
    const def = this.fieldDef(model, head);
    const target = value ? this.get(def.relation!, value as number) : undefined;
    return target ? this.#path(def.relation!, target, rest.join("."), ctx) : false;
  }

  #term(model: string, rec: Rec, term: unknown[], ctx: Record<string, unknown>): boolean {
    const [field, op, value] = term as [string, string, unknown];
    const v = this.#path(model, rec, field, ctx);
    const norm = (x: unknown) => (x === "" || x === null || x === undefined ? false : x);
    switch (op) {
      case "=":
        return norm(v) === norm(value);
      case "!=":
        return norm(v) !== norm(value);
      case ">":
        return v !== false && (v as number | string) > (value as number | string);
      case ">=":
        return v !== false && (v as number | string) >= (value as number | string);
      case "<":
        return v !== false && (v as number | string) < (value as number | string);
      case "<=":
        return v !== false && (v as number | string) <= (value as number | string);
      case "in":
        return (value as unknown[]).some((x) =>
          Array.isArray(v) ? (v as unknown[]).includes(x) : norm(x) === norm(v)
        );
      case "not in":
        return !(value as unknown[]).some((x) => norm(x) === norm(v));
      case "ilike":
        return String(v || "").toLowerCase().includes(String(value).toLowerCase());
      case "child_of": {
        const def = this.fieldDef(model, field.split(".")[0]);
        if (def.relation !== "stock.location") return v === value;
        const roots = Array.isArray(value) ? value : [value];
        return typeof v === "number" && roots.some((r) => this.#isChildOf(v, r as number));
      }
      default:
        throw new OdooFault("builtins.ValueError", `Invalid leaf ${JSON.stringify(term)}`);
    }
  }

  #matches(model: string, rec: Rec, domain: Domain, ctx: Record<string, unknown>): boolean {
    let pos = 0;
    const next = (): boolean => {
      const item = domain[pos++];
      if (item === "&") return next() && next() || false;
      if (item === "|") {
        const a = next();
        const b = next();
        return a || b;
      }
      if (item === "!") return !next();
      return this.#term(model, rec, item as unknown[], ctx);
    };
    let result = true;
    while (pos < domain.length) result = next() && result;
    return result;
  }

  search(model: string, domain: Domain, kwargs: Record<string, unknown>): Rec[] {
    const ctx = (kwargs.context ?? {}) as Record<string, unknown>;
    const hasActive = "active" in this.fields.get(model)!;
    const mentionsActive = JSON.stringify(domain).includes('"active"');
    let recs = [...this.table(model).values()].filter((r) =>
      (!hasActive || mentionsActive || ctx.active_test === false || r.active !== false) &&
      this.#matches(model, r, domain, ctx)
    );
    const order = String(kwargs.order ?? "id").split(",").map((s) => s.trim().split(/\s+/));
    recs.sort((a, b) => {
      for (const [f, dir] of order) {
        const x = this.raw(model, a, f, ctx) as number | string;
        const y = this.raw(model, b, f, ctx) as number | string;
        if (x !== y) return (x < y ? -1 : 1) * (dir?.toLowerCase() === "desc" ? -1 : 1);
      }
      return 0;
    });
    const offset = Number(kwargs.offset ?? 0);
    recs = recs.slice(offset, kwargs.limit ? offset + Number(kwargs.limit) : undefined);
    return recs;
  }

  // --- writing ---------------------------------------------------------------------------

  checkFields(model: string, vals: Record<string, unknown>) {
    for (const f of Object.keys(vals)) {
      const def = this.fieldDef(model, f);
      if (
        def.compute && !(model === "product.product" && f in this.fields.get("product.template")!)
      ) {
        throw new OdooFault("builtins.ValueError", `Invalid field '${f}' on model '${model}'`);
      }
    }
  }

  write(model: string, ids: number[], vals: Record<string, unknown>) {
    this.checkFields(model, vals);
    const now = this.now();
    for (const id of ids) {
      const rec = this.get(model, id);
      if (!rec) {
        throw new OdooFault(
          "odoo.exceptions.MissingError",
          `Record does not exist or has been deleted.\n(Record: ${model}(${id},), User: 2)`,
        );
      }
      if (model === "product.product") {
        // Fields a variant reads from its template are written there (Odoo's _inherits).
        const own = Object.fromEntries(
          Object.entries(vals).filter(([k]) => !this.fieldDef(model, k).compute),
        );
        const shared = Object.fromEntries(
          Object.entries(vals).filter(([k]) => this.fieldDef(model, k).compute),
        );
        Object.assign(rec, own, { write_date: now });
        if (Object.keys(shared).length) {
          this.write("product.template", [rec.product_tmpl_id as number], shared);
        }
        continue;
      }
      Object.assign(rec, vals, { write_date: now });
      if (model === "product.template") {
        for (const p of this.table("product.product").values()) {
          if (p.product_tmpl_id !== id) continue;
          if ("list_price" in vals) {
            p.lst_price = nextUp((vals.list_price as number) + (p.price_extra as number));
          }
          // 17 and 18 recompute a variant's write_date from its template's; 16 does not.
          if (this.version >= 17) p.write_date = now;
        }
      }
    }
  }

  createRecord(model: string, vals: Record<string, unknown>, ctx: Record<string, unknown>): number {
    const now = this.now();
    switch (model) {
      case "sale.order": {
        if (!vals.partner_id || !this.get("res.partner", vals.partner_id as number)) {
          throw new OdooFault("odoo.exceptions.ValidationError", "partner_id is required");
        }
        const { order_line: lines, ...rest } = vals;
        this.checkFields(model, rest);
        for (const [, , line] of (lines ?? []) as [number, number, Rec][]) {
          this.#product(line.product_id as number);
        }
        const order = this.insert(model, {
          ...rest,
          name: this.nextName("sale.order", (n) => `S${String(n).padStart(5, "0")}`),
          state: "draft",
          date_order: now,
          create_date: now,
          write_date: now,
        });
        for (const [, , line] of (lines ?? []) as [number, number, Rec][]) {
          this.createRecord("sale.order.line", { ...line, order_id: order.id }, ctx);
        }
        return order.id;
      }
      case "sale.order.line": {
        this.checkFields(model, vals);
        const product = this.#product(vals.product_id as number);
        return this.insert(model, {
          price_unit: product.lst_price,
          ...vals,
          name: this.displayName("product.product", product),
          write_date: now,
        }).id;
      }
      case "stock.picking": {
        const { move_ids: moves, ...rest } = vals;
        this.checkFields(model, rest);
        const type = this.get("stock.picking.type", rest.picking_type_id as number);
        if (!type) {
          throw new OdooFault("odoo.exceptions.ValidationError", "picking_type_id is required");
        }
        const wh = this.get("stock.warehouse", type.warehouse_id as number)!;
        const picking = this.insert(model, {
          ...rest,
          name: this.nextName(
            String(type.id),
            (n) => `${wh.code}/${type.sequence_code}/${String(n).padStart(5, "0")}`,
          ),
          state: "draft",
          create_date: now,
          write_date: now,
        });
        for (const [, , move] of (moves ?? []) as [number, number, Rec][]) {
          this.checkFields("stock.move", move);
          this.#product(move.product_id as number);
          this.insert("stock.move", {
            ...move,
            picking_id: picking.id,
            state: "draft",
            write_date: now,
          });
        }
        return picking.id;
      }
      case "stock.backorder.confirmation":
      case "stock.immediate.transfer":
        return this.insert(model, {
          pick_ids: (ctx.button_validate_picking_ids ?? []) as number[],
          write_date: now,
        }).id;
      default: {
        this.checkFields(model, vals);
        const rec = this.insert(model, { ...vals, create_date: now, write_date: now });
        if ("active" in this.fields.get(model)! && rec.active === undefined) rec.active = true;
        return rec.id;
      }
    }
  }

  #product(id: number): Rec {
    const p = this.get("product.product", id);
    if (!p) {
      throw new OdooFault(
        "odoo.exceptions.MissingError",
        `Record does not exist or has been deleted.\n(Record: product.product(${id},), User: 2)`,
      );
    }
    return p;
  }

  movesOf(pickingId: number): Rec[] {
    return [...this.table("stock.move").values()].filter((m) => m.picking_id === pickingId);
  }

  confirmPicking(id: number) {
    const picking = this.get("stock.picking", id)!;
    if (picking.state !== "draft") return;
    picking.state = "assigned";
    for (const m of this.movesOf(id)) {
      m.state = "assigned";
      // 17/18: confirming a receipt sets quantity = demand, not picked (06-stock-receipt.json).
      if (this.version === 16) m.reserved_availability = m.product_uom_qty;
      else Object.assign(m, { quantity: m.product_uom_qty, picked: false });
    }
  }

  doneQuantity(m: Rec): number {
    return (this.version === 16 ? m.quantity_done : m.quantity) as number ?? 0;
  }

  validate(ids: number[], ctx: Record<string, unknown>): unknown {
    for (const id of ids) {
      const picking = this.get("stock.picking", id)!;
      if (picking.state === "draft") this.confirmPicking(id);
      const moves = this.movesOf(id);
      if (this.version === 16 && moves.every((m) => !m.quantity_done)) {
        return this.#wizardAction("stock.immediate.transfer", "Immediate Transfer?", id);
      }
      if (this.version >= 17 && moves.every((m) => !m.picked)) {
        for (const m of moves) m.picked = true;
      }
      const short = moves.some((m) => this.doneQuantity(m) < (m.product_uom_qty as number));
      if (short && !ctx.skip_backorder) {
        return this.#wizardAction("stock.backorder.confirmation", "Create Backorder?", id);
      }
      this.#done(id, ctx.cancel_backorder !== true && short);
    }
    return true;
  }

  #wizardAction(model: string, name: string, id: number) {
    return {
      name,
      type: "ir.actions.act_window",
      view_mode: "form",
      res_model: model,
      views: [[843, "form"]],
      view_id: 843,
      target: "new",
      context: {
        button_validate_picking_ids: [id],
        default_show_transfers: false,
        default_pick_ids: [[4, id]],
      },
    };
  }

  #done(id: number, backorder: boolean) {
    const now = this.now();
    const picking = this.get("stock.picking", id)!;
    const rest: Rec[] = [];
    for (const m of this.movesOf(id)) {
      const done = this.doneQuantity(m);
      const left = (m.product_uom_qty as number) - done;
      if (left > 0) rest.push({ ...m, product_uom_qty: left });
      m.product_uom_qty = done;
      m.state = "done";
      m.write_date = now;
      this.#addQuant(m.product_id as number, m.location_dest_id as number, done, now);
      this.#addQuant(m.product_id as number, m.location_id as number, -done, now);
    }
    Object.assign(picking, { state: "done", date_done: now, write_date: now });
    if (backorder && rest.length) {
      const type = this.get("stock.picking.type", picking.picking_type_id as number)!;
      const wh = this.get("stock.warehouse", type.warehouse_id as number)!;
      const bo = this.insert("stock.picking", {
        ...picking,
        id: undefined,
        name: this.nextName(
          String(type.id),
          (n) => `${wh.code}/${type.sequence_code}/${String(n).padStart(5, "0")}`,
        ),
        state: "assigned",
        date_done: false,
        backorder_id: id,
        write_date: now,
      });
      for (const m of rest) {
        this.insert("stock.move", {
          ...m,
          id: undefined,
          picking_id: bo.id,
          state: "assigned",
          ...(this.version === 16
            ? { quantity_done: 0 }
            : { quantity: m.product_uom_qty, picked: false }),
          write_date: now,
        });
      }
    }
  }

  #addQuant(productId: number, locationId: number, qty: number, now: string) {
    const loc = this.get("stock.location", locationId);
    if (!loc || loc.usage !== "internal" || qty === 0) return;
    const quant = [...this.table("stock.quant").values()].find((q) =>
      q.product_id === productId && q.location_id === locationId
    );
    if (quant) {
      Object.assign(quant, { quantity: (quant.quantity as number) + qty, write_date: now });
    } else {this.insert("stock.quant", {
        product_id: productId,
        location_id: locationId,
        quantity: qty,
        write_date: now,
      });}
  }

  confirmOrder(id: number) {
    const order = this.get("sale.order", id)!;
    if (order.state !== "draft" && order.state !== "sent") {
      throw new OdooFault(
        "odoo.exceptions.UserError",
        "Some orders are not in a state requiring confirmation.",
      );
    }
    const now = this.now();
    Object.assign(order, { state: "sale", write_date: now });
    const whId = (order.warehouse_id as number) || 1;
    const wh = this.get("stock.warehouse", whId)!;
    const type = this.get("stock.picking.type", wh.out_type_id as number)!;
    const picking = this.insert("stock.picking", {
      name: this.nextName(String(type.id), (n) => `${wh.code}/OUT/${String(n).padStart(5, "0")}`),
      state: "assigned",
      origin: order.name,
      picking_type_id: type.id,
      location_id: type.default_location_src_id,
      location_dest_id: type.default_location_dest_id,
      sale_id: id,
      write_date: now,
    });
    for (const l of this.#linesOf(id)) {
      this.insert("stock.move", {
        name: l.name,
        picking_id: picking.id,
        product_id: l.product_id,
        product_uom_qty: l.product_uom_qty,
        product_uom: 1,
        location_id: type.default_location_src_id,
        location_dest_id: type.default_location_dest_id,
        state: "assigned",
        ...(this.version === 16
          ? { quantity_done: 0 }
          : { quantity: l.product_uom_qty, picked: false }),
        write_date: now,
      });
    }
  }
}

/** The running stand-in. */
export interface OdooStandin {
  /** Base URL (`http://127.0.0.1:PORT`). */
  readonly url: string;
  readonly db: string;
  readonly login: string;
  readonly password: string;
  readonly version: 16 | 17 | 18;
  /** The state, to arrange and to check what the connector did. */
  readonly state: OdooStateView;
  /** Every call received, in order. */
  readonly calls: RecordedCall[];
  /** Injects a fault for the next matching call(s). */
  fault(f: Fault): void;
  /** `down`: every request is refused at the HTTP level (503 from a proxy). `up`: back. */
  setDown(down: boolean): void;
  /** Stops listening (connections refused), keeping the state; `restart` listens again. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** What tests may do to the stand-in's data, the way an Odoo user would in the web client. */
export interface OdooStateView {
  /** Records of a model, as stored (many2one as ids). */
  all(model: string): Rec[];
  get(model: string, id: number): Rec | undefined;
  /** `write` as an RPC `write` would (moves write_date, cascades by version). */
  write(model: string, ids: number[], vals: Record<string, unknown>): void;
  /** Deletes records (no cascade). */
  unlink(model: string, ids: number[]): void;
  /** Sets a product's on-hand quantity in WH/Stock (an inventory adjustment; quant write_date). */
  setOnHand(productId: number, quantity: number): void;
  /** A new product (template + variant); returns the variant id. */
  createProduct(
    vals: { name: string; list_price: number; barcode?: string; categ_id?: number },
  ): number;
  /** On-hand quantity of a product in a warehouse. */
  onHand(productId: number, warehouseId?: number): number;
}

/**
 * Starts the stand-in on a free loopback port.
 *
 * @example
 * ```ts
 * const odoo = await startOdooStandin({ version: 17 });
 * try { ... } finally { await odoo.close(); }
 * ```
 */
export function startOdooStandin(options: OdooStandinOptions = {}): Promise<OdooStandin> {
  const version = options.version ?? 17;
  const db = options.db ?? "odootest";
  const login = options.login ?? "admin";
  const password = options.password ?? "admin";
  const state = new OdooState(version, options.customProductFields ?? {});
  const calls: RecordedCall[] = [];
  const faults: (Fault & { left: number })[] = [];
  let down = false;

  const versionInfo = version === 17
    ? (versionLogin as unknown as Exchange[])[0].response.result
    : {
      server_version: `${version}.0`,
      server_version_info: [version, 0, 0, "final", 0, ""],
      server_serie: `${version}.0`,
      protocol_version: 1,
    };

  function takeFault(key: string): Fault | undefined {
    const i = faults.findIndex((f) => f.match === key);
    if (i < 0) return undefined;
    const f = faults[i];
    if (--f.left <= 0) faults.splice(i, 1);
    return f;
  }

  function checkDb(name: unknown) {
    if (name !== db) {
      const msg =
        `connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  database "${name}" does not exist\n`;
      throw new OdooFault("psycopg2.OperationalError", msg);
    }
  }

  function executeKw(args: unknown[]): unknown {
    const [dbName, uid, pwd, model, method, posArgs = [], kwargs = {}] = args as [
      string,
      number,
      string,
      string,
      string,
      unknown[],
      Record<string, unknown>,
    ];
    checkDb(dbName);
    if (pwd !== password || uid !== 2) {
      throw new OdooFault("odoo.exceptions.AccessDenied", "Access Denied");
    }
    if (method.startsWith("_")) {
      throw new OdooFault(
        "odoo.exceptions.AccessError",
        `Private methods (such as ${method}) cannot be called remotely.`,
      );
    }
    state.table(model);
    const ctx = (kwargs.context ?? {}) as Record<string, unknown>;
    switch (method) {
      case "search_read": {
        const fields = kwargs.fields as string[] | undefined;
        for (const f of fields ?? []) state.fieldDef(model, f);
        return state.read(
          model,
          state.search(model, (posArgs[0] ?? []) as Domain, kwargs),
          fields,
          ctx,
        );
      }
      case "search":
        return state.search(model, (posArgs[0] ?? []) as Domain, kwargs).map((r) => r.id);
      case "search_count":
        return state.search(model, (posArgs[0] ?? []) as Domain, {
          ...kwargs,
          limit: undefined,
          offset: 0,
        }).length;
      case "read": {
        const fields = (kwargs.fields ?? posArgs[1]) as string[] | undefined;
        for (const f of fields ?? []) state.fieldDef(model, f);
        const recs = (posArgs[0] as number[]).map((id) => state.get(model, id)).filter((
          r,
        ): r is Rec => r !== undefined);
        return state.read(model, recs, fields, ctx);
      }
      case "fields_get": {
        const out: Record<string, unknown> = {};
        for (const [name, def] of Object.entries(state.fields.get(model)!)) {
          out[name] = {
            type: def.type,
            string: name,
            ...(def.relation ? { relation: def.relation } : {}),
          };
        }
        return out;
      }
      case "create": {
        const vals = posArgs[0];
        if (Array.isArray(vals)) return vals.map((v) => state.createRecord(model, v, ctx));
        return state.createRecord(model, vals as Record<string, unknown>, ctx);
      }
      case "write":
        state.write(model, posArgs[0] as number[], posArgs[1] as Record<string, unknown>);
        return true;
      case "unlink":
        for (const id of posArgs[0] as number[]) state.table(model).delete(id);
        return true;
      case "action_confirm":
        for (const id of posArgs[0] as number[]) {
          if (model === "sale.order") state.confirmOrder(id);
          else if (model === "stock.picking") state.confirmPicking(id);
          else break;
        }
        return true;
      case "button_validate":
        if (model !== "stock.picking") break;
        return state.validate(posArgs[0] as number[], ctx);
      case "process":
      case "process_cancel_backorder": {
        if (model !== "stock.backorder.confirmation" && model !== "stock.immediate.transfer") break;
        for (const id of posArgs[0] as number[]) {
          const wizard = state.get(model, id)!;
          const picks = wizard.pick_ids as number[];
          if (model === "stock.immediate.transfer") {
            // 16: "Apply" sets every move's done quantity to its demand, then validates.
            for (const p of picks) {
              for (const m of state.movesOf(p)) m.quantity_done = m.product_uom_qty;
            }
            const result = state.validate(picks, ctx);
            if (result !== true) return result;
          } else {
            state.validate(picks, {
              ...ctx,
              skip_backorder: true,
              cancel_backorder: method === "process_cancel_backorder",
            });
          }
        }
        return true;
      }
    }
    throw new OdooFault(
      "builtins.AttributeError",
      `The method '${method}' does not exist on the model '${model}'`,
    );
  }

  function dispatch(params: { service?: string; method?: string; args?: unknown[] }): unknown {
    const { service, method, args = [] } = params;
    if (service === "common") {
      if (method === "version") return versionInfo;
      if (method === "login" || method === "authenticate") {
        checkDb(args[0]);
        return args[1] === login && args[2] === password ? 2 : false;
      }
    }
    if (service === "object" && method === "execute_kw") return executeKw(args);
    throw new OdooFault("builtins.Exception", `No such method ${service}.${method}`);
  }

  async function handle(request: Request): Promise<Response> {
    const json = (body: unknown) =>
      new Response(JSON.stringify(body), {
        headers: {
          "content-type": "application/json; charset=utf-8",
          "x-content-type-options": "nosniff",
        },
      });
    const text = await request.text();
    if (down) {
      return new Response("<html><body>503 Service Unavailable</body></html>", { status: 503 });
    }
    if (new URL(request.url).pathname !== "/jsonrpc" || request.method !== "POST") {
      return new Response("Not Found", { status: 404 });
    }
    let envelope: {
      id?: unknown;
      params?: { service?: string; method?: string; args?: unknown[] };
    };
    try {
      envelope = JSON.parse(text);
    } catch {
      return new Response("Bad Request", { status: 400 });
    }
    const params = envelope.params ?? {};
    const args = params.args ?? [];
    const call: RecordedCall = { service: params.service ?? "", method: params.method ?? "" };
    if (params.service === "object") {
      Object.assign(call, {
        model: args[3],
        modelMethod: args[4],
        args: args[5],
        kwargs: args[6],
      });
    }
    calls.push(call);
    const key = call.model ? `${call.model}.${call.modelMethod}` : `${call.service}.${call.method}`;
    const fault = takeFault(key);
    if (fault?.action === "http-502") return new Response("Bad Gateway", { status: 502 });
    try {
      if (fault?.action === "error") {
        throw new OdooFault(fault.name ?? "odoo.exceptions.UserError", fault.message ?? "injected");
      }
      const result = dispatch(params);
      if (fault?.action === "lose-response") return new Response("Bad Gateway", { status: 502 });
      return json({ jsonrpc: "2.0", id: envelope.id ?? null, result });
    } catch (e) {
      const name = e instanceof OdooFault ? e.odooName : "builtins.Exception";
      const message = (e as Error).message;
      return json({
        jsonrpc: "2.0",
        id: envelope.id ?? null,
        error: {
          code: 200,
          message: "Odoo Server Error",
          data: { name, debug: "(traceback removed)", message, arguments: [message], context: {} },
        },
      });
    }
  }

  let server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);
  const port = server.addr.port;
  let running = true;

  const view: OdooStateView = {
    all: (model) => [...state.table(model).values()],
    get: (model, id) => state.get(model, id),
    write: (model, ids, vals) => state.write(model, ids, vals),
    unlink: (model, ids) => {
      for (const id of ids) state.table(model).delete(id);
    },
    setOnHand(productId, quantity) {
      const now = state.now();
      const current = state.onHand(productId, { warehouse: 1, warehouse_id: 1 });
      const quant = [...state.table("stock.quant").values()].find((q) =>
        q.product_id === productId && q.location_id === 8
      );
      if (quant) {
        Object.assign(quant, {
          quantity: (quant.quantity as number) + quantity - current,
          write_date: now,
        });
      } else {
        state.insert("stock.quant", {
          product_id: productId,
          location_id: 8,
          quantity: quantity - current,
          write_date: now,
        });
      }
    },
    createProduct(vals) {
      const now = state.now();
      const tmpl = state.insert("product.template", {
        name: vals.name,
        list_price: vals.list_price,
        categ_id: vals.categ_id ?? 1,
        uom_id: 1,
        description_sale: false,
        to_weight: false,
        available_in_pos: true,
        sale_ok: true,
        active: true,
        write_date: now,
      });
      return state.insert("product.product", {
        product_tmpl_id: tmpl.id,
        lst_price: vals.list_price,
        price_extra: 0,
        barcode: vals.barcode ?? false,
        default_code: false,
        standard_price: 0,
        active: true,
        write_date: now,
      }).id;
    },
    onHand: (productId, warehouseId) =>
      state.onHand(
        productId,
        warehouseId === undefined ? {} : { warehouse: warehouseId, warehouse_id: warehouseId },
      ),
  };

  return Promise.resolve({
    url: `http://127.0.0.1:${port}`,
    db,
    login,
    password,
    version,
    state: view,
    calls,
    fault: (f) => faults.push({ ...f, left: f.times ?? 1 }),
    setDown: (d) => {
      down = d;
    },
    async stop() {
      if (!running) return;
      running = false;
      await server.shutdown();
    },
    restart() {
      if (!running) {
        server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handle);
        running = true;
      }
      return Promise.resolve();
    },
    async close() {
      if (running) {
        running = false;
        await server.shutdown();
      }
    },
  });
}
