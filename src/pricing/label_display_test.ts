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
