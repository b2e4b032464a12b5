/**
 * The Odoo stand-in's stock and sale rules: on-hand quantities, creating sale orders and
 * pickings, confirming, validating (with the 16 immediate-transfer and backorder wizards),
 * quants moved by done moves, deliveries created by confirmed sale orders.
 *
 * @module
 */
import { OdooModels } from "./odoo_models.ts";
import { OdooFault, type Rec } from "./odoo_orm.ts";

/** The stand-in's state and rules: models over the ORM, with Odoo's stock and sale behaviour. */
export class OdooState extends OdooModels {
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
      if (root !== undefined && !this.isChildOf(loc.id, root)) continue;
      sum += q.quantity as number;
    }
    return sum;
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
        this.#checkCompany(wh, type);
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
      case "product.pricelist.item": {
        // Odoo's defaults, and create() clearing what the rule's target does not use.
        this.checkFields(model, vals);
        const rule: Record<string, unknown> = {
          applied_on: "3_global",
          compute_price: "fixed",
          base: "list_price",
          min_quantity: 0,
          ...vals,
        };
        const clear: Record<string, string[]> = {
          "3_global": ["product_id", "product_tmpl_id", "categ_id"],
          "2_product_category": ["product_id", "product_tmpl_id"],
          "1_product": ["product_id", "categ_id"],
          "0_product_variant": ["categ_id"],
        };
        for (const f of clear[rule.applied_on as string] ?? []) rule[f] = false;
        if (!rule.pricelist_id || !this.get("product.pricelist", rule.pricelist_id as number)) {
          throw new OdooFault("odoo.exceptions.ValidationError", "pricelist_id is required");
        }
        return this.insert(model, { ...rule, create_date: now, write_date: now }).id;
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

  /**
   * The user's current company (no `allowed_company_ids` in the context) is the moves' company:
   * a picking of another company's warehouse is refused, as live Odoo 17 did.
   */
  #checkCompany(wh: Rec, type: Rec) {
    const user = this.get("res.users", 2)!;
    if (wh.company_id === user.company_id) return;
    const theirs = this.get("res.company", wh.company_id as number)?.name;
    const mine = this.get("res.company", user.company_id as number)?.name;
    throw new OdooFault(
      "odoo.exceptions.UserError",
      `Incompatible companies on records:\n- 'Operation Type' (picking_type_id: '${
        this.displayName("stock.picking.type", type)
      }') belongs to company '${theirs}' and 'Company' (company_id: '${mine}') belongs to another company.`,
    );
  }

  /** `action_cancel` on pickings (and their moves) or sale orders; a done picking stays done. */
  cancel(model: string, ids: number[]) {
    const now = this.now();
    for (const id of ids) {
      const rec = this.get(model, id);
      if (!rec) continue;
      if (model === "stock.picking") {
        if (rec.state === "done") {
          throw new OdooFault(
            "odoo.exceptions.UserError",
            "You cannot cancel a stock move that has been set to 'Done'.",
          );
        }
        for (const m of this.movesOf(id)) Object.assign(m, { state: "cancel", write_date: now });
      }
      Object.assign(rec, { state: "cancel", write_date: now });
    }
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
    for (const l of this.linesOf(id)) {
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
