import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { REFUSED_LOGIN_LOG_INTERVAL_MS, TrustMonitor } from "./monitor.ts";
import { EventBus } from "../events.ts";
import { MetricsRegistry } from "../metrics.ts";
import { createMemoryLogger } from "../log.ts";
import { LOGIN_REFUSED_EVENT, PAYMENT_REFUSED_EVENT } from "../events.ts";

Deno.test("a refused login is counted every time and logged once per device per hour", () => {
  let now = Date.UTC(2026, 0, 1);
  const log = createMemoryLogger("debug");
  const events = new EventBus(log);
  const metrics = new MetricsRegistry();
  const monitor = new TrustMonitor({
    events,
    metrics,
    log,
    clock: { now: () => now, monotonic: () => performance.now() },
  });
  const refuse = (equipId: string) =>
    events.emit(LOGIN_REFUSED_EVENT, {
      reason: "not_registered",
      message: `device ${equipId} is not registered`,
      equipId,
      peer: "10.0.0.9:1",
    });
  const logged = () => log.lines.filter((l) => l.msg === "login refused").map((l) => l.equipId);
  refuse("POS_A");
  refuse("POS_A");
  refuse("POS_B");
  now += REFUSED_LOGIN_LOG_INTERVAL_MS - 1;
  refuse("POS_A");
  assertEquals(logged(), ["POS_A", "POS_B"]);
  now += 1;
  refuse("POS_A");
  assertEquals(logged(), ["POS_A", "POS_B", "POS_A"]);
  events.emit(PAYMENT_REFUSED_EVENT, { reason: "not_owner", equipId: "X_1", peer: "p", oid: "1" });
  const text = metrics.render();
  assertEquals(text.includes('newretail_login_refused_total{reason="not_registered"} 5'), true);
  assertEquals(text.includes('newretail_payment_refused_total{reason="not_owner"} 1'), true);
  monitor.stop();
  refuse("POS_C");
  assertEquals(logged().length, 3);
});
