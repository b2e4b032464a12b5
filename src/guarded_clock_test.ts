import assert from "node:assert/strict";
import { CLOCK_TOLERANCE_MS, GuardedClock } from "./guarded_clock.ts";
import { createMemoryLogger } from "./log.ts";

const DAY = 86_400_000;
const T0 = Date.parse("2026-12-07T10:00:00Z");

/** A machine clock the test steps and runs: wall and monotonic advance together, wall can jump. */
function machine() {
  let wall = T0;
  let mono = 5_000;
  return {
    clock: { now: () => wall, monotonic: () => mono },
    run(ms: number) {
      wall += ms;
      mono += ms;
    },
    step(ms: number) {
      wall += ms;
    },
  };
}

Deno.test("the appliance's time follows the wall clock in step, and holds a step either way", () => {
  for (const step of [-DAY, 365 * DAY]) {
    const m = machine();
    const log = createMemoryLogger();
    const clock = new GuardedClock(m.clock, log);
    m.run(1000);
    m.step(30_000); // within the tolerance: followed
    clock.check();
    assert.equal(clock.now(), T0 + 31_000);
    m.step(step);
    m.run(1000);
    assert.equal(clock.check(), undefined);
    assert.equal(clock.now(), T0 + 32_000, "a step is not followed");
    assert.equal(clock.reading.state, "held");
    assert.equal(clock.reading.offsetMs, step);
    assert.equal(clock.monotonic() - 5_000, 2_000, "durations: the monotonic clock");
    // Said once, however long it lasts.
    m.run(1000);
    clock.check();
    assert.equal(log.lines.filter((l) => l.level === "warn").length, 1);
    // NTP steps it back: followed again.
    m.step(-step);
    clock.check();
    assert.equal(clock.reading.state, "following");
    assert.equal(clock.now(), T0 + 33_000);
  }
});

Deno.test("a start behind the store's records counts from them, then follows the clock once set", () => {
  const m = machine();
  const booted = Date.parse("2000-01-01T00:00:00Z");
  m.step(booted - T0);
  const clock = new GuardedClock(m.clock, createMemoryLogger());
  const lastRecord = T0 - 60_000;
  clock.setFloor(lastRecord);
  assert.equal(clock.now(), lastRecord);
  assert.equal(clock.reading.state, "behind");
  m.run(10_000);
  assert.equal(clock.check(), undefined);
  assert.equal(clock.now(), lastRecord + 10_000);
  // NTP sets the clock: the appliance jumps forward by the time the PC was really off.
  m.step(T0 + 3_600_000 - booted);
  const jump = clock.check();
  assert.equal(clock.reading.state, "following");
  assert.equal(clock.now(), T0 + 3_610_000);
  assert.deepEqual(jump, { byMs: 3_660_000, since: lastRecord });
  // A floor within the tolerance, or none, changes nothing.
  const n = machine();
  const fresh = new GuardedClock(n.clock, createMemoryLogger());
  fresh.setFloor(T0 + CLOCK_TOLERANCE_MS - 1);
  fresh.setFloor(undefined);
  assert.equal(fresh.reading.state, "following");
  assert.equal(fresh.now(), T0);
});
