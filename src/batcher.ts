/**
 * Coalesces single-key loads into batches: every `load` made while a batch is running (or in the
 * same tick as the first) goes into the next batch. Hundreds of device senders woken by one price
 * change then cost a few queries instead of a few per device.
 *
 * @module
 */

interface Waiting<K, V> {
  key: K;
  resolve(value: V): void;
  reject(error: unknown): void;
}

/** A batching loader. */
export class Batcher<K, V> {
  readonly #run: (keys: K[]) => Promise<V[]>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #queue: Waiting<K, V>[] = [];
  #inFlight = 0;
  #scheduled = false;

  /**
   * @param run loads a batch; returns one value per key, in the keys' order
   * @param maxBatch most keys per batch
   * @param maxInFlight most batches running at once (1: every load made while a batch runs waits
   *   for it to end). More lets a load start while others run, where `run` can overlap (its own
   *   connection per statement); batches then end, and resolve, in any order.
   */
  constructor(run: (keys: K[]) => Promise<V[]>, maxBatch = 500, maxInFlight = 1) {
    this.#run = run;
    this.#maxBatch = maxBatch;
    this.#maxInFlight = Math.max(1, maxInFlight);
  }

  /**
   * Loads one key with the next batch.
   *
   * @example
   * ```ts
   * const squares = new Batcher<number, number>((ks) => Promise.resolve(ks.map((k) => k * k)));
   * await Promise.all([squares.load(2), squares.load(3)]); // one batch: [4, 9]
   * ```
   */
  load(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.#queue.push({ key, resolve, reject });
      if (!this.#scheduled && this.#inFlight < this.#maxInFlight) {
        this.#scheduled = true;
        // After the current tick, so that loads made together share the batch.
        queueMicrotask(() => {
          this.#scheduled = false;
          this.#start();
        });
      }
    });
  }

  #start(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      this.#inFlight++;
      this.#runBatch(this.#queue.splice(0, this.#maxBatch));
    }
  }

  async #runBatch(batch: Waiting<K, V>[]): Promise<void> {
    try {
      const values = await this.#run(batch.map((w) => w.key));
      batch.forEach((w, i) => w.resolve(values[i]));
    } catch (e) {
      for (const w of batch) w.reject(e);
    }
    this.#inFlight--;
    this.#start();
  }
}
