/**
 * The shipped monitoring files (`ops/`): the Prometheus rules forward every console alert rule,
 * and every metric the rules and the Grafana dashboard query is one the appliance exports.
 */
import assert from "node:assert/strict";
import type { AlertRule } from "../src/admin/alerts.ts";

const OPS = new URL("../ops/", import.meta.url);
const SRC = new URL("../src/", import.meta.url);

// Compiles only when this lists every rule of src/admin/alerts.ts.
const RULES: Record<AlertRule, true> = {
  database_down: true,
  broker_down: true,
  all_devices_offline: true,
  base_station_offline: true,
  device_offline: true,
  payment_unreachable: true,
  odoo_unreachable: true,
  outbox_growing: true,
  labels_stale: true,
  stock_negative: true,
  disk_full: true,
  disk_low: true,
  clock_step: true,
};

async function exportedMetrics(): Promise<Set<string>> {
  const names = new Set<string>();
  for await (const file of walk(SRC)) {
    for (const m of (await Deno.readTextFile(file)).matchAll(/"(newretail_[a-z_]+)"/g)) {
      names.add(m[1]);
    }
  }
  return names;
}

async function* walk(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walk(url);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) yield url;
  }
}

function queried(text: string): string[] {
  // Histogram series end in _bucket/_count/_sum; the registered name is the histogram's.
  return [...new Set([...text.matchAll(/\b(newretail_[a-z_]+)/g)].map((m) => m[1]))]
    .map((n) => n.replace(/_(bucket|count|sum)$/, ""));
}

Deno.test("the Prometheus rules forward every console alert rule and query real metrics", async () => {
  const text = await Deno.readTextFile(new URL("prometheus-alerts.yml", OPS));
  const known = await exportedMetrics();
  for (const rule of Object.keys(RULES)) {
    // database_down has its own rule on newretail_database_up (the alert cannot be scraped then).
    if (rule === "database_down") continue;
    assert.ok(text.includes(rule), `no Prometheus rule for ${rule}`);
  }
  for (const name of queried(text)) assert.ok(known.has(name), `${name} is not exported`);
  assert.match(text, /newretail_database_up == 0/);
});

Deno.test("the Grafana dashboard is JSON whose panels query real metrics", async () => {
  const dashboard = JSON.parse(await Deno.readTextFile(new URL("grafana-dashboard.json", OPS)));
  const known = await exportedMetrics();
  assert.equal(dashboard.uid, "newretail-stores");
  const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) =>
    p.targets.map((t) => t.expr)
  );
  assert.ok(exprs.length >= 10);
  for (const name of queried(exprs.join("\n"))) assert.ok(known.has(name), `${name} not exported`);
  assert.ok(exprs.some((e) => e.includes("newretail_alert")));
});

Deno.test("the chain dashboard queries real metrics, every one by shop; the chain Prometheus config federates them", async () => {
  const dashboard = JSON.parse(
    await Deno.readTextFile(new URL("grafana-chain-dashboard.json", OPS)),
  );
  const known = await exportedMetrics();
  assert.equal(dashboard.uid, "newretail-chain");
  const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) =>
    p.targets.map((t) => t.expr)
  );
  assert.ok(exprs.length >= 12);
  for (const name of queried(exprs.join("\n"))) assert.ok(known.has(name), `${name} not exported`);
  for (const e of exprs) assert.match(e, /shop=~"\$shop"/, `${e} is not filtered by store`);
  const config = await Deno.readTextFile(new URL("prometheus-chain.yml", OPS));
  assert.match(config, /metrics_path: \/federate/);
  assert.match(config, /honor_labels: true/);
  assert.match(config, /"labels": \{"shop": "shop0001"\}/);
  assert.match(config, /scheme: https/);
});
