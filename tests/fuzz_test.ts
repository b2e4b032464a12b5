/**
 * Fuzzing, the fixed-seed share that runs in the suite (the long run is `bench/fuzz.ts`): the
 * frame decoder in-process, and fuzzed bodies and hostile frame streams against the real server
 * over TCP while a normal device keeps being served correctly.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { startTestAppliance, type TestAppliance } from "./_support/appliance.ts";
import { runDecoderFuzz, runTcpFuzz } from "./_support/fuzz_run.ts";
import { Prng } from "./_support/fuzz.ts";

Deno.test("the PRNG is reproducible and spread out", () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const seq = Array.from({ length: 1000 }, () => a.next());
  assertEquals(seq, Array.from({ length: 1000 }, () => b.next()));
  assert(new Prng(43).next() !== seq[0]);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 10_000; i++) buckets[a.int(10)]++;
  assert(buckets.every((n) => n > 800 && n < 1200), `uneven: ${buckets}`);
});

Deno.test("frame decoder fuzz: random and mutated frames, whole and in random pieces", () => {
  const stats = runDecoderFuzz(0x5eed, 5_000);
  assertEquals(stats.inputs, 5_000);
  // The mutators must reach every rule of the decoder and still let valid frames through.
  for (
    const reason of [
      "none",
      "header_length_out_of_range",
      "header_not_utf8",
      "header_not_json",
      "header_not_object",
      "missing_action",
      "bad_length",
      "body_too_large",
    ]
  ) {
    assert(
      (stats.outcomes[reason] ?? 0) > 0,
      `no input ended in ${reason}: ${JSON.stringify(stats)}`,
    );
  }
  assert(stats.frames > 2_500, `only ${stats.frames} frames decoded`);
});

for (const backend of backends()) {
  Deno.test(`fuzzed bodies and hostile streams over TCP, a normal device still served (${backend.name})`, async () => {
    // PGlite answers in tens of milliseconds on this machine: a smaller share keeps the suite fast.
    const [bodies, streams] = backend.name === "pglite" ? [300, 100] : [1500, 300];
    const appliance = await startTestAppliance(backend.name);
    try {
      const stats = await runTcpFuzz({ port: appliance.port, seed: 0xf022, bodies, streams });
      assertEquals([stats.bodies, stats.streams], [bodies, streams]);
      assert(
        stats.bodyExceptions > 0 && stats.bodyExceptions < stats.bodies,
        JSON.stringify(stats),
      );
      assert(stats.normalRequests > 0 && stats.streamReplies > 0, JSON.stringify(stats));
      await fuzzRegressions(appliance);
      const errors = appliance.logs.filter((l) => l.level === "error");
      assertEquals(errors, [], "no request failed inside the server");
      const metrics = appliance.app.metrics.render();
      assert(/newretail_protocol_errors_total\{reason="\w+"\} [1-9]/.test(metrics), metrics);
    } finally {
      await appliance.stop();
    }
  });
}

/** Inputs this fuzzer found answered with "internal error", now refused with a clear reason. */
async function fuzzRegressions(appliance: TestAppliance): Promise<void> {
  const device = await appliance.device("POS_8003");
  // A NUL character reached PostgreSQL, which cannot store it in text.
  for (const body of [{ code: "a\u0000b" }, { gname: "\u0000" }, { rfids: ["x\u0000"] }]) {
    const reply = await device.request("getGoods", body);
    assertEquals(reply.json?.exception, `${Object.keys(body)[0]} contains a NUL character`);
  }
  const ref = await device.request("stockGoods", {
    whid: 1,
    ref: "a\u0000",
    goods: [{ gid: 1, qty: 1 }],
  });
  assertEquals(ref.json?.exception, "ref contains a NUL character");
  // A quantity past the stock column's range.
  const huge = await device.request("stockGoods", {
    whid: 1,
    ref: "huge",
    goods: [{ gid: 1, qty: 9007199254740992 }],
  });
  assertEquals(huge.json?.exception, "goods[0].qty is larger than 1000000000");
  // Lines within the limit whose sum with the stock on hand would not fit.
  await appliance.app.db.query(
    `insert into stock (warehouse_id, goods_id, quantity) values (1, 6, 99999999999)
     on conflict (warehouse_id, goods_id) do update set quantity = excluded.quantity`,
  );
  const overflow = await device.request("stockGoods", {
    whid: 1,
    ref: "overflow",
    goods: [{ gid: 6, qty: 1000 }],
  });
  assertEquals(
    overflow.json?.exception,
    "stock quantity out of range: the receipt would overflow the stock",
  );
}
