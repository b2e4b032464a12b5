/**
 * Background work, written once. A service gives a {@link Worker} one step (a pass over its
 * outbox, a scan, a delivery to one device); the worker runs it one at a time, again when woken
 * (a wake during a run makes exactly one more run: a bulk NOTIFY or a login storm collapses into a
 * few passes), after the delay the step asks for, after an error with exponential backoff, and
 * `stop()` waits for the running step and cancels its timer. {@link KeyedWorkers} keeps one
 * worker per key (a device), created on demand and dropped when idle. {@link Worker.listen}
 * wakes a worker on a database NOTIFY channel.
 *
 * Timers are real timers; the clock only turns due times (`{ at }`) into delays, so a test with a
 * fake clock gets one time.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";
import { isDiskFull } from "./disk_space.ts";
import type { Notifications } from "./listen.ts";
import { errorMessage } from "./errors.ts";

/**
 * When a step wants to run next: at once, after a delay, at a due time (epoch ms by the worker's
 * clock), or nothing planned (`undefined`: when woken, or after `idleMs` if set).
 */
export type Next = { again: true } | { afterMs: number } | { at: number } | undefined | void;

/** One pass of work. `signal` is aborted when the worker stops: long steps check it. */
export type Step = (signal: AbortSignal) => Promise<Next>;

/** Waits after consecutive failures: `initialMs`, doubled each time, at most `maxMs`. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** How a {@link Worker} runs its step. */
export interface WorkerOptions {
  /** For logs. */
  name: string;
  log: Logger;
  /** Turns `{ at }` into a delay. */
  clock: Clock;
  /** Longest sleep: an idle step runs again after it, and no planned wait is longer. */
  idleMs?: number;
  /** Retry waits after a step threw (default 1 s doubling up to 30 s). */
  backoff?: Partial<Backoff>;
  /** Told of each failure instead of the default log line (`failures`: consecutive, from 1). */
  onError?: (error: unknown, failures: number) => void;
  /** Called when nothing is running or planned (the keyed variant drops the worker then). */
  onIdle?: () => void;
}

const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 30_000 };
// setTimeout's limit; a longer sleep is cut short and the step plans again.
const MAX_TIMER_MS = 2 ** 31 - 1;
// Never 0 for a due time: one due "now" by the database's clock but not yet by ours would spin.
const MIN_DUE_MS = 10;

/**
 * The wait after `failures` consecutive failures (1-based).
 *
 * @example
 * ```ts
 * backoffDelayMs(3, { initialMs: 1000, maxMs: 30_000 }); // 4000
 * ```
 */
export function backoffDelayMs(failures: number, backoff: Backoff): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}

/**
 * Failed rounds in a row, per key (a device): the wait after the n-th is
 * {@link backoffDelayMs}(n). For work that is given up after its tries and offered again later,
 * less and less often, while its device stays connected.
 *
 * @example
 * ```ts
 * const rounds = new RetryRounds<string>({ initialMs: 30_000, maxMs: 300_000 });
 * rounds.failed("DZBQ_0001"); // 30000
 * rounds.failed("DZBQ_0001"); // 60000
 * rounds.reset("DZBQ_0001"); // delivered: the next failure waits 30000 again
 * ```
 */
export class RetryRounds<K> {
  readonly #backoff: Backoff;
  readonly #failed = new Map<K, number>();

  /** @param backoff the wait after the first failed round, doubling up to `maxMs` */
  constructor(backoff: Backoff) {
    this.#backoff = backoff;
  }

  /** Counts a failed round of `key`; returns how long to wait before the next. */
  failed(key: K): number {
    const failures = (this.#failed.get(key) ?? 0) + 1;
    this.#failed.set(key, failures);
    return backoffDelayMs(failures, this.#backoff);
  }

  /** The key succeeded, or went away: it starts over. */
  reset(key: K): void {
    this.#failed.delete(key);
  }
}

/**
 * The timer delay a step's answer asks for: 0 to run at once, undefined for no timer. Pure.
 *
 * @example
 * ```ts
 * plannedDelayMs({ at: 1_500 }, { now: () => 1_000 }); // 500
 * plannedDelayMs(undefined, systemClock, 30_000); // 30000
 * ```
 */
export function plannedDelayMs(
  next: Next,
  clock: Pick<Clock, "now">,
  idleMs?: number,
): number | undefined {
  let delay: number | undefined;
  if (!next) delay = idleMs;
  else if ("again" in next) delay = 0;
  else if ("afterMs" in next) delay = Math.max(next.afterMs, 0);
  else delay = Math.max(next.at - clock.now(), MIN_DUE_MS);
  if (delay === undefined || !Number.isFinite(delay)) return idleMs;
  return Math.min(delay, idleMs ?? Infinity, MAX_TIMER_MS);
}

/**
 * Runs a {@link Step} one at a time until stopped.
 *
 * @example
 * ```ts
 * const sweeper = new Worker(async () => ({ afterMs: 1000 }), { name: "sweeper", log });
 * await sweeper.listen(db, "orders_changed");
 * sweeper.start();
 * sweeper.wake();
 * await sweeper.stop();
 * ```
 */
export class Worker {
  readonly #step: Step;
  readonly #o: WorkerOptions;
  readonly #backoff: Backoff;
  readonly #abort = new AbortController();
  readonly #onStop: (() => void | Promise<void>)[] = [];
  #state: "new" | "started" | "stopped" = "new";
  #running: Promise<void> | undefined;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the planned timer fires, by the clock. */
  #timerDue = Infinity;
  /** The latest time the next run may start, asked for by {@link wakeBy} during a run. */
  #dueBy = Infinity;
  #failures = 0;
  #stopping: Promise<void> | undefined;

  /** @param step the work @param options name, logger, clock, sleeps and backoff */
  constructor(step: Step, options: WorkerOptions) {
    this.#step = step;
    this.#o = options;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  }

  /** Whether {@link stop} was called. */
  get stopped(): boolean {
    return this.#state === "stopped";
  }

  /** Runs the first step now. Wakes before it are ignored; a second call does nothing. */
  start(): void {
    if (this.#state !== "new") return;
    this.#state = "started";
    this.wake();
  }

  /** Runs the step as soon as possible: now, or once more after the running one. */
  wake(): void {
    if (this.#state !== "started") return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#plan(undefined);
    this.#running = this.#run();
  }

  /**
   * Runs the step no later than `at` (epoch ms by the worker's clock), for work with a due time
   * of its own (a new order's expiry): nothing changes when a run is planned by then, a running
   * step's plan is cut to `at`, a later plan is brought forward. A stream of such wakes does not
   * become a stream of runs, as a stream of {@link wake}s under load would.
   */
  wakeBy(at: number): void {
    if (this.#state !== "started") return;
    if (this.#running) {
      this.#dueBy = Math.min(this.#dueBy, at);
      return;
    }
    if (this.#timer !== undefined && this.#timerDue <= at) return;
    this.#plan(plannedDelayMs({ at }, this.#o.clock, this.#o.idleMs));
  }

  /** Resolves when no step is running (a timer may be planned). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /**
   * Wakes the worker on every NOTIFY on `channel` and whenever the subscription is
   * (re-)established (what was missed meanwhile is caught up on); unsubscribed by {@link stop}.
   */
  async listen(db: Notifications, channel: string, onListen?: () => void): Promise<void> {
    const unlisten = await db.listen(channel, () => this.wake(), () => {
      onListen?.();
      this.wake();
    });
    this.onStop(unlisten);
  }

  /**
   * {@link listen}s on `channel`, then starts. When the subscription cannot be made the worker is
   * stopped (what was registered with {@link onStop} is released) and the error thrown: a
   * service that failed to start leaves nothing running.
   */
  async startListening(db: Notifications, channel: string, onListen?: () => void): Promise<void> {
    try {
      await this.listen(db, channel, onListen);
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.start();
  }

  /** Releases `dispose` (an event subscription, a LISTEN) when the worker stops. */
  onStop(dispose: () => void | Promise<void>): void {
    this.#onStop.push(dispose);
  }

  /** Runs no more steps, cancels the timer, releases subscriptions, waits for the running step. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#state = "stopped";
      this.#abort.abort();
      clearTimeout(this.#timer);
      this.#timer = undefined;
      for (const dispose of this.#onStop.reverse()) {
        try {
          await dispose();
        } catch (e) {
          this.#o.log.warn("background worker did not release", {
            worker: this.#o.name,
            error: errorMessage(e),
          });
        }
      }
      await this.idle();
    })();
    return this.#stopping;
  }

  async #run(): Promise<void> {
    let delay: number | undefined;
    do {
      this.#again = false;
      delay = plannedDelayMs(await this.#once(), this.#o.clock, this.#o.idleMs);
    } while ((this.#again || delay === 0) && this.#state === "started");
    this.#running = undefined;
    if (this.#state !== "started") return;
    if (this.#dueBy !== Infinity) {
      const dueBy = plannedDelayMs({ at: this.#dueBy }, this.#o.clock, this.#o.idleMs);
      this.#dueBy = Infinity;
      delay = Math.min(delay ?? Infinity, dueBy ?? Infinity);
    }
    if (delay !== undefined) this.#plan(delay);
    else this.#o.onIdle?.();
  }

  /** Replaces the planned timer with one that wakes the worker after `delayMs`. */
  #plan(delayMs: number | undefined): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = Infinity;
    if (delayMs === undefined) return;
    this.#timerDue = this.#o.clock.now() + delayMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      this.wake();
    }, delayMs);
  }

  async #once(): Promise<Next> {
    try {
      const next = await this.#step(this.#abort.signal);
      this.#failures = 0;
      return next;
    } catch (e) {
      if (this.#state !== "started") return undefined;
      this.#failures++;
      const retryInMs = backoffDelayMs(this.#failures, this.#backoff);
      if (this.#o.onError) this.#o.onError(e, this.#failures);
      // A full disk is the disk guard's to report (src/disk_guard.ts), once a minute: not each
      // background worker at each retry.
      else if (!isDiskFull(e)) {
        this.#o.log.warn(`${this.#o.name} failed; retrying`, {
          worker: this.#o.name,
          error: errorMessage(e),
          retryInMs,
        });
      }
      return { afterMs: retryInMs };
    }
  }
}

/** How {@link KeyedWorkers} runs each key's step. */
export interface KeyedWorkersOptions extends Omit<WorkerOptions, "onIdle" | "onError"> {
  /** The log field that names the key (`equipId`). */
  keyField: string;
}

/**
 * One {@link Worker} per key (per device), created on demand and dropped when it has nothing
 * running or planned: steps of one key never overlap, steps of different keys run at once.
 *
 * @example
 * ```ts
 * const senders = new KeyedWorkers((equipId, signal) => sendOwed(equipId, signal), {
 *   name: "sender",
 *   log,
 *   keyField: "equipId",
 * });
 * await senders.wake("ESL_0001");
 * await senders.stop();
 * ```
 */
export class KeyedWorkers<K> {
  readonly #step: (key: K, signal: AbortSignal) => Promise<Next>;
  readonly #o: KeyedWorkersOptions;
  readonly #workers = new Map<K, Worker>();
  #stopped = false;

  /** @param step the work of one key @param options as for {@link Worker}, and the key's log field */
  constructor(step: (key: K, signal: AbortSignal) => Promise<Next>, options: KeyedWorkersOptions) {
    this.#step = step;
    this.#o = options;
  }

  /** Keys with a worker now (running, or waiting for a planned run). */
  get size(): number {
    return this.#workers.size;
  }

  /**
   * Runs the key's step now, or once more after its running one. Resolves when the key has no
   * step running (never rejects).
   */
  wake(key: K): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    let worker = this.#workers.get(key);
    if (worker) worker.wake();
    else {
      const created = new Worker((signal) => this.#step(key, signal), {
        ...this.#o,
        log: this.#o.log.child({ [this.#o.keyField]: key }),
        onIdle: () => {
          if (this.#workers.get(key) === created) this.#workers.delete(key);
        },
      });
      this.#workers.set(key, worker = created);
      created.start();
    }
    return worker.idle();
  }

  /** Runs no more steps; cancels planned ones and waits for those running. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#workers.values()].map((w) => w.stop()));
    this.#workers.clear();
  }
}
