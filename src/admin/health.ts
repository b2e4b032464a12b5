/**
 * The shape of `/healthz`: one report of every dependency's state, read by the admin server and
 * shown by the console.
 *
 * @module
 */

/** The state of one dependency as `/healthz` reports it. */
export interface ComponentHealth {
  /** `off`: not configured; `up`/`down`: reachable or not; other words are the component's own. */
  state: "off" | "up" | "down" | "connecting" | (string & Record<never, never>);
  /** One line for the operator (the last error, the broker address…). */
  detail?: string;
  /** Extra numbers worth seeing (outbox depth, pending calls…). */
  [extra: string]: unknown;
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
  /** Beyond loopback: the admin server's certificate, to check against the one a client is shown. */
  tls?: { fingerprintSha256: string };
}
