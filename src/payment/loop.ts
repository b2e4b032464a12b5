/**
 * A background worker loop that runs one step at a time, sleeps for as long as the step says,
 * and can be woken early (new work committed) or stopped (waits for the running step).
 *
 * @module
 */
import type { Logger } from "../log.ts";

/** One pass of work; returns milliseconds until the next pass is due. */
export type LoopStep = () => Promise<number>;

/**
 * Runs a {@link LoopStep} again and again. A step that throws is logged and retried after
 * `errorDelayMs`. Steps never overlap; a wake during a step runs another step right after it.
 *
 * @example
 * ```ts
 * const loop = new WakeableLoop("sweeper", async () => 1000, log);
 * loop.start();
 * loop.wake();
 * await loop.stop();
 * ```
 */
export class WakeableLoop {
  readonly #name: string;
  readonly #step: LoopStep;
  readonly #log: Logger;
  readonly #errorDelayMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #started = false;
  #stopped = false;

  /** @param name for logs @param step the work @param log where failures go */
  constructor(name: string, step: LoopStep, log: Logger, errorDelayMs = 1000) {
    this.#name = name;
    this.#step = step;
    this.#log = log;
    this.#errorDelayMs = errorDelayMs;
  }

  /** Runs the first step now. */
  start(): void {
    this.#started = true;
    this.wake();
  }

  /** Runs a step as soon as possible (after the current one, if any). No-op before start. */
  wake(): void {
    if (!this.#started || this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#run();
  }

  async #run(): Promise<void> {
    let delay = 0;
    do {
      this.#again = false;
      try {
        delay = await this.#step();
      } catch (e) {
        this.#log.error("background work failed", {
          worker: this.#name,
          error: (e as Error)?.message ?? String(e),
        });
        delay = this.#errorDelayMs;
      }
    } while ((this.#again || delay <= 0) && !this.#stopped);
    this.#running = undefined;
    if (!this.#stopped && Number.isFinite(delay)) {
      // setTimeout's limit is 2^31-1 ms; a longer sleep is cut short and the step re-plans.
      this.#timer = setTimeout(() => this.wake(), Math.min(delay, 2 ** 31 - 1));
    }
  }

  /** Stops: no further steps; waits for the running one to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
