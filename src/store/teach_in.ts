/**
 * Teach-in windows (migration 006): for a few minutes of commissioning, `registered` admission
 * admits new devices (marked `admitted_via = 'teach-in'`); when the window closes it is
 * `registered` again. Kept in the database, so the CLI, the admin API and the device server of
 * another process see the same window.
 *
 * @module
 */
import type { Queryable } from "./database.ts";
import type { DeviceRecord } from "./devices.ts";

/** Longest teach-in window, in minutes (a forgotten window must not stay open for days). */
export const MAX_TEACH_IN_MINUTES = 24 * 60;

/** A teach-in window. */
export interface TeachInWindow {
  openedAt: Date;
  closesAt: Date;
  openedBy: string;
}

/** The window open at `at`, if any. */
export async function currentTeachIn(db: Queryable, at: Date): Promise<TeachInWindow | undefined> {
  const rows = await db.query<TeachInWindow & Record<string, unknown>>(
    `select opened_at as "openedAt", closes_at as "closesAt", opened_by as "openedBy"
     from teach_in_windows where opened_at <= $1 and closes_at > $1
     order by closes_at desc limit 1`,
    [at],
  );
  return rows[0];
}

/**
 * Opens a window of `minutes` from `at` (replacing an open one), or closes the open one with
 * `minutes` 0. Returns the window now open.
 */
export async function setTeachIn(
  db: Queryable,
  change: { at: Date; minutes: number; by: string },
): Promise<TeachInWindow | undefined> {
  if (!Number.isInteger(change.minutes) || change.minutes < 0) {
    throw new RangeError("minutes must be a whole number >= 0");
  }
  if (change.minutes > MAX_TEACH_IN_MINUTES) {
    throw new RangeError(`minutes must be at most ${MAX_TEACH_IN_MINUTES}`);
  }
  await db.query("update teach_in_windows set closes_at = $1 where closes_at > $1", [change.at]);
  if (change.minutes === 0) return undefined;
  const closesAt = new Date(change.at.getTime() + change.minutes * 60_000);
  await db.query(
    "insert into teach_in_windows (opened_at, closes_at, opened_by) values ($1, $2, $3)",
    [change.at, closesAt, change.by],
  );
  return { openedAt: change.at, closesAt, openedBy: change.by };
}

/** The devices first admitted by a teach-in window since `since`: the "new" ones to look at. */
export function taughtInSince(db: Queryable, since: Date): Promise<DeviceRecord[]> {
  return db.query<DeviceRecord & Record<string, unknown>>(
    `select equip_id, kind, enabled, online, last_address, first_seen_at, last_login_at,
       last_seen_at, last_offline_at, admitted_via
     from devices where admitted_via = 'teach-in' and first_seen_at >= $1 order by equip_id`,
    [since],
  );
}
