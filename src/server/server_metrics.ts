/**
 * The device server's metrics (connections, logins, requests, protocol errors).
 *
 * @module
 */
import type {
  Counter,
  CounterSeries,
  Gauge,
  Histogram,
  HistogramSeries,
  MetricsRegistry,
} from "../metrics.ts";

/** One action's request series, bound once (every request counts into them). */
export interface ActionSeries {
  requests: CounterSeries;
  /** Counts a request answered with a non-empty exception. */
  failed(): void;
  seconds: HistogramSeries;
}

/** Instruments the server records into. */
export interface ServerMetrics {
  connectionsTotal: Counter;
  connectionsRefused: Counter;
  disconnects: Counter;
  logins: Counter;
  requests: Counter;
  requestErrors: Counter;
  requestSeconds: Histogram;
  protocolErrors: Counter;
  pushes: Counter;
  /** The request series of one action (`unknown` for actions not in the table). */
  forAction(action: string): ActionSeries;
}

/** Latency buckets in seconds: sub-millisecond to the request timeout. */
export const LATENCY_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/**
 * Registers the server's instruments. `open` and `loggedIn` are read at scrape time from the live
 * sessions.
 */
export function createServerMetrics(
  registry: MetricsRegistry,
  live: {
    open: () => number;
    loggedInByKind: () => Map<string, number>;
  },
): ServerMetrics & { connectionsOpen: Gauge; devicesLoggedIn: Gauge } {
  const requests = registry.counter("newretail_requests_total", "Device requests, by action.");
  const requestErrors = registry.counter(
    "newretail_request_errors_total",
    "Requests answered with a non-empty exception, by action.",
  );
  const requestSeconds = registry.histogram(
    "newretail_request_duration_seconds",
    "Time from a request's last byte to its reply being queued.",
    LATENCY_BUCKETS,
  );
  const byAction = new Map<string, ActionSeries>();
  return {
    connectionsOpen: registry.gauge(
      "newretail_connections_open",
      "Device TCP connections open now.",
      () => [{ labels: {}, value: live.open() }],
    ),
    devicesLoggedIn: registry.gauge(
      "newretail_devices_logged_in",
      "Logged-in devices by kind (type prefix).",
      () => [...live.loggedInByKind()].map(([kind, value]) => ({ labels: { kind }, value })),
    ),
    connectionsTotal: registry.counter(
      "newretail_connections_total",
      "Device TCP connections accepted.",
    ),
    connectionsRefused: registry.counter(
      "newretail_connections_refused_total",
      "Connections closed at accept because the connection cap was reached.",
    ),
    disconnects: registry.counter(
      "newretail_disconnects_total",
      "Connections closed, by reason.",
    ),
    logins: registry.counter("newretail_logins_total", "Successful logins, by device kind."),
    requests,
    requestErrors,
    requestSeconds,
    protocolErrors: registry.counter(
      "newretail_protocol_errors_total",
      "Connections closed for breaking the framing rules, by reason.",
    ),
    pushes: registry.counter(
      "newretail_pushes_total",
      "Server pushes, by action and outcome (acknowledged, timeout, closed).",
    ),
    forAction(action) {
      let series = byAction.get(action);
      if (!series) {
        const labels = { action };
        let errors: CounterSeries | undefined;
        series = {
          requests: requests.series(labels),
          // An action's error series appears with its first error.
          failed: () => (errors ??= requestErrors.series(labels)).inc(),
          seconds: requestSeconds.series(labels),
        };
        byAction.set(action, series);
      }
      return series;
    },
  };
}
