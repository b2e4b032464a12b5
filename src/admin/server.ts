/**
 * The admin HTTP server (loopback by default): `/healthz`, `/metrics`, `/devices`, a short
 * read-only HTML page at `/`, and the JSON API of `api.ts` under `/api/`. Beyond loopback every
 * request needs the `adminToken`; writes need it whenever one is configured. Everything it reports comes in through {@link AdminDeps} as
 * functions, so it knows nothing of sockets, sessions or integrations and starts in a test with a
 * bare database.
 *
 * @module
 */
import { withDeadline } from "../deadline.ts";
import type { Logger } from "../log.ts";
import { VERSION } from "../version.ts";
import type { Gauge, MetricsRegistry } from "./metrics.ts";
import type { DeviceRecord } from "../store/devices.ts";
import { type DeviceView, deviceView } from "./device_view.ts";
import {
  type AdminApiDeps,
  type AdminAuthPolicy,
  assertAdminExposure,
  authorize,
  createApiHandler,
  isLoopbackHost,
} from "./api.ts";

/** The state of one dependency as `/healthz` reports it. */
export interface ComponentHealth {
  /** `off`: not configured; `up`/`down`: reachable or not; other words are the component's own. */
  state: "off" | "up" | "down" | "connecting" | (string & Record<never, never>);
  /** One line for the operator (the last error, the broker address…). */
  detail?: string;
  /** Extra numbers worth seeing (outbox depth, pending calls…). */
  [extra: string]: unknown;
}

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
  /** Stock below zero and refill jobs that wait, for the status page; absent: not shown. */
  stockAlerts?: () => Promise<StockAlerts>;
  /** Seconds a database ping may take before the database counts as down (default 2). */
  databaseTimeoutS?: number;
  /** Program version for `/healthz` (default: this build's, from deno.json). */
  version?: string;
  /** Clock for uptime and `/devices` ages. */
  now?: () => Date;
  /** `adminToken` (empty or absent: none; then only a loopback address is allowed). */
  token?: string;
  /** The JSON API under `/api/`; absent: no API (404). */
  api?: AdminApiDeps;
}

/** What the status page says about stock (issue 13). */
export interface StockAlerts {
  negative: { gid: number; name: string; warehouse: string; quantity: string }[];
  /** Open refill jobs, and why each waits (null: being offered). */
  refillJobs: { id: number; gid: number; lastError: string | null }[];
}

function stockSection(alerts: StockAlerts | undefined): string {
  if (!alerts) return "";
  const negative = alerts.negative.map((n) =>
    `<li>goods ${n.gid} ${escapeHtml(n.name)} in ${escapeHtml(n.warehouse)}: ${
      escapeHtml(n.quantity)
    }</li>`
  ).join("");
  const jobs = alerts.refillJobs.map((j) =>
    `<li>job ${j.id}, goods ${j.gid}${j.lastError ? `: ${escapeHtml(j.lastError)}` : ""}</li>`
  ).join("");
  return `<p>negative stock: <b>${alerts.negative.length}</b>${
    negative ? `</p><ul class="negative">${negative}</ul>` : "</p>"
  }
<p>open refill jobs: <b>${alerts.refillJobs.length}</b>${jobs ? `</p><ul>${jobs}</ul>` : "</p>"}
`;
}

/** A running admin server. */
export interface AdminServer {
  /** The bound address (the real port when 0 was asked). */
  readonly hostname: string;
  readonly port: number;
  /** Stops accepting and waits for in-flight requests. */
  close(): Promise<void>;
}

/** `/healthz` body. */
export interface HealthReport {
  status: "ok" | "unhealthy";
  version: string;
  uptimeS: number;
  database: ComponentHealth & { latencyMs?: number };
  mqtt: ComponentHealth;
  payment: ComponentHealth;
  odoo: ComponentHealth;
}

const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

async function component(
  probe: (() => ComponentHealth | Promise<ComponentHealth>) | undefined,
  name: string,
): Promise<ComponentHealth> {
  if (!probe) return { state: "off", detail: `${name} not configured` };
  try {
    return await probe();
  } catch (e) {
    return { state: "down", detail: (e as Error).message };
  }
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

function devicesPage(
  devices: DeviceView[],
  health: HealthReport,
  alerts?: StockAlerts,
): string {
  const rows = devices.map((d) =>
    `<tr class="${d.online ? "on" : "off"}"><td>${escapeHtml(d.equipId)}</td><td>${
      escapeHtml(d.kind)
    }</td><td>${d.online ? "online" : "offline"}${d.enabled ? "" : " (disabled)"}</td><td>${
      escapeHtml(d.address ?? "")
    }</td><td>${escapeHtml(d.lastSeenAt ?? "never")}</td></tr>`
  ).join("\n");
  const online = devices.filter((d) => d.online).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>newretail</title>
<meta http-equiv="refresh" content="10">
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{padding:.25em .75em;border-bottom:1px solid #ddd;text-align:left}
.on td:nth-child(3){color:#070}.off td:nth-child(3){color:#a00}</style></head>
<body><h1>newretail</h1>
<p>status: <b>${health.status}</b> · database ${escapeHtml(health.database.state)} · MQTT ${
    escapeHtml(health.mqtt.state)
  } · payment server ${escapeHtml(health.payment.state)} · version ${escapeHtml(health.version)}</p>
<p>${online} of ${devices.length} devices online. <a href="/metrics">metrics</a> ·
<a href="/devices">devices (JSON)</a> · <a href="/healthz">health (JSON)</a></p>
${
    stockSection(alerts)
  }<table><thead><tr><th>device</th><th>kind</th><th>state</th><th>address</th><th>last seen</th></tr></thead>
<tbody>
${rows}
</tbody></table></body></html>
`;
}

/**
 * Builds the request handler (exported so it can be exercised without a socket too).
 */
export function createAdminHandler(
  deps: Omit<AdminDeps, "hostname" | "port">,
  policy: AdminAuthPolicy = { token: deps.token ?? "", tokenForReads: false },
): (request: Request) => Promise<Response> {
  const api = deps.api ? createApiHandler(deps.api, policy) : undefined;
  const now = deps.now ?? (() => new Date());
  const started = now();
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
      database = { state: "down", detail: (e as Error).message };
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
      uptimeS: Math.round((now().getTime() - started.getTime()) / 1000),
      database,
      mqtt,
      payment,
      odoo,
    };
  }

  async function refreshMetrics(): Promise<void> {
    const refresh = deps.refreshMetrics;
    if (!refresh) return;
    try {
      await withDeadline(timeoutS * 1000, () => refresh(), "metrics refresh");
    } catch (e) {
      deps.log.debug("metrics not refreshed", { error: (e as Error).message });
    }
  }

  async function devices(): Promise<DeviceView[]> {
    return (await deps.listDevices()).map(deviceView);
  }

  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body, null, 2) + "\n", {
      status,
      headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
    });

  return async (request) => {
    const path = new URL(request.url).pathname;
    if (api && path.startsWith("/api/")) return api(request);
    const caller = authorize(request, policy, false);
    if (caller instanceof Response) return caller;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    try {
      switch (path) {
        case "/healthz": {
          const report = await health();
          return json(report, report.status === "ok" ? 200 : 503);
        }
        case "/metrics": {
          // health() refreshes newretail_database_up; both wait on the database, side by side.
          await Promise.all([health(), refreshMetrics()]);
          return new Response(deps.metrics.render(), {
            headers: { "content-type": PROMETHEUS_TEXT, "cache-control": "no-store" },
          });
        }
        case "/devices":
          return json(await devices());
        case "/": {
          const report = await health();
          const up = report.database.state === "up";
          const list = up ? await devices() : [];
          const alerts = up && deps.stockAlerts ? await deps.stockAlerts() : undefined;
          return new Response(devicesPage(list, report, alerts), {
            status: report.status === "ok" ? 200 : 503,
            headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
          });
        }
        default:
          return new Response("not found: try /healthz, /metrics, /devices\n", { status: 404 });
      }
    } catch (e) {
      deps.log.warn("admin request failed", { path, error: (e as Error).message });
      return json({ error: (e as Error).message }, 503);
    }
  };
}

/**
 * Starts the admin HTTP server. Throws with one clear line when the address is taken.
 *
 * @example
 * ```ts
 * const admin = startAdminServer({ hostname: "127.0.0.1", port: 8687, log, metrics,
 *   pingDatabase: () => db.query("select 1").then(() => {}), listDevices: () => listDevices(db) });
 * await admin.close();
 * ```
 */
export function startAdminServer(deps: AdminDeps): AdminServer {
  const token = deps.token ?? "";
  assertAdminExposure(deps.hostname, token);
  const handler = createAdminHandler(deps, {
    token,
    tokenForReads: !isLoopbackHost(deps.hostname),
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: deps.hostname,
      port: deps.port,
      onListen: () => {},
      onError: (e) => {
        deps.log.warn("admin request failed", { error: (e as Error).message });
        return new Response("internal error\n", { status: 500 });
      },
    }, handler);
  } catch (e) {
    throw new Error(
      `admin HTTP cannot listen on ${deps.hostname}:${deps.port}: ${(e as Error).message}` +
        " (set adminPort / NEWRETAIL_ADMIN_PORT, or adminEnabled false)",
    );
  }
  const { hostname, port } = server.addr;
  deps.log.info("admin HTTP listening", { address: `${hostname}:${port}` });
  let closed = false;
  return {
    hostname,
    port,
    async close() {
      if (closed) return;
      closed = true;
      await server.shutdown();
    },
  };
}
