/**
 * The rows of the console's Labels view: every bound shelf label with its goods, the base station
 * serving it and its freshness, the stale ones first. One function, so that the label-freshness
 * store functions (shown vs current price, fresh / stale since / unknown) replace its body
 * without touching the page.
 *
 * Today a label counts as `stale` while a sendGoods push to it is pending (since it was queued),
 * `unknown` when no base station has served it yet, `fresh` otherwise; `shownPrice` is not known
 * (null) until labels record what they confirmed.
 *
 * @module
 */
import type { Queryable } from "../../store/database.ts";

/** Freshness of a label. */
export type LabelState = "fresh" | "stale" | "unknown";

/** One row of the Labels view. */
export interface LabelRow {
  mac: string;
  goodsId: number;
  goodsName: string;
  barcode: string;
  /** The base station serving it, null when none has yet. */
  equipId: string | null;
  state: LabelState;
  /** Since when it is stale (or was bound, for `unknown`), null for fresh. */
  since: Date | null;
  /** The price the label last confirmed, when known. */
  shownPrice: string | null;
  currentPrice: string;
  /** Tries of the pending push, and its last error. */
  tries: number;
  lastError: string;
}

/** Which rows: `q` finds a label by MAC, barcode, goods name or base station; `state` keeps one state. */
export interface LabelFilter {
  q?: string;
  state?: LabelState;
  limit?: number;
}

const STATE_ORDER: Record<LabelState, number> = { stale: 0, unknown: 1, fresh: 2 };

/** The rows, stale first (oldest first), then unknown, then fresh, by MAC. */
export async function labelRows(db: Queryable, filter: LabelFilter = {}): Promise<LabelRow[]> {
  const q = filter.q?.trim() ?? "";
  const rows = await db.query<{
    mac: string;
    goods_id: number;
    name: string;
    barcode: string;
    price: string;
    equip_id: string | null;
    queued_at: Date | null;
    tries: number | null;
    last_error: string | null;
    bound_at: Date;
  }>(
    `select b.mac, b.goods_id, g.name, coalesce(g.barcode, '') as barcode, g.price::text as price,
       d.equip_id, p.queued_at, p.tries, p.last_error, b.bound_at
     from label_bindings b join goods g on g.id = b.goods_id
     left join label_devices d on d.mac = b.mac
     left join pending_label_pushes p on p.mac = b.mac
     where $1 = '' or b.mac ilike '%' || $1 || '%' or g.barcode = $1 or d.equip_id = $1
       or g.name ilike '%' || $1 || '%'
     order by b.mac limit $2`,
    [q, filter.limit ?? 500],
  );
  const out: LabelRow[] = rows.map((r) => {
    const state: LabelState = r.queued_at ? "stale" : r.equip_id ? "fresh" : "unknown";
    return {
      mac: r.mac,
      goodsId: r.goods_id,
      goodsName: r.name,
      barcode: r.barcode,
      equipId: r.equip_id,
      state,
      since: state === "stale" ? r.queued_at : state === "unknown" ? r.bound_at : null,
      shownPrice: null,
      currentPrice: r.price,
      tries: r.tries ?? 0,
      lastError: r.last_error ?? "",
    };
  }).filter((r) => !filter.state || r.state === filter.state);
  return out.sort((a, b) =>
    STATE_ORDER[a.state] - STATE_ORDER[b.state] ||
    (a.since?.getTime() ?? 0) - (b.since?.getTime() ?? 0) || a.mac.localeCompare(b.mac)
  );
}

/** Labels per serving base station (the Devices view and the base-station alert). */
export async function labelsPerStation(db: Queryable): Promise<Map<string, number>> {
  const rows = await db.query<{ equip_id: string; n: number }>(
    `select d.equip_id, count(*)::int as n from label_devices d
     join label_bindings b on b.mac = d.mac group by d.equip_id`,
  );
  return new Map(rows.map((r) => [r.equip_id, r.n]));
}
