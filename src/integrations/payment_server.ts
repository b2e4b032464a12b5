/**
 * The payment-server client (PROTOCOL.md §5): works through the outbox of calls written with each
 * order (`payment_calls`), POSTing `orderCode`, `price`, `openid` and `uniqueId` form-encoded to
 * the configured URL. A call times out, is retried with doubling waits until it succeeds or its
 * order is settled or expires, survives a restart (it is in the database), and once the payment
 * server accepted it (HTTP 2xx) it is never made again.
 *
 * A crash between the payment server's answer and recording it makes the call once more after the
 * restart: the payment server sees the same `orderCode` (at-least-once; it identifies the order).
 *
 * @module
 */
import { type Next, Worker } from "../background.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../log.ts";
import { maskId } from "../log.ts";
import type { Database } from "../store/database.ts";
import {
  claimDueCalls,
  type DueCall,
  markCallFailed,
  markCallSent,
  nextCallDue,
} from "../store/payment_calls.ts";
import { errorMessage } from "../errors.ts";
import { DeadlineExceeded, withDeadline } from "../deadline.ts";

/** Calls made at once. */
const CONCURRENCY = 8;
/** Longest sleep between two looks at the outbox (new orders wake the worker before that). */
const MAX_IDLE_MS = 30_000;
/** Most characters of a refusal's body kept in the log and the outbox row. */
const ERROR_BODY_CHARS = 200;

/** What the worker is built from. */
export interface PaymentServerDeps {
  db: Database;
  config: Pick<
    Config,
    "paymentServerUrl" | "paymentTimeoutS" | "paymentRetryMinS" | "paymentRetryMaxS"
  >;
  clock: Clock;
  log: Logger;
  /** The HTTP client (the global fetch by default). */
  fetch?: typeof fetch;
}

/** The form fields of one call. */
export function paymentForm(call: DueCall): URLSearchParams {
  return new URLSearchParams({
    orderCode: call.code,
    price: call.amount,
    openid: call.openId,
    uniqueId: call.uniqueId,
  });
}

/**
 * Wait before the next try after `attempts` failed ones: `min` doubled each time, at most `max`.
 *
 * @example
 * ```ts
 * retryDelayS(3, 1, 60); // 4
 * ```
 */
export function retryDelayS(attempts: number, minS: number, maxS: number): number {
  return Math.min(maxS, minS * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
}

/** The outbox worker. */
export class PaymentServerClient {
  readonly #deps: PaymentServerDeps;
  readonly #fetch: typeof fetch;
  readonly #worker: Worker;

  /** @param deps store, settings, clock, logger, HTTP client */
  constructor(deps: PaymentServerDeps) {
    this.#deps = deps;
    this.#fetch = deps.fetch ?? fetch;
    this.#worker = new Worker((signal) => this.#step(signal), {
      name: "payment-server outbox",
      log: deps.log,
      clock: deps.clock,
      idleMs: MAX_IDLE_MS,
    });
  }

  /** Whether a payment-server URL is configured. */
  get configured(): boolean {
    return this.#deps.config.paymentServerUrl !== "";
  }

  /** Starts working through the outbox (says once when no URL is configured, and does nothing). */
  start(): void {
    if (!this.configured) {
      this.#deps.log.info(
        "payment server not configured (NEWRETAIL_PAYMENT_SERVER_URL): no payment calls are made",
      );
      return;
    }
    this.#worker.start();
  }

  /** Looks at the outbox now (an order was created). */
  wake(): void {
    this.#worker.wake();
  }

  /** Stops: calls in flight are aborted (and made again after the next start). */
  stop(): Promise<void> {
    return this.#worker.stop();
  }

  async #step(stopping: AbortSignal): Promise<Next> {
    const { db, config, clock } = this.#deps;
    const now = clock.now();
    // The lease outlasts one call: a second worker (or this one after a crash) waits it out.
    const lease = new Date(now + config.paymentTimeoutS * 1000 + 5_000);
    const calls = await claimDueCalls(db, new Date(now), lease, CONCURRENCY);
    await Promise.all(calls.map((call) => this.#call(call, stopping)));
    if (stopping.aborted) return undefined;
    if (calls.length === CONCURRENCY) return { again: true };
    const next = await nextCallDue(db);
    return next ? { at: next.getTime() } : undefined;
  }

  async #call(call: DueCall, stopping: AbortSignal): Promise<void> {
    const { db, config, clock, log } = this.#deps;
    const fields = {
      code: call.code,
      attempt: call.attempts,
      customer: call.openId ? maskId(call.openId) : "",
    };
    const error = await this.#post(call, stopping);
    if (error === undefined) {
      await markCallSent(db, call.orderId, new Date(clock.now()));
      log.info("payment server accepted the order", fields);
      return;
    }
    if (stopping.aborted) {
      // Due again at once, so the next start makes the call without waiting out the lease.
      const now = new Date(clock.now());
      await markCallFailed(db, call.orderId, "stopped", now, now).catch(() => {});
      return;
    }
    const waitS = retryDelayS(call.attempts, config.paymentRetryMinS, config.paymentRetryMaxS);
    const now = clock.now();
    await markCallFailed(db, call.orderId, error, new Date(now), new Date(now + waitS * 1000));
    log.warn("payment server call failed, will retry", { ...fields, error, retryInS: waitS });
  }

  // Undefined on success, else the reason.
  async #post(call: DueCall, stopping: AbortSignal): Promise<string | undefined> {
    const { config } = this.#deps;
    try {
      return await withDeadline(config.paymentTimeoutS * 1000, async (timeout) => {
        const response = await this.#fetch(config.paymentServerUrl, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8" },
          body: paymentForm(call),
          signal: AbortSignal.any([timeout, stopping]),
        });
        const text = await response.text();
        if (response.ok) return undefined;
        return `HTTP ${response.status}: ${text.slice(0, ERROR_BODY_CHARS)}`;
      }, "payment server call");
    } catch (e) {
      if (e instanceof DeadlineExceeded) return `no answer within ${config.paymentTimeoutS} s`;
      if (stopping.aborted) return "stopped";
      return errorMessage(e);
    }
  }
}
