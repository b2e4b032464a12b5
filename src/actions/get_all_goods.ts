/**
 * `getAllGoods` (PROTOCOL.md §3): the catalogue in pages of `lmt` from offset `ost`, in goods-id
 * order so that paging neither skips nor repeats, each with its category name `pcname`.
 *
 * @module
 */
import type { ActionHandler } from "./context.ts";
import { optionalInt } from "./_values.ts";
import { deviceGoods } from "./goods_view.ts";
import { goodsPage } from "../store/goods.ts";

/** Page size when `lmt` is absent. */
export const DEFAULT_PAGE_SIZE = 150;
/** Largest page. A larger `lmt` is refused rather than cut: a device paging by its own `lmt` would skip goods. */
export const MAX_PAGE_SIZE = 1000;

/** Handles `getAllGoods`. */
export const getAllGoods: ActionHandler = async (ctx, body) => {
  const offset = optionalInt(body.ost, "ost", 0, 0, 2_147_483_647);
  const limit = optionalInt(body.lmt, "lmt", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE);
  const goods = await goodsPage(ctx.db, offset, limit);
  return { body: { exception: "", goods: goods.map((g) => deviceGoods(g, { pcname: true })) } };
};
