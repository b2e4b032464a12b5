import assert from "node:assert/strict";
import { CoalescedRun } from "./coalesced_run.ts";

Deno.test("requests during a run make exactly one more run; failures go to onError", async () => {
  let runs = 0;
  let release = Promise.withResolvers<void>();
  const errors: unknown[] = [];
  const run = new CoalescedRun(async () => {
    runs++;
    await release.promise;
    if (runs === 2) throw new Error("second run fails");
  }, (e) => errors.push(e));
  run.request();
  run.request();
  run.request();
  assert.equal(runs, 1, "one run at a time");
  const first = release;
  release = Promise.withResolvers<void>();
  first.resolve();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(runs, 2, "three requests during the run made one more");
  release.resolve();
  await run.idle();
  assert.equal(runs, 2);
  assert.equal((errors[0] as Error).message, "second run fails");
  run.request();
  await run.stop();
  assert.equal(runs, 3, "a failure does not stop later requests");
  run.request();
  await run.idle();
  assert.equal(runs, 3, "stopped: no more runs");
});
