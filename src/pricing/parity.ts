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
 *
 * The rule is written once, {@link shelfPrice}: the overlay applies it to the labels it keeps,
 * `getPayInfo` ({@link chargedGoods}) to the same rows read with the goods in one statement (a
 * consistent snapshot for charging). `tests/price_parity_property_test.ts` drives both paths.
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
import {
  type GoodsAndShown,
  LABELS_SHOWN_CHANNEL,
  type LowerShown,
  staleShownPrices,
} from "../store/label_shown.ts";
import type { PricedGoods } from "../store/priced_goods.ts";
import { errorMessage } from "../errors.ts";

/** The price a non-label device is told, and why. */
export interface ParityPrice {
  /** Two decimals. */
  price: string;
  /** `current`, or `label AC:… shows 3.50`. */
  reason: string;
}

/** Which prices devices are told: the parity settings. */
export type ParityConfig = Pick<Config, "priceParity" | "priceParityMaxS">;

/**
 * THE parity rule (PROTOCOL.md §6 "Price parity"): the price a device other than a shelf label is
 * told and charged for goods whose current price is `current`, at `now` (epoch ms). `stale` are
 * the labels bound to the goods that show an older price, sorted by price then MAC: the lowest
 * one still inside its window (`priceParityMaxS` after it went stale) holds the price, if lower.
 *
 * @example
 * ```ts
 * const stale = [{ mac: "AC:01", gid: 1, price: "3.50", staleSince: new Date(0) }];
 * const config = { priceParity: "lowest", priceParityMaxS: 60 } as const;
 * shelfPrice("4.00", stale, 59_999, config); // { price: "3.50", reason: "label AC:01 shows 3.50" }
 * shelfPrice("4.00", stale, 60_000, config); // { price: "4.00", reason: "current" }
 * ```
 */
export function shelfPrice(
  current: string,
  stale: readonly LowerShown[],
  now: number,
  config: ParityConfig,
): ParityPrice {
  if (config.priceParity === "lowest") {
    const windowMs = config.priceParityMaxS * 1000;
    const held = stale.find((l) => l.staleSince.getTime() + windowMs > now);
    if (held && compareDecimal(held.price, current) < 0) {
      return { price: held.price, reason: `label ${held.mac} shows ${held.price}` };
    }
  }
  return { price: current, reason: "current" };
}

/**
 * The catalogue as `getPayInfo` charges it: the active goods read with the labels still showing
 * another price (`goodsAndShown`), each at its {@link shelfPrice} (`listPrice`: the
 * current price).
 */
export function chargedGoods(
  goods: readonly GoodsAndShown[],
  now: number,
  config: ParityConfig,
): PricedGoods[] {
  return goods.map((g) => {
    const shown = shelfPrice(g.price, g.stale, now, config);
    return {
      id: g.id,
      name: g.name,
      weighed: g.weighed,
      price: shown.price,
      listPrice: g.price,
      reason: shown.reason,
    };
  });
}

/** What {@link PriceParity.start} needs. */
export interface PriceParityDeps {
  db: Database;
  log: Logger;
  clock: Clock;
  config: ParityConfig;
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
          error: errorMessage(error),
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
    if (this.#have < this.#wanted && this.#deps.config.priceParity !== "current") {
      await this.#current();
    }
    return this.#price(gid, current);
  }

  /**
   * {@link priceFor} at once, or undefined while a reload is pending (a notification came and the
   * overlay is not read again yet): `getGoods` answers from memory without a promise.
   */
  priceNow(gid: number, current: string): ParityPrice | undefined {
    if (this.#have < this.#wanted && this.#deps.config.priceParity !== "current") return undefined;
    return this.#price(gid, current);
  }

  #price(gid: number, current: string): ParityPrice {
    const { config, clock } = this.#deps;
    const stale = this.#byGoods.get(gid);
    // Most goods have no label showing an older price: no clock reading, no rule to run.
    if (config.priceParity === "current" || !stale) return { price: current, reason: "current" };
    return shelfPrice(current, stale, clock.now(), config);
  }

  /** Goods with at least one label showing an older price (for tests and the log). */
  get heldGoods(): number {
    return this.#byGoods.size;
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
