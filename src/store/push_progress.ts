/**
 * How far the running appliance has delivered a push of goods (`push-goods`, `POST
 * /api/push-goods`): the goods fanned out into pending pushes, and those pushes being sent or kept
 * for the devices' next login.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

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
