/**
 * The schedule worker (issue 14): at each schedule's start the appliance changes the price
 * itself (and the goods trigger pushes the labels), at its end the regular price returns. Runs at
 * start (a schedule that started while the appliance was stopped applies then), at the next
 * boundary, and when schedules change (`price_schedules` NOTIFY). Built on src/background.ts.
 *
 * @module
 */
import { type Next, Worker } from "../background.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Database } from "../store/database.ts";
import {
  applySchedules,
  nextScheduleBoundary,
  PRICE_SCHEDULES_CHANNEL,
} from "../store/price_schedules.ts";
import { errorMessage } from "../errors.ts";

/** What {@link startScheduleWorker} needs. */
export interface ScheduleWorkerDeps {
  db: Database;
  log: Logger;
  clock: Clock;
}

// A bound on any missed wake-up (a clock step, a lost notification while reconnecting).
const IDLE_MS = 60_000;

/** Starts the worker; its `stop()` ends it. */
export async function startScheduleWorker(deps: ScheduleWorkerDeps): Promise<Worker> {
  const { db, log, clock } = deps;
  const worker = new Worker(async (): Promise<Next> => {
    const at = new Date(clock.now());
    const applied = await applySchedules(db, at);
    for (const s of applied.started) {
      log.info("scheduled price applied", { gid: s.gid, price: s.price, schedule: s.scheduleId });
    }
    for (const e of applied.ended) {
      log.info("scheduled price ended: regular price back", { gid: e.gid, price: e.price });
    }
    const next = await nextScheduleBoundary(db, at);
    return next ? { at: next.getTime() } : undefined;
  }, { name: "price schedules", log, clock, idleMs: IDLE_MS });
  await worker.startListening(db, PRICE_SCHEDULES_CHANNEL);
  return worker;
}

/** A schedule as asked for (CLI flags, admin API body), before it is checked. */
export interface ScheduleRequest {
  gid: unknown;
  price: unknown;
  from: unknown;
  until?: unknown;
}

/** A checked schedule request. */
export interface CheckedSchedule {
  gid: number;
  price: string;
  from: Date;
  until: Date | null;
}

function moment(value: unknown, name: string): Date {
  const d = typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value.trim())
    ? new Date(value.trim())
    : new Date(NaN);
  if (Number.isNaN(d.getTime())) {
    throw new RangeError(`${name} must be an ISO time such as 2026-12-24T08:00:00+08:00`);
  }
  return d;
}

/**
 * Checks a schedule request; throws a RangeError naming the bad field.
 *
 * @example
 * ```ts
 * checkSchedule({ gid: "10", price: "2.99", from: "2026-12-24T08:00:00+08:00" });
 * // { gid: 10, price: "2.99", from: 2026-12-24T00:00:00.000Z, until: null }
 * ```
 */
export function checkSchedule(request: ScheduleRequest): CheckedSchedule {
  const gidText = String(request.gid ?? "").trim();
  if (!/^\d{1,9}$/.test(gidText) || Number(gidText) < 1) {
    throw new RangeError("gid must be a goods id (a whole number >= 1)");
  }
  const priceText = typeof request.price === "number"
    ? String(request.price)
    : String(request.price ?? "").trim();
  if (!/^\d{1,10}(\.\d{1,2})?$/.test(priceText)) {
    throw new RangeError("price must be an amount >= 0 with at most two decimals, e.g. 2.99");
  }
  const [whole, fraction = ""] = priceText.split(".");
  const from = moment(request.from, "from");
  const until = request.until === undefined || request.until === null || request.until === ""
    ? null
    : moment(request.until, "until");
  if (until && until.getTime() <= from.getTime()) throw new RangeError("until must be after from");
  return {
    gid: Number(gidText),
    price: `${BigInt(whole)}.${fraction.padEnd(2, "0")}`,
    from,
    until,
  };
}

/**
 * {@link checkSchedule} of a request's `gid`, `price`, `from` and `until` (an API body, command
 * flags): the checked schedule, or what is wrong with it (one line) — what every caller answers.
 */
export function scheduleOrProblem(fields: Record<string, unknown>): CheckedSchedule | string {
  try {
    return checkSchedule({
      gid: fields.gid,
      price: fields.price,
      from: fields.from,
      until: fields.until,
    });
  } catch (e) {
    return errorMessage(e);
  }
}
