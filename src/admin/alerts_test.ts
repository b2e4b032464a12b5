import assert from "node:assert/strict";
import {
  alertChanges,
  type AlertSnapshot,
  computeAlerts,
  type DeviceSnapshot,
  type StaleLabel,
} from "./alerts.ts";

const AT = new Date("2026-12-01T10:00:00Z");
const ago = (minutes: number) => new Date(AT.getTime() - minutes * 60_000);
const BOUNDS = {
  deviceOfflineMinutes: 2,
  upstreamDownMinutes: 5,
  outboxAgeMinutes: 15,
  labelStaleMinutes: 30,
  diskWarnFreeMb: 1024,
};
const up = { state: "up", downSince: null };

function device(equipId: string, extra: Partial<DeviceSnapshot> = {}): DeviceSnapshot {
  return {
    equipId,
    kind: equipId.split("_")[0],
    enabled: true,
    online: true,
    offlineSince: null,
    labelsServed: 0,
    ...extra,
  };
}

function snapshot(extra: Partial<AlertSnapshot> = {}): AlertSnapshot {
  return {
    at: AT,
    database: { up: true },
    mqtt: up,
    payment: up,
    odoo: { state: "off", downSince: null },
    devices: [device("DZBQ_1", { labelsServed: 40 }), device("DZC_1"), device("POS_1")],
    outbox: { payment: { depth: 0, oldestAt: null }, odoo: { depth: 0, oldestAt: null } },
    staleLabels: [],
    negativeStock: [],
    ...extra,
  };
}

function labelsOf(equipId: string, n: number, since: Date): StaleLabel[] {
  return Array.from({ length: n }, (_, i) => ({ mac: `AC:${equipId}:${i}`, equipId, since }));
}

Deno.test("a healthy store has no alerts", () => {
  assert.deepEqual(computeAlerts(snapshot(), BOUNDS), []);
});

Deno.test("a base station offline is one alert naming its labels, not one per label", () => {
  const s = snapshot({
    devices: [
      device("DZBQ_1", { online: false, offlineSince: ago(10), labelsServed: 40 }),
      device("DZBQ_2", { labelsServed: 3 }),
      device("POS_1"),
    ],
    // Its 40 labels are stale because it is down; another station's label is stale by itself.
    staleLabels: [...labelsOf("DZBQ_1", 40, ago(60)), ...labelsOf("DZBQ_2", 1, ago(60))],
  });
  const alerts = computeAlerts(s, BOUNDS);
  assert.deepEqual(alerts.map((a) => a.id), ["base_station_offline:DZBQ_1", "labels_stale:labels"]);
  assert.equal(alerts[0].params.labels, 40);
  assert.match(alerts[0].message, /40 labels/);
  assert.equal(alerts[1].params.labels, 1);
});

Deno.test("a device offline for less than the bound raises nothing", () => {
  const s = snapshot({
    devices: [device("DZC_1", { online: false, offlineSince: ago(1) }), device("POS_1")],
  });
  assert.deepEqual(computeAlerts(s, BOUNDS), []);
  const later = computeAlerts({ ...s, at: new Date(AT.getTime() + 60_000) }, BOUNDS);
  assert.deepEqual(later.map((a) => a.id), ["device_offline:DZC_1"]);
});

Deno.test("disabled devices and never-seen devices raise nothing", () => {
  const s = snapshot({
    devices: [
      device("DZC_1", { online: false, offlineSince: ago(60), enabled: false }),
      device("DZC_2", { online: false, offlineSince: null }),
      device("POS_1"),
    ],
  });
  assert.deepEqual(computeAlerts(s, BOUNDS), []);
});

Deno.test("the database down is the only alert", () => {
  const s = snapshot({
    database: { up: false, detail: "connection refused" },
    negativeStock: [{ goodsId: 1, name: "x", quantity: "-1" }],
  });
  const alerts = computeAlerts(s, BOUNDS);
  assert.deepEqual(alerts.map((a) => a.id), ["database_down:store"]);
  assert.match(alerts[0].message, /connection refused/);
});

Deno.test("the broker down holds back the device and label alerts it causes, and counts them", () => {
  const s = snapshot({
    mqtt: { state: "down", downSince: ago(3) },
    devices: [
      device("DZBQ_1", { online: false, offlineSince: ago(10), labelsServed: 40 }),
      device("DZC_1", { online: false, offlineSince: ago(10) }),
      device("POS_1"),
    ],
    staleLabels: labelsOf("DZBQ_1", 40, ago(60)),
    negativeStock: [{ goodsId: 7, name: "milk", quantity: "-2" }],
  });
  const alerts = computeAlerts(s, BOUNDS);
  assert.deepEqual(alerts.map((a) => a.id), ["broker_down:store", "stock_negative:7"]);
  assert.equal(alerts[0].params.devices, 2);
  assert.equal(alerts[0].params.labels, 40);
});

Deno.test("every device offline at once is one store-network alert", () => {
  const devices = ["DZBQ_1", "DZBQ_2", "DZC_1", "POS_1"].map((id) =>
    device(id, { online: false, offlineSince: ago(5), labelsServed: id.startsWith("DZBQ") ? 9 : 0 })
  );
  const alerts = computeAlerts(snapshot({ devices }), BOUNDS);
  assert.deepEqual(alerts.map((a) => a.id), ["all_devices_offline:store"]);
  assert.equal(alerts[0].params.devices, 4);
});

Deno.test("an upstream down longer than the bound is an alert and holds back its outbox alert", () => {
  const outbox = {
    payment: { depth: 12, oldestAt: ago(40) },
    odoo: { depth: 3, oldestAt: ago(40) },
  };
  const short = computeAlerts(
    snapshot({ payment: { state: "down", downSince: ago(4), detail: "timeout" }, outbox }),
    BOUNDS,
  );
  // Not yet 5 minutes: the outboxes are old, so they are what shows.
  assert.deepEqual(short.map((a) => a.id), ["outbox_growing:odoo", "outbox_growing:payment"]);
  const long = computeAlerts(
    snapshot({
      payment: { state: "down", downSince: ago(6), detail: "timeout" },
      odoo: { state: "up", downSince: null },
      outbox,
    }),
    BOUNDS,
  );
  assert.deepEqual(long.map((a) => a.id), ["payment_unreachable:payment", "outbox_growing:odoo"]);
  assert.equal(long[0].params.minutes, 6);
  assert.match(long[0].message, /timeout/);
});

Deno.test("a young outbox raises nothing; Odoo off is never unreachable", () => {
  const s = snapshot({
    odoo: { state: "off", downSince: ago(600) },
    outbox: { payment: { depth: 50, oldestAt: ago(1) }, odoo: { depth: 0, oldestAt: null } },
  });
  assert.deepEqual(computeAlerts(s, BOUNDS), []);
});

Deno.test("labels stale beyond the bound are one alert with their count", () => {
  const s = snapshot({
    staleLabels: [...labelsOf("DZBQ_1", 5, ago(31)), ...labelsOf("DZBQ_1", 2, ago(10))],
  });
  const alerts = computeAlerts(s, BOUNDS);
  assert.deepEqual(alerts.map((a) => a.id), ["labels_stale:labels"]);
  assert.equal(alerts[0].params.labels, 5);
  assert.equal(alerts[0].since, ago(31).toISOString());
});

Deno.test("negative shelf stock is one alert per goods", () => {
  const s = snapshot({
    negativeStock: [
      { goodsId: 3, name: "tea", quantity: "-1" },
      { goodsId: 4, name: "rice", quantity: "-0.5" },
    ],
  });
  assert.deepEqual(computeAlerts(s, BOUNDS).map((a) => a.id), [
    "stock_negative:3",
    "stock_negative:4",
  ]);
});

Deno.test("alertChanges tells raised and cleared alerts apart by id", () => {
  const before = computeAlerts(
    snapshot({ negativeStock: [{ goodsId: 3, name: "tea", quantity: "-1" }] }),
    BOUNDS,
  );
  const after = computeAlerts(
    snapshot({
      devices: [device("DZC_1", { online: false, offlineSince: ago(5) }), device("POS_1")],
    }),
    BOUNDS,
  );
  const { raised, cleared } = alertChanges(before, after);
  assert.deepEqual(raised.map((a) => a.id), ["device_offline:DZC_1"]);
  assert.deepEqual(cleared.map((a) => a.id), ["stock_negative:3"]);
  assert.deepEqual(alertChanges(after, after), { raised: [], cleared: [] });
});

Deno.test("a full disk is one critical alert naming the free space, first, even with the database down", () => {
  const MB = 1024 * 1024;
  const disk = { path: "/var/lib/newretail", freeBytes: 12 * MB, totalBytes: 32_000 * MB };
  const full = computeAlerts(snapshot({ disk: { ...disk, full: true } }), BOUNDS);
  assert.deepEqual(full.map((a) => [a.rule, a.severity, a.subject]), [
    ["disk_full", "critical", "/var/lib/newretail"],
  ]);
  assert.match(full[0].message, /^disk full: 12 MB free on \/var\/lib\/newretail; orders/);
  const down = computeAlerts(
    snapshot({ database: { up: false, detail: "stopped" }, disk: { ...disk, full: true } }),
    BOUNDS,
  );
  assert.deepEqual(down.map((a) => a.rule), ["disk_full", "database_down"]);
  // Under the warning threshold but over the reserve: a warning, before it is full.
  const low = computeAlerts(
    snapshot({ disk: { ...disk, freeBytes: 800 * MB, full: false } }),
    BOUNDS,
  );
  assert.deepEqual(low.map((a) => [a.rule, a.severity]), [["disk_low", "warning"]]);
  assert.equal(
    low[0].message,
    "disk space low: 800 MB free of 32000 MB on /var/lib/newretail (warning under 1024 MB)",
  );
  assert.deepEqual(
    computeAlerts(snapshot({ disk: { ...disk, freeBytes: 5000 * MB, full: false } }), BOUNDS),
    [],
  );
});

Deno.test("a held clock step is one warning naming the offset; a clock in step, none", () => {
  const clock = {
    state: "held" as const,
    offsetMs: 365 * 86_400_000,
    applianceTime: "2026-12-01T10:00:00.000Z",
    machineTime: "2027-12-01T10:00:00.000Z",
  };
  const held = computeAlerts(snapshot({ clock }), BOUNDS);
  assert.deepEqual(held.map((a) => [a.rule, a.severity]), [["clock_step", "warning"]]);
  assert.match(held[0].message, /stepped 365 days ahead of the appliance's time/);
  assert.deepEqual(
    computeAlerts(snapshot({ clock: { ...clock, state: "following" } }), BOUNDS),
    [],
  );
});
