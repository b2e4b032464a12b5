import assert from "node:assert/strict";
import { Batcher } from "./batcher.ts";

Deno.test("loads made together share a batch; loads made while it runs share the next", async () => {
  const batches: number[][] = [];
  let release!: () => void;
  let gate = new Promise<void>((r) => release = r);
  const batcher = new Batcher<number, string>(async (keys) => {
    batches.push(keys);
    await gate;
    return keys.map((k) => `v${k}`);
  });
  const first = [1, 2, 3].map((k) => batcher.load(k));
  await Promise.resolve();
  const second = [4, 5].map((k) => batcher.load(k));
  release();
  assert.deepEqual(await Promise.all(first), ["v1", "v2", "v3"]);
  gate = Promise.resolve();
  assert.deepEqual(await Promise.all(second), ["v4", "v5"]);
  assert.deepEqual(batches, [[1, 2, 3], [4, 5]]);
});

Deno.test("a failed batch rejects its loads only; batches are bounded", async () => {
  const batches: number[][] = [];
  const batcher = new Batcher<number, number>((keys) => {
    batches.push(keys);
    if (keys.includes(13)) return Promise.reject(new Error("unlucky"));
    return Promise.resolve(keys.map((k) => k * 2));
  }, 2);
  const results = await Promise.allSettled([11, 12, 13, 14].map((k) => batcher.load(k)));
  assert.deepEqual(results.map((r) => r.status), [
    "fulfilled",
    "fulfilled",
    "rejected",
    "rejected",
  ]);
  assert.deepEqual(batches, [[11, 12], [13, 14]]);
  assert.equal(await batcher.load(7), 14);
});
