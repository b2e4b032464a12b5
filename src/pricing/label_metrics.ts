/**
 * `/metrics` of what shelf labels show (issue 14): labels by state and the age of the oldest
 * stale label, read from the database before each scrape (like the backlog gauges), and the count
 * of labels whose parity window ran out.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { type Counter, DatabaseReading, type MetricsRegistry } from "../metrics.ts";
import type { LabelSummary } from "../store/label_shown.ts";

/** The label gauges of one appliance. */
export class LabelMetrics {
  readonly #reading: DatabaseReading<LabelSummary>;
  readonly #clock: Clock;
  /** Labels that did not confirm a price change within `priceParityMaxS`. */
  readonly parityExpired: Counter;

  /** Registers the instruments; `read` counts the labels. */
  constructor(registry: MetricsRegistry, read: () => Promise<LabelSummary>, clock: Clock) {
    this.#reading = new DatabaseReading(read);
    this.#clock = clock;
    registry.gauge(
      "newretail_labels",
      "Shelf labels bound to goods, by state: fresh (shows the current data), stale, unknown (never confirmed).",
      () =>
        this.#summary
          ? (["fresh", "stale", "unknown"] as const).map((state) => ({
            labels: { state },
            value: this.#summary![state],
          }))
          : [],
    );
    registry.gauge(
      "newretail_label_oldest_stale_seconds",
      "Seconds since the oldest stale shelf label stopped showing its goods' current data (0: none stale).",
      () => {
        if (!this.#summary) return [];
        const since = this.#summary.oldestStaleSince;
        const age = since ? Math.max(0, (this.#clock.now() - since.getTime()) / 1000) : 0;
        return [{ labels: {}, value: Math.round(age) }];
      },
    );
    this.parityExpired = registry.counter(
      "newretail_label_parity_expired_total",
      "Shelf labels that did not confirm a price change within priceParityMaxS (they no longer hold the price down).",
    );
  }

  /** Reads the label states into the gauges (concurrent callers share one read). */
  refresh(): Promise<void> {
    return this.#reading.refresh();
  }

  get #summary(): LabelSummary | undefined {
    return this.#reading.value;
  }
}
