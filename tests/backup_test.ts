/**
 * `newretail backup FILE` / `newretail restore FILE`, run as a user runs them (a child process of
 * main.ts), on both backends: the backup is taken while the appliance serves devices (PGlite:
 * through the admin API), the store then changes, the restore brings back exactly what was
 * backed up. A restore refuses a running appliance and a file that is not a backup.
 */
import assert from "node:assert/strict";
import { startAppliance } from "../src/app.ts";
import { defaultConfig } from "../src/config/config.ts";
import { createMemoryLogger } from "../src/log.ts";
import type { Database } from "../src/store/database.ts";
import { openPglite } from "../src/store/pglite/pglite.ts";
import { openPostgres } from "../src/store/postgres.ts";
import { migrate } from "../src/store/migrate.ts";
import { seedDemo } from "../src/store/demo.ts";
import { DEMO_GOODS } from "../src/store/demo.ts";
import { DeviceClient } from "../src/device/client.ts";
import { createPostgresDatabase, testPostgresUrl } from "./_support/databases.ts";
import { REPO, run } from "./_support/release.ts";
import { baseEnv } from "./_support/appliance_process.ts";

const WATER = DEMO_GOODS.find((g) => g.id === 9)!;

/** What a restore must bring back: the catalogue and the known devices. */
async function contents(db: Database): Promise<unknown> {
  return {
    goods: await db.query("select id, name, price::text as price from goods order by id"),
    devices: await db.query("select equip_id, kind, note from devices order by equip_id"),
  };
}

function cli(args: string[], env: Record<string, string> = {}) {
  return run(Deno.execPath(), ["run", "-A", "main.ts", ...args], { env: { ...baseEnv(), ...env } });
}

function noTrace(text: string) {
  assert.doesNotMatch(text, /^\s+at /m, "one line, no stack trace");
}

Deno.test("backup while serving and restore, embedded database (PGlite)", async () => {
  const work = await Deno.makeTempDir({ prefix: "newretail-backup-" });
  const stateDir = `${work}/state`;
  const file = `${work}/store.tar.gz`;
  const config = {
    ...defaultConfig(),
    host: "127.0.0.1",
    port: 0,
    discoveryEnabled: false,
    adminEnabled: true,
    adminHost: "127.0.0.1",
    adminPort: 0,
    stateDir,
    databaseUrl: "",
    demo: true,
  };
  const app = await startAppliance({
    config,
    configSources: ["test"],
    log: createMemoryLogger(),
  });
  let stopped = false;
  try {
    const adminEnv = { NEWRETAIL_ADMIN_PORT: String(app.admin!.port) };
    const device = await DeviceClient.login({
      host: "127.0.0.1",
      port: app.server.addr.port,
      equipId: "DZC_0001",
      timeoutMs: 20000,
    });
    let answered = 0;
    let selling = true;
    // The store keeps selling during the backup: a device asks for goods all along.
    const sales = (async () => {
      while (selling && answered < 10_000) {
        const reply = await device.request("getGoods", { code: WATER.barcode });
        assert.equal(reply.json?.exception, "");
        answered++;
      }
    })();
    const before = await contents(app.db);
    const backup = await cli(["backup", file, "--state-dir", stateDir], adminEnv);
    selling = false;
    await sales;
    await device.close();
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(
      backup.stdout,
      new RegExp(`written to ${file} \\(\\d+ bytes; taken by the running appliance\\)`),
    );
    assert.ok(answered > 0, "devices were served during the backup");

    // The store changes after the backup.
    await app.db.query("update goods set name = 'renamed after the backup' where id = $1", [
      WATER.id,
    ]);
    await app.db.query("update devices set note = 'changed after the backup'");
    assert.notDeepEqual(await contents(app.db), before);

    const refused = await cli(["restore", file, "--state-dir", stateDir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /in use by another newretail process.*stop it first/);
    noTrace(refused.stderr);

    await app.shutdown();
    stopped = true;
    const restore = await cli(["restore", file, "--state-dir", stateDir]);
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(
      restore.stdout,
      new RegExp(
        `restored ${file} into ${stateDir}/db; the database it replaced is kept in ${stateDir}/db\\.before-restore-`,
      ),
    );
    const db = await openPglite(stateDir);
    try {
      assert.deepEqual(await contents(db), before, "exactly what was backed up");
    } finally {
      await db.close();
    }

    const direct = await cli(["backup", `${work}/again.tar.gz`, "--state-dir", stateDir]);
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /the appliance is stopped: taken directly/);

    await Deno.writeTextFile(`${work}/garbage.tar.gz`, "not a backup");
    const bad = await cli(["restore", `${work}/garbage.tar.gz`, "--state-dir", stateDir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /garbage\.tar\.gz: not a newretail embedded-database backup/);
    noTrace(bad.stderr);
    const after = await openPglite(stateDir);
    try {
      assert.deepEqual(await contents(after), before, "a bad file changes nothing");
    } finally {
      await after.close();
    }

    const missing = await cli(["restore", `${work}/nowhere.tar.gz`, "--state-dir", stateDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nowhere\.tar\.gz: no such backup file/);
    const usage = await cli(["backup", "--state-dir", stateDir]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: newretail backup FILE/);
  } finally {
    if (!stopped) await app.shutdown();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test({
  name: testPostgresUrl()
    ? "backup and restore, PostgreSQL (pg_dump / pg_restore)"
    : "backup and restore, PostgreSQL [skipped: DATABASE_URL not set]",
  ignore: !testPostgresUrl(),
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "newretail-backup-pg-" });
    const created = await createPostgresDatabase(testPostgresUrl()!);
    const db = openPostgres(created.url, { maxConnections: 2 });
    const file = `${work}/store.dump`;
    try {
      await migrate(db);
      await seedDemo(db);
      await db.query("insert into devices (equip_id, kind) values ('DZC_0001', 'DZC')");
      const before = await contents(db);
      const backup = await cli(["backup", file, "--database-url", created.url]);
      assert.equal(backup.code, 0, backup.stderr);
      assert.match(backup.stdout, new RegExp(`PostgreSQL database written to ${file} \\(pg_dump`));

      await db.query("update goods set name = 'renamed after the backup' where id = $1", [
        WATER.id,
      ]);
      await db.query("update devices set note = 'changed after the backup'");
      assert.notDeepEqual(await contents(db), before);

      const restore = await cli(["restore", file, "--database-url", created.url]);
      assert.equal(restore.code, 0, restore.stderr);
      assert.match(restore.stdout, /restored .* into the PostgreSQL database \(pg_restore\)/);
      assert.deepEqual(await contents(db), before, "exactly what was backed up");

      const noTool = await cli(["backup", file, "--database-url", created.url], {
        PATH: `${REPO}/nowhere`,
      });
      assert.equal(noTool.code, 1);
      assert.match(noTool.stderr, /pg_dump is not on PATH .*; run: pg_dump -Fc -f /);
    } finally {
      await db.close();
      await created.drop();
      await Deno.remove(work, { recursive: true });
    }
  },
});
