import assert from "node:assert/strict";
import { checkSchedule, scheduleOrProblem } from "./schedules.ts";

Deno.test("checkSchedule: goods id, two-decimal price, ISO times, until after from", () => {
  assert.deepEqual(
    checkSchedule({ gid: "10", price: "2.9", from: "2026-12-24T08:00:00+08:00" }),
    { gid: 10, price: "2.90", from: new Date("2026-12-24T00:00:00Z"), until: null },
  );
  assert.equal(
    checkSchedule({ gid: 1, price: 3, from: "2026-12-24T00:00:00Z", until: "2026-12-25T00:00:00Z" })
      .until?.toISOString(),
    "2026-12-25T00:00:00.000Z",
  );
  const base = { gid: 1, price: "1", from: "2026-12-24T00:00:00Z" };
  assert.throws(() => checkSchedule({ ...base, gid: "x" }), /gid must be a goods id/);
  assert.throws(() => checkSchedule({ ...base, gid: 0 }), /gid must be a goods id/);
  assert.throws(() => checkSchedule({ ...base, price: "1.999" }), /at most two decimals/);
  assert.throws(() => checkSchedule({ ...base, price: "-1" }), /price must be an amount/);
  assert.throws(() => checkSchedule({ ...base, from: "tomorrow" }), /from must be an ISO time/);
  assert.throws(() => checkSchedule({ ...base, from: undefined }), /from must be an ISO time/);
  assert.throws(
    () => checkSchedule({ ...base, until: "2026-12-23T00:00:00Z" }),
    /until must be after from/,
  );
});

Deno.test("scheduleOrProblem: the checked schedule of the four fields, or the problem's line", () => {
  assert.deepEqual(
    scheduleOrProblem({ gid: "10", price: "2.9", from: "2026-12-24T00:00:00Z", other: "ignored" }),
    { gid: 10, price: "2.90", from: new Date("2026-12-24T00:00:00Z"), until: null },
  );
  assert.equal(
    scheduleOrProblem({ gid: "0", price: "2.9", from: "2026-12-24T00:00:00Z" }),
    "gid must be a goods id (a whole number >= 1)",
  );
});
