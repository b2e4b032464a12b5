import assert from "node:assert/strict";
import { backends } from "../tests/_support/databases.ts";
import { eventually } from "../tests/_support/eventually.ts";
import {
  backoffDelayMs,
  KeyedWorkers,
  type Next,
  plannedDelayMs,
  RetryRounds,
  Worker,
} from "./background.ts";
import { systemClock } from "./clock.ts";
import { createMemoryLogger } from "./log.ts";

/** A step that waits for the test to release each run. */
function gatedStep(next: () => Next = () => undefined) {
  const gate = {
    runs: 0,
    release: Promise.withResolvers<void>(),
    started: Promise.withResolvers<void>(),
    step: async (): Promise<Next> => {
      gate.runs++;
      gate.started.resolve();
      await gate.release.promise;
      return next();
    },
    /** Lets the running step finish; the next run waits again. */
    open() {
      const current = gate.release;
      gate.release = Promise.withResolvers<void>();
      gate.started = Promise.withResolvers<void>();
      current.resolve();
    },
  };
  return gate;
}

Deno.test("worker life cycle: nothing before start, one run per start, none after stop", async () => {
  const log = createMemoryLogger();
  let runs = 0;
  const worker = new Worker(() => {
    runs++;
    return Promise.resolve();
  }, { name: "t", log, clock: systemClock });
  worker.wake();
  await worker.idle();
  assert.equal(runs, 0, "a wake before start is ignored");
  worker.start();
  worker.start();
  await worker.idle();
  assert.equal(runs, 1, "start runs the step once");
  worker.wake();
  await worker.idle();
  assert.equal(runs, 2, "a wake when idle runs it again");
  assert.equal(worker.stopped, false);
  await worker.stop();
  assert.equal(worker.stopped, true);
  worker.wake();
  await worker.idle();
  assert.equal(runs, 2, "stopped: no more runs");
});

Deno.test("wakes during a run make exactly one more run", async () => {
  const gate = gatedStep();
  const worker = new Worker(gate.step, {
    name: "t",
    log: createMemoryLogger(),
    clock: systemClock,
  });
  worker.start();
  await gate.started.promise;
  worker.wake();
  worker.wake();
  worker.wake();
  assert.equal(gate.runs, 1, "one run at a time");
  gate.open();
  await gate.started.promise;
  assert.equal(gate.runs, 2, "three wakes during the run made one more");
  gate.open();
  await worker.idle();
  assert.equal(gate.runs, 2, "and only one");
  await worker.stop();
});

Deno.test("{ again: true } runs the step again at once, until it has nothing left", async () => {
  let left = 3;
  let runs = 0;
  const worker = new Worker(() => {
    runs++;
    return Promise.resolve(--left > 0 ? { again: true as const } : undefined);
  }, { name: "t", log: createMemoryLogger(), clock: systemClock });
  worker.start();
  await worker.idle();
  assert.equal(runs, 3);
  await worker.stop();
});

Deno.test("a thrown step is logged with its message and retried with growing waits", async () => {
  const log = createMemoryLogger();
  const failures: number[] = [];
  let runs = 0;
  const done = Promise.withResolvers<void>();
  const worker = new Worker(() => {
    runs++;
    if (runs <= 3) return Promise.reject(new Error(`boom ${runs}`));
    if (runs === 4) done.resolve();
    return Promise.resolve();
  }, { name: "flaky", log, clock: systemClock, backoff: { initialMs: 1, maxMs: 4 } });
  worker.start();
  await done.promise;
  await worker.idle();
  assert.equal(runs, 4, "retried by itself until it succeeded, then idle");
  const lines = log.lines.filter((l) => l.msg === "flaky failed; retrying");
  assert.deepEqual(lines.map((l) => [l.error, l.retryInMs]), [
    ["boom 1", 1],
    ["boom 2", 2],
    ["boom 3", 4],
  ]);
  await worker.stop();

  // onError replaces the log line and is told the count of consecutive failures, reset by a success.
  let fail = true;
  let successes = 0;
  const counted = new Worker(() => {
    if (fail) return Promise.reject(new Error("x"));
    successes++;
    return Promise.resolve();
  }, {
    name: "counted",
    log,
    clock: systemClock,
    backoff: { initialMs: 1, maxMs: 1 },
    onError: (e, n) => {
      failures.push(n);
      assert.equal((e as Error).message, "x");
      fail = false;
      if (failures.length === 1) fail = true;
    },
  });
  counted.start();
  await eventually(() => successes === 1 || undefined, "two failures, then a success");
  await counted.idle();
  fail = true;
  counted.wake();
  await eventually(() => successes === 2 || undefined, "a failure after the success, then one");
  await counted.stop();
  assert.deepEqual(failures, [1, 2, 1]);
  assert.equal(log.lines.filter((l) => l.msg === "counted failed; retrying").length, 0);
});

Deno.test("retry rounds back off per key and start over after a reset", () => {
  const rounds = new RetryRounds<string>({ initialMs: 6000, maxMs: 20_000 });
  assert.deepEqual([1, 2, 3, 4].map(() => rounds.failed("A")), [6000, 12_000, 20_000, 20_000]);
  assert.equal(rounds.failed("B"), 6000); // keys are counted apart
  rounds.reset("A");
  assert.equal(rounds.failed("A"), 6000);
});

Deno.test("backoff doubles up to its cap", () => {
  const b = { initialMs: 1000, maxMs: 30_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 100].map((n) => backoffDelayMs(n, b)), [
    1000,
    2000,
    4000,
    8000,
    16000,
    30000,
    30000,
    30000,
  ]);
});

Deno.test("a step's answer becomes a delay: due times by the clock, capped by idleMs", () => {
  const clock = { now: () => 1_000_000 };
  assert.equal(plannedDelayMs({ again: true }, clock), 0);
  assert.equal(plannedDelayMs({ afterMs: 250 }, clock), 250);
  assert.equal(plannedDelayMs({ afterMs: -5 }, clock), 0);
  assert.equal(plannedDelayMs({ at: 1_000_400 }, clock), 400);
  assert.equal(plannedDelayMs({ at: 999_000 }, clock), 10, "a past due time never spins");
  assert.equal(plannedDelayMs(undefined, clock), undefined, "idle: no timer");
  assert.equal(plannedDelayMs(undefined, clock, 30_000), 30_000, "idle: look again after idleMs");
  assert.equal(plannedDelayMs({ afterMs: 60_000 }, clock, 30_000), 30_000);
  assert.equal(plannedDelayMs({ afterMs: Infinity }, clock, 30_000), 30_000);
  assert.equal(plannedDelayMs({ afterMs: 2 ** 40 }, clock), 2 ** 31 - 1);
});

Deno.test("a planned run happens by itself; stop cancels the timer and waits for the step", async () => {
  const log = createMemoryLogger();
  let runs = 0;
  const twice = Promise.withResolvers<void>();
  const worker = new Worker(() => {
    if (++runs === 2) twice.resolve();
    return Promise.resolve({ afterMs: 1 });
  }, { name: "t", log, clock: systemClock });
  worker.start();
  await twice.promise;
  await worker.stop(); // a timer left behind would fail this test (op sanitizer)
  const after = runs;
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(runs, after, "no run after stop");

  // A long sleep is cancelled too.
  const sleeper = new Worker(() => Promise.resolve({ afterMs: 3_600_000 }), {
    name: "s",
    log,
    clock: systemClock,
  });
  sleeper.start();
  await sleeper.idle();
  await sleeper.stop();

  // stop() waits for the running step, aborts its signal, then releases what the worker owns.
  const order: string[] = [];
  const gate = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  const slow = new Worker(async (signal) => {
    started.resolve();
    await gate.promise;
    order.push(`step ends, aborted: ${signal.aborted}`);
  }, { name: "slow", log, clock: systemClock });
  slow.onStop(() => {
    order.push("released");
  });
  slow.start();
  await started.promise;
  const stopping = slow.stop();
  assert.equal(slow.stop(), stopping, "stop is idempotent");
  gate.resolve();
  await stopping;
  assert.deepEqual(order, ["released", "step ends, aborted: true"]);
});

Deno.test("wakeBy runs the step by a due time: a plan due by then stays, a later one is brought forward", async () => {
  const log = createMemoryLogger();
  const gate = gatedStep(() => ({ afterMs: 3_600_000 }));
  const worker = new Worker(gate.step, { name: "t", log, clock: systemClock });
  worker.start();
  await gate.started.promise;

  // During a run: any number of due times make one more run, by the earliest of them.
  for (let i = 0; i < 100; i++) worker.wakeBy(Date.now() + 20 + i);
  gate.open();
  await eventually(() => gate.runs === 2, "the run by the due time asked during a run");
  gate.open();
  await worker.idle();

  // Idle with an hour planned: a due time within it is kept, a later one changes nothing.
  worker.wakeBy(Date.now() + 7_200_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(gate.runs, 2, "a plan due before the asked time stays");
  const asked = Date.now();
  for (let i = 0; i < 100; i++) worker.wakeBy(asked + 30);
  await eventually(() => gate.runs === 3, "the run brought forward to the due time");
  assert.ok(Date.now() - asked >= 25, "not before the due time");
  gate.open();
  await worker.idle();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(gate.runs, 3, "a hundred wakes by one time made one run");
  await worker.stop();
});

Deno.test("keyed workers: one run at a time per key, keys in parallel, dropped when idle", async () => {
  const log = createMemoryLogger();
  const gates = new Map<string, ReturnType<typeof gatedStep>>([
    ["A", gatedStep()],
    ["B", gatedStep()],
  ]);
  const workers = new KeyedWorkers<string>((key) => gates.get(key)!.step(), {
    name: "sender",
    log,
    clock: systemClock,
    keyField: "equipId",
  });
  const a = gates.get("A")!;
  const b = gates.get("B")!;
  const aDone = workers.wake("A");
  workers.wake("B");
  await Promise.all([a.started.promise, b.started.promise]);
  assert.equal(workers.size, 2, "two keys run at once");
  workers.wake("A");
  workers.wake("A");
  a.open();
  await a.started.promise;
  assert.equal(a.runs, 2, "wakes of A during its run made one more run of A");
  a.open();
  await aDone;
  assert.equal(a.runs, 2);
  assert.equal(workers.size, 1, "A is dropped when idle, B still runs");
  workers.wake("B");
  b.open();
  await b.started.promise;
  assert.equal(b.runs, 2, "the wake during B's run made its second run");
  b.open();
  await eventually(() => workers.size === 0 || undefined, "B dropped");
  assert.equal(b.runs, 2);
  const again = workers.wake("A");
  await a.started.promise;
  assert.equal(workers.size, 1, "a new worker for A on demand");
  a.open();
  await again;
  assert.equal(a.runs, 3);
  await workers.stop();
  await workers.wake("A");
  assert.equal(a.runs, 3, "stopped: no more runs");
});

Deno.test("keyed workers log a key's failure with the key and retry it", async () => {
  const log = createMemoryLogger();
  let runs = 0;
  const workers = new KeyedWorkers<string>(() => {
    runs++;
    return runs === 1 ? Promise.reject(new Error("db down")) : Promise.resolve();
  }, {
    name: "sender",
    log,
    clock: systemClock,
    keyField: "equipId",
    backoff: { initialMs: 1, maxMs: 1 },
  });
  await workers.wake("POS_1");
  await eventually(() => workers.size === 0 || undefined, "retried, then dropped");
  assert.equal(runs, 2);
  const line = log.lines.find((l) => l.msg === "sender failed; retrying");
  assert.equal(line?.equipId, "POS_1");
  assert.equal(line?.error, "db down");
  await workers.stop();
});

for (const backend of backends()) {
  Deno.test(`a NOTIFY wakes a listening worker; stop unlistens (${backend.name})`, async () => {
    const { db, dispose } = await backend.open({ demo: false });
    try {
      const log = createMemoryLogger();
      let runs = 0;
      let listens = 0;
      const worker = new Worker(() => {
        runs++;
        return Promise.resolve();
      }, { name: "listener", log, clock: systemClock });
      await worker.listen(db, "background_test", () => listens++);
      worker.start();
      await worker.idle();
      const before = runs;
      assert.ok(before >= 1 && listens >= 1, "the first run, and the subscription was made");
      await db.query("select pg_notify('background_test', 'x')");
      await eventually(() => runs > before || undefined, "a NOTIFY runs the step");
      await worker.stop();
      const stopped = runs;
      await db.query("select pg_notify('background_test', 'x')");
      // A round trip on the same database delivers a notification sent before it, if listened.
      await db.query("select 1");
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(runs, stopped, "no run after stop");
    } finally {
      await dispose();
    }
  });
}
