/**
 * Alerts that know the store's topology, computed from one snapshot of its state (pure: no I/O,
 * the clock is the snapshot's `at`). What they avoid is the alert storm of the consoles we
 * replace: one base station down is one alert that names the labels it serves (not one per
 * label), and a store-wide outage (database, MQTT broker, every device at once) is one alert that
 * holds back the device and label alerts it causes, counting them.
 *
 * | rule | raised when |
 * | --- | --- |
 * | `database_down` | the database does not answer (everything else is unknown: nothing else is raised) |
 * | `broker_down` | the MQTT broker is unreachable; device and label alerts are held back |
 * | `all_devices_offline` | every enabled device (two or more) is offline: the store network; device and label alerts are held back |
 * | `base_station_offline` | a shelf-label base station is offline longer than `alertDeviceOfflineMinutes`; names its labels; their stale-label alerts are held back |
 * | `device_offline` | another device is offline longer than `alertDeviceOfflineMinutes` |
 * | `payment_unreachable`, `odoo_unreachable` | down longer than `alertUpstreamDownMinutes` |
 * | `outbox_growing` | the oldest undelivered payment call or Odoo delivery is older than `alertOutboxAgeMinutes` (held back while its upstream's unreachable alert is raised) |
 * | `labels_stale` | labels stale longer than `alertLabelStaleMinutes` (one alert, with the count) |
 * | `stock_negative` | a goods' shelf stock is below zero (one per goods) |
 * | `disk_full` | the database's disk is under `diskReserveMb` free, or a write failed for lack of space: orders, receipts and payments are refused |
 * | `disk_low` | the database's disk is under `diskWarnFreeMb` free (not yet full) |
 * | `clock_step` | the machine's clock stepped away from the appliance's time, or started behind the store's records (src/guarded_clock.ts) |
 *
 * @module
 */
import type { ClockReading } from "../guarded_clock.ts";
import type { OutboxSnapshot } from "../store/money_owed.ts";

/** The rules, as named in `/alerts`, the metric's `rule` label and the Prometheus rules file. */
export type AlertRule =
  | "database_down"
  | "broker_down"
  | "all_devices_offline"
  | "base_station_offline"
  | "device_offline"
  | "payment_unreachable"
  | "odoo_unreachable"
  | "outbox_growing"
  | "labels_stale"
  | "stock_negative"
  | "disk_full"
  | "disk_low"
  | "clock_step";

/** One open alert. */
export interface Alert {
  /** Stable while the condition lasts (`rule:subject`): the live view diffs by it. */
  id: string;
  rule: AlertRule;
  severity: "critical" | "warning";
  /** What it is about: a device ID, `odoo`, a goods id…, `store` for store-wide ones. */
  subject: string;
  /** Since when the condition holds, ISO 8601, when known. */
  since: string | null;
  /** The numbers and names the message is made of (the console words them in its language). */
  params: Record<string, string | number>;
  /** One English line (for `/alerts`, logs and mail). */
  message: string;
}

/** A dependency as the snapshot sees it. */
export interface ComponentSnapshot {
  state: "off" | "up" | "down" | "connecting" | (string & Record<never, never>);
  /** Since when it has not been up (the console's tracker remembers it), or null. */
  downSince: Date | null;
  detail?: string;
}

/** A device as the snapshot sees it. */
export interface DeviceSnapshot {
  equipId: string;
  kind: string;
  enabled: boolean;
  online: boolean;
  /** When it went offline (null: never logged in, or online). */
  offlineSince: Date | null;
  /** Shelf labels it serves (base stations; 0 for other kinds). */
  labelsServed: number;
}

/** A stale label: bound, and what it shows is not the current data. */
export interface StaleLabel {
  mac: string;
  /** The base station serving it, when known. */
  equipId: string | null;
  since: Date;
}

/** Everything the rules look at, read at one moment. */
export interface AlertSnapshot {
  at: Date;
  database: { up: boolean; detail?: string };
  mqtt: ComponentSnapshot;
  payment: ComponentSnapshot;
  odoo: ComponentSnapshot;
  devices: DeviceSnapshot[];
  outbox: { payment: OutboxSnapshot; odoo: OutboxSnapshot };
  staleLabels: StaleLabel[];
  negativeStock: { goodsId: number; name: string; quantity: string }[];
  /** The database's disk (undefined: not on this machine, or not read yet). */
  disk?: DiskSnapshot;
  /** The appliance's time against the machine's clock (undefined: not watched). */
  clock?: ClockReading;
}

/** The database's disk as the snapshot sees it. */
export interface DiskSnapshot {
  path: string | null;
  freeBytes: number | null;
  totalBytes: number | null;
  /** Writes are refused (under the reserve, or a write just failed for lack of space). */
  full: boolean;
}

/** The configured bounds (`alert…` keys), in minutes. */
export interface AlertBounds {
  deviceOfflineMinutes: number;
  upstreamDownMinutes: number;
  outboxAgeMinutes: number;
  labelStaleMinutes: number;
  /** `diskWarnFreeMb`. */
  diskWarnFreeMb: number;
}

/** The kind prefix of shelf-label base stations. */
export const BASE_STATION_KIND = "DZBQ";

const MINUTE = 60_000;
const MB = 1024 * 1024;

function olderThan(since: Date | null, at: Date, minutes: number): boolean {
  return since !== null && at.getTime() - since.getTime() >= minutes * MINUTE;
}

function alert(
  rule: AlertRule,
  severity: Alert["severity"],
  subject: string,
  since: Date | null,
  params: Alert["params"],
  message: string,
): Alert {
  return {
    id: `${rule}:${subject}`,
    rule,
    severity,
    subject,
    since: since?.toISOString() ?? null,
    params,
    message,
  };
}

function minDate(dates: Date[]): Date | null {
  return dates.length === 0 ? null : new Date(Math.min(...dates.map((d) => d.getTime())));
}

/**
 * The open alerts of a snapshot, most severe first.
 *
 * @example
 * ```ts
 * const alerts = computeAlerts(snapshot, { deviceOfflineMinutes: 2, upstreamDownMinutes: 5,
 *   outboxAgeMinutes: 15, labelStaleMinutes: 30 });
 * ```
 */
export function computeAlerts(s: AlertSnapshot, bounds: AlertBounds): Alert[] {
  const at = s.at;
  // First: a full disk is often why nothing else answers (the embedded database stops).
  const disk = diskAlerts(s.disk, bounds);
  if (!s.database.up) {
    return [
      ...disk,
      alert(
        "database_down",
        "critical",
        "store",
        null,
        { detail: s.database.detail ?? "" },
        [
          "database down",
          s.database.detail ?? "",
        ].filter(Boolean).join(": "),
      ),
    ];
  }
  const out: Alert[] = [...disk, ...clockAlerts(s.clock)];
  const enabled = s.devices.filter((d) => d.enabled);
  const offline = enabled.filter((d) =>
    !d.online && olderThan(d.offlineSince, at, bounds.deviceOfflineMinutes)
  );
  const staleLong = s.staleLabels.filter((l) => olderThan(l.since, at, bounds.labelStaleMinutes));

  // Store-wide causes first: the device and label alerts they cause are held back and counted.
  let heldBack = false;
  if (s.mqtt.state === "down") {
    heldBack = true;
    out.push(alert(
      "broker_down",
      "critical",
      "store",
      s.mqtt.downSince,
      { devices: offline.length, labels: staleLong.length, detail: s.mqtt.detail ?? "" },
      `MQTT broker unreachable (${offline.length} device and ${staleLong.length} label alerts held back)`,
    ));
  }
  const allOffline = enabled.length >= 2 && enabled.every((d) => !d.online) &&
    enabled.some((d) => d.offlineSince !== null);
  if (allOffline && offline.length > 0) {
    heldBack = true;
    out.push(alert(
      "all_devices_offline",
      "critical",
      "store",
      minDate(enabled.flatMap((d) => d.offlineSince ? [d.offlineSince] : [])),
      { devices: enabled.length },
      `all ${enabled.length} devices offline (store network?)`,
    ));
  }

  const silencedStations = new Set<string>();
  if (!heldBack) {
    for (const d of offline) {
      if (d.kind === BASE_STATION_KIND) {
        silencedStations.add(d.equipId);
        out.push(alert(
          "base_station_offline",
          "critical",
          d.equipId,
          d.offlineSince,
          { equipId: d.equipId, labels: d.labelsServed },
          `base station ${d.equipId} offline: ${d.labelsServed} labels not updated`,
        ));
      } else {
        out.push(alert(
          "device_offline",
          "warning",
          d.equipId,
          d.offlineSince,
          { equipId: d.equipId, kind: d.kind },
          `device ${d.equipId} offline`,
        ));
      }
    }
  }

  const unreachable = new Set<"payment" | "odoo">();
  for (const [name, c] of [["payment", s.payment], ["odoo", s.odoo]] as const) {
    if (
      c.state !== "off" && c.state !== "up" &&
      olderThan(c.downSince, at, bounds.upstreamDownMinutes)
    ) {
      unreachable.add(name);
      const label = name === "payment" ? "payment server" : "Odoo";
      out.push(alert(
        `${name}_unreachable`,
        "critical",
        name,
        c.downSince,
        {
          minutes: Math.floor((at.getTime() - c.downSince!.getTime()) / MINUTE),
          detail: c.detail ?? "",
        },
        `${label} unreachable${c.detail ? `: ${c.detail}` : ""}`,
      ));
    }
  }
  for (const name of ["payment", "odoo"] as const) {
    const o = s.outbox[name];
    if (unreachable.has(name) || o.depth === 0) continue;
    if (!olderThan(o.oldestAt, at, bounds.outboxAgeMinutes)) continue;
    out.push(alert(
      "outbox_growing",
      "warning",
      name,
      o.oldestAt,
      { upstream: name, depth: o.depth },
      `${o.depth} ${
        name === "payment" ? "payment calls" : "Odoo deliveries"
      } waiting, oldest since ${o.oldestAt!.toISOString()}`,
    ));
  }

  if (!heldBack) {
    const labels = staleLong.filter((l) => !l.equipId || !silencedStations.has(l.equipId));
    if (labels.length > 0) {
      out.push(alert(
        "labels_stale",
        "warning",
        "labels",
        minDate(labels.map((l) => l.since)),
        { labels: labels.length, minutes: bounds.labelStaleMinutes },
        `${labels.length} labels stale for more than ${bounds.labelStaleMinutes} min`,
      ));
    }
  }

  for (const g of s.negativeStock) {
    out.push(alert(
      "stock_negative",
      "warning",
      String(g.goodsId),
      null,
      { goodsId: g.goodsId, name: g.name, quantity: g.quantity },
      `shelf stock of ${g.name} (${g.goodsId}) is ${g.quantity}`,
    ));
  }
  return out.sort((a, b) =>
    (a.severity === b.severity ? 0 : a.severity === "critical" ? -1 : 1) || a.id.localeCompare(b.id)
  );
}

function diskAlerts(disk: DiskSnapshot | undefined, bounds: AlertBounds): Alert[] {
  if (!disk) return [];
  const path = disk.path ?? "database";
  const freeMb = disk.freeBytes === null ? null : Math.floor(disk.freeBytes / MB);
  const totalMb = disk.totalBytes === null ? null : Math.floor(disk.totalBytes / MB);
  const free = freeMb === null ? "" : `${freeMb} MB free`;
  if (disk.full) {
    return [alert(
      "disk_full",
      "critical",
      path,
      null,
      { path, freeMb: freeMb ?? "", totalMb: totalMb ?? "" },
      `disk full${
        free ? `: ${free}` : ""
      } on ${path}; orders, receipts and payments are refused until space is freed`,
    )];
  }
  if (freeMb !== null && disk.freeBytes! < bounds.diskWarnFreeMb * MB) {
    return [alert(
      "disk_low",
      "warning",
      path,
      null,
      { path, freeMb, totalMb: totalMb ?? "", warnMb: bounds.diskWarnFreeMb },
      `disk space low: ${freeMb} MB free of ${totalMb} MB on ${path} (warning under ${bounds.diskWarnFreeMb} MB)`,
    )];
  }
  return [];
}

/** The offset in words: "365 days", "3 hours", "90 s". */
function span(ms: number): string {
  const s = Math.abs(ms) / 1000;
  if (s >= 2 * 86_400) return `${Math.round(s / 86_400)} days`;
  if (s >= 2 * 3_600) return `${Math.round(s / 3_600)} hours`;
  if (s >= 120) return `${Math.round(s / 60)} minutes`;
  return `${Math.round(s)} s`;
}

function clockAlerts(clock: ClockReading | undefined): Alert[] {
  if (!clock || clock.state === "following") return [];
  const params = {
    state: clock.state,
    offset: span(clock.offsetMs),
    direction: clock.offsetMs >= 0 ? "ahead" : "behind",
    machineTime: clock.machineTime,
    applianceTime: clock.applianceTime,
  };
  const message = clock.state === "behind"
    ? `the machine's clock (${clock.machineTime}) is behind the store's last records: the appliance counts from ${clock.applianceTime} until it is set (check NTP)`
    : `the machine's clock stepped ${params.offset} ${params.direction} of the appliance's time: the appliance keeps its own (${clock.applianceTime}); check NTP, then restart newretail to accept the machine's clock`;
  return [alert("clock_step", "warning", "clock", null, params, message)];
}

/** What changed between two alert lists (by id): the live view's `alert-raised`/`alert-cleared`. */
export function alertChanges(
  before: Alert[],
  after: Alert[],
): { raised: Alert[]; cleared: Alert[] } {
  const was = new Set(before.map((a) => a.id));
  const is = new Set(after.map((a) => a.id));
  return {
    raised: after.filter((a) => !was.has(a.id)),
    cleared: before.filter((a) => !is.has(a.id)),
  };
}
