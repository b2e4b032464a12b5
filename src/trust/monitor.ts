/**
 * Counts and logs refusals of devices acting beyond themselves: `makePayment` of another device's
 * order, and logins refused by admission. A device that retries its login every few seconds must
 * not fill the journal: a refused login is logged once per device per hour (the count goes on in
 * `/metrics`). One monitor per appliance, built in `app.ts`; its memo is its own state.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Counter, MetricsRegistry } from "../metrics.ts";
import type { Clock } from "../clock.ts";
import {
  type EventBus,
  LOGIN_REFUSED_EVENT,
  type LoginRefusedEvent,
  PAYMENT_REFUSED_EVENT,
  type PaymentRefusedEvent,
} from "../events.ts";

/** How long a refused login is not logged again for the same device. */
export const REFUSED_LOGIN_LOG_INTERVAL_MS = 60 * 60 * 1000;

// A flood of invented names must not grow the memo without bound: past this, expired entries
// are dropped, and if all are fresh the oldest go (such a device may be logged twice an hour).
const MEMO_LIMIT = 10_000;

/** What a {@link TrustMonitor} is built from. */
export interface TrustMonitorDeps {
  events: EventBus;
  metrics: MetricsRegistry;
  log: Logger;
  clock: Clock;
}

/** Counts refused payments and logins; logs refused logins once per device per hour. */
export class TrustMonitor {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #paymentsRefused: Counter;
  readonly #loginsRefused: Counter;
  readonly #lastLogged = new Map<string, number>();
  readonly #unsubscribe: (() => void)[];

  /** Subscribes to the bus; {@link stop} unsubscribes. */
  constructor(deps: TrustMonitorDeps) {
    this.#log = deps.log;
    this.#clock = deps.clock;
    this.#paymentsRefused = deps.metrics.counter(
      "newretail_payment_refused_total",
      "makePayment refused: not_owner (another device's order), unknown (no such order).",
    );
    this.#loginsRefused = deps.metrics.counter(
      "newretail_login_refused_total",
      "Logins refused by admission, by reason (not_registered, disabled, invalid_id).",
    );
    this.#unsubscribe = [
      deps.events.on(PAYMENT_REFUSED_EVENT, (d) => this.paymentRefused(d)),
      deps.events.on(LOGIN_REFUSED_EVENT, (d) => this.loginRefused(d)),
    ];
  }

  /** Counts a refused `makePayment`; another device's order is worth a warning every time. */
  paymentRefused(e: PaymentRefusedEvent): void {
    this.#paymentsRefused.inc({ reason: e.reason });
    const fields = { equipId: e.equipId, peer: e.peer, oid: e.oid };
    if (e.reason === "not_owner") {
      this.#log.warn("makePayment of another device's order refused", fields);
    } else this.#log.debug("makePayment of an unknown order", fields);
  }

  /** Counts a refused login; logs it unless this device was logged within the hour. */
  loginRefused(e: LoginRefusedEvent): void {
    this.#loginsRefused.inc({ reason: e.reason });
    const now = this.#clock.now();
    const last = this.#lastLogged.get(e.equipId);
    if (last !== undefined && now - last < REFUSED_LOGIN_LOG_INTERVAL_MS) return;
    this.#remember(e.equipId, now);
    this.#log.warn("login refused", {
      equipId: e.equipId,
      peer: e.peer,
      reason: e.message,
      note: "logged once per device per hour; newretail_login_refused_total counts every attempt",
    });
  }

  #remember(equipId: string, now: number): void {
    this.#lastLogged.delete(equipId);
    if (this.#lastLogged.size >= MEMO_LIMIT) {
      for (const [id, at] of this.#lastLogged) {
        if (now - at >= REFUSED_LOGIN_LOG_INTERVAL_MS) this.#lastLogged.delete(id);
      }
      // Map order is insertion order: the first entries are the oldest.
      for (const id of this.#lastLogged.keys()) {
        if (this.#lastLogged.size < MEMO_LIMIT) break;
        this.#lastLogged.delete(id);
      }
    }
    this.#lastLogged.set(equipId, now);
  }

  /** Unsubscribes from the bus. */
  stop(): void {
    for (const off of this.#unsubscribe) off();
  }
}
