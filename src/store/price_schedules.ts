/**
 * Scheduled prices and promotions (issue 14): a goods' price from a moment, optionally until
 * another. Of the schedules in force at a moment, the latest created wins. While one applies,
 * `goods.regular_price` keeps the price that returns at its end; a price written by anyone else
 * meanwhile (the Odoo pull, psql) becomes that regular price (trigger of migration 009), so Odoo's
 * price stays the base and local schedules apply on top.
 *
 * @module
 */
import type { Database, Queryable } from "./database.ts";

/** The NOTIFY channel of schedule changes (the schedule worker re-plans on it). */
export const PRICE_SCHEDULES_CHANNEL = "price_schedules";

/** A schedule's state at a moment. */
export type ScheduleState = "scheduled" | "active" | "overridden" | "ended" | "cancelled";

/** A schedule as listed. */
export interface PriceSchedule {
  id: number;
  gid: number;
  name: string;
  /** Two decimals. */
  price: string;
  from: Date;
  until: Date | null;
  createdAt: Date;
  createdBy: string;
  cancelledAt: Date | null;
  state: ScheduleState;
  /** `local` (made at the store) or `odoo` (a dated rule of the store's Odoo pricelist). */
  source: "local" | "odoo";
}

/** A new schedule. */
export interface ScheduleDraft {
  gid: number;
  price: string;
  from: Date;
  until: Date | null;
  by: string;
  at: Date;
}

// In force at $1: not cancelled, started, not ended. The winner per goods: one made at the store
// over one from the Odoo pricelist, then the latest created.
const IN_FORCE = `select distinct on (goods_id) id, goods_id, price from price_schedules
  where cancelled_at is null and starts_at <= $1 and (ends_at is null or ends_at > $1)
  order by goods_id, source = 'local' desc, created_at desc, id desc`;

/** Stores a schedule; undefined when the goods does not exist. */
export async function createSchedule(
  db: Queryable,
  draft: ScheduleDraft,
): Promise<PriceSchedule | undefined> {
  const rows = await db.query<{ id: number }>(
    `insert into price_schedules (goods_id, price, starts_at, ends_at, created_at, created_by)
     select g.id, $2::numeric, $3, $4, $5, $6 from goods g where g.id = $1 returning id`,
    [draft.gid, draft.price, draft.from, draft.until, draft.at, draft.by],
  );
  if (rows.length === 0) return undefined;
  return (await listSchedules(db, draft.at, { id: rows[0].id }))[0];
}

/** Schedules with their state at `at`, newest first; ended and cancelled ones only with `all`. */
export function listSchedules(
  db: Queryable,
  at: Date,
  filter: { all?: boolean; id?: number } = {},
): Promise<PriceSchedule[]> {
  return db.query<PriceSchedule & Record<string, unknown>>(
    `select * from (
       select p.id, p.goods_id as gid, g.name, p.price::text as price, p.starts_at as "from",
         p.ends_at as until, p.created_at as "createdAt", p.created_by as "createdBy",
         p.cancelled_at as "cancelledAt", p.source,
         case when p.cancelled_at is not null then 'cancelled'
           when p.ends_at is not null and p.ends_at <= $1 then 'ended'
           when p.starts_at > $1 then 'scheduled'
           when p.id in (select id from (${IN_FORCE}) f) then 'active'
           else 'overridden' end as state
       from price_schedules p join goods g on g.id = p.goods_id) s
     where ($2::int is null or s.id = $2) and ($3 or $2::int is not null
       or s.state not in ('ended', 'cancelled'))
     order by s.id desc`,
    [at, filter.id ?? null, filter.all ?? false],
  );
}

/** Cancels a schedule (the worker then restores the price); false when unknown or cancelled. */
export async function cancelSchedule(db: Queryable, id: number, at: Date): Promise<boolean> {
  const rows = await db.query(
    "update price_schedules set cancelled_at = $2 where id = $1 and cancelled_at is null returning id",
    [id, at],
  );
  return rows.length > 0;
}

/** What {@link applySchedules} changed. */
export interface AppliedSchedules {
  /** Goods now at a scheduled price. */
  started: { gid: number; price: string; scheduleId: number }[];
  /** Goods back at their regular price. */
  ended: { gid: number; price: string }[];
}

/**
 * Brings every goods to the price due at `at`, in one transaction: the winning schedule's price
 * (the regular price kept aside), or the regular price back when none is in force.
 */
export function applySchedules(db: Database, at: Date): Promise<AppliedSchedules> {
  return db.transaction(async (tx) => {
    // Marks these writes as the schedule's own (the regular-price trigger lets them through).
    await tx.query("select set_config('newretail.price_writer', 'schedule', true)");
    const started = await tx.query<{ gid: number; price: string; scheduleId: number }>(
      `update goods g set regular_price = coalesce(g.regular_price, g.price), price = f.price
       from (${IN_FORCE}) f
       where f.goods_id = g.id and (g.regular_price is null or g.price <> f.price)
       returning g.id as gid, g.price::text as price, f.id as "scheduleId"`,
      [at],
    );
    const ended = await tx.query<{ gid: number; price: string }>(
      `update goods g set price = g.regular_price, regular_price = null
       where g.regular_price is not null
         and not exists (select 1 from (${IN_FORCE}) f where f.goods_id = g.id)
       returning g.id as gid, g.price::text as price`,
      [at],
    );
    await tx.query("select set_config('newretail.price_writer', '', true)");
    return { started, ended };
  });
}

/** The next moment after `at` when a schedule starts or ends, if any. */
export async function nextScheduleBoundary(db: Queryable, at: Date): Promise<Date | undefined> {
  const rows = await db.query<{ next: Date | null }>(
    `select min(t) as next from (
       select starts_at as t from price_schedules where cancelled_at is null and starts_at > $1
       union all
       select ends_at from price_schedules where cancelled_at is null and ends_at > $1) b`,
    [at],
  );
  return rows[0]?.next ?? undefined;
}

/** A span of a pricelist price, as the Odoo connector wants it scheduled (see pricePeriods). */
export interface PricelistPeriod {
  /** Null: in force since before any rule's start. */
  from: Date | null;
  until: Date | null;
  /** Two decimals. */
  price: string;
}

/**
 * Makes the Odoo pricelist's schedules of goods `gids` exactly `periods` (goods absent from the
 * map get none), changing only what differs: a schedule already in force with the same price and
 * end is kept with its start; others are deleted or inserted (a period in force since before any
 * start begins `now`). Local schedules are not touched. Returns how many rows changed.
 */
export async function replacePricelistSchedules(
  db: Queryable,
  gids: number[],
  periods: ReadonlyMap<number, readonly PricelistPeriod[]>,
  now: Date,
): Promise<number> {
  if (gids.length === 0) return 0;
  const existing = await db.query<
    { id: number; gid: number; price: string; from: Date; until: Date | null }
  >(
    `select id, goods_id as gid, price::text as price, starts_at as "from", ends_at as until
     from price_schedules where source = 'odoo' and goods_id = any($1::int[])`,
    [gids],
  );
  const time = (d: Date | null) => d?.getTime() ?? null;
  const stale: number[] = [];
  const wanted = new Map<number, PricelistPeriod[]>(
    gids.map((gid) => [gid, [...(periods.get(gid) ?? [])]]),
  );
  for (const row of existing) {
    const left = wanted.get(row.gid)!;
    const i = left.findIndex((p) =>
      p.price === row.price && time(p.until) === time(row.until) &&
      (time(p.from) === time(row.from) ||
        ((p.from === null || p.from <= now) && row.from <= now))
    );
    if (i < 0) stale.push(row.id);
    else left.splice(i, 1);
  }
  const fresh = [...wanted].flatMap(([gid, list]) => list.map((p) => ({ gid, ...p })));
  if (stale.length > 0) {
    await db.query("delete from price_schedules where id = any($1::int[])", [stale]);
  }
  if (fresh.length > 0) {
    await db.query(
      `insert into price_schedules (goods_id, price, starts_at, ends_at, created_at, created_by,
         source)
       select g, p, s, e, $5, 'odoo pricelist', 'odoo'
       from unnest($1::int[], $2::numeric[], $3::timestamptz[], $4::timestamptz[]) as x(g, p, s, e)`,
      [
        fresh.map((f) => f.gid),
        fresh.map((f) => f.price),
        fresh.map((f) => (f.from ?? now).toISOString()),
        fresh.map((f) => f.until?.toISOString() ?? null),
        now,
      ],
    );
  }
  return stale.length + fresh.length;
}
