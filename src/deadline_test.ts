import assert from "node:assert/strict";
import { DeadlineExceeded, raceDeadline, sleep, waitAtMost, withDeadline } from "./deadline.ts";

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
