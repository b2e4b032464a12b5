/**
 * `getWarehouseGoods` (PROTOCOL.md §3): goods with stock in warehouse `whid`, `stock` being that
 * warehouse's quantity. Optional `ost`/`lmt` page like `getAllGoods`; without them, all.
 *
 * @module
 */
import type { ActionHandler } from "./context.ts";
import { id, int, MAX_INT, optional, required } from "../fields.ts";
import { deviceGoods } from "../goods_view.ts";
import { MAX_PAGE_SIZE } from "./get_all_goods.ts";
import { UserError } from "../errors.ts";
import { warehouseGoods, warehouseRefusal } from "../store/goods.ts";

/** Handles `getWarehouseGoods`. */
export const getWarehouseGoods: ActionHandler = async (ctx, body) => {
  const warehouseId = required(body, "whid", id);
  const offset = optional(body, "ost", int(0, MAX_INT), 0);
  const limit = optional(body, "lmt", int(1, MAX_PAGE_SIZE), null);
  const refused = await warehouseRefusal(ctx.db, warehouseId);
  if (refused === undefined) throw new UserError(`unknown warehouse: ${warehouseId}`);
  // Another Odoo company's warehouse: devices could not receive into it, so it is not served.
  if (refused) throw new UserError(`warehouse ${warehouseId} is not served: ${refused}`);
  const goods = await warehouseGoods(ctx.db, warehouseId, offset, limit);
  return { body: { exception: "", goods: goods.map((g) => deviceGoods(g)) } };
};
