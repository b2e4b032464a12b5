/**
 * A release refuses a database migrated by a newer one (a migration it does not know, numbered
 * after its last): `migrate` rejects on both backends, and the appliance started as a user
 * starts it exits 1 with one line naming the migration, no stack trace.
 */
import assert from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { migrate, MIGRATIONS, NewerDatabaseError } from "../src/store/migrate.ts";
import { openPglite } from "../src/store/pglite/pglite.ts";
import { run } from "./_support/release.ts";
import { baseEnv } from "./_support/appliance_process.ts";

const LAST = MIGRATIONS.at(-1)!.version;

for (const backend of backends()) {
  Deno.test(`${backend.name}: migrate refuses a database migrated by a newer release`, async () => {
    const { db, dispose } = await backend.open({ demo: false });
    try {
      await db.query("insert into schema_migrations (version, name) values ($1, $2)", [
        LAST + 1,
        "from_the_future",
      ]);
      await assert.rejects(
        () => migrate(db),
        (e: unknown) =>
          e instanceof NewerDatabaseError &&
          e.message.includes(`migration ${LAST + 1} "from_the_future" is unknown to this release`),
      );
      // Without the newer migration the database is this release's again.
      await db.query("delete from schema_migrations where version = $1", [LAST + 1]);
      assert.deepEqual(await migrate(db), []);
    } finally {
      await dispose();
    }
  });
}

Deno.test("serve on a database migrated by a newer release: one line, exit 1", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "newretail-newer-" });
  try {
    const db = await openPglite(stateDir);
    await migrate(db);
    await db.query("insert into schema_migrations (version, name) values ($1, 'from_the_future')", [
      LAST + 7,
    ]);
    await db.close();
    const r = await run(Deno.execPath(), [
      "run",
      "-A",
      "main.ts",
      "serve",
      "--state-dir",
      stateDir,
      "--port",
      "0",
      "--no-demo",
    ], { env: { ...baseEnv(), NEWRETAIL_ADMIN_PORT: "0", NEWRETAIL_DISCOVERY: "false" } });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stderr.split("\n").filter((l) =>
      l.trim() !== "" && !/Permissions in the config file is an experimental feature/.test(l)
    );
    assert.deepEqual(lines, [
      `the database was migrated by a newer newretail (migration ${
        LAST + 7
      } "from_the_future" is unknown to this release, which knows up to ${LAST}): run the newer release, or \`newretail rollback\` to return to the database copied before the upgrade`,
    ]);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
