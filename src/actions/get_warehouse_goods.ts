/**
 * `getWarehouseGoods` (PROTOCOL.md §3): goods with stock in warehouse `whid`, `stock` being that
 * warehouse's quantity. Optional `ost`/`lmt` page like `getAllGoods`; without them, all.
 *
 * @module
 */
import type { ActionHandler } from "./context.ts";
import { id, optionalInt } from "./_values.ts";
import { deviceGoods } from "./goods_view.ts";
import { MAX_PAGE_SIZE } from "./get_all_goods.ts";
import { UserError } from "../errors.ts";
import { warehouseGoods, warehouseRefusal } from "../store/goods.ts";

/** Handles `getWarehouseGoods`. */
export const getWarehouseGoods: ActionHandler = async (ctx, body) => {
  if (body.whid === undefined || body.whid === null) throw new UserError("whid is required");
  const warehouseId = id(body.whid, "whid");
  const offset = optionalInt(body.ost, "ost", 0, 0, 2_147_483_647);
  const limit = body.lmt === undefined ? null : optionalInt(body.lmt, "lmt", 0, 1, MAX_PAGE_SIZE);
  const refused = await warehouseRefusal(ctx.db, warehouseId);
  if (refused === undefined) throw new UserError(`unknown warehouse: ${warehouseId}`);
  // Another Odoo company's warehouse: devices could not receive into it, so it is not served.
  if (refused) throw new UserError(`warehouse ${warehouseId} is not served: ${refused}`);
  const goods = await warehouseGoods(ctx.db, warehouseId, offset, limit);
  return { body: { exception: "", goods: goods.map((g) => deviceGoods(g)) } };
};
