/**
 * A store's status message on the chain's broker (`newretail/{shop}/status`, retained): what head
 * office sees of each store on one screen. Pure: built from readings, read back by the fleet view.
 *
 * | field | meaning |
 * | --- | --- |
 * | `shop` | the store id |
 * | `state` | `online`; `degraded` while a critical alert is open; `offline` (the last-will, or a clean stop) |
 * | `reason` | when offline: `connection lost` (the broker published the last-will) or `stopped` |
 * | `version` | the appliance's version |
 * | `uptimeS` | seconds since the appliance started |
 * | `startedAt` | when it started (ISO 8601) |
 * | `devices` | `{online, total}`: enabled devices |
 * | `staleLabels` | shelf labels that do not show their goods' current data |
 * | `alerts` | `{critical, warning, rules}` open console alerts; null when the admin server is off |
 * | `outbox` | `{payment, odoo}`: calls and deliveries still owed upstream |
 * | `odoo` | null without Odoo; else `{state, lastSync}` (the last successful pull, ISO 8601) |
 * | `at` | when the message was made (ISO 8601) |
 *
 * @module
 */

/** Open alerts by severity, and their rules (each once). */
export interface AlertCounts {
  critical: number;
  warning: number;
  rules: string[];
}

/** One store's status message. */
export interface StoreStatus {
  shop: string;
  state: "online" | "degraded" | "offline";
  reason?: string;
  version: string;
  uptimeS: number | null;
  startedAt: string;
  devices: { online: number; total: number } | null;
  staleLabels: number | null;
  alerts: AlertCounts | null;
  outbox: { payment: number; odoo: number } | null;
  odoo: { state: string; lastSync: string | null } | null;
  at: string;
}

/** What a status is made of, read by the publisher. */
export interface StatusReadings {
  shop: string;
  version: string;
  startedAt: number;
  now: number;
  devices: { online: number; total: number };
  staleLabels: number;
  alerts: { severity: string; rule: string }[] | null;
  outbox: { payment: number; odoo: number };
  odoo: { state: string; lastSync: string | null } | null;
}

/**
 * The status message of a running store.
 *
 * @example
 * ```ts
 * const s = storeStatus({ shop: "shop0001", version: "0.1.0", startedAt: 0, now: 61_000,
 *   devices: { online: 2, total: 3 }, staleLabels: 0, alerts: [], outbox: { payment: 0, odoo: 0 },
 *   odoo: null });
 * s.state; // "online"
 * s.uptimeS; // 61
 * ```
 */
export function storeStatus(r: StatusReadings): StoreStatus {
  const alerts = r.alerts === null ? null : {
    critical: r.alerts.filter((a) => a.severity === "critical").length,
    warning: r.alerts.filter((a) => a.severity !== "critical").length,
    rules: [...new Set(r.alerts.map((a) => a.rule))].sort(),
  };
  return {
    shop: r.shop,
    state: alerts && alerts.critical > 0 ? "degraded" : "online",
    version: r.version,
    uptimeS: Math.max(0, Math.round((r.now - r.startedAt) / 1000)),
    startedAt: new Date(r.startedAt).toISOString(),
    devices: r.devices,
    staleLabels: r.staleLabels,
    alerts,
    outbox: r.outbox,
    odoo: r.odoo,
    at: new Date(r.now).toISOString(),
  };
}

/**
 * The last-will, fixed when the connection is made: the broker publishes it (retained) when the
 * appliance stops answering within the keep-alive. The readings it cannot know are null.
 */
export function offlineWill(shop: string, version: string, startedAt: number): StoreStatus {
  return {
    shop,
    state: "offline",
    reason: "connection lost",
    version,
    uptimeS: null,
    startedAt: new Date(startedAt).toISOString(),
    devices: null,
    staleLabels: null,
    alerts: null,
    outbox: null,
    odoo: null,
    at: new Date(startedAt).toISOString(),
  };
}

/** The message of a clean stop: the last readings, marked offline. */
export function stoppedStatus(last: StoreStatus, now: number): StoreStatus {
  return { ...last, state: "offline", reason: "stopped", at: new Date(now).toISOString() };
}

/**
 * True when two statuses differ in more than their times (what makes a publish "on change"): the
 * uptime, the message's time and the last Odoo sync move by themselves (every poll), and are
 * refreshed by the periodic message.
 *
 * @example
 * ```ts
 * statusChanged(a, { ...a, uptimeS: a.uptimeS! + 10, at: "later" }); // false
 * ```
 */
export function statusChanged(a: StoreStatus | undefined, b: StoreStatus): boolean {
  if (!a) return true;
  const strip = (s: StoreStatus) =>
    JSON.stringify({
      ...s,
      uptimeS: 0,
      at: "",
      odoo: s.odoo ? { ...s.odoo, lastSync: s.odoo.lastSync ? "synced" : null } : null,
    });
  return strip(a) !== strip(b);
}

/** The fleet view's subscription: the status topic with `{shop}` as the one-level wildcard. */
export function statusSubscription(topicTemplate: string): string {
  return topicTemplate.replaceAll("{shop}", "+");
}

const STATES = new Set(["online", "degraded", "offline"]);

function count(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null;
}

function pair<K extends string>(v: unknown, keys: K[]): Record<K, number> | null {
  if (typeof v !== "object" || v === null) return null;
  const out = {} as Record<K, number>;
  for (const k of keys) {
    const n = count((v as Record<string, unknown>)[k]);
    if (n === null) return null;
    out[k] = n;
  }
  return out;
}

function isoOrNull(v: unknown): string | null {
  return typeof v === "string" && !Number.isNaN(Date.parse(v)) ? v : null;
}

/**
 * Reads a status message received from the broker (any store's, any version): the fields it
 * understands, or why it is not a status. A field of the wrong shape reads as null.
 *
 * @example
 * ```ts
 * parseStatus(new TextEncoder().encode('{"shop":"s1","state":"offline"}'));
 * ```
 */
export function parseStatus(payload: Uint8Array): StoreStatus | { ignored: string } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return { ignored: "payload is not JSON" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ignored: "payload is not a JSON object" };
  }
  const m = json as Record<string, unknown>;
  if (typeof m.shop !== "string" || m.shop === "") return { ignored: "no shop" };
  if (typeof m.state !== "string" || !STATES.has(m.state)) {
    return { ignored: `unknown state ${JSON.stringify(m.state)}` };
  }
  const alerts = m.alerts as Record<string, unknown> | null | undefined;
  const odoo = m.odoo as Record<string, unknown> | null | undefined;
  return {
    shop: m.shop,
    state: m.state as StoreStatus["state"],
    ...(typeof m.reason === "string" ? { reason: m.reason } : {}),
    version: typeof m.version === "string" ? m.version : "",
    uptimeS: count(m.uptimeS),
    startedAt: isoOrNull(m.startedAt) ?? "",
    devices: pair(m.devices, ["online", "total"]),
    staleLabels: count(m.staleLabels),
    alerts: alerts && typeof alerts === "object" && pair(alerts, ["critical", "warning"])
      ? {
        ...pair(alerts, ["critical", "warning"])!,
        rules: Array.isArray(alerts.rules)
          ? alerts.rules.filter((r): r is string => typeof r === "string")
          : [],
      }
      : null,
    outbox: pair(m.outbox, ["payment", "odoo"]),
    odoo: odoo && typeof odoo === "object" && typeof odoo.state === "string"
      ? { state: odoo.state, lastSync: isoOrNull(odoo.lastSync) }
      : null,
    at: isoOrNull(m.at) ?? "",
  };
}
