import assert from "node:assert/strict";
import { planBatches } from "./goods_push.ts";
import type { PendingPush } from "../store/goods_changes.ts";

const label = (i: number): PendingPush => ({ kind: "label", mac: `M${i}`, version: 1 });
const goods = (i: number): PendingPush => ({ kind: "goods", goodsId: i, version: 1 });

Deno.test("label and scale pushes never share a frame; batches are bounded in size and number", () => {
  const pushes = [label(1), goods(1), label(2), label(3), goods(2)];
  assert.deepEqual(planBatches(pushes, 2, 10), [
    [label(1), label(2)],
    [label(3)],
    [goods(1), goods(2)],
  ]);
  assert.deepEqual(planBatches(pushes, 2, 1), [[label(1), label(2)]]);
  assert.deepEqual(planBatches([], 2, 3), []);
});
