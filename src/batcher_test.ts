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

// A batch function whose batches end when the test says, in any order.
function gated() {
  const running: { keys: number[]; end(fail?: Error): void }[] = [];
  const run = (keys: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      running.push({
        keys,
        end: (fail) => fail ? reject(fail) : resolve(keys.map((k) => `v${k}`)),
      });
    });
  return { running, run };
}

// Lets every pending microtask and promise reaction run.
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("batches in flight: at most the bound run at once, the next starts when one ends", async () => {
  const { running, run } = gated();
  const batcher = new Batcher<number, string>(run, 500, 2);
  const one = batcher.load(1);
  await settle();
  const two = [2, 3].map((k) => batcher.load(k));
  await settle();
  const three = [4, 5].map((k) => batcher.load(k));
  await settle();
  // 1 alone, then 2 and 3 beside it; 4 and 5 wait for a free place.
  assert.deepEqual(running.map((b) => b.keys), [[1], [2, 3]]);
  const more = batcher.load(6);
  await settle();
  assert.equal(running.length, 2, "no third batch while two run");
  running[1].end();
  assert.deepEqual(await Promise.all(two), ["v2", "v3"]);
  await settle();
  // The place freed takes everything that waited, in one batch.
  assert.deepEqual(running.map((b) => b.keys), [[1], [2, 3], [4, 5, 6]]);
  running[2].end();
  assert.deepEqual(await Promise.all([...three, more]), ["v4", "v5", "v6"]);
  running[0].end();
  assert.equal(await one, "v1");
});

Deno.test("batches in flight resolve as they end; a failure rejects its own batch only", async () => {
  const { running, run } = gated();
  const batcher = new Batcher<number, string>(run, 500, 3);
  const settled: string[] = [];
  const note = (p: Promise<string>, name: string) =>
    p.then((v) => settled.push(`${name} ${v}`), (e) => settled.push(`${name} ${e.message}`));
  const loads = [
    note(batcher.load(1), "a"),
    settle().then(() => note(batcher.load(2), "b")),
    settle().then(settle).then(() => note(batcher.load(3), "c")),
  ];
  await settle();
  await settle();
  await settle();
  assert.deepEqual(running.map((b) => b.keys), [[1], [2], [3]]);
  running[2].end();
  running[0].end(new Error("failed"));
  running[1].end();
  await Promise.all(loads);
  await settle();
  assert.deepEqual(settled, ["c v3", "a failed", "b v2"]);
  // The batcher goes on after a failure.
  const again = batcher.load(4);
  await settle();
  running[3].end();
  assert.equal(await again, "v4");
});

Deno.test("one batch in flight by default: loads made while it runs wait for it", async () => {
  const { running, run } = gated();
  const batcher = new Batcher<number, string>(run);
  const first = batcher.load(1);
  await settle();
  const second = batcher.load(2);
  await settle();
  assert.deepEqual(running.map((b) => b.keys), [[1]]);
  running[0].end();
  assert.equal(await first, "v1");
  await settle();
  assert.deepEqual(running.map((b) => b.keys), [[1], [2]]);
  running[1].end();
  assert.equal(await second, "v2");
});
