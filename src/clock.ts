/**
 * Time, passed in: every module that needs "now" is given a {@link Clock}, so a test with a fake
 * clock controls one time for the whole appliance.
 *
 * @module
 */

/** Milliseconds since the epoch; passed in so that tests control time. */
export interface Clock {
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };
