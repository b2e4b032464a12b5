/**
 * The Odoo connector: one per appliance in Odoo mode. It learns the Odoo it talks to (version,
 * fields, warehouse), pulls the catalogue (a full pass the first time; at every start and every
 * `odooFullPassS` the id comparison of `reconcile.ts`; incremental every `odooPollS`) and runs the outbox worker that delivers receipts and paid
 * orders. Odoo being down at start or later never stops the appliance: devices are served from
 * the local store, the pull retries on its own schedule, and deliveries wait in the outbox.
 *
 * @module
 */
import { type Next, Worker } from "../../background.ts";
import type { Clock } from "../../clock.ts";
import type { Database } from "../../store/database.ts";
import type { Logger } from "../../log.ts";
import type { MetricsRegistry } from "../../metrics.ts";
import { type OdooClient, OdooError } from "./jsonrpc.ts";
import { odooClientFor, type OdooSettings } from "./settings.ts";
import { discoverSite, type OdooSite } from "./site.ts";
import { CataloguePuller, type PullProgress, type PullStats } from "./catalogue.ts";
import { pullKind, reconcileIds } from "./reconcile.ts";
import { type OdooPricelist, pricelistOf } from "./pricelist.ts";
import type { CompilePricelists } from "./pricelist_rules.ts";
import { installationId, setUpstreamEnabled } from "../../store/odoo_catalogue.ts";
import type { Delivered, Deliverer, DeliveryContext } from "./delivery.ts";
import { deliverReceipt } from "./receipts.ts";
import { deliverOrder } from "./orders.ts";
import { deliverRefill } from "./refills.ts";
import { OutboxWorker } from "./outbox.ts";
import {
  enqueueMissedOrders,
  expediteWaiting,
  outboxCounts,
  type OutboxKind,
  type OutboxRow,
} from "../../store/odoo_outbox.ts";
import { errorMessage } from "../../errors.ts";

/** What {@link OdooConnector} needs. */
export interface OdooConnectorOptions {
  db: Database;
  settings: OdooSettings;
  log: Logger;
  /** The store id, part of the references stored in Odoo. */
  shopId: string;
  metrics?: MetricsRegistry;
  /** For tests: another transport. */
  fetch?: typeof fetch;
  /** The appliance's clock (pull times, the full-pass schedule). */
  clock: Clock;
  /** For tests: outbox backoff. */
  backoffMs?: (attempt: number) => number;
  /** Uniform in [0, 1): spreads the polls of many stores ({@link pollDelayMs}). */
  random: () => number;
  /** Prices by pricelist rules (`compilePricelists` of src/pricing/pricelist.ts). */
  compilePricelists: CompilePricelists;
}

/** How far a poll's wait strays from `odooPollS`, either way (a fraction of it). */
export const POLL_JITTER = 0.1;

/**
 * The wait before the next poll: `pollMs` give or take {@link POLL_JITTER}, `random` uniform in
 * [0, 1). On average exactly `pollMs` (the request budget holds), and stores that started
 * together, or came back together after Odoo was down, drift apart instead of polling in step.
 *
 * @example
 * ```ts
 * pollDelayMs(10_000, 0.5); // 10000
 * pollDelayMs(10_000, 0); // 9000
 * ```
 */
export function pollDelayMs(pollMs: number, random: number): number {
  return Math.round(pollMs * (1 - POLL_JITTER + 2 * POLL_JITTER * random));
}

/** The connector's state for `/healthz` and `odoo check`. */
export interface OdooHealth {
  /** Odoo answered the last call the connector made. */
  reachable: boolean;
  url: string;
  db: string;
  version: string;
  warehouse: string;
  lastPull?: { kind: string; at: string; ok: boolean };
  lastError: string;
  outbox: { pending: number; failed: number };
  /** This installation's id (migration 007), in every reference left in Odoo. */
  installationId: string;
}

/**
 * The connector's state as `/healthz` shows it: `up` when Odoo answered the last call, `down`
 * with the last error otherwise, `connecting` before the first answer; the outbox depth beside.
 */
export function odooHealthComponent(h: OdooHealth): {
  state: string;
  detail?: string;
  [extra: string]: unknown;
} {
  return {
    state: h.reachable ? "up" : h.lastError ? "down" : "connecting",
    ...(h.lastError ? { detail: h.lastError } : {}),
    url: h.url,
    db: h.db,
    version: h.version,
    warehouse: h.warehouse,
    installationId: h.installationId,
    lastPull: h.lastPull ?? null,
    outboxPending: h.outbox.pending,
    outboxFailed: h.outbox.failed,
  };
}

const DELIVERERS: Record<OutboxKind, Deliverer> = {
  "stock-receipt": deliverReceipt,
  "sale-order": deliverOrder,
  refill: deliverRefill,
};

/** The running connector. */
export class OdooConnector {
  readonly #o: OdooConnectorOptions;
  readonly #odoo: OdooClient;
  #site: OdooSite | undefined;
  /** The store's pricelist, its rules held from pull to pull (when `odooPricelist` is set). */
  #pricelist: OdooPricelist | undefined;
  #discovering: Promise<OdooSite> | undefined;
  #worker: OutboxWorker;
  readonly #pulling: Worker;
  #health: OdooHealth;
  #lastLoggedError = "";
  #counts = { pending: 0, failed: 0 };
  #refreshing: Promise<void> | undefined;
  /** A full pass or id comparison ran since this process started (one runs at every start). */
  #comparedSinceStart = false;
  readonly #stopping = new AbortController();
  #pulls?: ReturnType<MetricsRegistry["counter"]>;
  #deliveries?: ReturnType<MetricsRegistry["counter"]>;

  private constructor(options: OdooConnectorOptions) {
    this.#o = options;
    const requests = options.metrics?.counter(
      "newretail_odoo_requests_total",
      "JSON-RPC requests sent to Odoo, by model and method (common.* for login and version).",
    );
    this.#odoo = odooClientFor(options.settings, options.fetch, (call) => requests?.inc({ call }));
    this.#health = {
      reachable: false,
      url: options.settings.url,
      db: options.settings.db,
      version: "",
      warehouse: "",
      lastError: "",
      outbox: this.#counts,
      installationId: "",
    };
    this.#worker = new OutboxWorker({
      db: options.db,
      log: options.log,
      clock: options.clock,
      maxRefusals: options.settings.outboxTries,
      backoffMs: options.backoffMs,
      deliver: (row) => this.#deliver(row),
      onAttempt: (row, result, error) => {
        this.#deliveries?.inc({ kind: row.kind, result });
        if (result === "delivered") this.#markReachable();
        else if (error) {
          if (error instanceof OdooError && error.transient) this.#health.reachable = false;
          this.#noteError(errorMessage(error), false);
        }
        this.#refreshCounts();
      },
    });
    const pollMs = options.settings.pollMs;
    this.#pulling = new Worker(() => this.#tick(), {
      name: "odoo pull",
      log: options.log,
      clock: options.clock,
      // Back off while Odoo is down or refusing: poll interval doubling up to a minute.
      backoff: { initialMs: 2 * pollMs, maxMs: Math.max(Math.min(pollMs * 1024, 60_000), pollMs) },
      onError: (e) => {
        if (e instanceof OdooError && e.transient) this.#health.reachable = false;
        this.#noteError(errorMessage(e), true);
      },
    });
    const m = options.metrics;
    if (m) {
      this.#pulls = m.counter(
        "newretail_odoo_pulls_total",
        "Catalogue pulls from Odoo by kind and result.",
      );
      this.#deliveries = m.counter(
        "newretail_odoo_deliveries_total",
        "Outbox delivery attempts to Odoo by kind and result (delivered, retry, failed).",
      );
      m.gauge("newretail_odoo_outbox", "Outbox rows owed to Odoo, by state.", () => [
        { labels: { state: "pending" }, value: this.#counts.pending },
        { labels: { state: "failed" }, value: this.#counts.failed },
      ]);
      m.gauge("newretail_odoo_up", "1 when the last call to Odoo succeeded.", () => [
        { labels: {}, value: this.#health.reachable ? 1 : 0 },
      ]);
    }
  }

  /**
   * Starts the connector: marks the store as owing receipts and paid orders to Odoo, starts the
   * outbox worker and the pull loop. Resolves at once; Odoo is contacted in the background.
   */
  static async start(options: OdooConnectorOptions): Promise<OdooConnector> {
    const c = new OdooConnector(options);
    await setUpstreamEnabled(options.db, true);
    c.#health.installationId = await installationId(options.db);
    await c.#worker.start();
    c.#pulling.start();
    options.log.info("odoo connector started", {
      url: options.settings.url,
      db: options.settings.db,
      user: options.settings.user,
      pollS: options.settings.pollMs / 1000,
      fullPassS: options.settings.fullPassMs / 1000,
    });
    return c;
  }

  /** The client (for the CLI). */
  get client(): OdooClient {
    return this.#odoo;
  }

  /** State for `/healthz`. */
  health(): OdooHealth {
    return { ...this.#health, outbox: { ...this.#counts } };
  }

  /** Learns the site once (version logged); concurrent callers share one attempt. */
  site(): Promise<OdooSite> {
    if (this.#site) return Promise.resolve(this.#site);
    this.#discovering ??= discoverSite(this.#odoo, this.#o.settings).then((site) => {
      this.#site = site;
      this.#pricelist = pricelistOf(site, this.#odoo, this.#o.log, this.#o.compilePricelists);
      this.#health.version = site.version;
      this.#health.warehouse = `${site.warehouse.id} ${site.warehouse.code}`;
      this.#markReachable();
      const fields = {
        version: site.version,
        major: site.major,
        warehouse: site.warehouse.code,
        pricelist: site.pricelist?.name ?? "(sale prices)",
        syncAddon: site.syncAddon,
      };
      if (site.major < 16) this.#o.log.warn("odoo version older than 16 is not supported", fields);
      else this.#o.log.info("odoo connected", fields);
      return site;
    }).finally(() => {
      this.#discovering = undefined;
    });
    return this.#discovering;
  }

  async #puller(): Promise<CataloguePuller> {
    const { db, settings, log, clock } = this.#o;
    return new CataloguePuller({
      db,
      odoo: this.#odoo,
      site: await this.site(),
      settings,
      log,
      clock,
      pricelist: this.#pricelist,
    });
  }

  /** One pull now: full when asked or due, else incremental. */
  async pull(
    options: { full?: boolean; onProgress?: (p: PullProgress) => void } = {},
  ): Promise<PullStats> {
    const puller = await this.#puller();
    const kind = await pullKind(puller, options.full === true, this.#comparedSinceStart);
    try {
      const stats = kind === "full"
        ? await puller.fullPull(options.onProgress)
        : kind === "ids"
        ? await reconcileIds({ ...this.#o, odoo: this.#odoo, puller })
        : await puller.incrementalPull();
      if (kind !== "incremental") this.#comparedSinceStart = true;
      this.#pulls?.inc({ kind: stats.kind, result: "ok" });
      this.#health.lastPull = { kind: stats.kind, at: this.#nowIso(), ok: true };
      this.#markReachable();
      return stats;
    } catch (e) {
      this.#pulls?.inc({ kind, result: "error" });
      this.#health.lastPull = { kind, at: this.#nowIso(), ok: false };
      throw e;
    }
  }

  async #deliver(row: OutboxRow): Promise<Delivered> {
    const site = await this.site();
    const ctx: DeliveryContext = {
      db: this.#o.db,
      odoo: this.#odoo,
      site,
      settings: this.#o.settings,
      log: this.#o.log,
      shopId: this.#o.shopId,
      installationId: this.#health.installationId,
      signal: this.#stopping.signal,
    };
    return await DELIVERERS[row.kind](ctx, row.local_id);
  }

  #markReachable() {
    this.#health.reachable = true;
    this.#health.lastError = "";
    this.#lastLoggedError = "";
  }

  #noteError(message: string, log: boolean) {
    this.#health.lastError = message;
    if (log && message !== this.#lastLoggedError) {
      // Once per distinct error, not every poll: an Odoo down for an hour is one line, not 720.
      this.#o.log.warn("odoo pull failed", { error: message });
      this.#lastLoggedError = message;
    }
  }

  #refreshCounts(): Promise<void> {
    const refresh = outboxCounts(this.#o.db).then((c) => {
      this.#counts.pending = c.pending;
      this.#counts.failed = c.failed;
    }).catch(() => {});
    this.#refreshing = refresh;
    return refresh;
  }

  #nowIso(): string {
    return new Date(this.#o.clock.now()).toISOString();
  }

  async #tick(): Promise<Next> {
    const { settings, db } = this.#o;
    try {
      if (await enqueueMissedOrders(db) > 0) this.#worker.wake();
      const wasDown = !this.#health.reachable;
      await this.pull();
      // Odoo is back: what waited for it goes now, not after its backoff.
      if (wasDown && await expediteWaiting(db) > 0) this.#worker.wake();
    } finally {
      await this.#refreshCounts();
    }
    return { afterMs: pollDelayMs(settings.pollMs, this.#o.random()) };
  }

  /** Delivers what is due now (CLI, tests). */
  deliverDue(): Promise<number> {
    return this.#worker.runDue();
  }

  /** Wakes the outbox worker (after `outbox retry`). */
  wakeOutbox(): void {
    this.#worker.wake();
  }

  /** Stops the pull loop and the worker (after the call in progress). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#pulling.stop();
    await this.#worker.stop();
    await this.#refreshing;
  }
}
