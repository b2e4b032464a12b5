/**
 * `getAllGoods` (PROTOCOL.md §3): the catalogue in pages of `lmt` from offset `ost`, in goods-id
 * order so that paging neither skips nor repeats, each with its category name `pcname`.
 *
 * @module
 */
import type { ActionHandler } from "./context.ts";
import { int, MAX_INT, optional } from "../fields.ts";
import { deviceGoods } from "../goods_view.ts";
import { goodsPage } from "../store/goods.ts";

/** Page size when `lmt` is absent. */
export const DEFAULT_PAGE_SIZE = 150;
/** Largest page. A larger `lmt` is refused rather than cut: a device paging by its own `lmt` would skip goods. */
export const MAX_PAGE_SIZE = 1000;

/** Handles `getAllGoods`. */
export const getAllGoods: ActionHandler = async (ctx, body) => {
  const offset = optional(body, "ost", int(0, MAX_INT), 0);
  const limit = optional(body, "lmt", int(1, MAX_PAGE_SIZE), DEFAULT_PAGE_SIZE);
  const goods = await goodsPage(ctx.db, offset, limit);
  return { body: { exception: "", goods: goods.map((g) => deviceGoods(g, { pcname: true })) } };
};
