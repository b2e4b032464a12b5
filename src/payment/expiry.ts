/**
 * Expires payment orders not paid in time (`orderTtlS`): each becomes `expired`, its pending
 * payment-server call is cancelled, and its device is sent `sendPayResult` with `error`.
 *
 * @module
 */
import { type Next, Worker } from "../background.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Database } from "../store/database.ts";
import { expireDueOrders, nextExpiry } from "../store/orders.ts";

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

/**
 * A worker that sleeps until the next order's expiry, expires what is due, and sleeps again;
 * `wake()` re-plans (a new order may expire before the planned sweep).
 */
export function expirySweeper(deps: ExpirySweeperDeps): Worker {
  return new Worker(() => sweep(deps), {
    name: "order expiry",
    log: deps.log,
    clock: deps.clock,
    idleMs: MAX_SWEEP_INTERVAL_MS,
  });
}

async function sweep(deps: ExpirySweeperDeps): Promise<Next> {
  const expired = await expireDueOrders(deps.db, new Date(deps.clock.now()));
  for (const order of expired) {
    deps.log.info("order expired", { code: order.code, equipId: order.equipId });
  }
  if (expired.length > 0) deps.onExpired([...new Set(expired.map((o) => o.equipId))]);
  const next = await nextExpiry(deps.db);
  return next ? { at: next.getTime() } : undefined;
}
