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
  return new Deadlines().race(ms, work, expire, what);
}

/** What to do when a piece of work in {@link Deadlines} runs out of time. */
interface Expiry {
  what: string;
  expire: (error: DeadlineExceeded) => void;
  reject: (error: DeadlineExceeded) => void;
}

/**
 * One piece of work in {@link Deadlines}: when it is due, and its {@link Expiry} until it settles
 * (dropped then, so that what the work's callbacks hold is let go of at once, not when its time
 * would have run out).
 */
interface Waiting {
  at: number;
  expiry: Expiry | undefined;
}

/** The work given the same time, oldest first, and the one timer waiting for the oldest. */
interface SameLength {
  ms: number;
  waiting: Waiting[];
  /** Index of the oldest entry not yet settled (those before it are dropped). */
  head: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * {@link raceDeadline} for many pieces of work at once (a device request each), with one timer
 * for all those given the same time instead of one each: work that starts later ends later, so
 * the first due is the oldest unsettled one. The timer waits for it, and is cleared when nothing
 * is left waiting. Under load a request then costs an array slot, not a timer made and cleared
 * (which was 7 % of the appliance's time answering labels' own look-ups).
 *
 * @example
 * ```ts
 * const deadlines = new Deadlines();
 * const rows = await deadlines.race(2000, db.query("select 1"), (e) => controller.abort(e), "check");
 * ```
 */
export class Deadlines {
  readonly #byLength = new Map<number, SameLength>();

  /** As {@link raceDeadline}: settles with `work`, or calls `expire` then rejects after `ms`. */
  race<T>(
    ms: number,
    work: Promise<T>,
    expire: (error: DeadlineExceeded) => void,
    what = "work",
  ): Promise<T> {
    let queue = this.#byLength.get(ms);
    if (!queue) this.#byLength.set(ms, queue = { ms, waiting: [], head: 0, timer: undefined });
    const same = queue;
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = { at: performance.now() + ms, expiry: { what, expire, reject } };
      same.waiting.push(entry);
      if (same.timer === undefined) this.#arm(same, ms);
      const settle = () => {
        if (!entry.expiry) return false; // expired already
        entry.expiry = undefined;
        this.#dropSettled(same);
        return true;
      };
      work.then((value) => settle() && resolve(value), (error) => settle() && reject(error));
    });
  }

  #arm(queue: SameLength, delayMs: number): void {
    queue.timer = setTimeout(() => {
      queue.timer = undefined;
      this.#expireDue(queue);
    }, Math.max(0, delayMs));
  }

  /** Moves the head past settled work; with none left waiting, the timer goes too. */
  #dropSettled(queue: SameLength): void {
    const { waiting } = queue;
    while (queue.head < waiting.length && !waiting[queue.head].expiry) queue.head++;
    if (queue.head === waiting.length) {
      clearTimeout(queue.timer);
      queue.timer = undefined;
      waiting.length = 0;
      queue.head = 0;
    } else if (queue.head > 1024 && queue.head * 2 > waiting.length) {
      waiting.splice(0, queue.head); // now and then, not one entry at a time
      queue.head = 0;
    }
  }

  #expireDue(queue: SameLength): void {
    const now = performance.now();
    const { waiting } = queue;
    while (queue.head < waiting.length && waiting[queue.head].at <= now) {
      const entry = waiting[queue.head++];
      const expiry = entry.expiry;
      if (!expiry) continue;
      entry.expiry = undefined;
      const error = new DeadlineExceeded(`${expiry.what} timed out after ${queue.ms / 1000} s`);
      expiry.expire(error);
      expiry.reject(error);
    }
    this.#dropSettled(queue);
    if (queue.head < waiting.length) this.#arm(queue, waiting[queue.head].at - now);
  }
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
