/**
 * Stock receipts upstream: a local `stockGoods` receipt becomes an incoming `stock.picking` of
 * its warehouse's receipt type, confirmed and validated with the received quantities, the way
 * 06-stock-receipt.json shows for Odoo 17:
 *
 * 1. the receipt type's source location is `false`: use the vendor location (usage supplier);
 * 2. `create` with `move_ids: [[0, 0, {...}]]` (draft), then `action_confirm` (assigned);
 * 3. set the done quantity on each move — 17 and 18: `quantity` + `picked: true`; 16:
 *    `quantity_done` (gone in 17: writing it raises "Invalid field 'quantity_done'");
 * 4. `button_validate`: `true`, or a wizard action — `stock.backorder.confirmation` (17: handled
 *    as the web client does, create with the action's context, then `process`) or, in 16,
 *    `stock.immediate.transfer` (same, then `process`).
 *
 * Before creating, the picking is looked up by `origin` (and type), so a crash between "created
 * in Odoo" and "marked delivered here" continues the same picking instead of making a second.
 * The origin names the installation (migration 007), so a reinstalled appliance or a second one
 * of the same shop never adopts another's picking. A timed-out `create` and duplicates found by
 * the lookup are handled in `dedupe.ts`.
 *
 * @module
 */
import type { Many2one } from "./jsonrpc.ts";
import { type Delivered, type DeliveryContext, PermanentDeliveryError } from "./delivery.ts";
import { odooId } from "./_values.ts";
import { createOnce, findOne } from "./dedupe.ts";
import { receiptToDeliver } from "../../store/odoo_deliveries.ts";

/**
 * The `origin` (Odoo's "Source Document") of a local receipt: store, installation, receipt id,
 * device ref.
 */
export function receiptOrigin(
  shopId: string,
  installationId: string,
  receipt: { id: number; ref: string },
): string {
  return `${shopId}/${installationId}/R${receipt.id} ${receipt.ref}`.slice(0, 200).trim();
}

/** A picking as the deliveries read it. */
export interface PickingRow {
  id: number;
  name: string;
  state: string;
}

interface WizardAction {
  type?: string;
  res_model?: string;
  name?: string;
  context?: Record<string, unknown>;
}

// Wizards whose default button finishes the validation as asked (keep a backorder for anything
// short rather than drop it, as the recordings do).
const WIZARDS: Record<string, string> = {
  "stock.backorder.confirmation": "process",
  "stock.immediate.transfer": "process",
};

/** Delivers local receipt `receiptId`; returns the Odoo picking. Idempotent. */
export async function deliverReceipt(ctx: DeliveryContext, receiptId: number): Promise<Delivered> {
  const { db, odoo, log } = ctx;
  const receipt = await receiptToDeliver(db, receiptId);
  if (!receipt) throw new PermanentDeliveryError(`receipt ${receiptId} no longer exists locally`);
  const { lines } = receipt;
  const origin = receiptOrigin(ctx.shopId, ctx.installationId, receipt);

  const [warehouse] = await odoo.executeKw<
    { id: number; in_type_id: Many2one; lot_stock_id: Many2one }[]
  >("stock.warehouse", "read", [[receipt.warehouse_id]], {
    fields: ["id", "in_type_id", "lot_stock_id"],
  });
  const typeId = warehouse ? odooId(warehouse.in_type_id) : null;
  if (!warehouse || typeId === null) {
    throw new PermanentDeliveryError(
      `warehouse ${receipt.warehouse_id} of receipt ${receiptId} is not an Odoo warehouse with a receipt type`,
    );
  }

  const lookup = () =>
    findOne<PickingRow>(
      ctx,
      "stock.picking",
      [["origin", "=", origin], ["picking_type_id", "=", typeId], ["backorder_id", "=", false]],
      ["id", "name", "state"],
      ["done"],
      { receiptId, origin },
    );
  let picking = await lookup();
  if (picking) {
    log.info("odoo receipt found by origin", {
      receiptId,
      picking: picking.name,
      state: picking.state,
    });
  } else {
    picking = await createOnce(
      ctx,
      () => createPicking(ctx, receiptId, origin, typeId, warehouse.lot_stock_id, lines),
      lookup,
      { receiptId, origin },
    );
  }
  const after = await donePicking(ctx, picking, origin, "picking");
  return { model: "stock.picking", odooId: after.id, odooName: after.name };
}

/**
 * The last step of delivering a picking found by its origin or just created: validated and read
 * back done. A cancelled one is refused for good — someone cancelled it in Odoo, a decision, not
 * a failure to retry. `noun` names it in the errors ("picking", "transfer").
 */
export async function donePicking(
  ctx: DeliveryContext,
  picking: PickingRow,
  origin: string,
  noun: string,
): Promise<PickingRow> {
  if (picking.state === "cancel") {
    throw new PermanentDeliveryError(`Odoo ${noun} ${picking.name} (${origin}) is cancelled`);
  }
  if (picking.state !== "done") await validatePicking(ctx, picking);
  const [after] = await ctx.odoo.executeKw<PickingRow[]>("stock.picking", "read", [[picking.id]], {
    fields: ["id", "name", "state"],
  });
  if (!after || after.state !== "done") {
    throw new Error(`Odoo ${noun} ${picking.name} is ${after?.state ?? "gone"} after validation`);
  }
  return after;
}

async function createPicking(
  ctx: DeliveryContext,
  receiptId: number,
  origin: string,
  typeId: number,
  lotStock: Many2one,
  lines: { goods_id: number; quantity: string }[],
): Promise<PickingRow> {
  const { odoo } = ctx;
  const [type] = await odoo.executeKw<
    { default_location_src_id: Many2one; default_location_dest_id: Many2one }[]
  >("stock.picking.type", "read", [[typeId]], {
    fields: ["default_location_src_id", "default_location_dest_id"],
  });
  let source = odooId(type?.default_location_src_id);
  if (source === null) {
    const [vendor] = await odoo.executeKw<{ id: number }[]>(
      "stock.location",
      "search_read",
      [[["usage", "=", "supplier"]]],
      { fields: ["id"], order: "id", limit: 1 },
    );
    source = vendor?.id ?? null;
  }
  const dest = odooId(type?.default_location_dest_id) ?? odooId(lotStock);
  if (source === null || dest === null) {
    throw new PermanentDeliveryError("Odoo has no vendor or stock location for receipts");
  }
  const productIds = [...new Set(lines.map((l) => l.goods_id))];
  const products = await odoo.executeKw<MoveProduct[]>(
    "product.product",
    "read",
    [productIds],
    { fields: ["id", "display_name", "uom_id"], context: { active_test: false } },
  );
  const byId = new Map(products.map((p) => [p.id, p]));
  const unknown = productIds.filter((id) => !byId.has(id));
  if (unknown.length > 0) {
    throw new PermanentDeliveryError(
      `receipt ${receiptId}: goods ${unknown.join(", ")} are not Odoo products`,
    );
  }
  const created = await insertPicking(
    ctx,
    { typeId, source, dest, origin },
    lines.map((l) => ({ product: byId.get(l.goods_id)!, quantity: l.quantity })),
  );
  ctx.log.info("odoo receipt created", { receiptId, picking: created.name, origin });
  return created;
}

/** An Odoo product as a picking's move needs it. */
export interface MoveProduct {
  id: number;
  display_name: string;
  uom_id: Many2one;
}

/**
 * Creates a draft `stock.picking` of type `typeId` moving each product's quantity from `source`
 * to `dest`, and reads it back (its name and state).
 */
export async function insertPicking(
  ctx: DeliveryContext,
  picking: { typeId: number; source: number; dest: number; origin: string },
  moves: { product: MoveProduct; quantity: string }[],
): Promise<PickingRow> {
  const { typeId, source, dest, origin } = picking;
  const id = await ctx.odoo.executeKw<number>("stock.picking", "create", [{
    picking_type_id: typeId,
    location_id: source,
    location_dest_id: dest,
    origin,
    move_ids: moves.map(({ product, quantity }) => [0, 0, {
      name: product.display_name,
      product_id: product.id,
      product_uom_qty: Number(quantity),
      product_uom: odooId(product.uom_id),
      location_id: source,
      location_dest_id: dest,
    }]),
  }], {});
  const [created] = await ctx.odoo.executeKw<PickingRow[]>("stock.picking", "read", [[id]], {
    fields: ["id", "name", "state"],
  });
  return created;
}

/**
 * Validates a picking with its demanded quantities as done (confirming a draft first, answering
 * the backorder and immediate-transfer wizards). Also validates the delivery of a sale order.
 */
export async function validatePicking(ctx: DeliveryContext, picking: PickingRow): Promise<void> {
  const { odoo, site } = ctx;
  if (picking.state === "draft") {
    await odoo.executeKw("stock.picking", "action_confirm", [[picking.id]], {});
  }
  const done = site.moveDoneField;
  const moves = await odoo.executeKw<
    ({ id: number; product_uom_qty: number; state: string } & Record<string, unknown>)[]
  >("stock.move", "search_read", [[["picking_id", "=", picking.id]]], {
    fields: ["id", "product_uom_qty", "state", done],
    order: "id",
  });
  for (const m of moves) {
    if (m.state === "done" || m.state === "cancel") continue;
    // Everything received is what the device booked: the demand itself.
    const vals = done === "quantity"
      ? { quantity: m.product_uom_qty, picked: true }
      : { quantity_done: m.product_uom_qty };
    await odoo.executeKw("stock.move", "write", [[m.id], vals], {});
  }
  let result = await odoo.executeKw<boolean | WizardAction>(
    "stock.picking",
    "button_validate",
    [[picking.id]],
    {},
  );
  for (let step = 0; result !== true && step < 3; step++) {
    const action = (result ?? {}) as WizardAction;
    const button = action.res_model ? WIZARDS[action.res_model] : undefined;
    if (!button) {
      throw new Error(
        `Odoo asks for "${action.name ?? action.res_model ?? "a confirmation"}" (${
          action.res_model ?? "unknown"
        }) to validate ${picking.name}: validate it in Odoo`,
      );
    }
    const context = action.context ?? {};
    const wizard = await odoo.executeKw<number>(action.res_model!, "create", [{}], { context });
    result = await odoo.executeKw<boolean | WizardAction>(action.res_model!, button, [[wizard]], {
      context,
    });
    if (result !== true && typeof result !== "object") result = true;
  }
}
