import assert from "node:assert/strict";
import { createMemoryLogger } from "../log.ts";
import { pressCounter, SAME_PRESS_MS } from "./serve.ts";

Deno.test("serve signals: copies of one Ctrl-C count once; the second press is ignored, the third forces", () => {
  const log = createMemoryLogger();
  let t = 0;
  const done: string[] = [];
  const press = pressCounter({
    log,
    stoppingPart: () => "payments",
    stop: () => done.push("stop"),
    force: (why) => done.push(`force: ${why}`),
    now: () => t,
  });
  press("SIGINT");
  t += 5; // deno task forwards its own copy 5 ms later
  press("SIGINT");
  assert.deepEqual(done, ["stop"]);
  t += SAME_PRESS_MS;
  press("SIGINT");
  assert.deepEqual(done, ["stop"], "the second press does not cut the shutdown short");
  t += 1;
  press("SIGINT");
  assert.deepEqual(done, ["stop"], "nor does its copy");
  t += SAME_PRESS_MS;
  press("SIGTERM");
  assert.deepEqual(done, ["stop", "force: SIGTERM received a third time"]);
  assert.deepEqual(log.lines.map((l) => [l.msg, l.signal]), [
    ["signal received", "SIGINT"],
    ["signal ignored: a copy of the last one", "SIGINT"],
    ["signal ignored: shutting down already (send it once more to stop at once)", "SIGINT"],
    ["signal ignored: a copy of the last one", "SIGINT"],
  ]);
  assert.equal(log.lines[2].stopping, "payments");
});
