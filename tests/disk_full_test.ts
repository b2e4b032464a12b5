/**
 * A full disk (issue 24, disk-full; the fault lab's `disk-full` scenario runs the same end to end):
 * requests that record something are answered `disk full` at once and reads go on; the embedded
 * database stopped by a full disk (PostgreSQL's PANIC: no room for a WAL segment) reopens by
 * itself when there is room again; a backup that does not fit is refused before anything is
 * written. The tests on a small file system of their own (tmpfs) need root; they are ignored
 * with that reason elsewhere.
 */
import assert from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { startTestAppliance } from "./_support/appliance.ts";
import { DISK_FULL } from "../src/server/dispatch.ts";
import { isDiskFull, readDiskSpace } from "../src/disk_space.ts";
import { openPglite, REOPEN_FREE_BYTES } from "../src/store/pglite/pglite.ts";
import { DiskFullError } from "../src/store/database.ts";
import { eventually } from "./_support/eventually.ts";

const ROOT = Deno.uid() === 0;
const MB = 1024 * 1024;
const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** A tmpfs of `sizeMb` mounted on a new temporary directory, for `fn`; unmounted afterwards. */
async function withTmpfs(sizeMb: number, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "newretail-disk-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", dir],
  }).output();
  assert.ok(mount.success, new TextDecoder().decode(mount.stderr));
  try {
    await fn(dir);
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Fills `dir`'s file system with `dir/filler` until `leaveBytes` are free. */
async function fill(dir: string, leaveBytes: number): Promise<void> {
  const { freeBytes } = await readDiskSpace(dir);
  const file = await Deno.open(`${dir}/filler`, { write: true, create: true, append: true });
  try {
    const chunk = new Uint8Array(MB);
    for (let left = freeBytes - leaveBytes; left > 0; left -= MB) {
      await file.write(left >= MB ? chunk : chunk.subarray(0, left));
    }
  } finally {
    file.close();
  }
}

for (const backend of backends()) {
  Deno.test(`under the disk reserve, orders, receipts and payments are answered '${DISK_FULL}' at once and reads go on, logged once (${backend.name})`, async () => {
    const probe = await Deno.makeTempDir({ prefix: "newretail-disk-" });
    const { freeBytes } = await readDiskSpace(probe).finally(() => Deno.remove(probe));
    // The largest reserve there is: more than this machine's free space, so the disk is "full".
    const reserveMb = 1024 * 1024;
    assert.ok(freeBytes < reserveMb * MB, "this test needs less than 1 TiB free in the temp dir");
    const t = await startTestAppliance(backend.name, {
      config: {
        diskReserveMb: reserveMb,
        // PostgreSQL: its disk is watched only when named.
        databaseDiskPath: backend.name === "postgres" ? "/tmp" : "",
      },
    });
    try {
      const till = await t.device("POS_0001");
      const refused = [];
      for (let i = 0; i < 10; i++) {
        refused.push(
          await till.request("getPayInfo", {
            order_id: `T${i}`,
            totalPrice: 3.5,
            goods: [{ gid: 1, qty: 1 }],
          }),
        );
      }
      refused.push(await till.request("stockGoods", { whid: 1, ref: "R1", goods: [] }));
      refused.push(await till.request("makePayment", { oid: "1" }));
      for (const reply of refused) assert.equal(reply.json?.exception, DISK_FULL);
      // The reply getPayInfo's devices read on every answer keeps its field.
      assert.equal(refused[0].json?.url, "");
      const goods = await till.request("getGoods", { gid: "1" });
      assert.equal(goods.json?.exception, "");
      assert.equal((goods.json?.goods as unknown[]).length, 1);
      const all = await till.request("getAllGoods", { ost: 0, lmt: 5 });
      assert.equal(all.json?.exception, "");
      assert.equal((all.json?.goods as unknown[]).length, 5);
      const orders = await t.app.db.query<{ n: number }>("select count(*)::int as n from orders");
      assert.deepEqual(orders, [{ n: 0 }]);
      // One line when it became full; none per refused request.
      const lines = t.logs.filter((l) => l.level === "error" || l.level === "warn");
      assert.deepEqual(lines.map((l) => l.msg), [
        "disk full: orders, receipts and payments are refused until space is freed",
      ]);
      const metrics = t.app.metrics.render();
      assert.match(metrics, /^newretail_disk_writes_refused_total 12$/m);
      assert.match(metrics, /^newretail_disk_free_bytes\{path="[^"]+"\} \d+$/m);
    } finally {
      await t.stop();
    }
  });
}

Deno.test({
  name: `the embedded database stopped by a full disk reopens by itself when there is room${
    ROOT ? "" : " [ignored: mounting a tmpfs needs root]"
  }`,
  ignore: !ROOT,
  async fn() {
    await withTmpfs(96, async (dir) => {
      const events: string[] = [];
      const db = await openPglite(`${dir}/state`, {
        template: `${REPO}pglite-template.tar.gz`,
        onCrash: () => events.push("crash"),
        onDiskFull: () => events.push("disk full"),
        onReopened: () => events.push("reopened"),
      });
      try {
        await db.exec("create table t (n integer); insert into t values (1)");
        const caughtUp: number[] = [];
        await db.listen("t_changed", () => {}, () => caughtUp.push(Date.now()));
        // A transaction begun before the stop, whose statements come after the reopening.
        const reopened = Promise.withResolvers<void>();
        const spanning = db.transaction(async (tx) => {
          await reopened.promise;
          await tx.query("insert into t values (9)");
        });
        await fill(dir, 4 * MB);
        // The next statement needs a new 16 MB WAL segment: PostgreSQL PANICs (it does not hang).
        await db.query("select pg_switch_wal()");
        await assert.rejects(db.query("insert into t values (2)"), (e) => isDiskFull(e));
        await eventually(() => events.length > 0, "the stop");
        assert.deepEqual(events, ["disk full"]);
        await assert.rejects(db.query("select 1"), DiskFullError);
        // Not while there is no room for crash recovery.
        await new Promise((r) => setTimeout(r, 3000));
        assert.deepEqual(events, ["disk full"]);
        await Deno.remove(`${dir}/filler`);
        assert.ok((await readDiskSpace(dir)).freeBytes >= REOPEN_FREE_BYTES);
        await eventually(() => events.length > 1, "the reopening", 60_000);
        assert.deepEqual(events, ["disk full", "reopened"]);
        assert.equal(caughtUp.length, 2, "the subscription is established again, and caught up");
        reopened.resolve();
        await assert.rejects(spanning, /restarted during this transaction/);
        await db.query("insert into t values (3)");
        assert.deepEqual(await db.query("select n from t order by n"), [{ n: 1 }, { n: 3 }]);
      } finally {
        await db.close();
      }
    });
  },
});

Deno.test({
  name: `a backup that does not fit is refused before anything is written, with the space it needs${
    ROOT ? "" : " [ignored: mounting a tmpfs needs root]"
  }`,
  ignore: !ROOT,
  async fn() {
    const stateDir = await Deno.makeTempDir({ prefix: "newretail-backup-" });
    try {
      const cli = (args: string[]) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", `${REPO}main.ts`, ...args, "--state-dir", stateDir],
          env: { DATABASE_URL: "" },
          stdout: "piped",
          stderr: "piped",
        }).output();
      assert.ok((await cli(["migrate"])).success);
      await withTmpfs(4, async (dir) => {
        const out = await cli(["backup", `${dir}/store.tar.gz`]);
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 1, stderr);
        assert.match(
          stderr,
          /not enough space for the backup: it needs \d+ MB \(and 8 MB to spare\) on the disk of .*store\.tar\.gz, which has \d MB free; nothing was written/,
        );
        assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing left behind");
      });
    } finally {
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});
