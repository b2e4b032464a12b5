/**
 * Price parity at the till (issue 14, PROTOCOL.md §6): while a shelf label bound to a goods still
 * shows an older, lower price, devices other than labels are told that price by `getGoods`. The
 * labels that show an older price are few (only those that missed a change), so they are kept in
 * memory and reloaded on the `labels_shown` NOTIFY of migration 009: a `getGoods` in the common
 * case (every label fresh) costs no database round trip. Between a notification and the reload
 * that follows it, look-ups wait for the reload (a change is never answered with a stale view).
 *
 * A label's hold ends `priceParityMaxS` after the change it missed: it is then reported once
 * (a warning naming the label, `newretail_label_parity_expired_total`) and no longer counts.
 * `getPayInfo` prices with the same rule in SQL (`parityPricedGoods`), in its own query.
 *
 * @module
 */
import { Worker } from "../background.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { Counter } from "../metrics.ts";
import type { Database } from "../store/database.ts";
import { compareDecimal } from "../decimal.ts";
import { LABELS_SHOWN_CHANNEL, type LowerShown, staleShownPrices } from "../store/label_shown.ts";

/** The price a non-label device is told, and why. */
export interface ParityPrice {
  /** Two decimals. */
  price: string;
  /** `current`, or `label AC:… shows 3.50`. */
  reason: string;
}

/** Why a price is held: the reason text order lines and logs carry. */
export function heldReason(mac: string, price: string): string {
  return `label ${mac} shows ${price}`;
}

/** What {@link PriceParity.start} needs. */
export interface PriceParityDeps {
  db: Database;
  log: Logger;
  clock: Clock;
  config: Pick<Config, "priceParity" | "priceParityMaxS">;
  /** Counts labels whose window ran out (optional: tests of the overlay alone). */
  expired?: Counter;
}

/** The overlay; {@link PriceParity.stop} ends it. */
export class PriceParity {
  readonly #deps: PriceParityDeps;
  readonly #worker: Worker;
  #byGoods = new Map<number, LowerShown[]>();
  /** Reloads asked for (notifications) and the last one a finished load covers. */
  #wanted = 1;
  #have = 0;
  #waiters: (() => void)[] = [];
  readonly #reported = new Set<string>();

  private constructor(deps: PriceParityDeps) {
    this.#deps = deps;
    this.#worker = new Worker(() => this.#reload(), {
      name: "price parity overlay",
      log: deps.log,
      clock: deps.clock,
      backoff: { initialMs: 500, maxMs: 10_000 },
      // The database is away: look-ups waiting for a reload go on with the overlay last loaded
      // (a request is answered, not timed out); the reload is retried.
      onError: (error, failures) => {
        this.#release();
        deps.log.warn("price parity overlay not reloaded; retrying", {
          error: (error as Error)?.message ?? String(error),
          failures,
        });
      },
    });
  }

  /** Subscribes to the `labels_shown` channel and loads the overlay. */
  static async start(deps: PriceParityDeps): Promise<PriceParity> {
    const parity = new PriceParity(deps);
    const worker = parity.#worker;
    const stale = () => {
      parity.#wanted++;
      worker.wake();
    };
    worker.onStop(await deps.db.listen(LABELS_SHOWN_CHANNEL, stale, stale));
    worker.start();
    await parity.#current();
    return parity;
  }

  /** Stops listening; look-ups waiting for a reload are released with what is loaded. */
  async stop(): Promise<void> {
    await this.#worker.stop();
    this.#release();
  }

  /**
   * The price a device other than a shelf label is told for goods `gid` whose current price is
   * `current`: the lowest price a bound label still shows within the window, if lower.
   */
  async priceFor(gid: number, current: string): Promise<ParityPrice> {
    if (this.#deps.config.priceParity === "current") return { price: current, reason: "current" };
    if (this.#have < this.#wanted) await this.#current();
    const held = this.#held(gid, this.#deps.clock.now());
    if (held && compareDecimal(held.price, current) < 0) {
      return { price: held.price, reason: heldReason(held.mac, held.price) };
    }
    return { price: current, reason: "current" };
  }

  /** Goods with at least one label showing an older price (for tests and the log). */
  get heldGoods(): number {
    return this.#byGoods.size;
  }

  #held(gid: number, now: number): LowerShown | undefined {
    const windowMs = this.#deps.config.priceParityMaxS * 1000;
    // Sorted by price: the first label still inside its window is the lowest shown.
    return this.#byGoods.get(gid)?.find((l) => l.staleSince.getTime() + windowMs > now);
  }

  #current(): Promise<void> {
    if (this.#have >= this.#wanted || this.#worker.stopped) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #release(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  async #reload(): Promise<{ at: number } | undefined> {
    const { db, clock } = this.#deps;
    const wanted = this.#wanted;
    if (this.#have < wanted) {
      const rows = await staleShownPrices(db);
      const byGoods = new Map<number, LowerShown[]>();
      for (const row of rows) {
        let list = byGoods.get(row.gid);
        if (!list) byGoods.set(row.gid, list = []);
        list.push(row);
      }
      this.#byGoods = byGoods;
      this.#have = wanted;
      if (this.#have >= this.#wanted) this.#release();
    }
    return this.#reportExpired(clock.now());
  }

  /** Reports each label whose window ran out once; plans the next run at the next expiry. */
  #reportExpired(now: number): { at: number } | undefined {
    const windowMs = this.#deps.config.priceParityMaxS * 1000;
    let next: number | undefined;
    const seen = new Set<string>();
    for (const labels of this.#byGoods.values()) {
      for (const l of labels) {
        const key = `${l.mac}@${l.staleSince.getTime()}`;
        seen.add(key);
        const ends = l.staleSince.getTime() + windowMs;
        if (ends > now) {
          next = Math.min(next ?? ends, ends);
          continue;
        }
        if (this.#reported.has(key)) continue;
        this.#reported.add(key);
        this.#deps.expired?.inc();
        this.#deps.log.warn(
          "shelf label never confirmed a price change: it no longer holds the price",
          {
            mac: l.mac,
            gid: l.gid,
            shownPrice: l.price,
            staleSince: l.staleSince.toISOString(),
            priceParityMaxS: this.#deps.config.priceParityMaxS,
          },
        );
      }
    }
    for (const key of this.#reported) if (!seen.has(key)) this.#reported.delete(key);
    return next === undefined ? undefined : { at: next };
  }
}
