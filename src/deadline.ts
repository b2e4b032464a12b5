/**
 * The one timeout helper: runs work with an {@link AbortSignal} that is aborted when the time is
 * up, so the work stops (its database queries are cancelled) instead of running on unseen while
 * the caller has moved on, and e.g. a device's retry runs next to it.
 *
 * @module
 */

/** The time given to some work ran out; its signal was aborted with this error. */
export class DeadlineExceeded extends Error {
  /** @param message what timed out */
  constructor(message: string) {
    super(message);
    this.name = "DeadlineExceeded";
  }
}

/**
 * Runs `work(signal)` and settles with it, or rejects with {@link DeadlineExceeded} after `ms`,
 * aborting `signal` at that moment.
 *
 * @example
 * ```ts
 * const rows = await withDeadline(2000, (signal) => db.query("select 1", [], signal), "check");
 * ```
 */
export function withDeadline<T>(
  ms: number,
  work: (signal: AbortSignal) => Promise<T>,
  what = "work",
): Promise<T> {
  const controller = new AbortController();
  let started: Promise<T>;
  try {
    started = work(controller.signal);
  } catch (e) {
    return Promise.reject(e); // a failure at once is a rejection too
  }
  return raceDeadline(ms, started, (error) => controller.abort(error), what);
}

/**
 * Settles with `work`, or rejects with {@link DeadlineExceeded} after `ms`, calling `expire` with
 * that error first (to abort what `work` is doing). For work already started whose abort is wired
 * up by the caller: a device request's handler, whose signal exists only if it asked for one.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const rows = db.query("select 1", [], controller.signal);
 * await raceDeadline(2000, rows, (e) => controller.abort(e), "check");
 * ```
 */
export function raceDeadline<T>(
  ms: number,
  work: Promise<T>,
  expire: (error: DeadlineExceeded) => void,
  what = "work",
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new DeadlineExceeded(`${what} timed out after ${ms / 1000} s`);
      expire(error);
      reject(error);
    }, ms);
    work.then((value) => {
      clearTimeout(timer);
      resolve(value);
    }, (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Waits for `promise` at most `ms`: true when it settled in time, false when the time ran out
 * (a bound on a wait, not a failure: a graceful close gives slow peers that long, then goes on).
 * A rejection of `promise` is thrown.
 *
 * @example
 * ```ts
 * const flushed = await waitAtMost(1000, socketClosed);
 * ```
 */
export async function waitAtMost(ms: number, promise: Promise<unknown>): Promise<boolean> {
  try {
    await withDeadline(ms, () => promise);
    return true;
  } catch (e) {
    if (e instanceof DeadlineExceeded) return false;
    throw e;
  }
}

/**
 * Waits `ms`, or less when `signal` aborts (a stopping service must not wait out its sleep).
 * Resolves either way: the caller looks at the signal.
 *
 * @example
 * ```ts
 * const stopping = new AbortController();
 * await sleep(1000, stopping.signal);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
