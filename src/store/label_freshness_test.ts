import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import { labelFreshnessSince, sampleLabelFreshness } from "./label_freshness.ts";

const EVERY = 5 * 60_000;
const KEEP = 48 * 3_600_000;

function suite(backend: ReturnType<typeof backends>[number]) {
  return async (t: Deno.TestContext) => {
    const { db, dispose } = await backend.open();
    try {
      const at = new Date("2026-03-04T10:00:00Z");
      await t.step("a sample counts the demo's labels by freshness", async () => {
        assert.equal(await sampleLabelFreshness(db, at, EVERY, KEEP), true);
        const [sample] = await labelFreshnessSince(db, new Date(at.getTime() - 1));
        // The demo binds 7 labels; none has confirmed anything yet.
        assert.deepEqual(sample, { at, fresh: 0, stale: 0, unknown: 7 });
      });

      await t.step(
        "one sample per interval, whoever asks (a restart, a second process)",
        async () => {
          const soon = new Date(at.getTime() + EVERY - 1);
          assert.equal(await sampleLabelFreshness(db, soon, EVERY, KEEP), false);
          const later = new Date(at.getTime() + EVERY);
          assert.equal(await sampleLabelFreshness(db, later, EVERY, KEEP), true);
          assert.deepEqual(
            (await labelFreshnessSince(db, at)).map((s) => s.at.getTime()),
            [at.getTime(), later.getTime()],
          );
        },
      );

      await t.step("samples older than the kept span are dropped", async () => {
        const dayAfter = new Date(at.getTime() + KEEP + 2 * EVERY);
        assert.equal(await sampleLabelFreshness(db, dayAfter, EVERY, KEEP), true);
        assert.deepEqual(
          (await labelFreshnessSince(db, new Date(0))).map((s) => s.at.getTime()),
          [dayAfter.getTime()],
        );
      });
    } finally {
      await dispose();
    }
  };
}

for (const backend of backends()) {
  Deno.test(`label freshness samples (${backend.name})`, suite(backend));
}
