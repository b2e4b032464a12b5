import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import type { Database } from "./database.ts";
import { goodsByLabels } from "./goods.ts";
import {
  activeGoodsIds,
  completePushes,
  devicesWithPending,
  failPushes,
  type FanOut,
  fanOutChanges,
  GOODS_CHANGED_CHANNEL,
  markGoodsChanged,
  pendingCounts,
  type PendingPush,
  pendingPushes,
  type QueuedPush,
  resetTries,
  unpushedChanges,
} from "./goods_changes.ts";

/** Subscribes `payloads` to the goods-changed channel; resolves once the subscription is live. */
async function listening(db: Database, payloads: string[]): Promise<() => Promise<void>> {
  const live = Promise.withResolvers<void>();
  const unlisten = await db.listen(GOODS_CHANGED_CHANNEL, (p) => payloads.push(p), live.resolve);
  await live.promise;
  return unlisten;
}

const REFILL = { shelfWarehouse: "MD", threshold: "0" };
const MAC1 = "AC:23:3F:00:00:01"; // goods 1
const MAC13A = "AC:23:3F:00:00:0D"; // goods 13
const MAC13B = "AC:23:3F:00:01:0D"; // goods 13

/** The devices a fan-out queued pushes of one kind for, sorted. */
function devicesOf(out: FanOut, kind: PendingPush["kind"]): string[] {
  return [...new Set(out.queued.filter((q) => q.push.kind === kind).map((q) => q.equipId))].sort();
}

async function drain(db: Database): Promise<void> {
  while ((await fanOutChanges(db, 1000, REFILL)).goods > 0) { /* until caught up */ }
}

async function setup(db: Database): Promise<void> {
  await drain(db); // the demo seed itself is a change
  await db.query(
    `insert into label_devices (mac, equip_id, source) values ($1, 'DZBQ_0001', 'learned'),
     ($2, 'DZBQ_0002', 'configured'), ($3, 'DZBQ_0002', 'learned')`,
    [MAC1, MAC13A, MAC13B],
  );
  await db.query(
    `insert into devices (equip_id, kind) values ('DZC_0001', 'DZC'), ('DZC_0002', 'DZC'),
     ('DZBQ_0001', 'DZBQ')`,
  );
  await db.query("update devices set enabled = false where equip_id = 'DZC_0002'");
}

function suite(backend: ReturnType<typeof backends>[number]) {
  return async (t: Deno.TestContext) => {
    const { db, dispose } = await backend.open();
    try {
      await setup(db);

      await t.step("a shown field change is marked and notified with the goods id", async () => {
        const got: string[] = [];
        const unlisten = await listening(db, got);
        try {
          await db.query("update goods set price = 9.99 where id = 1");
          assert.equal(await unpushedChanges(db), 1);
          for (let i = 0; i < 100 && got.length === 0; i++) {
            await new Promise((r) => setTimeout(r, 20));
          }
          assert.deepEqual(got, ["1"]);
        } finally {
          await unlisten();
        }
        await drain(db);
      });

      await t.step("touching only updated_at marks nothing", async () => {
        await db.query("update goods set updated_at = now() where id = 2");
        assert.equal(await unpushedChanges(db), 0);
      });

      await t.step("fan-out: labels to their serving device, every enabled scale", async () => {
        await db.exec("delete from pending_label_pushes; delete from pending_scale_pushes");
        await db.query("update goods set price = price + 1 where id in (1, 13)");
        const out = await fanOutChanges(db, 1000, REFILL);
        assert.equal(out.goods, 2);
        assert.deepEqual(devicesOf(out, "label"), ["DZBQ_0001", "DZBQ_0002"]);
        assert.deepEqual(devicesOf(out, "goods"), ["DZC_0001"]);
        // What it queued is what the devices' senders would read back.
        const key = (q: QueuedPush) =>
          `${q.equipId} ${q.push.kind === "label" ? q.push.mac : q.push.goodsId} ${q.push.version}`;
        const pending: QueuedPush[] = [];
        for (const equipId of ["DZBQ_0001", "DZBQ_0002", "DZC_0001", "DZC_0002"]) {
          for (const push of await pendingPushes(db, equipId, 3, 10)) {
            pending.push({ equipId, push });
          }
        }
        assert.equal(out.queued.length, 5);
        assert.deepEqual(out.queued.map(key).sort(), pending.map(key).sort());
        assert.equal(await unpushedChanges(db), 0);
        const p1 = await pendingPushes(db, "DZBQ_0001", 3, 10);
        assert.deepEqual(p1, [{ kind: "label", mac: MAC1, version: 1 }]);
        const p2 = await pendingPushes(db, "DZBQ_0002", 3, 10);
        assert.deepEqual(p2.map((p) => p.kind === "label" && p.mac).sort(), [MAC13A, MAC13B]);
        const scale = await pendingPushes(db, "DZC_0001", 3, 10);
        assert.deepEqual(scale.map((p) => p.kind === "goods" && p.goodsId).sort(), [1, 13]);
        assert.deepEqual(await pendingPushes(db, "DZC_0002", 3, 10), []);
        // What each queued label is to show, read in the pass: what a read now finds.
        const macs = [MAC1, MAC13A, MAC13B];
        assert.deepEqual([...out.labelViews.keys()].sort(), macs.sort());
        assert.deepEqual(macs.map((m) => out.labelViews.get(m)), await goodsByLabels(db, macs));
        assert.equal(out.labelViews.get(MAC13A)?.mac, MAC13A);
      });

      await t.step(
        "fan-out: a label of inactive goods is queued with nothing to show",
        async () => {
          await db.query("update goods set active = false where id = 13");
          try {
            const out = await fanOutChanges(db, 1000, REFILL);
            const labels = out.queued.filter((q) => q.push.kind === "label").map((q) => q.equipId);
            assert.deepEqual(labels, ["DZBQ_0002", "DZBQ_0002"]);
            assert.equal(out.labelViews.size, 0);
          } finally {
            await db.query("update goods set active = true where id = 13");
            await drain(db);
          }
        },
      );

      await t.step("latest state wins: three changes leave one push per label", async () => {
        let out: FanOut | undefined;
        for (const price of ["11.00", "12.00", "13.00"]) {
          await db.query("update goods set price = $1::numeric where id = 1", [price]);
          out = await fanOutChanges(db, 1000, REFILL);
        }
        const p1 = await pendingPushes(db, "DZBQ_0001", 3, 10);
        assert.deepEqual(p1, [{ kind: "label", mac: MAC1, version: 4 }]);
        assert.deepEqual(
          out?.queued.filter((q) => q.equipId === "DZBQ_0001"),
          [{ equipId: "DZBQ_0001", push: { kind: "label", mac: MAC1, version: 4 } }],
        );
      });

      await t.step("an acknowledgement of an older version keeps the newer push", async () => {
        await completePushes(db, "DZBQ_0001", [{ kind: "label", mac: MAC1, version: 3 }]);
        assert.equal((await pendingPushes(db, "DZBQ_0001", 3, 10)).length, 1);
        await completePushes(db, "DZBQ_0001", [{ kind: "label", mac: MAC1, version: 4 }]);
        assert.equal((await pendingPushes(db, "DZBQ_0001", 3, 10)).length, 0);
      });

      await t.step("tries run out, a login gives them back", async () => {
        const pushes = await pendingPushes(db, "DZC_0001", 3, 10);
        assert.equal(await failPushes(db, "DZC_0001", pushes, "timeout", 2), 0);
        assert.equal(await failPushes(db, "DZC_0001", pushes, "timeout", 2), 2);
        assert.deepEqual(await pendingPushes(db, "DZC_0001", 2, 10), []);
        assert.ok(!(await devicesWithPending(db, 2)).includes("DZC_0001"));
        await resetTries(db, ["DZC_0001"]);
        assert.equal((await pendingPushes(db, "DZC_0001", 2, 10)).length, 2);
        assert.ok((await devicesWithPending(db, 2)).includes("DZC_0001"));
      });

      await t.step("a label moved to other goods is pushed with its new goods", async () => {
        await db.query("delete from pending_label_pushes");
        await db.query("update label_bindings set goods_id = 2 where mac = $1", [MAC1]);
        await fanOutChanges(db, 1000, REFILL);
        assert.deepEqual(await pendingPushes(db, "DZBQ_0001", 3, 10), [
          { kind: "label", mac: MAC1, version: 1 },
        ]);
      });

      await t.step("stock changes are changes; labels without a device wait for none", async () => {
        await db.exec("delete from pending_label_pushes; delete from pending_scale_pushes");
        await db.query("update stock set quantity = quantity - 1 where goods_id = 5");
        const out = await fanOutChanges(db, 1000, REFILL);
        assert.equal(out.goods, 1);
        assert.deepEqual(devicesOf(out, "label"), []); // AC:…:05 has no serving device yet
        assert.deepEqual(out.queued.map((q) => q.push.kind), ["goods"]);
        assert.deepEqual(await pendingCounts(db), { labels: 0, scales: 1 });
      });

      await t.step("5,000 goods changed in one transaction fan out in passes", async () => {
        await db.query("delete from pending_scale_pushes");
        await db.query(
          `insert into goods (name, price) select 'bulk ' || g, 1 from generate_series(1, 5000) g`,
        );
        await drain(db);
        await db.query("delete from pending_scale_pushes");
        const payloads: string[] = [];
        const unlisten = await listening(db, payloads);
        try {
          await db.transaction(async (tx) => {
            await tx.query("update goods set price = price + 0.5 where name like 'bulk %'");
          });
          assert.equal(await unpushedChanges(db), 5000);
          for (let i = 0; i < 250 && payloads.length < 5; i++) {
            await new Promise((r) => setTimeout(r, 20));
          }
        } finally {
          await unlisten();
        }
        // A few notifications of up to 1,000 ids each, not 5,000 of one id.
        assert.equal(payloads.length, 5);
        const ids = payloads.flatMap((p) => p.split(",").map(Number));
        assert.ok(payloads.every((p) => p.split(",").length <= 1000));
        assert.equal(new Set(ids).size, 5000);
        let passes = 0;
        let goods = 0;
        for (;;) {
          const out = await fanOutChanges(db, 1000, REFILL);
          if (out.goods === 0) break;
          passes++;
          goods += out.goods;
        }
        assert.equal(goods, 5000);
        assert.equal(passes, 5);
        assert.deepEqual(await pendingCounts(db, ["DZC_0001"]), { labels: 0, scales: 5000 });
      });

      await t.step("push-goods marks goods again", async () => {
        const ids = (await activeGoodsIds(db)).slice(0, 3);
        assert.equal(await markGoodsChanged(db, [...ids, 999999]), 3);
        assert.equal(await unpushedChanges(db), 3);
      });
    } finally {
      await dispose();
    }
  };
}

for (const backend of backends()) {
  Deno.test(`goods changes (${backend.name})`, suite(backend));
}
