import assert from "node:assert/strict";
import {
  offlineWill,
  parseStatus,
  statusChanged,
  statusSubscription,
  stoppedStatus,
  storeStatus,
} from "./status.ts";
import { fleetCounts, fleetTable } from "./fleet_view.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

const readings = {
  shop: "shop0001",
  version: "1.2.3",
  startedAt: Date.parse("2025-01-01T00:00:00Z"),
  now: Date.parse("2025-01-01T01:00:00Z"),
  devices: { online: 2, total: 3 },
  staleLabels: 1,
  alerts: [
    { severity: "warning", rule: "device_offline" },
    { severity: "warning", rule: "device_offline" },
  ],
  outbox: { payment: 0, odoo: 4 },
  odoo: { state: "up", lastSync: "2025-01-01T00:59:55.000Z" },
};

Deno.test("storeStatus: counts alerts by severity; a critical one makes the store degraded", () => {
  const s = storeStatus(readings);
  assert.equal(s.state, "online");
  assert.equal(s.uptimeS, 3600);
  assert.deepEqual(s.alerts, { critical: 0, warning: 2, rules: ["device_offline"] });
  assert.equal(s.at, "2025-01-01T01:00:00.000Z");
  const degraded = storeStatus({
    ...readings,
    alerts: [{ severity: "critical", rule: "database_down" }],
  });
  assert.equal(degraded.state, "degraded");
  assert.equal(storeStatus({ ...readings, alerts: null }).alerts, null, "no console: unknown");
});

Deno.test("statusChanged: time passing is no change; a reading is", () => {
  const a = storeStatus(readings);
  const later = storeStatus({ ...readings, now: readings.now + 30_000 });
  assert.equal(statusChanged(a, later), false);
  const synced = storeStatus({
    ...readings,
    odoo: { state: "up", lastSync: "2025-01-01T01:00:00.000Z" },
  });
  assert.equal(statusChanged(a, synced), false, "each Odoo poll is no change");
  const down = storeStatus({
    ...readings,
    odoo: { state: "down", lastSync: readings.odoo.lastSync },
  });
  assert.equal(statusChanged(a, down), true, "Odoo going down is");
  assert.equal(statusChanged(a, storeStatus({ ...readings, staleLabels: 0 })), true);
  assert.equal(statusChanged(undefined, a), true);
});

Deno.test("the will and a clean stop read back as offline, with their reason", () => {
  const will = parseStatus(bytes(JSON.stringify(offlineWill("s1", "1.2.3", 0))));
  assert.ok(!("ignored" in will));
  assert.equal(will.state, "offline");
  assert.equal(will.reason, "connection lost");
  assert.equal(will.devices, null);
  const stopped = stoppedStatus(storeStatus(readings), readings.now + 1000);
  const back = parseStatus(bytes(JSON.stringify(stopped)));
  assert.ok(!("ignored" in back));
  assert.deepEqual(back, stopped);
});

Deno.test("parseStatus: what is not a status is ignored with the reason; odd fields read as null", () => {
  const cases: [string, RegExp][] = [
    ["garbage{", /not JSON/],
    ["[1]", /not a JSON object/],
    ['{"state":"online"}', /no shop/],
    ['{"shop":"s1","state":"sleeping"}', /unknown state/],
  ];
  for (const [payload, reason] of cases) {
    const r = parseStatus(bytes(payload));
    assert.ok("ignored" in r, payload);
    assert.match(r.ignored, reason);
  }
  const odd = parseStatus(
    bytes('{"shop":"s1","state":"online","devices":{"online":-1,"total":2},"alerts":"x","at":5}'),
  );
  assert.ok(!("ignored" in odd));
  assert.equal(odd.devices, null);
  assert.equal(odd.alerts, null);
  assert.equal(odd.at, "");
});

Deno.test("statusSubscription and the fleet table", () => {
  assert.equal(statusSubscription("newretail/{shop}/status"), "newretail/+/status");
  const now = readings.now;
  const online = storeStatus(readings);
  const gone = offlineWill("shop0002", "1.2.2", now - 120_000);
  const table = fleetTable([gone, online], now).split("\n");
  assert.match(
    table[0],
    /^SHOP\s+STATE\s+VERSION\s+UP\s+DEVICES\s+STALE\s+ALERTS\s+OUTBOX\s+ODOO\s+SEEN$/,
  );
  assert.match(
    table[1],
    /^shop0001\s+online\s+1\.2\.3\s+60m\s+2\/3\s+1\s+0c 2w\s+0p 4o\s+5s\s+0s$/,
  );
  assert.match(table[2], /^shop0002\s+offline \(connection lost\)\s+1\.2\.2\s+-\s+-/);
  assert.deepEqual(fleetCounts([gone, online]), { online: 1, degraded: 0, offline: 1 });
  const quiet = fleetTable([online], now + 200_000).split("\n")[1];
  assert.match(quiet, /^shop0001\s+online \(silent\)/, "up but not heard from for 200 s");
});
