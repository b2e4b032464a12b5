import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import { eventually } from "../../tests/_support/eventually.ts";
import {
  LABELS_SHOWN_CHANNEL,
  recordAnswers,
  recordShown,
  type ShownRecord,
  staleShownPrices,
} from "./label_shown.ts";
import { openPostgres } from "./postgres.ts";

for (const backend of backends()) {
  Deno.test(`labels_shown is announced when the stale labels change, not for a fresh label confirming again (${backend.name})`, async () => {
    const { db, dispose } = await backend.open();
    const heard: string[] = [];
    const listening = Promise.withResolvers<void>();
    const unlisten = await db.listen(
      LABELS_SHOWN_CHANNEL,
      (payload) => heard.push(payload),
      () => listening.resolve(),
    );
    try {
      await listening.promise;
      const mac = "AC:23:3F:00:00:09"; // bound to goods 9 (2.00)
      const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
      const shows = (price: string, s: number) =>
        recordShown(db, [{
          mac,
          gid: 9,
          name: "农夫山泉 550ml",
          price,
          equipId: "DZBQ_1",
          at: at(s),
        }], "getGoods");
      await shows("2.00", 1); // a fresh label: nothing the overlay keeps
      await shows("2.00", 2); // the same again
      await db.query("update goods set name = name where id = 9"); // nothing a label shows changed
      // Notifications arrive in commit order: once this one is heard, any before it were too.
      await db.query("select pg_notify($1, 'barrier')", [LABELS_SHOWN_CHANNEL]);
      await eventually(() => Promise.resolve(heard.includes("barrier")), "the barrier");
      assert.deepEqual(heard, ["barrier"], "fresh confirmations were not announced");
      await shows("1.00", 3); // a label showing an older price: stale
      await eventually(() => Promise.resolve(heard.length >= 2), "the stale label announced");
      assert.deepEqual(
        (await staleShownPrices(db)).map((l) => [l.mac, l.price, l.staleSince.getTime()]),
        [
          [mac, "1.00", at(3).getTime()],
        ],
      );
      await shows("2.00", 4); // fresh again: the overlay must drop it
      await eventually(() => Promise.resolve(heard.length >= 3), "the label fresh again announced");
      assert.deepEqual(await staleShownPrices(db), []);
      // A price change marks it stale (in the goods UPDATE's trigger), and that is announced.
      await db.query("update goods set price = 2.50 where id = 9");
      await eventually(() => Promise.resolve(heard.length >= 4), "the price change announced");
      assert.deepEqual((await staleShownPrices(db)).map((l) => [l.mac, l.price]), [[mac, "2.00"]]);
    } finally {
      await unlisten();
      await dispose();
    }
  });
}

for (const backend of backends()) {
  Deno.test(`batches of answers written at once over the same labels: none fails, each label keeps its latest (${backend.name})`, async () => {
    const { db, dispose } = await backend.open();
    try {
      // 40 labels bound to goods 9–20 in turn.
      const macs = Array.from(
        { length: 40 },
        (_, i) => `BE:0D:00:00:00:${i.toString(16).padStart(2, "0").toUpperCase()}`,
      );
      await db.query(
        `insert into label_bindings (mac, goods_id)
         select m, 9 + (i - 1) % 12 from unnest($1::text[]) with ordinality as l(m, i)`,
        [macs],
      );
      const goods = new Map(
        (await db.query<{ id: number; name: string; price: string }>(
          "select id, name, price::text as price from goods where id between 9 and 20",
        )).map((g) => [g.id, g]),
      );
      const start = Date.UTC(2026, 0, 1);
      const latest = new Map<string, ShownRecord>();
      for (let round = 0; round < 25; round++) {
        // Four batches of every label at once, each in an order of its own (ascending, descending,
        // rotated), the latest confirmation of a round in a different batch each round (of the last
        // round, in the first batch: the embedded database writes it first); half of the batches
        // answer a price the goods no longer have (stale: the triggers announce it).
        const batches = [0, 1, 2, 3].map((k) => {
          const order = k % 2 ? [...macs].reverse() : macs;
          const rotated = [...order.slice(k * 7), ...order.slice(0, k * 7)];
          const at = new Date(start + round * 4 + (3 - k + round) % 4);
          return rotated.map((mac, i): ShownRecord => {
            const g = goods.get(9 + (macs.indexOf(mac) % 12))!;
            return {
              mac,
              gid: g.id,
              name: g.name,
              price: (k + round) % 2 ? "0.01" : g.price,
              equipId: `DZBQ_${k}_${i % 3}`,
              at,
            };
          });
        });
        const written = await Promise.allSettled(batches.map((b) => recordAnswers(db, b)));
        assert.deepEqual(
          written.filter((w) => w.status === "rejected"),
          [],
          `round ${round}: every batch written`,
        );
        for (const r of batches.flat()) {
          const kept = latest.get(r.mac);
          if (!kept || kept.at < r.at) latest.set(r.mac, r);
        }
      }
      const rows = await db.query<
        { mac: string; equip_id: string; price: string; at: Date; device: string; stale: boolean }
      >(
        `select s.mac, s.equip_id, s.price::text as price, s.confirmed_at as at,
           d.equip_id as device, s.stale_since is not null as stale
         from label_shown s join label_devices d using (mac) where s.mac = any($1::text[])
         order by s.mac collate "C"`,
        [macs],
      );
      assert.deepEqual(
        rows,
        [...latest.values()].sort((a, b) => a.mac < b.mac ? -1 : 1).map((r) => ({
          mac: r.mac,
          equip_id: r.equipId,
          price: r.price,
          at: r.at,
          device: r.equipId,
          stale: r.price === "0.01",
        })),
      );
    } finally {
      await dispose();
    }
  });
}

for (const backend of backends()) {
  Deno.test(`price changes while a goods' labels answer: neither waits on the other in a deadlock (${backend.name})`, async () => {
    const { db, url, dispose } = await backend.open({ demo: false });
    // The answers come from sessions of their own, as a base station's batches and an Odoo pull
    // do (one pool may put both on one connection, one after the other).
    const labels = url ? openPostgres(url) : db;
    try {
      // 300 labels of one goods, their rows written in an order of their own (not the MACs'): the
      // order a price change's stale-marking would find them in without migration 014.
      const macs = Array.from(
        { length: 300 },
        (_, i) =>
          `BE:0E:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${
            (i & 255).toString(16).padStart(2, "0")
          }`.toUpperCase(),
      );
      // A fixed shuffle (xorshift32): an order as arbitrary as a store's, the same in every run.
      const shuffled = [...macs];
      let seed = 0x9e3779b9;
      for (let i = shuffled.length - 1; i > 0; i--) {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        const j = (seed >>> 0) % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      const [{ gid }] = await db.query<{ gid: number }>(
        "insert into goods (name, price) values ('价签 压测', 2.00) returning id as gid",
      );
      await db.query(
        "insert into label_bindings (mac, goods_id) select m, $2 from unnest($1::text[]) m",
        [shuffled, gid],
      );
      const answer = async (price: string) =>
        await recordAnswers(
          labels,
          shuffled.map((mac) => ({
            mac,
            gid,
            name: "价签 压测",
            price,
            equipId: "DZBQ_1",
            at: new Date(),
          })),
        );
      for (const mac of shuffled) {
        await recordShown(db, [{
          mac,
          gid,
          name: "价签 压测",
          price: "2.00",
          equipId: "DZBQ_1",
          at: new Date(),
        }], "push");
      }
      // For 3 s: prices changed one after another, and the labels answered what each shows now
      // (so every change and every answer turns all 300 stale or fresh). A deadlock costs its
      // victim a second and an error: with the stale-marking of migration 009 put back, 2 of 3
      // runs of this test found one (an answer batch or a price change aborted).
      const failures: string[] = [];
      let changes = 0;
      let answers = 0;
      const until = performance.now() + 3000;
      await Promise.all([
        (async () => {
          while (performance.now() < until) {
            await db.query("update goods set price = price + 0.01 where id = $1", [gid])
              .then(() => changes++, (e) => failures.push(`price change: ${e.message}`));
          }
        })(),
        (async () => {
          while (performance.now() < until) {
            const [{ price }] = await labels.query<{ price: string }>(
              "select price::text as price from goods where id = $1",
              [gid],
            );
            await answer(price).then(
              () => answers++,
              (e) => failures.push(`answers: ${e.message}`),
            );
          }
        })(),
      ]);
      assert.deepEqual(failures, []);
      assert.ok(changes > 10 && answers > 10, `both ran: ${changes} changes, ${answers} batches`);
    } finally {
      if (labels !== db) await labels.close();
      await dispose();
    }
  });
}
