/**
 * The embedded database in its worker thread: a long statement does not hold up a device's cached
 * answer (real TCP), a transaction is not interleaved with another caller's statements, a crashed
 * worker is detected, and a new store starts from the shipped template.
 */
import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { startTestAppliance } from "./_support/appliance.ts";
import {
  type Database,
  DatabaseUnavailableError,
  isUniqueViolation,
} from "../src/store/database.ts";
import { migrate } from "../src/store/migrate.ts";
import { installationId } from "../src/store/odoo_catalogue.ts";
import { type EmbeddedDatabase, openPglite } from "../src/store/pglite/pglite.ts";
import {
  extractTemplate,
  gunzip,
  PGLITE_VERSION,
  tarEntries,
  templateVersion,
} from "../src/store/pglite/pglite_template.ts";

/** Tracks whether a promise has settled, without awaiting it. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  const tracked = promise.finally(() => settled = true);
  return { promise: tracked, settled: () => settled };
}

/** Opens the embedded database in `stateDir` (no template), runs `fn`, closes it. */
async function withDb<T>(stateDir: string, fn: (db: EmbeddedDatabase) => Promise<T>): Promise<T> {
  const db = await openPglite(stateDir, { template: null });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function withStateDir(fn: (stateDir: string) => Promise<void>): Promise<void> {
  const stateDir = await Deno.makeTempDir({ prefix: "newretail-pglite-" });
  try {
    await fn(stateDir);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
}

Deno.test("a long statement on the embedded database does not delay a cached getGoods (TCP)", async () => {
  const appliance = await startTestAppliance("pglite");
  try {
    const pos = await appliance.device("POS_0001");
    const warm = await pos.request("getGoods", { code: "6901234500011" });
    assertEquals(warm.json?.exception, "");
    // Holds the embedded database's only connection for 3 s.
    const long = track(appliance.app.db.query("select pg_sleep(3)"));
    // Queued behind it: proof that the database is busy while the device is answered.
    const behind = track(appliance.app.db.query("select 1 as one"));
    const reply = await pos.request("getGoods", { code: "6901234500011" });
    assertEquals(reply.json, warm.json);
    assert(!long.settled(), "the getGoods answer waited for the long statement");
    assert(!behind.settled(), "a statement queued behind the long one ran before it");
    await long.promise;
    assertEquals(await behind.promise, [{ one: 1 }]);
  } finally {
    await appliance.stop();
  }
});

Deno.test("a transaction is whole: another caller's statement and a dump wait for its end", async () => {
  await withStateDir(async (stateDir) => {
    await withDb(stateDir, async (db) => {
      await db.exec("create table t (n integer)");
      const inside = Promise.withResolvers<void>();
      const release = Promise.withResolvers<void>();
      const tx = db.transaction(async (q) => {
        await q.query("insert into t values (1)");
        inside.resolve();
        await release.promise;
        await q.query("insert into t values (2)");
        return await q.query<{ n: number }>("select count(*)::int as n from t");
      });
      await inside.promise;
      const outside = track(db.query<{ n: number }>("select count(*)::int as n from t"));
      // A snapshot for backups waits too: it never holds half a transaction.
      const dump = track(db.dumpDataDir());
      // A round trip to the worker that does not touch the database: the outside query has
      // reached the worker by the time this returns.
      await db.stats();
      assert(!outside.settled(), "a statement ran inside another caller's transaction");
      assert(!dump.settled(), "the data directory was dumped inside a transaction");
      release.resolve();
      assertEquals(await tx, [{ n: 2 }]);
      assertEquals(await outside.promise, [{ n: 2 }]);
      assert((await dump.promise).byteLength > 0);
      await rejects(
        db.transaction(async (q) => {
          await q.query("insert into t values (3)");
          throw new Error("changed my mind");
        }),
        /changed my mind/,
      );
      assertEquals(await db.query("select count(*)::int as n from t"), [{ n: 2 }]);
    });
  });
});

Deno.test("a commit reaches the disk; statements waiting together share one", async () => {
  await withStateDir(async (stateDir) => {
    await withDb(stateDir, async (db) => {
      await db.exec("create table t (n integer primary key)");
      const flushes = async () => (await db.stats()).fsyncs;
      // PostgreSQL flushes the WAL through the file system the worker gave PGlite.
      let before = await flushes();
      await db.query("insert into t values (1)");
      assert(await flushes() > before, "a committed insert was not flushed to disk");
      before = await flushes();
      await db.query("select count(*) from t");
      assertEquals(await flushes(), before, "a read flushed");

      // 50 inserts at once, one of them a duplicate, one read among them.
      before = await flushes();
      const values = Array.from({ length: 50 }, (_, i) => i === 20 ? 1 : i + 100);
      const results = await Promise.allSettled([
        ...values.map((n) => db.query("insert into t values ($1) returning n", [n])),
        db.query<{ n: number }>("select count(*)::int as n from t"),
      ]);
      const flushed = await flushes() - before;
      assert(flushed < 25, `50 inserts made ${flushed} flushes`);
      const failed = results.flatMap((r, i) => r.status === "rejected" ? [[i, r.reason]] : []);
      assertEquals(failed.length, 1);
      assertEquals(failed[0][0], 20);
      assert(isUniqueViolation(failed[0][1]), String(failed[0][1]));
      // Each statement saw the ones before it, as one by one: the read came after 49 inserts.
      const read = results[50] as PromiseFulfilledResult<{ n: number }[]>;
      assertEquals(read.value, [{ n: 50 }]);
      assertEquals(
        (results[21] as PromiseFulfilledResult<unknown[]>).value,
        [{ n: 121 }],
        "a statement after the failed one",
      );
      assertEquals(await db.query("select count(*)::int as n from t"), [{ n: 50 }]);
    });
    // Closed and opened again: everything acknowledged is there.
    await withDb(stateDir, async (again) => {
      assertEquals(await again.query("select count(*)::int as n from t"), [{ n: 50 }]);
    });
  });
});

Deno.test("a device's statements go before waiting background work, never for long", async () => {
  await withStateDir(async (stateDir) => {
    await withDb(stateDir, async (db) => {
      const device = db.urgent();
      const done: string[] = [];
      const run = (q: Database, name: string, seconds: number) =>
        q.query("select pg_sleep($1)", [seconds]).then(() => done.push(name));
      // The first background statement runs at once; the device's overtakes the ones queued.
      await Promise.all([
        run(db, "b1", 0.05),
        run(db, "b2", 0),
        run(db, "b3", 0),
        run(device, "device", 0),
      ]);
      assertEquals(done, ["b1", "device", "b2", "b3"]);
      // Background work that has already waited 100 ms is not overtaken.
      done.length = 0;
      await Promise.all([run(db, "long", 0.3), run(db, "waited", 0), run(device, "device", 0)]);
      assertEquals(done, ["long", "waited", "device"]);
    });
  });
});

Deno.test("kept statements follow a table that changes under them", async () => {
  await withStateDir(async (stateDir) => {
    await withDb(stateDir, async (db) => {
      await db.exec("create table t (a integer); insert into t values (1)");
      assertEquals(await db.query("select * from t"), [{ a: 1 }]);
      // A script (migrations) drops every kept statement.
      await db.exec("alter table t add column b text default 'x'");
      assertEquals(await db.query("select * from t"), [{ a: 1, b: "x" }]);
      // A change made by a single statement: the kept one is prepared again when it fails.
      await db.query("alter table t add column c integer default 7");
      assertEquals(await db.query("select * from t"), [{ a: 1, b: "x", c: 7 }]);
      const kept = (await db.stats()).preparedStatements;
      assert(kept >= 1 && kept <= 3, `${kept} statements kept`);
    });
  });
});

Deno.test("a crashed embedded database worker is detected, and the directory reopens", async () => {
  await withStateDir(async (stateDir) => {
    const crashes: Error[] = [];
    const db = await openPglite(stateDir, {
      template: null,
      onCrash: (e) => crashes.push(e),
    });
    await db.exec("create table kept (n integer); insert into kept values (42)");
    const unlisten = await db.listen("ch", () => {});
    await rejects(db.simulateCrash(), (e) => {
      assert(e instanceof DatabaseUnavailableError);
      assert(/embedded database .* stopped: .*simulated crash/.test(e.message), e.message);
      return true;
    });
    assertEquals(crashes.length, 1);
    assert(crashes[0] instanceof DatabaseUnavailableError);
    await rejects(db.query("select 1"), DatabaseUnavailableError);
    await unlisten();
    await db.close();
    // The lock is released and what was committed is there.
    await withDb(stateDir, async (reopened) => {
      assertEquals(await reopened.query("select n from kept"), [{ n: 42 }]);
    });
  });
});

Deno.test("deno task pglite-template builds a template a new store starts from", async () => {
  await withStateDir(async (dir) => {
    const out = `${dir}/pglite-template.tar.gz`;
    const built = await new Deno.Command("deno", {
      args: ["task", "--quiet", "pglite-template", out],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(built.code, 0, new TextDecoder().decode(built.stderr));
    const bytes = await Deno.readFile(out);
    assertEquals(await templateVersion(bytes), PGLITE_VERSION);

    const db = await openPglite(`${dir}/store`, { template: out });
    try {
      assertEquals([db.created, db.fromTemplate], [true, true]);
      assertEquals(await migrate(db), [], "the template is migrated");
      assertEquals(await db.query("select count(*)::int as n from goods"), [{ n: 0 }]);
      // A running database's snapshot (for backups) is a tarball of the data directory.
      const paths = tarEntries(await gunzip(await db.dumpDataDir())).map((e) => e.path);
      assert(paths.includes("PG_VERSION") && paths.some((p) => p.startsWith("base/")));
    } finally {
      await db.close();
    }
    const again = await openPglite(`${dir}/store`, { template: out });
    assertEquals([again.created, again.fromTemplate], [false, false]);
    const first = await installationId(again);
    assertEquals(await installationId(again), first, "generated once");
    await again.close();
    // Two stores made from one template are two installations (their references in Odoo).
    const second = await openPglite(`${dir}/store2`, { template: out });
    try {
      assert(/^[0-9a-f]{12}$/.test(first));
      assert((await installationId(second)) !== first, "a store of its own");
    } finally {
      await second.close();
    }

    // A template of another PGlite version (or no template at all) is not used: initdb runs.
    const other = `${dir}/other.tar.gz`;
    await Deno.writeFile(other, await retagged(bytes, "0.0.1"));
    assertEquals(await extractTemplate(await Deno.readFile(other), `${dir}/x`), false);
    const fresh = await openPglite(`${dir}/fresh`, { template: other });
    assertEquals([fresh.created, fresh.fromTemplate], [true, false]);
    assertEquals((await migrate(fresh)).length > 0, true);
    await fresh.close();
  });
});

Deno.test("the committed pglite-template.tar.gz makes a checkout's new store (deno task start)", async () => {
  // Committed so that a checkout's first start unpacks it instead of running initdb (seconds and
  // ~600 MB once): a PGlite upgrade makes it useless, so this fails until it is rebuilt.
  const committed = decodeURIComponent(
    new URL("../pglite-template.tar.gz", import.meta.url).pathname,
  );
  const bytes = await Deno.readFile(committed);
  assertEquals(
    await templateVersion(bytes),
    PGLITE_VERSION,
    "rebuild it: deno task pglite-template pglite-template.tar.gz",
  );
  await withStateDir(async (dir) => {
    const db = await openPglite(`${dir}/store`, { template: committed });
    try {
      assertEquals([db.created, db.fromTemplate], [true, true]);
      assertEquals(await db.query("select count(*)::int as n from installation"), [{ n: 0 }]);
      await migrate(db); // migrations newer than the template run on top, as at every start
      assertEquals(await db.query("select count(*)::int as n from goods"), [{ n: 0 }]);
    } finally {
      await db.close();
    }
  });
});

Deno.test("a new store's creation cut by a power loss is made again, not left unopenable", async () => {
  // What the fault lab's power-cut scenario found on the state disk after a cut during a new
  // store's first start: the template's files named, their data never written (PG_VERSION and
  // every catalogue file empty), and the creation's marker still there.
  const committed = decodeURIComponent(
    new URL("../pglite-template.tar.gz", import.meta.url).pathname,
  );
  await withStateDir(async (stateDir) => {
    const entries = tarEntries(await gunzip(await Deno.readFile(committed)));
    for (const entry of entries) {
      const path = `${stateDir}/db/${entry.path}`;
      if (entry.directory) await Deno.mkdir(path, { recursive: true });
      else {
        await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
        await Deno.writeFile(path, new Uint8Array());
      }
    }
    await Deno.writeFile(`${stateDir}/db.creating`, new Uint8Array());
    const db = await openPglite(stateDir, { template: committed });
    try {
      assertEquals([db.created, db.fromTemplate], [true, true]);
      await migrate(db);
      assertEquals(await db.query("select count(*)::int as n from goods"), [{ n: 0 }]);
    } finally {
      await db.close();
    }
    await rejects(Deno.stat(`${stateDir}/db.creating`), Deno.errors.NotFound);
    // A store whose creation ended is opened as it is, never made again.
    await withDb(stateDir, (again) => Promise.resolve(assertEquals(again.created, false)));
  });
});

Deno.test("PGLITE_VERSION is deno.json's pin", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assertEquals(
    config.imports["@electric-sql/pglite"],
    `npm:@electric-sql/pglite@${PGLITE_VERSION}`,
  );
});

/** The template with its version file saying `version` (same length keeps the tar valid). */
async function retagged(gzipped: Uint8Array, version: string): Promise<Uint8Array> {
  const tar = await gunzip(gzipped);
  const entry = tarEntries(tar).find((e) => e.path === "newretail-pglite-version")!;
  entry.data.set(new TextEncoder().encode(`${version}\n`.padEnd(entry.data.length, "\n")));
  const stream = new Blob([tar as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
