/**
 * What every shelf label shows (issue 14): the name and price a label last confirmed — a
 * `sendGoods` it acknowledged with `exception: ""`, or the reply to its own `getGoods` by
 * `mac_id` — and whether that is still the goods' current data. The goods trigger of migration
 * 009 keeps `stale_since` up to date whoever changes the goods.
 *
 * @module
 */
import type { Queryable } from "./database.ts";
import { learnLabelDevicesSql } from "./goods.ts";

/** A label's state: shows the current data, shows something older, or never confirmed. */
export type LabelState = "fresh" | "stale" | "unknown";

/** One confirmed display: the label, the goods and what it was sent. */
export interface ShownGoods {
  mac: string;
  gid: number;
  name: string;
  /** Two decimals. */
  price: string;
}

/** A display confirmed by a label's base station at a time. */
export interface ShownRecord extends ShownGoods {
  /** The base station (or label) that confirmed it. */
  equipId: string;
  at: Date;
}

/**
 * Records what labels confirmed they show: one statement for a whole batch, of one device or of
 * many (a price change confirmed by a thousand labels at once). A label keeps its latest
 * confirmation, confirmed twice in one batch or written by two statements at once: one that
 * commits after a later confirmation of the label leaves the label as that one wrote it.
 */
export async function recordShown(
  db: Queryable,
  records: ShownRecord[],
  via: "push" | "getGoods",
): Promise<void> {
  const shown = latestShown(records);
  if (shown.length === 0) return;
  await db.query(RECORD_SHOWN_SQL, shownParameters(shown, via));
}

/**
 * What labels' own `getGoods` by `mac_id` confirmed, in one statement: the labels show the goods
 * they were answered ({@link recordShown}) and the devices that asked are learned as serving them
 * ({@link learnLabelDevices}). One statement, not a transaction of two: a batch of answers waits
 * for one round trip and its commit, where BEGIN, two statements and COMMIT were four round trips.
 * A device is learned from the displays written, so an answer that lost to a later confirmation
 * of its label (two batches written at once) changes neither.
 */
export async function recordAnswers(db: Queryable, records: ShownRecord[]): Promise<void> {
  const shown = latestShown(records);
  if (shown.length === 0) return;
  await db.query(
    `with shown as (${RECORD_SHOWN_SQL}\n returning mac, equip_id)
     ${learnLabelDevicesSql("shown as l(m, e)")}`,
    shownParameters(shown, "getGoods"),
  );
}

// A label confirmed twice in one batch keeps its latest confirmation.
function latestShown(records: ShownRecord[]): ShownRecord[] {
  const latest = new Map<string, ShownRecord>();
  for (const r of records) {
    const kept = latest.get(r.mac);
    if (!kept || kept.at <= r.at) latest.set(r.mac, r);
  }
  return [...latest.values()];
}

// In MAC order, as the learning of devices locks its rows too: statements writing the same labels
// at once (batches of answers written side by side, a push's confirmations) wait for each other
// instead of deadlocking. A confirmation older than the one a label shows is not written. The
// batch is one JSON parameter: the driver encoding six arrays element by element was 16 % of the
// appliance's time answering labels' own look-ups.
const RECORD_SHOWN_SQL =
  `insert into label_shown (mac, goods_id, name, price, equip_id, via, confirmed_at, stale_since)
     select s.mac, s.gid, s.name, s.price::numeric, s.equip_id, $2, s.at,
       case when g.price = s.price::numeric and g.name = s.name then null else s.at end
     from json_to_recordset($1::text::json)
       as s(mac text, gid int, name text, price text, equip_id text, at timestamptz)
     join goods g on g.id = s.gid
     order by s.mac
     on conflict (mac) do update set goods_id = excluded.goods_id, name = excluded.name,
       price = excluded.price, equip_id = excluded.equip_id, via = excluded.via,
       confirmed_at = excluded.confirmed_at, stale_since = excluded.stale_since
     where label_shown.confirmed_at <= excluded.confirmed_at`;

function shownParameters(shown: ShownRecord[], via: "push" | "getGoods"): unknown[] {
  const rows = shown.map((s) => ({
    mac: s.mac,
    gid: s.gid,
    name: s.name,
    price: s.price,
    equip_id: s.equipId,
    at: s.at.toISOString(),
  }));
  return [JSON.stringify(rows), via];
}

/** One label as `GET /labels` shows it. */
export interface LabelRow {
  mac: string;
  gid: number;
  name: string;
  /** The device serving the label (configured or learned), or null. */
  device: string | null;
  /** What it last confirmed, or null before its first confirmation. */
  shownPrice: string | null;
  shownName: string | null;
  currentPrice: string;
  state: LabelState;
  /** fresh: since its confirmation; stale: since the goods changed away; unknown: since bound. */
  since: Date;
  /** The goods' barcode, "" if none. */
  barcode: string;
  /** Tries of a sendGoods push to it still pending (0: none), and its last error. */
  tries: number;
  lastError: string;
}

/** Which labels {@link labelStates} returns. */
export interface LabelFilter {
  state?: LabelState;
  /** A MAC or goods-name part, a barcode or the serving device. */
  q?: string;
  /** At most this many (by MAC). */
  limit?: number;
}

// A label bound to other goods than it last showed shows the wrong goods: stale since bound.
const LABEL_ROWS = `select b.mac, b.goods_id as gid, g.name, d.equip_id as device,
    s.price::text as "shownPrice", s.name as "shownName", g.price::text as "currentPrice",
    case when s.mac is null then 'unknown'
      when s.goods_id <> b.goods_id or s.stale_since is not null then 'stale'
      else 'fresh' end as state,
    case when s.mac is null then b.bound_at
      when s.goods_id <> b.goods_id then greatest(b.bound_at, s.confirmed_at)
      else coalesce(s.stale_since, s.confirmed_at) end as since,
    coalesce(g.barcode, '') as barcode, coalesce(p.tries, 0) as tries,
    coalesce(p.last_error, '') as "lastError"
  from label_bindings b
  join goods g on g.id = b.goods_id
  left join label_shown s on s.mac = b.mac
  left join label_devices d on d.mac = b.mac
  left join pending_label_pushes p on p.mac = b.mac`;

/**
 * Every bound label with what it shows and its state, by MAC (the rows of `GET /labels`; the
 * console's label view reads them too).
 */
export function labelStates(db: Queryable, filter: LabelFilter = {}): Promise<LabelRow[]> {
  return db.query<LabelRow & Record<string, unknown>>(
    `select * from (${LABEL_ROWS}) l where ($1::text is null or l.state = $1)
       and ($2 = '' or l.mac ilike '%' || $2 || '%' or l.barcode = $2 or l.device = $2
         or l.name ilike '%' || $2 || '%')
     order by l.mac limit $3`,
    [filter.state ?? null, filter.q?.trim() ?? "", filter.limit ?? null],
  );
}

/** Labels by state and the oldest stale label's `since`, for `/metrics`. */
export interface LabelSummary {
  fresh: number;
  stale: number;
  unknown: number;
  oldestStaleSince: Date | null;
}

/** Counts labels by state (one query). */
export async function labelSummary(db: Queryable): Promise<LabelSummary> {
  const rows = await db.query<{ state: LabelState; n: number; oldest: Date | null }>(
    `select l.state, count(*)::int as n, min(l.since) as oldest from (${LABEL_ROWS}) l
     group by l.state`,
  );
  const summary: LabelSummary = { fresh: 0, stale: 0, unknown: 0, oldestStaleSince: null };
  for (const r of rows) {
    summary[r.state] = r.n;
    if (r.state === "stale") summary.oldestStaleSince = r.oldest;
  }
  return summary;
}

/** A label that shows a lower price than its goods' current one: it may hold the price down. */
export interface LowerShown {
  mac: string;
  gid: number;
  /** Two decimals. */
  price: string;
  staleSince: Date;
}

// Labels that show an older price of the goods they are bound to (few: those that missed a change).
const STALE_SHOWN = `select s.mac, s.goods_id, s.price, s.stale_since
  from label_shown s join label_bindings b on b.mac = s.mac and b.goods_id = s.goods_id
  where s.stale_since is not null`;

// A list of the stale labels in the overlay's order (goods, price, MAC), one array per column.
const STALE_ORDER = "order by x.goods_id, x.price, x.mac";

/**
 * Every bound label that shows an older price of the goods it is bound to, whatever the window
 * (the parity overlay keeps them in memory; sorted by goods, price and MAC). Read as one row of
 * arrays, not a row per label: a price change makes every label of the goods stale at once, and
 * the embedded database spends 15–20 µs on each row it returns (a 1,000-label price push).
 */
export async function staleShownPrices(db: Queryable): Promise<LowerShown[]> {
  const [row] = await db.query<{
    macs: string[] | null;
    gids: number[] | null;
    prices: string[] | null;
    since: number[] | null;
  }>(
    `select array_agg(x.mac ${STALE_ORDER}) as macs, array_agg(x.goods_id ${STALE_ORDER}) as gids,
       array_agg(x.price::text ${STALE_ORDER}) as prices,
       array_agg(floor(extract(epoch from x.stale_since) * 1000)::float8 ${STALE_ORDER}) as since
     from (${STALE_SHOWN}) x`,
  );
  const macs = row?.macs ?? [];
  return macs.map((mac, i) => ({
    mac,
    gid: row.gids![i],
    price: row.prices![i],
    staleSince: new Date(row.since![i]),
  }));
}

/** The NOTIFY channel of changes to what labels show or which goods they are bound to. */
export const LABELS_SHOWN_CHANNEL = "labels_shown";

/** Active goods as pricing reads them, with the labels that show an older price of each. */
export interface GoodsAndShown {
  id: number;
  name: string;
  weighed: boolean;
  /** The current price, two decimals. */
  price: string;
  /** Sorted by price, then MAC (the order {@link staleShownPrices} gives the overlay). */
  stale: LowerShown[];
}

/**
 * The active goods of `ids` and their stale labels, read in one statement (one snapshot: what a
 * till is charged is decided on a consistent view of prices and labels).
 */
export async function goodsAndShown(db: Queryable, ids: number[]): Promise<GoodsAndShown[]> {
  const rows = await db.query<{
    id: number;
    name: string;
    weighed: boolean;
    price: string;
    mac: string | null;
    shownPrice: string | null;
    staleSince: Date | null;
  }>(
    `select g.id, g.name, g.weighed, g.price::text as price, x.mac,
       x.price::text as "shownPrice", x.stale_since as "staleSince"
     from goods g left join (${STALE_SHOWN}) x on x.goods_id = g.id
     where g.active and g.id = any($1::int[])
     order by g.id, x.price, x.mac`,
    [ids],
  );
  const byId = new Map<number, GoodsAndShown>();
  for (const r of rows) {
    let goods = byId.get(r.id);
    if (!goods) {
      goods = { id: r.id, name: r.name, weighed: r.weighed, price: r.price, stale: [] };
      byId.set(r.id, goods);
    }
    if (r.mac !== null) {
      goods.stale.push({ mac: r.mac, gid: r.id, price: r.shownPrice!, staleSince: r.staleSince! });
    }
  }
  return [...byId.values()];
}
