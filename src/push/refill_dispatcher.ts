/**
 * The refill job dispatcher (PROTOCOL.md §4 sendPosition): offers each open refill job to a
 * connected AGV (`AGV_…`), waits for `sendPositionReturn`, retries, and hands the job to another
 * AGV when the first does not answer or refuses. A job no AGV took stays open: it is offered
 * again when an AGV logs in and every `refillRetryS`.
 *
 * Jobs come from `refill --gid N` (another process: the insert trigger notifies `refill_jobs`)
 * and from shelf stock falling below a threshold (the goods push fan-out).
 *
 * @module
 */
import { type Next, Worker } from "../background.ts";
import { DEVICE_LOGIN_EVENT } from "../events.ts";
import type { DeviceLink } from "../device_link.ts";
import type { Config } from "../config/config.ts";
import type { EventBus } from "../events.ts";
import type { Logger } from "../log.ts";
import type { Database } from "../store/database.ts";
import {
  cancelRefillJob,
  noteRefillWait,
  openRefillJobs,
  positionOf,
  recordRefillAttempt,
  REFILL_JOBS_CHANNEL,
  type RefillJob,
} from "../store/positions.ts";
import { UserError } from "../errors.ts";
import { completeRefill, planRefill, type RefillStockSettings } from "../store/refill_stock.ts";
import { quantity } from "../fields.ts";
import type { Clock } from "../clock.ts";

/** The configuration the dispatcher reads. */
export type RefillConfig = Pick<
  Config,
  | "pushTries"
  | "pushTimeoutS"
  | "refillRetryS"
  | "shelfWarehouse"
  | "stockWarehouse"
  | "refillThreshold"
  | "refillTarget"
>;

/** The refill quantity settings of a configuration. */
export function refillStockSettings(config: RefillConfig): RefillStockSettings {
  return {
    shelfWarehouse: config.shelfWarehouse,
    stockWarehouse: config.stockWarehouse,
    threshold: config.refillThreshold,
    target: config.refillTarget,
  };
}

/**
 * What the AGV says it moved: `qty` of a `sendPositionReturn` (text or number), undefined when
 * absent (all of it) or unreadable (logged by the caller; the job's quantity moves).
 */
export function movedQuantity(reply: Record<string, unknown> | undefined): string | undefined {
  const value = reply?.qty;
  if (value === undefined || value === null || value === "") return undefined;
  // It went but brought nothing: nothing moves (the job is closed all the same).
  if (value === 0 || (typeof value === "string" && /^0+(\.0+)?$/.test(value.trim()))) return "0";
  try {
    return quantity(value, "qty");
  } catch {
    return undefined;
  }
}

/** What {@link RefillDispatcher.start} needs. */
export interface RefillDeps {
  db: Database;
  link: DeviceLink;
  events: Pick<EventBus, "on">;
  log: Logger;
  clock: Clock;
  config: RefillConfig;
}

/** Whether a device is an AGV (identity `AGV_…`, PROTOCOL.md §3). */
export function isAgv(device: { equipId: string; kind?: string }): boolean {
  return device.equipId.startsWith("AGV_") || device.kind === "AGV";
}

/**
 * The order in which AGVs are offered a job: those with the fewest jobs in flight first, then by
 * identity (stable), leaving out those that already failed this job.
 */
export function agvOrder(
  online: { equipId: string; kind: string }[],
  busy: ReadonlyMap<string, number>,
  failed: ReadonlySet<string>,
): string[] {
  return online.filter((d) => isAgv(d) && !failed.has(d.equipId))
    .map((d) => d.equipId)
    .sort((a, b) => (busy.get(a) ?? 0) - (busy.get(b) ?? 0) || a.localeCompare(b));
}

/** The running dispatcher. */
export class RefillDispatcher {
  readonly #deps: RefillDeps;
  /** Jobs being offered now. */
  readonly #active = new Map<number, Promise<void>>();
  /** AGV → jobs in flight. */
  readonly #busy = new Map<string, number>();
  readonly #scan: Worker;

  private constructor(deps: RefillDeps) {
    this.#deps = deps;
    const retryMs = deps.config.refillRetryS * 1000;
    this.#scan = new Worker((stopping) => this.#runScan(stopping), {
      name: "refill scan",
      log: deps.log,
      clock: deps.clock,
      backoff: { initialMs: retryMs, maxMs: Math.max(retryMs, 60_000) },
    });
  }

  /**
   * Subscribes to new jobs and AGV logins and offers the open jobs.
   *
   * @example
   * ```ts
   * const refill = await RefillDispatcher.start({ db, link: server, events, log, config });
   * await refill.stop();
   * ```
   */
  static async start(deps: RefillDeps): Promise<RefillDispatcher> {
    const dispatcher = new RefillDispatcher(deps);
    const scan = dispatcher.#scan;
    scan.onStop(deps.events.on(DEVICE_LOGIN_EVENT, (detail) => {
      if (isAgv(detail)) dispatcher.wake();
    }));
    await scan.startListening(deps.db, REFILL_JOBS_CHANNEL);
    return dispatcher;
  }

  /** Looks for open jobs to offer (coalesced with a scan that is running). */
  wake(): void {
    this.#scan.wake();
  }

  /** Stops and waits for jobs being offered. */
  async stop(): Promise<void> {
    await this.#scan.stop();
    await Promise.all(this.#active.values());
  }

  async #runScan(stopping: AbortSignal): Promise<Next> {
    const { db, link, log, config } = this.#deps;
    const jobs = await openRefillJobs(db, 100);
    if (jobs.length === 0) return; // a new job wakes us (NOTIFY)
    const waiting = jobs.filter((j) => !this.#active.has(j.id));
    if (!link.online().some(isAgv)) {
      log.debug("refill jobs waiting for an AGV", { jobs: waiting.length });
      return; // an AGV login wakes us
    }
    for (const job of waiting) {
      const offer = this.#offer(job, stopping)
        .catch((e) => log.warn("refill job offer failed", { job: job.id, error: e.message }))
        .finally(() => this.#active.delete(job.id));
      this.#active.set(job.id, offer);
    }
    // A job no AGV takes stays open: it is offered again after refillRetryS.
    return { afterMs: config.refillRetryS * 1000 };
  }

  async #offer(job: RefillJob, stopping: AbortSignal): Promise<void> {
    const { db, link, log, config } = this.#deps;
    let body;
    const settings = refillStockSettings(config);
    try {
      const position = await positionOf(db, { gid: job.goodsId });
      const plan = await planRefill(db, job.id, settings);
      if (plan.action === "cancel") throw new UserError(plan.reason);
      if (plan.action === "wait") {
        // Not sent: nothing to bring. It stays open with the reason, and is looked at again.
        if (await noteRefillWait(db, job.id, plan.reason)) {
          log.info("refill job waits", { job: job.id, gid: job.goodsId, reason: plan.reason });
        }
        return;
      }
      body = {
        stockPosition: position.stockPosition,
        goodsPosition: position.goodsPosition,
        gid: job.goodsId,
        qty: plan.quantity,
      };
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      await cancelRefillJob(db, job.id, e.message);
      log.warn("refill job cancelled", { job: job.id, reason: e.message });
      return;
    }
    const failed = new Set<string>();
    while (!stopping.aborted) {
      const [agv] = agvOrder(link.online(), this.#busy, failed);
      if (!agv) break;
      this.#busy.set(agv, (this.#busy.get(agv) ?? 0) + 1);
      try {
        for (let attempt = 1; attempt <= config.pushTries && !stopping.aborted; attempt++) {
          const outcome = await link.push(agv, "sendPosition", body, {
            timeoutMs: config.pushTimeoutS * 1000,
          });
          const exception = outcome.ok
            ? (typeof outcome.reply?.exception === "string" ? outcome.reply.exception : "")
            : outcome.reason;
          if (outcome.ok && exception === "") {
            const moved = movedQuantity(outcome.reply);
            if (moved === undefined && outcome.reply?.qty !== undefined) {
              log.warn("unreadable qty in sendPositionReturn: the job's quantity moves", {
                job: job.id,
                agv,
                qty: String(outcome.reply.qty),
              });
            }
            const done = await completeRefill(db, job.id, agv, settings, moved);
            if (done.closed) {
              log.info("refill job acknowledged", {
                job: job.id,
                gid: job.goodsId,
                agv,
                moved: done.moved,
              });
            }
            return;
          }
          await recordRefillAttempt(db, job.id, `${agv}: ${exception}`);
          log.warn("refill job not acknowledged", { job: job.id, agv, attempt, reason: exception });
          // A refusal or a vanished AGV will not change by asking again: next AGV.
          if (outcome.ok || outcome.reason !== "timeout") break;
        }
      } finally {
        const n = (this.#busy.get(agv) ?? 1) - 1;
        if (n > 0) this.#busy.set(agv, n);
        else this.#busy.delete(agv);
      }
      failed.add(agv);
    }
    if (!stopping.aborted) {
      log.warn("no AGV took the refill job; it stays open", { job: job.id, tried: [...failed] });
    }
  }
}
