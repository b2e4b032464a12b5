/**
 * Expires payment orders not paid in time (`orderTtlS`): each becomes `expired`, its pending
 * payment-server call is cancelled, and its device is sent `sendPayResult` with `error`.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Database } from "../store/database.ts";
import { expireDueOrders, nextExpiry } from "../store/orders.ts";
import { WakeableLoop } from "./loop.ts";

/** Longest sleep between two sweeps (an order created meanwhile wakes the sweeper). */
const MAX_SWEEP_INTERVAL_MS = 30_000;

/** What the sweeper is built from. */
export interface ExpirySweeperDeps {
  db: Database;
  clock: Clock;
  log: Logger;
  /** Told which devices are owed a result after a sweep. */
  onExpired(equipIds: string[]): void;
}

/** Sleeps until the next order's expiry, expires what is due, and sleeps again. */
export class ExpirySweeper {
  readonly #loop: WakeableLoop;

  /** @param deps store, clock, logger, and who to tell */
  constructor(deps: ExpirySweeperDeps) {
    this.#loop = new WakeableLoop("order-expiry", () => sweep(deps), deps.log);
  }

  /** Sweeps now and then whenever an order is due. */
  start(): void {
    this.#loop.start();
  }

  /** Re-plans (a new order may expire before the planned sweep). */
  wake(): void {
    this.#loop.wake();
  }

  /** Stops sweeping. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }
}

async function sweep(deps: ExpirySweeperDeps): Promise<number> {
  const now = new Date(deps.clock.now());
  const expired = await expireDueOrders(deps.db, now);
  for (const order of expired) {
    deps.log.info("order expired", { code: order.code, equipId: order.equipId });
  }
  if (expired.length > 0) deps.onExpired([...new Set(expired.map((o) => o.equipId))]);
  const next = await nextExpiry(deps.db);
  if (!next) return MAX_SWEEP_INTERVAL_MS;
  // Never 0: an order due "now" by the database's clock but not yet by ours would spin.
  return Math.min(Math.max(next.getTime() - deps.clock.now(), 10), MAX_SWEEP_INTERVAL_MS);
}
