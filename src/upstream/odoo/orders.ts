/**
 * Paid orders upstream: each paid local order becomes a confirmed `sale.order` in Odoo for the
 * configured customer, its lines at the prices the device was charged, `client_order_ref` = the
 * local order code (05-sale-order.json: create with `[0, 0, {product_id, product_uom_qty,
 * price_unit}]` lines, then `action_confirm`). Before creating, the connector searches by
 * `client_order_ref` and `origin` (`newretail <shop>/<installation>`: order codes restart with a
 * new database, the installation id does not), so a crash between "created in Odoo" and "marked
 * delivered here" never makes a second Odoo order, nor does a reinstalled appliance adopt an old
 * one; a draft found that way is confirmed. Timeouts and duplicates: `dedupe.ts`. Its delivery
 * picking is then validated with the sold quantities (Odoo's on-hand drops with the sale).
 *
 * What this reads from the payment orders (migration 002, `src/store/orders.ts`), and nothing
 * else: `orders(id, code, state)` and `order_lines(order_id, line_no, goods_id, unit_price,
 * quantity)`; goods ids are Odoo product.product ids in Odoo mode.
 *
 * Taxes: Odoo applies the product's own taxes to each line. With tax-included prices (usual for
 * retail in China) the Odoo total equals what the customer paid; with tax-excluded taxes it does
 * not, and that is Odoo's accounting to configure, not something the appliance second-guesses.
 *
 * @module
 */
import { orderLinesToDeliver, orderToDeliver } from "../../store/odoo_deliveries.ts";
import type { Many2one } from "./jsonrpc.ts";
import { type Delivered, type DeliveryContext, PermanentDeliveryError } from "./delivery.ts";
import { DEFAULT_PARTNER_NAME } from "./settings.ts";
import { createOnce, findOne } from "./dedupe.ts";
import { type PickingRow, validatePicking } from "./receipts.ts";

interface SaleOrderRow {
  id: number;
  name: string;
  state: string;
  partner_id?: Many2one;
}

/** The partner the orders go to: configured id or name, else "newretail walk-in" (created). */
export async function resolvePartner(ctx: DeliveryContext): Promise<number> {
  const { odoo, settings } = ctx;
  const wanted = settings.partner.trim();
  if (/^\d+$/.test(wanted)) {
    const found = await odoo.executeKw<{ id: number }[]>(
      "res.partner",
      "read",
      [[Number(wanted)]],
      {
        fields: ["id"],
      },
    );
    if (found.length === 0) {
      throw new PermanentDeliveryError(`Odoo has no partner ${wanted} (odooPartner)`);
    }
    return found[0].id;
  }
  const name = wanted || DEFAULT_PARTNER_NAME;
  const [found] = await odoo.executeKw<{ id: number }[]>(
    "res.partner",
    "search_read",
    [[["name", "=", name]]],
    { fields: ["id"], order: "id", limit: 1 },
  );
  if (found) return found.id;
  const id = await odoo.executeKw<number>("res.partner", "create", [{
    name,
    customer_rank: 1,
    comment: "Walk-in customer of the newretail store appliance",
  }], {});
  ctx.log.info("odoo partner created", { partner: name, id });
  return id;
}

/** The `origin` of the sale orders of this installation (with `client_order_ref`, the key). */
export function saleOrigin(shopId: string, installationId: string): string {
  return `newretail ${shopId}/${installationId}`;
}

/** Delivers paid local order `orderId`; returns the Odoo sale order. Idempotent. */
export async function deliverOrder(ctx: DeliveryContext, orderId: number): Promise<Delivered> {
  const { db, odoo, site, log } = ctx;
  const order = await orderToDeliver(db, orderId);
  if (!order) throw new PermanentDeliveryError(`order ${orderId} no longer exists locally`);
  if (order.state !== "paid") {
    throw new PermanentDeliveryError(`order ${order.code} is ${order.state}, not paid`);
  }
  const origin = saleOrigin(ctx.shopId, ctx.installationId);
  const lookup = () =>
    findOne<SaleOrderRow>(
      ctx,
      "sale.order",
      [["client_order_ref", "=", order.code], ["origin", "=", origin]],
      ["id", "name", "state"],
      ["sale", "done"],
      { orderId, code: order.code },
    );
  let sale = await lookup();
  if (sale) {
    log.info("odoo sale order found by client_order_ref", {
      orderId,
      sale: sale.name,
      state: sale.state,
    });
    if (sale.state === "cancel") {
      throw new PermanentDeliveryError(`Odoo sale order ${sale.name} (${order.code}) is cancelled`);
    }
  } else {
    const lines = await orderLinesToDeliver(db, orderId);
    if (lines.length === 0) throw new PermanentDeliveryError(`order ${order.code} has no lines`);
    const productIds = [...new Set(lines.map((l) => l.goods_id))];
    const products = await odoo.executeKw<{ id: number }[]>(
      "product.product",
      "read",
      [productIds],
      {
        fields: ["id"],
        context: { active_test: false },
      },
    );
    const known = new Set(products.map((p) => p.id));
    const unknown = productIds.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new PermanentDeliveryError(
        `order ${order.code}: goods ${unknown.join(", ")} are not Odoo products`,
      );
    }
    const partnerId = await resolvePartner(ctx);
    const create = async () => {
      const id = await odoo.executeKw<number>("sale.order", "create", [{
        partner_id: partnerId,
        client_order_ref: order.code,
        origin,
        warehouse_id: site.warehouse.id,
        order_line: lines.map((l) => [0, 0, {
          product_id: l.goods_id,
          product_uom_qty: Number(l.quantity),
          price_unit: Number(l.unit_price),
        }]),
      }], {});
      const [created] = await odoo.executeKw<SaleOrderRow[]>("sale.order", "read", [[id]], {
        fields: ["id", "name", "state"],
      });
      log.info("odoo sale order created", { orderId, code: order.code, sale: created.name });
      return created;
    };
    sale = await createOnce(ctx, create, lookup, { orderId, code: order.code });
  }
  if (sale.state === "draft" || sale.state === "sent") {
    await odoo.executeKw("sale.order", "action_confirm", [[sale.id]], {});
    [sale] = await odoo.executeKw<SaleOrderRow[]>("sale.order", "read", [[sale.id]], {
      fields: ["id", "name", "state"],
    });
  }
  await validateSaleDeliveries(ctx, sale.id, order.code);
  return { model: "sale.order", odooId: sale.id, odooName: sale.name };
}

/**
 * The goods left with the customer: the confirmed order's delivery pickings are validated with
 * the sold quantities, so Odoo's on-hand drops as the local shelf stock did (issue 13). A picking
 * already done (a retried delivery) is left as it is.
 */
async function validateSaleDeliveries(
  ctx: DeliveryContext,
  saleId: number,
  code: string,
): Promise<void> {
  const pickings = await ctx.odoo.executeKw<PickingRow[]>(
    "stock.picking",
    "search_read",
    [[["sale_id", "=", saleId], ["state", "not in", ["done", "cancel"]]]],
    { fields: ["id", "name", "state"], order: "id" },
  );
  for (const picking of pickings) {
    await validatePicking(ctx, picking);
    ctx.log.info("odoo sale delivery validated", { code, picking: picking.name });
  }
}
