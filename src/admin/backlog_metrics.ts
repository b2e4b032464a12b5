/**
 * Gauges of what the appliance still owes (DESIGN.md, admin: "pushes pending/failed, outbox
 * depth"): sendGoods pushes pending and out of tries, payment-server calls pending, payment
 * results owed to devices, open refill jobs. They are counted in the database, which a gauge's
 * synchronous collect function cannot wait for: {@link BacklogMetrics.refresh} reads them, and
 * the admin server calls it before each `/metrics` render (bounded by its database timeout), so
 * a scrape shows current numbers and nothing queries while nobody scrapes.
 *
 * @module
 */
import { DatabaseReading, type Labels, type MetricsRegistry } from "../metrics.ts";
import type { Queryable } from "../store/database.ts";
import { pushBacklog } from "../store/goods_changes.ts";
import { owedResultCount } from "../store/pay_results.ts";
import { pendingCallCount } from "../store/payment_calls.ts";
import { openRefillJobCount } from "../store/positions.ts";
import { negativeStockCount } from "../store/stock_moves.ts";

/** One reading of the backlog. */
export interface BacklogCounts {
  /** Pending sendGoods pushes, by device (`label`: shelf-label base stations, `scale`). */
  pushesPending: { label: number; scale: number };
  /** Of those, pushes out of tries, kept for the device's next login. */
  pushesFailed: { label: number; scale: number };
  /** Payment-server calls not yet made (the outbox). */
  paymentCalls: number;
  /** sendPayResult pushes not yet acknowledged by their device. */
  payResultsOwed: number;
  /** Refill jobs no AGV has taken yet. */
  refillJobsOpen: number;
  /** Stock rows (goods × warehouse) below zero: sold more than the system knew was there. */
  stockNegative?: number;
}

/** Reads the backlog (four small counting queries). */
export async function readBacklog(db: Queryable, maxPushTries: number): Promise<BacklogCounts> {
  const pushes = await pushBacklog(db, maxPushTries);
  const paymentCalls = await pendingCallCount(db);
  const payResultsOwed = await owedResultCount(db);
  const refillJobsOpen = await openRefillJobCount(db);
  const stockNegative = await negativeStockCount(db);
  return {
    pushesPending: { label: pushes.labels, scale: pushes.scales },
    pushesFailed: { label: pushes.labelsFailed, scale: pushes.scalesFailed },
    paymentCalls,
    payResultsOwed,
    refillJobsOpen,
    stockNegative,
  };
}

/**
 * The backlog gauges of one appliance. Until the first successful read they have no series (an
 * absent series, not a made-up 0); after a failed read they keep the last values, and
 * `newretail_database_up` says why.
 *
 * @example
 * ```ts
 * const backlog = new BacklogMetrics(metrics, () => readBacklog(db, config.pushTries));
 * await backlog.refresh();
 * ```
 */
export class BacklogMetrics {
  readonly #reading: DatabaseReading<BacklogCounts>;

  /** Registers the gauges; `read` counts the backlog. */
  constructor(registry: MetricsRegistry, read: () => Promise<BacklogCounts>) {
    this.#reading = new DatabaseReading(read);
    const series = (value: (c: BacklogCounts) => number, labels: Labels = {}) => () =>
      this.#counts ? [{ labels, value: value(this.#counts) }] : [];
    const byDevice = (pick: (c: BacklogCounts) => { label: number; scale: number }) => () =>
      this.#counts
        ? (["label", "scale"] as const).map((device) => ({
          labels: { device },
          value: pick(this.#counts!)[device],
        }))
        : [];
    registry.gauge(
      "newretail_pushes_pending",
      "sendGoods pushes not yet acknowledged, by device (label base stations, scales).",
      byDevice((c) => c.pushesPending),
    );
    registry.gauge(
      "newretail_pushes_failed",
      "Pending sendGoods pushes out of tries, kept for the device's next login, by device.",
      byDevice((c) => c.pushesFailed),
    );
    registry.gauge(
      "newretail_payment_outbox",
      "Payment-server calls not yet made (outbox depth).",
      series((c) => c.paymentCalls),
    );
    registry.gauge(
      "newretail_pay_results_owed",
      "sendPayResult pushes not yet acknowledged by their device.",
      series((c) => c.payResultsOwed),
    );
    registry.gauge(
      "newretail_refill_jobs_open",
      "Refill jobs no AGV has acknowledged yet.",
      series((c) => c.refillJobsOpen),
    );
    registry.gauge(
      "newretail_stock_negative",
      "Stock rows (goods in a warehouse) below zero: more was sold than the stock knew of.",
      () => this.#counts?.stockNegative === undefined ? [] : series((c) => c.stockNegative!)(),
    );
  }

  /**
   * Reads the backlog into the gauges. Concurrent callers share one read (scrapes never stack up
   * queries behind a slow database); rejects when the read fails.
   */
  refresh(): Promise<void> {
    return this.#reading.refresh();
  }

  get #counts(): BacklogCounts | undefined {
    return this.#reading.value;
  }
}
