/**
 * A counting semaphore: at most `size` tasks run at once, the rest wait in order. The push
 * workers share the database pool with request handling; limiting their concurrent queries keeps
 * a burst of pushes from queueing ahead of devices' requests.
 *
 * @module
 */

/** Runs tasks with bounded concurrency. */
export class Limiter {
  #free: number;
  #waiting: (() => void)[] = [];

  /** @param size tasks at once (at least 1) */
  constructor(size: number) {
    this.#free = Math.max(1, size);
  }

  /** Runs `task` when a slot is free. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}
