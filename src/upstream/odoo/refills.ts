/**
 * Refills upstream (issue 13): a refill an AGV did (a `refill` stock move from the stock-room
 * warehouse to the shelf warehouse, both Odoo warehouses in Odoo mode) becomes a validated
 * internal transfer in Odoo, from the stock room's stock location to the shelf's, with the moved
 * quantity, of the stock room's internal operation type. Looked up by `origin` first
 * (`<shop>/<installation>/F<job id>`), so a retried delivery never moves the goods twice.
 *
 * @module
 */
import type { Many2one } from "./jsonrpc.ts";
import { type Delivered, type DeliveryContext, PermanentDeliveryError } from "./delivery.ts";
import { odooId } from "./_values.ts";
import { createOnce, findOne } from "./dedupe.ts";
import { refillMoveToDeliver } from "../../store/odoo_deliveries.ts";
import { donePicking, insertPicking, type MoveProduct, type PickingRow } from "./receipts.ts";

/**
 * The local mapping's model name of a refill's picking: refill job ids and receipt ids overlap,
 * so they cannot share `stock.picking` in `odoo_ids`.
 */
export const REFILL_PICKING_MODEL = "stock.picking/refill";

/** The `origin` of a refill's internal transfer: store, installation, job. */
export function refillOrigin(shopId: string, installationId: string, jobId: number): string {
  return `${shopId}/${installationId}/F${jobId}`;
}

interface WarehouseRow {
  id: number;
  code: string;
  lot_stock_id: Many2one;
  int_type_id: Many2one;
}

/** Delivers the refill of job `jobId`; returns the Odoo internal transfer. Idempotent. */
export async function deliverRefill(ctx: DeliveryContext, jobId: number): Promise<Delivered> {
  const { db, odoo, log } = ctx;
  const move = await refillMoveToDeliver(db, jobId);
  if (!move) throw new PermanentDeliveryError(`refill job ${jobId} moved nothing locally`);
  const warehouses = await odoo.executeKw<WarehouseRow[]>(
    "stock.warehouse",
    "read",
    [[move.from_id, move.to_id]],
    { fields: ["id", "code", "lot_stock_id", "int_type_id"] },
  );
  const from = warehouses.find((w) => w.id === move.from_id);
  const to = warehouses.find((w) => w.id === move.to_id);
  const source = odooId(from?.lot_stock_id);
  const dest = odooId(to?.lot_stock_id);
  const typeId = odooId(from?.int_type_id);
  if (source === null || dest === null || typeId === null) {
    throw new PermanentDeliveryError(
      `refill job ${jobId}: warehouses ${move.from_id} → ${move.to_id} are not Odoo warehouses with stock locations and an internal type`,
    );
  }
  const origin = refillOrigin(ctx.shopId, ctx.installationId, jobId);
  const lookup = () =>
    findOne<PickingRow>(
      ctx,
      "stock.picking",
      [["origin", "=", origin], ["picking_type_id", "=", typeId]],
      ["id", "name", "state"],
      ["done"],
      { jobId, origin },
    );
  let picking = await lookup();
  if (!picking) {
    const create = async () => {
      const [product] = await odoo.executeKw<MoveProduct[]>(
        "product.product",
        "read",
        [[move.goods_id]],
        { fields: ["id", "display_name", "uom_id"], context: { active_test: false } },
      );
      if (!product) {
        throw new PermanentDeliveryError(
          `refill job ${jobId}: goods ${move.goods_id} is not an Odoo product`,
        );
      }
      const created = await insertPicking(ctx, { typeId, source, dest, origin }, [
        { product, quantity: move.quantity },
      ]);
      log.info("odoo refill transfer created", { jobId, picking: created.name, origin });
      return created;
    };
    picking = await createOnce(ctx, create, lookup, { jobId, origin });
  }
  const after = await donePicking(ctx, picking, origin, "transfer");
  return { model: REFILL_PICKING_MODEL, odooId: after.id, odooName: after.name };
}
