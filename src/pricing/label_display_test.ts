import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import type { Database } from "../store/database.ts";
import { LABEL_CONFIRMED_EVENT } from "../events.ts";
import { LabelDisplayBatches } from "./label_display.ts";

for (const backend of backends()) {
  Deno.test(`label answers of many devices at once: one statement, every one recorded (${backend.name})`, async () => {
    const { db, dispose } = await backend.open();
    try {
      // Twelve labels bound to goods 9–20 in order, each asked for by its own device at the same moment.
      const macs = Array.from(
        { length: 12 },
        (_, i) => `BE:0C:00:00:00:${String(i).padStart(2, "0")}`,
      );
      await db.query(
        "insert into label_bindings (mac, goods_id) select m, 8 + i from unnest($1::text[]) with ordinality as l(m, i)",
        [macs],
      );
      // Statements and transactions begun through the labels' database view.
      let statements = 0;
      const counted: Database = {
        ...db,
        urgent: () => counted,
        query: (sql, params, signal) => {
          statements++;
          return db.query(sql, params, signal);
        },
        transaction: (fn, signal) => {
          statements++;
          return db.transaction(fn, signal);
        },
      };
      const announced: unknown[] = [];
      const labels = new LabelDisplayBatches({
        db: counted,
        events: {
          emit: (event, detail) => event === LABEL_CONFIRMED_EVENT && announced.push(detail),
        },
      });
      const at = new Date("2026-01-01T00:00:00Z");
      const goods = await db.query<{ id: number; name: string; price: string }>(
        "select id, name, price::text as price from goods where id between 9 and 20 order by id",
      );
      await Promise.all(
        macs.map((mac, i) =>
          labels.answered(`DZBQ_${i}`, [{
            mac,
            gid: goods[i].id,
            name: goods[i].name,
            price: goods[i].price,
          }], at)
        ),
      );
      assert.equal(statements, 1, "answers given together are written by one statement");
      const shown = await db.query<{ mac: string; equip_id: string; via: string }>(
        "select mac, equip_id, via from label_shown order by mac",
      );
      assert.deepEqual(
        shown,
        macs.map((mac, i) => ({ mac, equip_id: `DZBQ_${i}`, via: "getGoods" })),
      );
      const learned = await db.query<{ mac: string; equip_id: string }>(
        "select mac, equip_id from label_devices order by mac",
      );
      assert.deepEqual(learned, macs.map((mac, i) => ({ mac, equip_id: `DZBQ_${i}` })));
      assert.equal(announced.length, 12);
      // Nothing to answer: nothing written.
      await labels.answered("DZBQ_X", [], at);
      assert.equal(statements, 1);
    } finally {
      await dispose();
    }
  });
}

for (const backend of backends()) {
  Deno.test(`label answers written by batches in flight at once: each sent once written, the latest one shown (${backend.name})`, async () => {
    const { db, dispose } = await backend.open();
    try {
      const macs = ["BE:0E:00:00:00:01", "BE:0E:00:00:00:02", "BE:0E:00:00:00:03"];
      await db.query(
        "insert into label_bindings (mac, goods_id) select m, 9 from unnest($1::text[]) as m",
        [macs],
      );
      // Statements of the labels' database view not yet ended, and the most at once.
      let running = 0;
      let most = 0;
      const counted: Database = {
        ...db,
        urgent: () => counted,
        query: async (sql, params, signal) => {
          most = Math.max(most, ++running);
          try {
            return await db.query(sql, params, signal);
          } finally {
            running--;
          }
        },
      };
      const labels = new LabelDisplayBatches({
        db: counted,
        events: { emit: () => {} },
        inFlight: 4,
      });
      const [goods] = await db.query<{ name: string; price: string }>(
        "select name, price::text as price from goods where id = 9",
      );
      const start = Date.UTC(2026, 0, 1);
      const answers: Promise<void>[] = [];
      for (let i = 0; i < 120; i++) {
        const mac = macs[i % 3];
        const price = i % 2 ? "0.01" : goods.price;
        const answered = labels.answered(
          `DZBQ_${i}`,
          [{ mac, gid: 9, ...goods, price }],
          new Date(start + i),
        );
        // An answer is sent once its batch is written: what it shows is in the database then.
        answers.push(answered.then(async () => {
          const [row] = await db.query<{ at: Date }>(
            "select confirmed_at as at from label_shown where mac = $1",
            [mac],
          );
          assert(row.at.getTime() >= start + i, `answer ${i} recorded before it was sent`);
        }));
        // Answers given in turns of the event loop, not in one: each may start a batch.
        await Promise.resolve();
      }
      await Promise.all(answers);
      assert.equal(most, 4, "four batches in flight at most, and four reached");
      const shown = await db.query<
        { mac: string; equip_id: string; price: string; device: string }
      >(
        `select s.mac, s.equip_id, s.price::text as price, d.equip_id as device
         from label_shown s join label_devices d using (mac) where s.mac = any($1::text[])
         order by s.mac`,
        [macs],
      );
      // The last answers: 117 (label 1), 118 (label 2), 119 (label 3).
      assert.deepEqual(shown, [
        { mac: macs[0], equip_id: "DZBQ_117", price: "0.01", device: "DZBQ_117" },
        { mac: macs[1], equip_id: "DZBQ_118", price: goods.price, device: "DZBQ_118" },
        { mac: macs[2], equip_id: "DZBQ_119", price: "0.01", device: "DZBQ_119" },
      ]);
    } finally {
      await dispose();
    }
  });
}
