/**
 * The rows of the console's Labels view: every bound shelf label with its goods, the base station
 * serving it and its freshness, the stale ones first. The freshness is what the label last
 * confirmed against the goods' current data (`labelStates`, src/store/label_shown.ts): `fresh`,
 * `stale` since the goods changed away from it, `unknown` until its first confirmation.
 *
 * @module
 */
import type { Queryable } from "../../store/database.ts";
import { labelStates } from "../../store/label_shown.ts";

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
  const rows = await labelStates(db, {
    state: filter.state,
    q: filter.q,
    limit: filter.limit ?? 500,
  });
  const out: LabelRow[] = rows.map((r) => ({
    mac: r.mac,
    goodsId: r.gid,
    goodsName: r.name,
    barcode: r.barcode,
    equipId: r.device,
    state: r.state,
    since: r.state === "fresh" ? null : r.since,
    shownPrice: r.shownPrice,
    currentPrice: r.currentPrice,
    tries: r.tries,
    lastError: r.lastError,
  }));
  return out.sort((a, b) =>
    STATE_ORDER[a.state] - STATE_ORDER[b.state] ||
    (a.since?.getTime() ?? 0) - (b.since?.getTime() ?? 0) || a.mac.localeCompare(b.mac)
  );
}
