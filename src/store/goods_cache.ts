/**
 * A read-through cache of the goods devices look up most (by barcode and by id), kept coherent by
 * the database's own change feed: the triggers of migration 003 `NOTIFY goods_changed` with the
 * ids of goods whose shown data, label bindings or stock changed, whoever changed them (the
 * appliance, psql, the ERP). A scanner's `getGoods` is then answered without a database round
 * trip (bench/RESULTS.md: the database query was most of a request's cost).
 *
 * Coherence: an invalidation bumps a generation; a fill that started before it is not stored, so
 * a read racing a change never caches the old row. When the subscription is (re-)established the
 * whole cache is dropped (changes may have been missed while it was down), and every entry also
 * expires after `ttlMs` as a bound on anything else.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Database } from "./database.ts";
import { goodsByBarcodes, goodsById, goodsByLabels, type GoodsView } from "./goods.ts";
import { GOODS_CHANGED_CHANNEL } from "./goods_changes.ts";

/**
 * The goods look-ups the request path uses; the cache and the plain store both provide them. Each
 * has a form that answers at once from memory (`…Now`: undefined unless every key is known there)
 * so that a request answered from memory costs no promise.
 */
export interface GoodsReader {
  /** Active goods by barcode, one per known code, in the order asked. */
  byBarcodes(codes: string[]): Promise<GoodsView[]>;
  /** Active goods by id, in the order asked. */
  byIds(ids: number[]): Promise<GoodsView[]>;
  /** Active goods bound to these label MACs, one per known MAC, each with that MAC. */
  byLabels(macs: string[]): Promise<GoodsView[]>;
  /** {@link byBarcodes} from memory, or undefined. */
  barcodesNow(codes: string[]): GoodsView[] | undefined;
  /** {@link byIds} from memory, or undefined. */
  idsNow(ids: number[]): GoodsView[] | undefined;
  /** {@link byLabels} from memory, or undefined. */
  labelsNow(macs: string[]): GoodsView[] | undefined;
}

/** The goods reader without a cache (tests of handlers, one-shot commands). */
export function directGoodsReader(db: Database): GoodsReader {
  return {
    byBarcodes: (codes) => goodsByBarcodes(db, codes),
    byIds: (ids) => goodsById(db, ids),
    byLabels: (macs) => goodsByLabels(db, macs),
    barcodesNow: () => undefined,
    idsNow: () => undefined,
    labelsNow: () => undefined,
  };
}

/** Options of {@link GoodsCache}. */
export interface GoodsCacheOptions {
  /** Milliseconds an entry is trusted without a notification (default 60 s). */
  ttlMs?: number;
  /** Entries kept at most per key kind; the oldest go first (default 50,000). */
  maxEntries?: number;
  /** The appliance's clock (entry ages). */
  clock: Clock;
}

interface Entry {
  /** `null`: known not to exist (or inactive). */
  view: GoodsView | null;
  at: number;
}

/** The cache. {@link GoodsCache.start} subscribes it to the change feed. */
export class GoodsCache implements GoodsReader {
  readonly #db: Database;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #clock: Clock;
  readonly #byBarcode = new Map<string, Entry>();
  readonly #byId = new Map<number, Entry>();
  readonly #byMac = new Map<string, Entry>();
  // One database read per key at a time: a thousand tills scanning the same promotion wait for
  // one query, not a thousand.
  readonly #inFlight = new Map<string, Promise<GoodsView[]>>();
  #generation = 0;
  #unlisten: (() => Promise<void>) | undefined;
  #listening = false;
  /** Look-ups answered from memory / from the database (for /metrics). */
  hits = 0;
  misses = 0;

  /** @param db the local store @param options expiry, size and clock */
  constructor(db: Database, options: GoodsCacheOptions) {
    this.#db = db;
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#maxEntries = options.maxEntries ?? 50_000;
    this.#clock = options.clock;
  }

  /** Subscribes to the change feed. Until it is subscribed, every look-up reads the database. */
  async start(): Promise<void> {
    this.#unlisten = await this.#db.listen(
      GOODS_CHANGED_CHANNEL,
      (payload) => this.invalidate(parseIds(payload)),
      () => {
        this.clear();
        this.#listening = true;
      },
    );
  }

  /** Unsubscribes and empties the cache. */
  async stop(): Promise<void> {
    this.#listening = false;
    this.clear();
    await this.#unlisten?.();
    this.#unlisten = undefined;
  }

  /** Forgets these goods (and every "not found" answer: a new goods may now have that code). */
  invalidate(ids: number[]): void {
    this.#generation++;
    // A read already in flight may be older than the change: later look-ups must not join it.
    this.#inFlight.clear();
    const gone = new Set(ids);
    for (const id of ids) this.#byId.delete(id);
    for (const byKey of [this.#byBarcode, this.#byMac]) {
      for (const [key, entry] of byKey) {
        if (entry.view === null || gone.has(entry.view.gid)) byKey.delete(key);
      }
    }
    for (const [id, entry] of this.#byId) if (entry.view === null) this.#byId.delete(id);
  }

  /** Forgets everything. */
  clear(): void {
    this.#generation++;
    this.#inFlight.clear();
    this.#byBarcode.clear();
    this.#byId.clear();
    this.#byMac.clear();
  }

  /** Cached entries (barcodes + ids + label MACs). */
  get size(): number {
    return this.#byBarcode.size + this.#byId.size + this.#byMac.size;
  }

  barcodesNow(codes: string[]): GoodsView[] | undefined {
    return this.#now(this.#byBarcode, codes);
  }

  idsNow(ids: number[]): GoodsView[] | undefined {
    return this.#now(this.#byId, ids);
  }

  labelsNow(macs: string[]): GoodsView[] | undefined {
    return this.#now(this.#byMac, macs);
  }

  byLabels(macs: string[]): Promise<GoodsView[]> {
    return this.#lookup(
      this.#byMac,
      macs,
      (missing) => this.#load(`m:${missing.join(",")}`, () => goodsByLabels(this.#db, missing)),
      (v) => v.mac,
    );
  }

  /** Every key's entry from memory, or undefined when one is missing or too old. */
  #now<K>(map: Map<K, Entry>, keys: K[]): GoodsView[] | undefined {
    if (!this.#listening) return undefined;
    const now = this.#clock.now();
    const views: GoodsView[] = [];
    for (const key of keys) {
      const entry = map.get(key);
      if (!entry || now - entry.at >= this.#ttlMs) return undefined;
      if (entry.view) views.push(entry.view);
    }
    this.hits += keys.length;
    return views;
  }

  byBarcodes(codes: string[]): Promise<GoodsView[]> {
    return this.#lookup(
      this.#byBarcode,
      codes,
      (missing) => this.#load(`c:${missing.join(",")}`, () => goodsByBarcodes(this.#db, missing)),
      (v) => v.barcode,
    );
  }

  byIds(ids: number[]): Promise<GoodsView[]> {
    return this.#lookup(
      this.#byId,
      ids,
      (missing) => this.#load(`i:${missing.join(",")}`, () => goodsById(this.#db, missing)),
      (v) => v.gid,
    );
  }

  /** Joins the read of the same keys already in flight, or starts it. */
  #load(key: string, read: () => Promise<GoodsView[]>): Promise<GoodsView[]> {
    let loading = this.#inFlight.get(key);
    if (!loading) {
      const started: Promise<GoodsView[]> = read().finally(() => {
        // A change may have replaced the entry with a fresher read meanwhile: keep that one.
        if (this.#inFlight.get(key) === started) this.#inFlight.delete(key);
      });
      this.#inFlight.set(key, loading = started);
    }
    return loading;
  }

  async #lookup<K>(
    map: Map<K, Entry>,
    keys: K[],
    load: (missing: K[]) => Promise<GoodsView[]>,
    keyOf: (view: GoodsView) => K,
  ): Promise<GoodsView[]> {
    const now = this.#clock.now();
    const found = new Map<K, GoodsView | null>();
    const missing: K[] = [];
    for (const key of keys) {
      const entry = this.#listening ? map.get(key) : undefined;
      if (entry && now - entry.at < this.#ttlMs) found.set(key, entry.view);
      else missing.push(key);
    }
    if (missing.length > 0) {
      this.misses += missing.length;
      const generation = this.#generation;
      const loaded = await load(missing);
      const byKey = new Map(loaded.map((v) => [keyOf(v), v]));
      // A change committed while we read: what we read may be older than it, so keep nothing.
      const store = this.#listening && generation === this.#generation;
      for (const key of missing) {
        const view = byKey.get(key) ?? null;
        found.set(key, view);
        if (store) this.#put(map, key, { view, at: now });
      }
    }
    this.hits += keys.length - missing.length;
    return keys.flatMap((k) => found.get(k) ?? []);
  }

  #put<K>(map: Map<K, Entry>, key: K, entry: Entry): void {
    map.delete(key);
    map.set(key, entry);
    if (map.size > this.#maxEntries) map.delete(map.keys().next().value as K);
  }
}

function parseIds(payload: string): number[] {
  const ids: number[] = [];
  for (const part of payload.split(",")) {
    const id = Number(part);
    if (Number.isSafeInteger(id)) ids.push(id);
  }
  return ids;
}
