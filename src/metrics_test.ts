import assert from "node:assert/strict";
import { MetricsRegistry } from "./metrics.ts";

Deno.test("a bound series counts into the same series as inc with its labels", () => {
  const registry = new MetricsRegistry();
  const requests = registry.counter("x_requests_total", "Requests.");
  const getGoods = requests.series({ action: "getGoods" });
  getGoods.inc();
  getGoods.inc(2);
  requests.inc({ action: "getGoods" });
  requests.inc({ action: "login" });
  assert.equal(requests.get({ action: "getGoods" }), 4);
  assert.match(registry.render(), /x_requests_total\{action="getGoods"\} 4\n/);
  assert.match(registry.render(), /x_requests_total\{action="login"\} 1\n/);
});

Deno.test("histogram buckets are cumulative, bound series or not", () => {
  const registry = new MetricsRegistry();
  const seconds = registry.histogram("x_seconds", "Durations.", [0.1, 1]);
  const bound = seconds.series({ action: "a" });
  for (const v of [0.05, 0.1, 0.5, 2]) bound.observe(v);
  seconds.observe(0.5, { action: "a" });
  const text = registry.render();
  assert.match(text, /x_seconds_bucket\{action="a",le="0.1"\} 2\n/);
  assert.match(text, /x_seconds_bucket\{action="a",le="1"\} 4\n/);
  assert.match(text, /x_seconds_bucket\{action="a",le="\+Inf"\} 5\n/);
  assert.match(text, /x_seconds_count\{action="a"\} 5\n/);
  assert.match(text, /x_seconds_sum\{action="a"\} 3.15\n/);
  assert.equal(seconds.count({ action: "a" }), 5);
});
