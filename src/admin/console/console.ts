/**
 * The store console's live side: reads the state snapshot the alert rules look at, keeps the open
 * alerts (and their metric), and streams Server-Sent Events to open pages. A device login or
 * logout, a label confirming or an order paid is forwarded to the pages at once and wakes the
 * alert worker (a burst of 200 logins is a pass or two); the worker also runs every 30 s, so a
 * condition that becomes an alert by lasting ("offline for more than N minutes") is raised
 * without anyone looking. Every `/alerts`, `/metrics` and Overview render evaluates them too.
 * The same loop counts the shelf labels by freshness every 5 minutes into
 * `label_freshness_samples` (the Overview's 24-hour plot: the label tables keep only the present).
 *
 * @module
 */
import type { Clock } from "../../clock.ts";
import { Worker } from "../../background.ts";
import type { Config } from "../../config/config.ts";
import {
  DEVICE_LOGIN_EVENT,
  DEVICE_OFFLINE_EVENT,
  type EventBus,
  LABEL_CONFIRMED_EVENT,
  ORDER_PAID_EVENT,
} from "../../events.ts";
import type { Logger } from "../../log.ts";
import type { Database } from "../../store/database.ts";
import { listDevices } from "../../store/devices.ts";
import type { MetricsRegistry } from "../../metrics.ts";
import type { HealthReport } from "../health.ts";
import {
  type Alert,
  alertChanges,
  type AlertSnapshot,
  type ComponentSnapshot,
  computeAlerts,
} from "../alerts.ts";
import { labelRows } from "./labels_view.ts";
import { labelsPerStation } from "../../store/console_reads.ts";
import { negativeShelfStock } from "./stock_view.ts";
import { outboxes, paymentFailure } from "../../store/money_owed.ts";
import type { DiskReading } from "../../disk_guard.ts";
import { sampleLabelFreshness } from "../../store/label_freshness.ts";
import type { ClockReading } from "../../guarded_clock.ts";

/** The configuration the console reads. */
export type ConsoleConfig = Pick<
  Config,
  | "shopId"
  | "shelfWarehouse"
  | "refillThreshold"
  | "alertDeviceOfflineMinutes"
  | "alertUpstreamDownMinutes"
  | "alertOutboxAgeMinutes"
  | "alertLabelStaleMinutes"
  | "diskWarnFreeMb"
>;

/** What the console is built from. */
export interface ConsoleDeps {
  db: Database;
  events: Pick<EventBus, "on">;
  clock: Clock;
  log: Logger;
  config: ConsoleConfig;
  /** The database's disk (absent: not watched). */
  disk?: { readonly reading: DiskReading | undefined; readonly full: boolean };
  /** The appliance's time against the machine's clock (absent: a test's clock). */
  clockReading?: () => ClockReading | undefined;
}

/** The app events forwarded to the pages, under the same names. */
export const LIVE_EVENTS = [
  DEVICE_LOGIN_EVENT,
  DEVICE_OFFLINE_EVENT,
  LABEL_CONFIRMED_EVENT,
  ORDER_PAID_EVENT,
] as const;

/** Remembers since when each dependency has not been up (the "for more than N minutes" rules). */
class DownSince {
  readonly #since = new Map<string, Date>();

  observe(name: string, state: string, at: Date): Date | null {
    if (state === "up" || state === "off") {
      this.#since.delete(name);
      return null;
    }
    if (!this.#since.has(name)) this.#since.set(name, at);
    return this.#since.get(name)!;
  }
}

const encoder = new TextEncoder();
// Alerts that become due by lasting are raised within this long.
const EVALUATE_EVERY_MS = 30_000;

/** How often the alert loop counts the labels by freshness (the Overview's 24-hour plot). */
export const LABEL_SAMPLE_EVERY_MS = 5 * 60_000;
// Two days: the plot shows one, the other covers a clock change and a look the morning after.
const LABEL_SAMPLES_KEPT_MS = 48 * 3_600_000;

/** The console service of one admin server. */
export class StoreConsole {
  readonly #deps: ConsoleDeps;
  readonly #health: () => Promise<HealthReport>;
  readonly #down = new DownSince();
  readonly #streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  readonly #evaluate: Worker;
  #alerts: Alert[] = [];
  #evaluating: Promise<unknown> = Promise.resolve();
  #evaluated = false;
  #nextLabelSampleAt = 0;

  /**
   * @param deps what it reads
   * @param health the admin server's health check (database, MQTT, payment server, Odoo)
   * @param metrics where `newretail_alert` is registered
   */
  constructor(deps: ConsoleDeps, health: () => Promise<HealthReport>, metrics: MetricsRegistry) {
    this.#deps = deps;
    this.#health = health;
    this.#evaluate = new Worker(async () => {
      const alerts = await this.alerts();
      if (!alerts.some((a) => a.rule === "database_down")) await this.#sampleLabels();
    }, { name: "console alerts", log: deps.log, clock: deps.clock, idleMs: EVALUATE_EVERY_MS });
    for (const name of LIVE_EVENTS) {
      this.#evaluate.onStop(deps.events.on(name, (detail) => {
        this.#send(name, detail);
        this.#evaluate.wake();
      }));
    }
    this.#evaluate.start();
    metrics.gauge(
      "newretail_alert",
      "1 for each open console alert, by rule, subject and severity (see GET /alerts).",
      () =>
        this.#alerts.map((a) => ({
          labels: { rule: a.rule, subject: a.subject, severity: a.severity },
          value: 1,
        })),
    );
  }

  /** The alerts of the last evaluation (at most 30 s old; empty before the first). */
  get open(): Alert[] {
    return this.#alerts;
  }

  /** The bounds of the rules, from the configuration. */
  get bounds() {
    const c = this.#deps.config;
    return {
      deviceOfflineMinutes: c.alertDeviceOfflineMinutes,
      upstreamDownMinutes: c.alertUpstreamDownMinutes,
      outboxAgeMinutes: c.alertOutboxAgeMinutes,
      labelStaleMinutes: c.alertLabelStaleMinutes,
      diskWarnFreeMb: c.diskWarnFreeMb,
    };
  }

  /** Reads the snapshot the rules look at (health first: a dead database reads nothing else). */
  async snapshot(report?: HealthReport): Promise<AlertSnapshot> {
    const health = report ?? await this.#health();
    const { db, config } = this.#deps;
    const at = new Date(this.#deps.clock.now());
    const component = (name: string, c: HealthReport["mqtt"]): ComponentSnapshot => ({
      state: c.state,
      detail: c.detail,
      downSince: this.#down.observe(name, c.state, at),
    });
    const disk = this.#deps.disk;
    const reading = disk?.reading;
    const base = {
      at,
      database: { up: health.database.state === "up", detail: health.database.detail },
      mqtt: component("mqtt", health.mqtt),
      odoo: component("odoo", health.odoo),
      disk: disk && {
        path: reading?.path ?? null,
        freeBytes: reading?.freeBytes ?? null,
        totalBytes: reading?.totalBytes ?? null,
        full: disk.full,
      },
      clock: this.#deps.clockReading?.(),
    };
    if (!base.database.up) {
      const none = { depth: 0, oldestAt: null };
      return {
        ...base,
        payment: component("payment", health.payment),
        devices: [],
        outbox: { payment: none, odoo: none },
        staleLabels: [],
        negativeStock: [],
      };
    }
    // The payment server's probe knows configuration only; failing calls tell it is unreachable.
    const failure = health.payment.state === "off" ? undefined : await paymentFailure(db);
    const payment = component(
      "payment",
      failure ? { state: "down", detail: failure } : health.payment,
    );
    const served = await labelsPerStation(db);
    const devices = (await listDevices(db)).map((d) => ({
      equipId: d.equip_id,
      kind: d.kind,
      enabled: d.enabled,
      online: d.online,
      offlineSince: !d.online && d.last_login_at
        ? new Date(d.last_offline_at ?? d.last_seen_at ?? d.last_login_at)
        : null,
      labelsServed: served.get(d.equip_id) ?? 0,
    }));
    const staleLabels = (await labelRows(db, { state: "stale", limit: 100_000 })).map((l) => ({
      mac: l.mac,
      equipId: l.equipId,
      since: l.since!,
    }));
    return {
      ...base,
      payment,
      devices,
      outbox: await outboxes(db),
      staleLabels,
      negativeStock: await negativeShelfStock(db, config.shelfWarehouse),
    };
  }

  /**
   * Evaluates the alerts now; pages are told what was raised and cleared. One evaluation at a
   * time (the worker, a scrape and a page may ask together): each compares with the one before.
   */
  alerts(report?: HealthReport): Promise<Alert[]> {
    const run = this.#evaluating.then(() => this.#evaluateNow(report));
    this.#evaluating = run.catch(() => {});
    return run;
  }

  async #evaluateNow(report?: HealthReport): Promise<Alert[]> {
    const next = computeAlerts(await this.snapshot(report), this.bounds);
    const { raised, cleared } = alertChanges(this.#alerts, next);
    this.#alerts = next;
    if (this.#evaluated) {
      for (const a of raised) this.#send("alert-raised", a);
      for (const a of cleared) this.#send("alert-cleared", a);
    }
    this.#evaluated = true;
    return next;
  }

  // The label tables keep only the present: the plot's past is this loop's counts.
  async #sampleLabels(): Promise<void> {
    const now = this.#deps.clock.now();
    if (now < this.#nextLabelSampleAt) return;
    await sampleLabelFreshness(
      this.#deps.db,
      new Date(now),
      LABEL_SAMPLE_EVERY_MS,
      LABEL_SAMPLES_KEPT_MS,
    );
    this.#nextLabelSampleAt = now + LABEL_SAMPLE_EVERY_MS;
  }

  /** The `GET /events` answer: a Server-Sent Events stream until the page goes or we stop. */
  events(): Response {
    let self: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        self = controller;
        this.#streams.add(controller);
        // The first line makes the browser's EventSource report "open" at once.
        controller.enqueue(encoder.encode(": newretail console\nretry: 2000\n\n"));
      },
      cancel: () => {
        if (self) this.#streams.delete(self);
      },
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  /** How many pages are listening. */
  get listeners(): number {
    return this.#streams.size;
  }

  #send(event: string, detail: unknown): void {
    const chunk = encoder.encode(`event: ${event}\ndata: ${JSON.stringify(detail ?? {})}\n\n`);
    for (const controller of this.#streams) {
      try {
        controller.enqueue(chunk);
      } catch {
        this.#streams.delete(controller);
      }
    }
  }

  /** Ends every event stream (the HTTP server waits for open requests) and stops listening. */
  async stop(): Promise<void> {
    await this.#evaluate.stop();
    for (const controller of this.#streams) {
      try {
        controller.close();
      } catch {
        // already closed by the page
      }
    }
    this.#streams.clear();
  }
}
