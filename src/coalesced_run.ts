/**
 * "Run this now, but never twice at once": a request while a run is in progress makes exactly one
 * more run after it. Wake-ups from NOTIFY (a bulk change sends many) and login storms collapse
 * into a few passes over the database instead of one per signal.
 *
 * @module
 */

/** A task run on request, one run at a time. */
export class CoalescedRun {
  readonly #task: () => Promise<void>;
  readonly #onError: (error: unknown) => void;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  /**
   * @param task the work; a failure goes to `onError` and the next request runs it again
   * @param onError where failures go (logged by the owner)
   *
   * @example
   * ```ts
   * const rescan = new CoalescedRun(() => scanJobs(), (e) => log.warn("scan failed", { error: e }));
   * await db.listen("refill_jobs", () => rescan.request());
   * ```
   */
  constructor(task: () => Promise<void>, onError: (error: unknown) => void) {
    this.#task = task;
    this.#onError = onError;
  }

  /** Runs the task now, or once more after the run in progress. */
  request(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.#task();
        } catch (e) {
          this.#onError(e);
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves when no run is in progress. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Takes no more requests and waits for the run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.idle();
  }
}
