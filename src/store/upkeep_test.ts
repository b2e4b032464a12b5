import assert from "node:assert/strict";
import { eventually } from "../../tests/_support/eventually.ts";
import { openPglite } from "./pglite/pglite.ts";
import { tablesNeedingVacuum, upkeep } from "./upkeep.ts";

Deno.test("embedded upkeep vacuums and analyzes the tables that churned, and checkpoints", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "newretail-upkeep-" });
  const db = await openPglite(stateDir, { template: null });
  try {
    await db.exec(
      "create table busy (n integer primary key, v text); create table quiet (n integer)",
    );
    // Devices' last-seen style churn: the same 100 rows updated over and over.
    for (let i = 0; i < 1_000; i++) {
      await db.query(
        "insert into busy values ($1, 'a') on conflict (n) do update set v = busy.v || 'a'",
        [i % 100],
      );
    }
    await db.query("insert into quiet values (1)");
    // PostgreSQL publishes table statistics at most once a second: wait for all of the churn.
    await eventually(async () => {
      const [busy] = await db.query<{ n: number }>(
        "select (n_tup_ins + n_tup_upd)::int as n from pg_stat_user_tables where relname = 'busy'",
      );
      return busy.n === 1_000;
    }, "the churn to show in the statistics");
    const due = await tablesNeedingVacuum(db);
    assert.ok(due.includes("public.busy"), String(due));
    assert.ok(!due.includes("public.quiet"), String(due));
    const checkpoint = () =>
      db.query<{ lsn: string }>("select checkpoint_lsn::text as lsn from pg_control_checkpoint()");
    const before = await checkpoint();
    assert.deepEqual(await upkeep(db), due);
    // And a checkpoint: crash recovery starts from here.
    assert.notDeepEqual(await checkpoint(), before);
    await eventually(async () => {
      const [busy] = await db.query<{ dead: number; vacuumed: boolean; analyzed: boolean }>(
        `select n_dead_tup::int as dead, last_vacuum is not null as vacuumed,
           last_analyze is not null as analyzed
         from pg_stat_user_tables where relname = 'busy'`,
      );
      return busy.dead === 0 && busy.vacuumed && busy.analyzed;
    }, "busy to be vacuumed and analyzed");
    await eventually(
      async () => !(await tablesNeedingVacuum(db)).includes("public.busy"),
      "busy to need no more upkeep",
    );
  } finally {
    await db.close();
    await Deno.remove(stateDir, { recursive: true });
  }
});
