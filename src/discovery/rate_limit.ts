/**
 * Answers per sender per minute, for the discovery responder. Pure apart from the clock passed
 * in. The table of senders is bounded: a flood of spoofed source addresses cannot grow memory
 * without limit (the oldest entries are forgotten first).
 *
 * @module
 */
import type { Clock } from "../clock.ts";

/** A per-key sliding-window rate limiter. */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #clock: Clock;
  /** key → times of recent allowed events, oldest first (Map keeps insertion order). */
  readonly #events = new Map<string, number[]>();

  /**
   * @param limit events allowed per key per window
   * @param windowMs the window
   * @param clock the appliance clock
   * @param maxKeys most keys remembered
   */
  constructor(limit: number, windowMs: number, clock: Clock, maxKeys = 4096) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#clock = clock;
    this.#maxKeys = maxKeys;
  }

  /**
   * Whether one more event for `key` is allowed now (and counts it when it is).
   *
   * @example
   * ```ts
   * const limiter = new RateLimiter(2, 60_000, systemClock);
   * limiter.allow("10.0.0.7"); // true, true, then false for a minute
   * ```
   */
  allow(key: string): boolean {
    const now = this.#clock.now();
    const recent = (this.#events.get(key) ?? []).filter((t) => now - t < this.#windowMs);
    this.#events.delete(key);
    if (recent.length >= this.#limit) {
      this.#events.set(key, recent);
      return false;
    }
    recent.push(now);
    this.#events.set(key, recent);
    while (this.#events.size > this.#maxKeys) {
      this.#events.delete(this.#events.keys().next().value!);
    }
    return true;
  }

  /** Keys remembered now. */
  get size(): number {
    return this.#events.size;
  }
}
