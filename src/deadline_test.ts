import assert from "node:assert/strict";
import {
  DeadlineExceeded,
  Deadlines,
  raceDeadline,
  sleep,
  waitAtMost,
  withDeadline,
} from "./deadline.ts";

Deno.test("work that finishes in time is not aborted", async () => {
  let signal: AbortSignal | undefined;
  const value = await withDeadline(1000, (s) => {
    signal = s;
    return Promise.resolve(42);
  });
  assert.equal(value, 42);
  assert.equal(signal?.aborted, false);
});

Deno.test("work that overruns is rejected and sees its signal aborted", async () => {
  const stopped = Promise.withResolvers<unknown>();
  await assert.rejects(
    withDeadline(20, (signal) =>
      new Promise<void>((_, reject) => {
        signal.addEventListener("abort", () => {
          stopped.resolve(signal.reason);
          reject(signal.reason);
        });
      }), "slow work"),
    (e) => e instanceof DeadlineExceeded && /slow work timed out after 0.02 s/.test(e.message),
  );
  assert.ok((await stopped.promise) instanceof DeadlineExceeded);
});

Deno.test("a failure of the work is passed through", async () => {
  await assert.rejects(withDeadline(1000, () => Promise.reject(new Error("boom"))), /boom/);
});

Deno.test("raceDeadline: the caller's expire runs before the rejection, once", async () => {
  const expired: unknown[] = [];
  const never = new Promise<never>(() => {});
  await assert.rejects(
    raceDeadline(20, never, (e) => expired.push(e), "request"),
    (e) => e instanceof DeadlineExceeded && expired.length === 1 && expired[0] === e,
  );
  assert.equal(await raceDeadline(1000, Promise.resolve(7), (e) => expired.push(e)), 7);
  assert.equal(expired.length, 1);
});

Deno.test("waitAtMost: true when the promise settles in time, false when the time runs out", async () => {
  assert.equal(await waitAtMost(1000, Promise.resolve()), true);
  const never = Promise.withResolvers<void>();
  assert.equal(await waitAtMost(10, never.promise), false);
  await assert.rejects(waitAtMost(1000, Promise.reject(new Error("broken"))), /broken/);
});

Deno.test("sleep: returns at once when aborted, on time otherwise", async () => {
  const controller = new AbortController();
  const slept = sleep(60_000, controller.signal);
  controller.abort();
  await slept; // a 60 s timer left running would fail the test's sanitizer
  await sleep(1);
  await sleep(60_000, AbortSignal.abort());
});

Deno.test("Deadlines: many races share a timer; each expires at its own time, in order", async () => {
  const deadlines = new Deadlines();
  const expired: string[] = [];
  const never = new Promise<never>(() => {});
  const started = performance.now();
  const first = deadlines.race(30, never, () => expired.push("first"), "first");
  await sleep(15);
  const second = deadlines.race(30, never, () => expired.push("second"), "second");
  const answered = deadlines.race(30, Promise.resolve("at once"), () => expired.push("answered"));
  assert.equal(await answered, "at once");
  await assert.rejects(
    first,
    (e) => e instanceof DeadlineExceeded && /first timed out/.test(e.message),
  );
  assert.deepEqual(expired, ["first"]);
  await assert.rejects(second, /second timed out after 0.03 s/);
  assert.deepEqual(expired, ["first", "second"]);
  // Each at its own deadline, not all at the first's.
  assert.ok(performance.now() - started >= 44, "the second waited its own 30 ms");
});

Deno.test("Deadlines: the oldest answered in time does not end the wait of the next", async () => {
  const deadlines = new Deadlines();
  const quick = Promise.withResolvers<number>();
  const slow = Promise.withResolvers<number>();
  const expired: unknown[] = [];
  const a = deadlines.race(40, quick.promise, (e) => expired.push(e));
  const b = deadlines.race(40, slow.promise, (e) => expired.push(e));
  const d = deadlines.race(40, new Promise<never>(() => {}), (e) => expired.push(e), "after them");
  const c = deadlines.race(20, new Promise<never>(() => {}), (e) => expired.push(e), "shorter");
  quick.resolve(1);
  assert.equal(await a, 1);
  await assert.rejects(c, /shorter timed out after 0.02 s/); // its own length, its own timer
  await sleep(10);
  slow.resolve(2);
  assert.equal(await b, 2);
  await assert.rejects(d, /after them timed out after 0.04 s/); // the two before it answered
  assert.equal(expired.length, 2);
  // A failure passes through; a settled race leaves no timer behind (the sanitizer checks).
  await assert.rejects(deadlines.race(1000, Promise.reject(new Error("boom")), () => {}), /boom/);
});

Deno.test("Deadlines: a thousand races at once expire together, with every expire before its rejection", async () => {
  const deadlines = new Deadlines();
  let expired = 0;
  const races = Array.from(
    { length: 1000 },
    () =>
      deadlines.race(10, new Promise<never>(() => {}), () => expired++).then(
        () => "answered",
        (e) => e instanceof DeadlineExceeded && expired > 0 ? "expired" : "wrong",
      ),
  );
  assert.deepEqual(new Set(await Promise.all(races)), new Set(["expired"]));
  assert.equal(expired, 1000);
});
