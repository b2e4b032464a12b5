/**
 * An operator's push of goods (`push-goods`, `POST /api/push-goods`): marking the goods changed,
 * as a price change would, and reading how far the running appliance has delivered them. The CLI
 * calls these directly on the store, or through the admin API while the running appliance holds
 * the embedded database.
 *
 * @module
 */
import type { Queryable } from "../store/database.ts";
import { activeGoodsIds, markGoodsChanged } from "../store/goods_changes.ts";

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
  const goods = ids === "all"
    ? wanted
    : (await db.query<{ id: number }>("select id from goods where id = any($1::int[])", [wanted]))
      .map((r) => r.id);
  return { goods, unknown: wanted.length - goods.length };
}

/** Progress of a push: how far the appliance is. */
export interface PushProgress {
  total: number;
  /** Goods the appliance has turned into pending pushes. */
  fannedOut: number;
  /** Pending pushes to online devices with tries left: being sent now. */
  sending: number;
  /** Pending pushes to offline devices or out of tries: kept for the next login. */
  kept: number;
}

/** Reads how far the push of these goods is (`maxTries`: the configured `pushTries`). */
export async function pushProgress(
  db: Queryable,
  ids: number[],
  maxTries: number,
): Promise<PushProgress> {
  const [row] = await db.query<{ fanned: number; sending: number; kept: number }>(
    `with pending as (
       select p.equip_id, p.tries from pending_label_pushes p
       join label_bindings b on b.mac = p.mac where b.goods_id = any($1::int[])
       union all
       select p.equip_id, p.tries from pending_scale_pushes p where p.goods_id = any($1::int[])
     )
     select
       (select count(*) from goods_changes where goods_id = any($1::int[])
         and change_no = pushed_no)::int as fanned,
       (select count(*) from pending p join devices d on d.equip_id = p.equip_id
         where d.online and p.tries < $2)::int as sending,
       (select count(*) from pending p left join devices d on d.equip_id = p.equip_id
         where not coalesce(d.online, false) or p.tries >= $2)::int as kept`,
    [ids, maxTries],
  );
  return { total: ids.length, fannedOut: row.fanned, sending: row.sending, kept: row.kept };
}
