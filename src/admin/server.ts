/**
 * The admin HTTP server (loopback by default): `/healthz`, `/metrics`, `/devices`, the store
 * console (`/`, `/console/…`, `/events`, `/alerts`: console/routes.ts), and the JSON API of
 * `api.ts` under `/api/`. Beyond loopback every
 * request needs the `adminToken`; writes need it whenever one is configured. Everything it reports comes in through {@link AdminDeps} as
 * functions, so it knows nothing of sockets, sessions or integrations and starts in a test with a
 * bare database.
 *
 * @module
 */
import { withDeadline } from "../deadline.ts";
import type { Logger } from "../log.ts";
import { VERSION } from "../version.ts";
import type { Gauge, MetricsRegistry } from "../metrics.ts";
import type { DeviceRecord } from "../store/devices.ts";
import { type DeviceView, deviceView } from "./device_view.ts";
import type { ComponentHealth, HealthReport } from "./health.ts";
import type { Alert } from "./alerts.ts";
import type { AdminTls } from "./tls.ts";
export type { ComponentHealth, HealthReport } from "./health.ts";
import type { LabelFilter, LabelRow, LabelState } from "../store/label_shown.ts";
import {
  type AdminApiDeps,
  type AdminAuthPolicy,
  assertAdminExposure,
  authorize,
  createApiHandler,
} from "./api.ts";
import { isLoopbackHost } from "../net_address.ts";
import { type ConsoleDeps, StoreConsole } from "./console/console.ts";
import { consoleForStranger, consoleRoute } from "./console/routes.ts";
import { errorMessage } from "../errors.ts";
import type { Clock } from "../clock.ts";
import { jsonError, jsonResponse } from "./json_response.ts";

/** What the admin server reads, all passed in. */
export interface AdminDeps {
  hostname: string;
  /** 0 picks a free port (tests). */
  port: number;
  log: Logger;
  metrics: MetricsRegistry;
  /** Resolves when the database answers a trivial query; rejects (or times out) otherwise. */
  pingDatabase: () => Promise<void>;
  /** Every known device, online or not. */
  listDevices: () => Promise<DeviceRecord[]>;
  /** MQTT client state; absent means MQTT is not configured. */
  mqtt?: () => ComponentHealth | Promise<ComponentHealth>;
  /** Payment server client state; absent means no payment server is configured. */
  payment?: () => ComponentHealth | Promise<ComponentHealth>;
  /** Odoo connector state; absent means no Odoo (local store mode). */
  odoo?: () => ComponentHealth | Promise<ComponentHealth>;
  /**
   * Brings gauges read from the database up to date; awaited before each `/metrics` render, at
   * most `databaseTimeoutS` (a dead database does not hang the scrape: the last values are shown).
   */
  refreshMetrics?: () => Promise<void>;
  /** Seconds a database ping may take before the database counts as down (default 2). */
  databaseTimeoutS?: number;
  /** Program version for `/healthz` (default: this build's, from deno.json). */
  version?: string;
  /** Clock for uptime and `/devices` ages. */
  clock: Clock;
  /** `adminToken` (empty or absent: none; then only a loopback address is allowed). */
  token?: string;
  /** The JSON API under `/api/`; absent: no API (404). */
  api?: AdminApiDeps;
  /** The store console (pages, `/events`, `/alerts`); absent: none (404). */
  console?: ConsoleDeps;
  /** Beyond loopback: the certificate and key it serves HTTPS with (plain HTTP is refused there). */
  tls?: AdminTls;
  /** Shelf labels and what they show, for `GET /labels` (`?state=stale`); absent: 404. */
  labels?: (filter: LabelFilter) => Promise<LabelRow[]>;
}

/**
 * The admin request handler; `close` ends the console's event streams, `openAlerts` is the
 * console's last evaluation (undefined without a console).
 */
export type AdminHandler = ((request: Request) => Promise<Response>) & {
  close(): Promise<void>;
  openAlerts(): Alert[] | undefined;
};

/** A running admin server. */
export interface AdminServer {
  /** The bound address (the real port when 0 was asked). */
  readonly hostname: string;
  readonly port: number;
  /** The console's open alerts as last evaluated (undefined without a console). */
  openAlerts(): Alert[] | undefined;
  /** Stops accepting and waits for in-flight requests. */
  close(): Promise<void>;
}

const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

/** One label as `GET /labels` shows it (times as ISO text). */
export function labelView(l: LabelRow): Record<string, unknown> {
  return { ...l, since: new Date(l.since).toISOString() };
}

async function component(
  probe: (() => ComponentHealth | Promise<ComponentHealth>) | undefined,
  name: string,
): Promise<ComponentHealth> {
  if (!probe) return { state: "off", detail: `${name} not configured` };
  try {
    return await probe();
  } catch (e) {
    return { state: "down", detail: errorMessage(e) };
  }
}

/**
 * Builds the request handler (exported so it can be exercised without a socket too).
 */
export function createAdminHandler(
  deps: Omit<AdminDeps, "hostname" | "port">,
  policy: AdminAuthPolicy = { token: deps.token ?? "", tokenForReads: false },
): AdminHandler {
  const api = deps.api ? createApiHandler(deps.api, policy) : undefined;
  const started = deps.clock.now();
  const timeoutS = deps.databaseTimeoutS ?? 2;
  const version = deps.version ?? VERSION;
  const databaseUp: Gauge = deps.metrics.gauge(
    "newretail_database_up",
    "1 when the last database check (each /healthz and /metrics) answered, else 0.",
  );

  async function health(): Promise<HealthReport> {
    const t0 = performance.now();
    let database: HealthReport["database"];
    try {
      await withDeadline(timeoutS * 1000, () => deps.pingDatabase(), "database check");
      database = { state: "up", latencyMs: Math.round((performance.now() - t0) * 10) / 10 };
    } catch (e) {
      database = { state: "down", detail: errorMessage(e) };
    }
    databaseUp.set(database.state === "up" ? 1 : 0);
    const [mqtt, payment, odoo] = await Promise.all([
      component(deps.mqtt, "MQTT"),
      component(deps.payment, "payment server"),
      component(deps.odoo, "Odoo"),
    ]);
    return {
      // Only the database decides: without MQTT or the payment server the store keeps selling.
      status: database.state === "up" ? "ok" : "unhealthy",
      version,
      uptimeS: Math.round((deps.clock.now() - started) / 1000),
      database,
      mqtt,
      payment,
      odoo,
      ...(deps.tls ? { tls: { fingerprintSha256: deps.tls.fingerprintSha256 } } : {}),
    };
  }

  async function refreshMetrics(): Promise<void> {
    const refresh = deps.refreshMetrics;
    if (!refresh) return;
    try {
      await withDeadline(timeoutS * 1000, () => refresh(), "metrics refresh");
    } catch (e) {
      deps.log.debug("metrics not refreshed", { error: errorMessage(e) });
    }
  }

  async function devices(): Promise<DeviceView[]> {
    return (await deps.listDevices()).map(deviceView);
  }

  const storeConsole = deps.console
    ? new StoreConsole(deps.console, health, deps.metrics)
    : undefined;
  const consoleDeps = deps.console && storeConsole
    ? { ...deps.console, console: storeConsole, health }
    : undefined;

  const handler = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    if (api && path.startsWith("/api/")) return api(request);
    const caller = authorize(request, policy, false);
    if (caller instanceof Response) {
      return (deps.console && consoleForStranger(request, deps.console.config.shopId)) || caller;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return jsonError(405, "method not allowed", { allow: "GET, HEAD" });
    }
    try {
      switch (path) {
        case "/healthz": {
          const report = await health();
          return jsonResponse(report, report.status === "ok" ? 200 : 503);
        }
        case "/metrics": {
          // health() refreshes newretail_database_up; both wait on the database, side by side.
          // The alerts are evaluated too, so that each scrape shows the current newretail_alert.
          await Promise.all([
            storeConsole ? storeConsole.alerts() : health(),
            refreshMetrics(),
          ]);
          return new Response(deps.metrics.render(), {
            headers: { "content-type": PROMETHEUS_TEXT, "cache-control": "no-store" },
          });
        }
        case "/devices":
          return jsonResponse(await devices());
        case "/labels": {
          if (!deps.labels) return jsonError(404, "not found");
          const state = new URL(request.url).searchParams.get("state");
          if (state !== null && !["fresh", "stale", "unknown"].includes(state)) {
            return jsonError(400, "state must be fresh, stale or unknown");
          }
          return jsonResponse(
            (await deps.labels(state ? { state: state as LabelState } : {})).map(labelView),
          );
        }
        default: {
          const page = consoleDeps ? await consoleRoute(consoleDeps, request) : undefined;
          return page ?? jsonError(404, "not found: try /, /healthz, /metrics, /devices, /alerts");
        }
      }
    } catch (e) {
      deps.log.warn("admin request failed", { path, error: errorMessage(e) });
      return jsonError(503, errorMessage(e));
    }
  };
  return Object.assign(handler, {
    close: () => storeConsole?.stop() ?? Promise.resolve(),
    openAlerts: () => storeConsole?.open,
  });
}

/**
 * Starts the admin HTTP server. Throws with one clear line when the address is taken.
 *
 * @example
 * ```ts
 * const admin = startAdminServer({ hostname: "127.0.0.1", port: 8687, log, metrics,
 *   pingDatabase: () => pingDatabase(db), listDevices: () => listDevices(db) });
 * await admin.close();
 * ```
 */
export function startAdminServer(deps: AdminDeps): AdminServer {
  const token = deps.token ?? "";
  assertAdminExposure(deps.hostname, token, deps.tls !== undefined);
  const handler = createAdminHandler(deps, {
    token,
    tokenForReads: !isLoopbackHost(deps.hostname),
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: deps.hostname,
      port: deps.port,
      // Beyond loopback only HTTPS is served: a plain HTTP request fails the handshake.
      ...(deps.tls ? { cert: deps.tls.cert, key: deps.tls.key } : {}),
      onListen: () => {},
      onError: (e) => {
        deps.log.warn("admin request failed", { error: errorMessage(e) });
        return new Response("internal error\n", { status: 500 });
      },
    }, handler);
  } catch (e) {
    throw new Error(
      `admin HTTP cannot listen on ${deps.hostname}:${deps.port}: ${errorMessage(e)}` +
        " (set adminPort / NEWRETAIL_ADMIN_PORT, or adminEnabled false)",
    );
  }
  const { hostname, port } = server.addr;
  if (deps.tls) {
    deps.log.info("admin HTTPS listening", {
      address: `${hostname}:${port}`,
      fingerprintSha256: deps.tls.fingerprintSha256,
    });
  } else deps.log.info("admin HTTP listening", { address: `${hostname}:${port}` });
  let closed = false;
  return {
    hostname,
    port,
    openAlerts: handler.openAlerts,
    async close() {
      if (closed) return;
      closed = true;
      // Open event streams would keep the shutdown waiting: they end first.
      await handler.close();
      await server.shutdown();
    },
  };
}
