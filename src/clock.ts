/**
 * Time, passed in: every module that needs "now" is given a {@link Clock}, so a test with a fake
 * clock controls one time for the whole appliance.
 *
 * Two readings, for two jobs: `now()` is the wall clock (records, calendar rules such as a price
 * schedule's start), which NTP or an operator may step; `monotonic()` only ever advances at the
 * rate of real time (heartbeats, timeouts, "once a minute"), so a step of the wall clock neither
 * fires nor stalls them.
 *
 * @module
 */

/** Wall time and elapsed time; passed in so that tests control time. */
export interface Clock {
  /** Wall time: milliseconds since the epoch. */
  now(): number;
  /** Milliseconds since an arbitrary start, never stepped: only differences mean anything. */
  monotonic(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() };
