/**
 * The fleet view: every store whose status is retained on the chain's broker, read by subscribing
 * to the status topic with `{shop}` as the wildcard, and a table of them for the terminal.
 *
 * @module
 */
import { loadMqtt, readBrokerCa } from "../integrations/mqtt.ts";
import { parseStatus, statusSubscription, type StoreStatus } from "./status.ts";

/** Where the fleet is read from. */
export interface FleetSource {
  url: string;
  /** The status topic template (`newretail/{shop}/status`). */
  topic: string;
  caFile?: string;
  /**
   * How long to listen: retained messages arrive at once after subscribing, so this bounds a slow
   * broker; it ends earlier once `quietMs` pass without a new message.
   */
  waitMs: number;
  /** Ends the wait after this long without a new message (default 500 ms). */
  quietMs?: number;
}

/** What was read: the stores by id, and the messages that were not statuses. */
export interface Fleet {
  stores: Map<string, StoreStatus>;
  ignored: { topic: string; reason: string }[];
}

/**
 * Reads the retained status of every store on the broker.
 *
 * @example
 * ```ts
 * const fleet = await readFleet({ url: "mqtt://127.0.0.1:1883", topic: "newretail/{shop}/status", waitMs: 2000 });
 * console.log(fleet.stores.size);
 * ```
 */
export async function readFleet(source: FleetSource): Promise<Fleet> {
  const mqtt = await loadMqtt();
  const client = await mqtt.connectAsync(source.url, {
    clientId: `newretail-fleet-${crypto.randomUUID().slice(0, 8)}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: Math.max(source.waitMs, 5000),
    ...(source.caFile ? { ca: await readBrokerCa("chainMqttCaFile", source.caFile) } : {}),
  });
  const fleet: Fleet = { stores: new Map(), ignored: [] };
  const quietMs = source.quietMs ?? 500;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  let quiet: ReturnType<typeof setTimeout> | undefined;
  const restartQuiet = () => {
    clearTimeout(quiet);
    quiet = setTimeout(resolve, quietMs);
  };
  const limit = setTimeout(resolve, source.waitMs);
  client.on("message", (topic, payload) => {
    const status = parseStatus(payload);
    if ("ignored" in status) fleet.ignored.push({ topic, reason: status.ignored });
    else fleet.stores.set(status.shop, status);
    restartQuiet();
  });
  try {
    await client.subscribeAsync(statusSubscription(source.topic), { qos: 1 });
    restartQuiet();
    await done;
  } finally {
    clearTimeout(quiet);
    clearTimeout(limit);
    await client.endAsync(true);
  }
  return fleet;
}

function age(iso: string | null, now: number): string {
  if (!iso) return "-";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function shown(v: number | null | undefined): string {
  return v === null || v === undefined ? "-" : String(v);
}

/**
 * True when a store that says it is up has not published for `silentAfterMs`: its broker or the
 * bridge from its region may be down (no last-will crosses a dead bridge), so its state is unknown.
 */
export function isSilent(status: StoreStatus, now: number, silentAfterMs: number): boolean {
  if (status.state === "offline") return false;
  const at = Date.parse(status.at);
  return Number.isNaN(at) || now - at > silentAfterMs;
}

/**
 * The fleet as a text table, one store a line, sorted by shop. `SEEN` is the age of the message
 * (a store up but silent for `silentAfterMs` is marked so); `UP` the store's uptime; `ODOO` the
 * age of its last successful Odoo pull. Pure.
 *
 * @example
 * ```ts
 * console.log(fleetTable([...fleet.stores.values()], Date.now()));
 * ```
 */
export function fleetTable(stores: StoreStatus[], now: number, silentAfterMs = 150_000): string {
  const header = [
    "SHOP",
    "STATE",
    "VERSION",
    "UP",
    "DEVICES",
    "STALE",
    "ALERTS",
    "OUTBOX",
    "ODOO",
    "SEEN",
  ];
  const rows = [...stores].sort((a, b) => a.shop.localeCompare(b.shop)).map((s) => [
    s.shop,
    s.state + (s.state === "offline" && s.reason ? ` (${s.reason})` : "") +
    (isSilent(s, now, silentAfterMs) ? " (silent)" : ""),
    s.version || "-",
    s.uptimeS === null ? "-" : age(new Date(now - s.uptimeS * 1000).toISOString(), now),
    s.devices ? `${s.devices.online}/${s.devices.total}` : "-",
    shown(s.staleLabels),
    s.alerts ? `${s.alerts.critical}c ${s.alerts.warning}w` : "-",
    s.outbox ? `${s.outbox.payment}p ${s.outbox.odoo}o` : "-",
    s.odoo ? (s.odoo.state === "up" ? age(s.odoo.lastSync, now) : s.odoo.state) : "-",
    age(s.at || null, now),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Stores by state, for the summary line. */
export function fleetCounts(stores: StoreStatus[]): Record<StoreStatus["state"], number> {
  const counts = { online: 0, degraded: 0, offline: 0 };
  for (const s of stores) counts[s.state]++;
  return counts;
}
