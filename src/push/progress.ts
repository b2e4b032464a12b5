/**
 * An operator's push of goods (`push-goods`, `POST /api/push-goods`): marking the goods changed,
 * as a price change would (how far the running appliance has delivered them is
 * `src/store/push_progress.ts`). The CLI calls these directly on the store, or through the admin
 * API while the running appliance holds the embedded database.
 *
 * @module
 */
import type { Queryable } from "../store/database.ts";
import { activeGoodsIds, existingGoodsIds, markGoodsChanged } from "../store/goods_changes.ts";

const MARK_CHUNK = 1000;

/** What marking found: the goods that exist (to follow), and how many of the ids were none. */
export interface MarkedGoods {
  /** The ids that are goods, marked changed. */
  goods: number[];
  /** Ids asked for that are no goods (ignored). */
  unknown: number;
}

/**
 * Marks goods changed so the appliance pushes them again: the ids given, or every active goods.
 * `say` gets a line per 1,000 goods of a large push.
 */
export async function markForPush(
  db: Queryable,
  ids: number[] | "all",
  say: (line: string) => void = () => {},
): Promise<MarkedGoods> {
  const wanted = ids === "all" ? await activeGoodsIds(db) : ids;
  let marked = 0;
  for (let i = 0; i < wanted.length; i += MARK_CHUNK) {
    marked += await markGoodsChanged(db, wanted.slice(i, i + MARK_CHUNK));
    if (wanted.length > MARK_CHUNK) say(`marked ${marked}/${wanted.length} goods`);
  }
  const goods = ids === "all" ? wanted : await existingGoodsIds(db, wanted);
  return { goods, unknown: wanted.length - goods.length };
}
