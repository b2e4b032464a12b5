/**
 * A short history of shelf labels by freshness (migration 010): one count every few minutes,
 * taken by the store console's background loop, read back for its "last 24 hours" plot. The
 * label tables keep only each label's current state, so the past has to be sampled.
 *
 * @module
 */
import type { Queryable } from "./database.ts";
import { labelSummary } from "./label_shown.ts";

/** The labels by freshness at one moment. */
export interface FreshnessSample {
  at: Date;
  fresh: number;
  stale: number;
  unknown: number;
}

/**
 * Counts the labels and keeps the count, unless a sample younger than `everyMs` exists (a
 * restart, or a second process on the same database); drops samples older than `keepMs`.
 * Returns whether a sample was written.
 */
export async function sampleLabelFreshness(
  db: Queryable,
  at: Date,
  everyMs: number,
  keepMs: number,
): Promise<boolean> {
  const recent = await db.query(
    "select 1 from label_freshness_samples where at > $1 limit 1",
    [new Date(at.getTime() - everyMs)],
  );
  if (recent.length > 0) return false;
  const counts = await labelSummary(db);
  await db.query(
    `insert into label_freshness_samples (at, fresh, stale, unknown) values ($1, $2, $3, $4)
     on conflict (at) do nothing`,
    [at, counts.fresh, counts.stale, counts.unknown],
  );
  await db.query("delete from label_freshness_samples where at < $1", [
    new Date(at.getTime() - keepMs),
  ]);
  return true;
}

/** The samples taken since `since`, oldest first. */
export async function labelFreshnessSince(
  db: Queryable,
  since: Date,
): Promise<FreshnessSample[]> {
  const rows = await db.query<FreshnessSample & Record<string, unknown>>(
    `select at, fresh, stale, unknown from label_freshness_samples where at >= $1 order by at`,
    [since],
  );
  return rows.map((r) => ({ ...r, at: new Date(r.at) }));
}
