/**
 * Goods changes and the sendGoods backlog (PROTOCOL.md §4). The database marks every change a
 * device shows (migration 003: trigger → `goods_changes` + `NOTIFY goods_changed`); this module
 * fans changes out into pending pushes per shelf label and per scale, and keeps those until the
 * device acknowledges them. Latest state wins: a pending push names a label (or a scale and a
 * goods), never a price, and its content is read when it is sent.
 *
 * @module
 */
import { countRows, type Queryable } from "./database.ts";
import { type RefillSettings, refillThresholdCtes } from "./positions.ts";
import { type GoodsView, LABEL_GOODS_SELECT, labelView } from "./goods.ts";

/** The NOTIFY channel of goods changes; the payload is goods ids, comma-separated. */
export const GOODS_CHANGED_CHANNEL = "goods_changed";

/** Device kind of scales (`DZC_…`): every scale gets every goods change. */
export const SCALE_KIND = "DZC";

/** What one fan-out pass did. */
export interface FanOut {
  /** Goods whose change was fanned out. */
  goods: number;
  /**
   * The pushes the pass queued (or re-queued), each with its device and new version: what those
   * devices' senders would read back from the pending tables at once. Their devices are the ones
   * that now have pushes pending.
   */
  queued: QueuedPush[];
  /**
   * What each queued label push is to show, by MAC, read in the pass's own snapshot (so no later
   * than a read at send time would be, for a sender that sends at once). A queued label missing
   * here has nothing to show: its goods are inactive.
   */
  labelViews: Map<string, GoodsView>;
  /** Refill jobs the pass created (shelf stock fell below a threshold). */
  refillJobs: number[];
}

/** A pending push as a fan-out pass queued it, with the device it is for. */
export interface QueuedPush {
  equipId: string;
  push: PendingPush;
}

/**
 * Marks goods as changed (as the trigger does), so that the appliance pushes them again; returns
 * how many existed.
 */
export async function markGoodsChanged(db: Queryable, ids: number[]): Promise<number> {
  const existing = await existingGoodsIds(db, ids);
  await db.query("select mark_goods_changed($1::int[])", [existing]);
  return existing.length;
}

/** Which of `ids` are goods (active or not), in the order the database returns them. */
export async function existingGoodsIds(db: Queryable, ids: number[]): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    "select id from goods where id = any($1::int[])",
    [ids],
  );
  return rows.map((r) => r.id);
}

/** The ids of every active goods, in id order (for `push-goods --all`). */
export async function activeGoodsIds(db: Queryable): Promise<number[]> {
  const rows = await db.query<{ id: number }>("select id from goods where active order by id");
  return rows.map((r) => r.id);
}

/** Goods changes not yet fanned out. */
export function unpushedChanges(db: Queryable): Promise<number> {
  return countRows(db, "goods_changes", "change_no > pushed_no");
}

/**
 * Fans out up to `limit` changed goods, oldest change first, in one statement: a pending push for
 * every bound label whose serving device is known (configured or learned) and for every enabled
 * scale, then the refill thresholds of those goods. Rows another transaction is changing right
 * now are skipped: their commit notifies again. (One statement, not a transaction of several:
 * the embedded database's one connection is not held while the program prepares the next one.)
 * The pushes it queued come back as one row of arrays, not a row each (the embedded database
 * spends 15–20 µs on every row it returns; a price change of a goods on 1,000 labels).
 */
export async function fanOutChanges(
  db: Queryable,
  limit: number,
  refill: RefillSettings,
): Promise<FanOut> {
  const [row] = await db.query<{
    goods: number;
    labelEquipIds: string[];
    labelMacs: string[];
    labelVersions: number[];
    labelGoods: number[];
    labelGoodsViews: GoodsView[];
    scaleEquipIds: string[];
    scaleGoods: number[];
    scaleVersions: number[];
    refillJobs: number[];
  }>(
    `with changed as (
       select goods_id from goods_changes where change_no > pushed_no
       order by change_no limit $1 for update skip locked),
     bound as (
       select lb.mac, ld.equip_id, lb.goods_id from label_bindings lb
       join label_devices ld on ld.mac = lb.mac
       where lb.goods_id in (select goods_id from changed)),
     labels as (
       insert into pending_label_pushes (mac, equip_id)
       select mac, equip_id from bound
       on conflict (mac) do update set equip_id = excluded.equip_id,
         version = pending_label_pushes.version + 1, tries = 0, last_error = null,
         queued_at = now()
       returning equip_id, mac, version),
     scales as (
       insert into pending_scale_pushes (equip_id, goods_id)
       select d.equip_id, g.id from goods g cross join devices d
       where g.id in (select goods_id from changed) and g.active and d.kind = $2 and d.enabled
       on conflict (equip_id, goods_id) do update set
         version = pending_scale_pushes.version + 1, tries = 0, last_error = null,
         queued_at = now()
       returning equip_id, goods_id, version),
     -- The rows are locked now, but a change committed after this statement's snapshot may be
     -- what was locked (its newer version), while the bindings above were read in the snapshot:
     -- done is the change number the snapshot sees, so such a change stays due.
     seen as (
       select goods_id, change_no from goods_changes
       where goods_id in (select goods_id from changed)),
     pushed as (
       update goods_changes c set pushed_no = s.change_no from seen s
       where c.goods_id = s.goods_id
       returning c.goods_id),
     ${refillThresholdCtes("changed", "$3", "$4")},
     label_rows as (
       select coalesce(array_agg(l.equip_id order by l.mac), '{}') as equip_ids,
         coalesce(array_agg(l.mac order by l.mac), '{}') as macs,
         coalesce(array_agg(l.version order by l.mac), '{}') as versions,
         coalesce(array_agg(b.goods_id order by l.mac), '{}') as goods_ids
       from labels l join bound b on b.mac = l.mac),
     -- What those labels are to show, one row a goods however many labels show it: their
     -- senders send it without reading it again.
     label_goods as (
       select coalesce(json_agg(v), '[]') as views from (
         select ${LABEL_GOODS_SELECT}
         where g.active and g.id in (select goods_id from bound)) v),
     scale_rows as (
       select coalesce(array_agg(equip_id order by equip_id, goods_id), '{}') as equip_ids,
         coalesce(array_agg(goods_id order by equip_id, goods_id), '{}') as goods_ids,
         coalesce(array_agg(version order by equip_id, goods_id), '{}') as versions
       from scales)
     select (select count(*) from pushed)::int as goods,
       l.equip_ids as "labelEquipIds", l.macs as "labelMacs", l.versions as "labelVersions",
       l.goods_ids as "labelGoods", lg.views as "labelGoodsViews",
       s.equip_ids as "scaleEquipIds", s.goods_ids as "scaleGoods", s.versions as "scaleVersions",
       coalesce((select array_agg(id order by id) from refill_jobs_opened), '{}') as "refillJobs"
     from label_rows l, scale_rows s, label_goods lg`,
    [limit, SCALE_KIND, refill.shelfWarehouse, refill.threshold],
  );
  const queued: QueuedPush[] = [];
  const goodsViews = new Map(row.labelGoodsViews.map((v) => [v.gid, v]));
  const labelViews = new Map<string, GoodsView>();
  row.labelMacs.forEach((mac, i) => {
    queued.push({
      equipId: row.labelEquipIds[i],
      push: { kind: "label", mac, version: row.labelVersions[i] },
    });
    const goods = goodsViews.get(row.labelGoods[i]);
    if (goods) labelViews.set(mac, labelView(goods, mac));
  });
  row.scaleGoods.forEach((goodsId, i) => {
    queued.push({
      equipId: row.scaleEquipIds[i],
      push: { kind: "goods", goodsId, version: row.scaleVersions[i] },
    });
  });
  return {
    goods: row.goods,
    queued,
    labelViews,
    refillJobs: row.refillJobs,
  };
}

/** One pending push: a label (by MAC) or a goods for a scale, with the version it was read at. */
export type PendingPush =
  | { kind: "label"; mac: string; version: number }
  | { kind: "goods"; goodsId: number; version: number };

/**
 * Pending pushes of one device that have tries left, oldest first: up to `limit` label pushes and
 * up to `limit` goods pushes.
 */
export async function pendingPushes(
  db: Queryable,
  equipId: string,
  maxTries: number,
  limit: number,
): Promise<PendingPush[]> {
  return (await pendingPushesOf(db, [equipId], maxTries, limit)).get(equipId) ?? [];
}

/**
 * {@link pendingPushes} of many devices in two queries (the push worker serves hundreds of base
 * stations at once: one query per device would make the database the bottleneck).
 */
export async function pendingPushesOf(
  db: Queryable,
  equipIds: string[],
  maxTries: number,
  limit: number,
): Promise<Map<string, PendingPush[]>> {
  // The oldest `limit` pushes of each device with tries left, from one of the two tables.
  const oldest = <K>(table: string, key: string) =>
    db.query<{ equip_id: string; key: K; version: number }>(
      `select equip_id, ${key} as key, version from (
         select equip_id, ${key}, version, queued_at,
           row_number() over (partition by equip_id order by queued_at, ${key}) as n
         from ${table} where equip_id = any($1::text[]) and tries < $2) p
       where n <= $3 order by queued_at, ${key}`,
      [equipIds, maxTries, limit],
    );
  const labels = await oldest<string>("pending_label_pushes", "mac");
  const goods = await oldest<number>("pending_scale_pushes", "goods_id");
  const byDevice = new Map<string, PendingPush[]>(equipIds.map((e) => [e, []]));
  for (const r of labels) {
    byDevice.get(r.equip_id)?.push({ kind: "label", mac: r.key, version: r.version });
  }
  for (const r of goods) {
    byDevice.get(r.equip_id)?.push({ kind: "goods", goodsId: r.key, version: r.version });
  }
  return byDevice;
}

/**
 * Removes acknowledged pushes, unless they were re-queued since they were read (a newer change:
 * it must still be sent).
 */
export function completePushes(
  db: Queryable,
  equipId: string,
  pushes: PendingPush[],
): Promise<void> {
  return completePushesOf(db, [{ equipId, pushes }]);
}

/** {@link completePushes} of many devices in two statements. */
export async function completePushesOf(
  db: Queryable,
  done: { equipId: string; pushes: PendingPush[] }[],
): Promise<void> {
  const labels = done.flatMap(({ equipId, pushes }) =>
    pushes.flatMap((p) => p.kind === "label" ? [{ equipId, key: p.mac, version: p.version }] : [])
  );
  const goods = done.flatMap(({ equipId, pushes }) =>
    pushes.flatMap((p) =>
      p.kind === "goods" ? [{ equipId, key: p.goodsId, version: p.version }] : []
    )
  );
  // Deletes the acknowledged versions from one of the two tables.
  type Acknowledged = { equipId: string; key: string | number; version: number };
  const complete = async (table: string, key: string, type: string, rows: Acknowledged[]) => {
    if (rows.length === 0) return;
    await db.query(
      `delete from ${table} p
       using unnest($1::text[], $2::${type}[], $3::int[]) as a(equip_id, ${key}, version)
       where p.equip_id = a.equip_id and p.${key} = a.${key} and p.version = a.version`,
      [rows.map((r) => r.equipId), rows.map((r) => r.key), rows.map((r) => r.version)],
    );
  };
  await complete("pending_label_pushes", "mac", "text", labels);
  await complete("pending_scale_pushes", "goods_id", "int", goods);
}

/** Counts a failed try of these pushes; returns how many are now out of tries. */
export async function failPushes(
  db: Queryable,
  equipId: string,
  pushes: PendingPush[],
  error: string,
  maxTries: number,
): Promise<number> {
  const macs = pushes.flatMap((p) => p.kind === "label" ? [p.mac] : []);
  const gids = pushes.flatMap((p) => p.kind === "goods" ? [p.goodsId] : []);
  // One more try for the pushes of one of the two tables; how many are now out of tries.
  const fail = async (table: string, key: string, keys: unknown[], type: string) => {
    if (keys.length === 0) return 0;
    const rows = await db.query<{ tries: number }>(
      `update ${table} set tries = tries + 1, last_error = $3
       where equip_id = $1 and ${key} = any($2::${type}[]) returning tries`,
      [equipId, keys, error],
    );
    return rows.filter((r) => r.tries >= maxTries).length;
  };
  return await fail("pending_label_pushes", "mac", macs, "text") +
    await fail("pending_scale_pushes", "goods_id", gids, "int");
}

/** Gives devices' kept pushes their tries back (they logged in again). */
export async function resetTries(db: Queryable, equipIds: string[]): Promise<void> {
  await db.query(
    "update pending_label_pushes set tries = 0 where equip_id = any($1::text[]) and tries > 0",
    [equipIds],
  );
  await db.query(
    "update pending_scale_pushes set tries = 0 where equip_id = any($1::text[]) and tries > 0",
    [equipIds],
  );
}

/** Devices that have pushes with tries left. */
export async function devicesWithPending(db: Queryable, maxTries: number): Promise<string[]> {
  const rows = await db.query<{ equip_id: string }>(
    `select equip_id from pending_label_pushes where tries < $1
     union select equip_id from pending_scale_pushes where tries < $1`,
    [maxTries],
  );
  return rows.map((r) => r.equip_id);
}

/** How many pushes are pending, for metrics and the CLI's progress line. */
export async function pendingCounts(
  db: Queryable,
  equipIds?: string[],
): Promise<{ labels: number; scales: number }> {
  const filter = equipIds ? "where equip_id = any($1::text[])" : "";
  const params = equipIds ? [equipIds] : [];
  const rows = await db.query<{ labels: number; scales: number }>(
    `select (select count(*) from pending_label_pushes ${filter})::int as labels,
       (select count(*) from pending_scale_pushes ${filter})::int as scales`,
    params,
  );
  return rows[0];
}

/**
 * The sendGoods backlog for `/metrics`: pending pushes by device kind, and how many of them are
 * out of tries (kept for the device's next login).
 */
export async function pushBacklog(
  db: Queryable,
  maxTries: number,
): Promise<{ labels: number; scales: number; labelsFailed: number; scalesFailed: number }> {
  const rows = await db.query<
    { labels: number; scales: number; labelsFailed: number; scalesFailed: number }
  >(
    `select l.n as labels, l.failed as "labelsFailed", s.n as scales, s.failed as "scalesFailed"
     from (select count(*)::int as n, (count(*) filter (where tries >= $1))::int as failed
           from pending_label_pushes) l,
          (select count(*)::int as n, (count(*) filter (where tries >= $1))::int as failed
           from pending_scale_pushes) s`,
    [maxTries],
  );
  return rows[0];
}
