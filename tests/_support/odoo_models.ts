/**
 * The Odoo stand-in's models (fields of each Odoo model it knows), display names, the seed data
 * taken from the recorded Odoo 17 exchanges in `tests/fixtures/odoo17/`, and `write` with the
 * product template/variant cascade.
 *
 * @module
 */
import productReads from "../fixtures/odoo17/02-product-search-read.json" with { type: "json" };
import catalogue from "../fixtures/odoo17/03-catalog-stock-barcode.json" with { type: "json" };
import versionLogin from "../fixtures/odoo17/01-version-login.json" with { type: "json" };
import { type FieldDef, m2oId, nextUp, OdooFault, OdooOrm, type Rec } from "./odoo_orm.ts";

/** One recorded JSON-RPC exchange. */
export interface Exchange {
  request: { params: { service: string; method: string; args: unknown[] } };
  response: { result?: unknown; error?: unknown };
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

/** The models Odoo has and the data it starts with. */
export abstract class OdooModels extends OdooOrm {
  constructor(version: 16 | 17 | 18, customProductFields: Record<string, "char">) {
    super(version);
    this.defineModels(customProductFields);
    this.seed();
  }

  /** On-hand quantity, per the warehouse in the context (the stock rules compute it). */
  abstract onHand(productId: number, ctx: Record<string, unknown>): number;

  private defineModels(custom: Record<string, "char">) {
    const m2o = (relation: string): FieldDef => ({ type: "many2one", relation });
    const tmpl = (field: string): FieldDef => ({
      type: this.fields.get("product.template")![field].type,
      relation: this.fields.get("product.template")![field].relation,
      compute: (r) => this.get("product.template", r.product_tmpl_id as number)?.[field] ?? false,
    });
    this.define("uom.uom", { name: { type: "char" } });
    this.define("product.category", {
      name: { type: "char" },
      complete_name: { type: "char" },
      parent_id: m2o("product.category"),
    });
    this.define("product.template", {
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
    this.define("product.product", {
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
      product_template_attribute_value_ids: {
        type: "many2many",
        relation: "product.template.attribute.value",
      },
      price_extra: { type: "float", compute: (r) => this.priceExtra(r) },
      // Stored one2manys of the stock module ("used to compute quantities").
      stock_quant_ids: {
        type: "one2many",
        relation: "stock.quant",
        compute: (r) => this.idsWhere("stock.quant", (q) => q.product_id === r.id),
      },
      stock_move_ids: {
        type: "one2many",
        relation: "stock.move",
        compute: (r) => this.idsWhere("stock.move", (m) => m.product_id === r.id),
      },
      ...Object.fromEntries(Object.keys(custom).map((f) => [f, { type: "char" as const }])),
    });
    this.define("stock.location", {
      name: { type: "char" },
      complete_name: { type: "char" },
      usage: { type: "selection" },
      location_id: m2o("stock.location"),
      // Stored in Odoo (computed from the warehouses' view locations).
      warehouse_id: {
        type: "many2one",
        relation: "stock.warehouse",
        compute: (r) =>
          [...this.table("stock.warehouse").values()].find((w) =>
            this.isChildOf(r.id, w.view_location_id as number)
          )?.id ?? false,
      },
    });
    // A variant's extra price per attribute value (`price_extra`); writing it moves neither the
    // variant's nor the template's write_date (both prices are computed, not stored).
    this.define("product.template.attribute.value", {
      name: { type: "char" },
      product_tmpl_id: m2o("product.template"),
      price_extra: { type: "float" },
      ptav_active: { type: "boolean" },
    });
    this.define("res.company", { name: { type: "char" } });
    this.define("res.users", {
      name: { type: "char" },
      login: { type: "char" },
      company_id: m2o("res.company"),
      company_ids: { type: "many2many", relation: "res.company" },
    });
    this.define("stock.warehouse", {
      company_id: m2o("res.company"),
      name: { type: "char" },
      code: { type: "char" },
      lot_stock_id: m2o("stock.location"),
      view_location_id: m2o("stock.location"),
      in_type_id: m2o("stock.picking.type"),
      out_type_id: m2o("stock.picking.type"),
      int_type_id: m2o("stock.picking.type"),
    });
    this.define("stock.picking.type", {
      name: { type: "char" },
      code: { type: "selection" },
      default_location_src_id: m2o("stock.location"),
      default_location_dest_id: m2o("stock.location"),
      warehouse_id: m2o("stock.warehouse"),
      sequence_code: { type: "char" },
      create_backorder: { type: "selection" },
    });
    this.define("stock.quant", {
      product_id: m2o("product.product"),
      location_id: m2o("stock.location"),
      quantity: { type: "float" },
    });
    this.define("stock.picking", {
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
    this.define("stock.move", {
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
    this.define("stock.backorder.confirmation", {
      pick_ids: { type: "many2many", relation: "stock.picking" },
    });
    this.define("stock.immediate.transfer", {
      pick_ids: { type: "many2many", relation: "stock.picking" },
    });
    this.define("res.partner", {
      name: { type: "char" },
      comment: { type: "text" },
      customer_rank: { type: "integer" },
      active: { type: "boolean" },
    });
    this.define("sale.order", {
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
          this.linesOf(r.id).reduce(
            (sum, l) => sum + (l.product_uom_qty as number) * (l.price_unit as number),
            0,
          ),
      },
      order_line: {
        type: "one2many",
        relation: "sale.order.line",
        compute: (r) => this.linesOf(r.id).map((l) => l.id),
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
    this.define("sale.order.line", {
      order_id: m2o("sale.order"),
      product_id: m2o("product.product"),
      name: { type: "text" },
      product_uom_qty: { type: "float" },
      price_unit: { type: "float" },
    });
    this.define("res.currency", { name: { type: "char" } });
    this.define("product.pricelist", {
      name: { type: "char" },
      active: { type: "boolean" },
      currency_id: m2o("res.currency"),
      company_id: m2o("res.company"),
      discount_policy: { type: "selection" },
      item_ids: {
        type: "one2many",
        relation: "product.pricelist.item",
        compute: (r) => this.idsWhere("product.pricelist.item", (i) => i.pricelist_id === r.id),
      },
    });
    // Odoo 17's rule model (addons/product/models/product_pricelist_item.py); no `active` field.
    this.define("product.pricelist.item", {
      pricelist_id: m2o("product.pricelist"),
      applied_on: { type: "selection" },
      categ_id: m2o("product.category"),
      product_tmpl_id: m2o("product.template"),
      product_id: m2o("product.product"),
      min_quantity: { type: "float" },
      date_start: { type: "datetime" },
      date_end: { type: "datetime" },
      compute_price: { type: "selection" },
      base: { type: "selection" },
      base_pricelist_id: m2o("product.pricelist"),
      fixed_price: { type: "float" },
      percent_price: { type: "float" },
      price_discount: { type: "float" },
      price_surcharge: { type: "float" },
      price_round: { type: "float" },
      price_min_margin: { type: "float" },
      price_max_margin: { type: "float" },
    });
    this.define("ir.module.module", {
      name: { type: "char" },
      shortdesc: { type: "char" },
      installed_version: { type: "char" },
      state: { type: "selection" },
    });
  }
  /** The optional add-on's model (ops/odoo/newretail_sync): an abstract model, no fields. */
  defineSyncAddon() {
    this.define("newretail.sync", {});
  }

  /** Ids of a model's records that satisfy `keep`. */
  idsWhere(model: string, keep: (r: Rec) => boolean): number[] {
    return [...this.table(model).values()].filter(keep).map((r) => r.id);
  }
  protected linesOf(orderId: number): Rec[] {
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
  private seed() {
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
        // The demo's two companies: CHIC1 belongs to "My Company (Chicago)".
        company_id: w.id === 1 ? 1 : 2,
      });
    }
    this.insert("res.currency", { id: 1, name: "USD" });
    this.insert("res.company", { id: 1, name: "YourCompany" });
    this.insert("res.company", { id: 2, name: "My Company (Chicago)" });
    // The admin works in company 1 and may see both (so search_read lists both warehouses).
    this.insert("res.users", {
      id: 2,
      name: "Mitchell Admin",
      login: "admin",
      company_id: 1,
      company_ids: [1, 2],
    });
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
    this.nextId.set("sale.order", 27);
    this.nextId.set("sale.order.line", 54);
    this.nextId.set("stock.picking", 33);
    this.nextId.set("stock.move", 62);
    this.sequences.set("sale.order", 26);
    this.sequences.set("1", 9);
  }
  /** A variant's extra price: its own (seeded) plus its attribute values' `price_extra`. */
  priceExtra(p: Rec): number {
    let extra = (p.price_extra as number | undefined) ?? 0;
    for (const id of (p.product_template_attribute_value_ids ?? []) as number[]) {
      extra += (this.get("product.template.attribute.value", id)?.price_extra as number) ?? 0;
    }
    return Number(extra.toPrecision(12));
  }

  /** `write` as an RPC `write` would (moves write_date, cascades by version). */
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
      if (model === "product.template.attribute.value" && "price_extra" in vals) {
        for (const p of this.table("product.product").values()) {
          const values = (p.product_template_attribute_value_ids ?? []) as number[];
          if (!values.includes(id)) continue;
          const tmpl = this.get("product.template", p.product_tmpl_id as number)!;
          p.lst_price = nextUp((tmpl.list_price as number) + this.priceExtra(p));
        }
      }
      if (model === "product.template") {
        for (const p of this.table("product.product").values()) {
          if (p.product_tmpl_id !== id) continue;
          if ("list_price" in vals) {
            p.lst_price = nextUp((vals.list_price as number) + this.priceExtra(p));
          }
          // 17 and 18 recompute a variant's write_date from its template's; 16 does not.
          if (this.version >= 17) p.write_date = now;
        }
      }
    }
  }
}
