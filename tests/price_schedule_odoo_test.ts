/**
 * Scheduled prices in Odoo mode (issue 14): Odoo's price stays the regular price and a local
 * schedule applies on top. The real catalogue puller against the Odoo stand-in, on every backend.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { startOdooStandin } from "./_support/odoo_standin.ts";
import { standinDelivery } from "./_support/odoo.ts";
import {
  applySchedules,
  cancelSchedule,
  createSchedule,
  listSchedules,
} from "../src/store/price_schedules.ts";
import type { Database } from "../src/store/database.ts";

async function prices(db: Database, id: number) {
  const rows = await db.query(
    "select price::text as price, regular_price::text as regular from goods where id = $1",
    [id],
  );
  return rows[0];
}

for (const backend of backends()) {
  Deno.test(`a local schedule on top of Odoo's price (${backend.name})`, async () => {
    const { db, dispose } = await backend.open({ demo: false });
    const odoo = await startOdooStandin({ version: 17 });
    try {
      const { puller } = await standinDelivery(db, odoo);
      await puller.fullPull();
      deepStrictEqual(await prices(db, 42), { price: "5.10", regular: null });

      const now = Date.now();
      const schedule = await createSchedule(db, {
        gid: 42,
        price: "3.99",
        from: new Date(now - 1000),
        until: new Date(now + 3_600_000),
        by: "test",
        at: new Date(now),
      });
      strictEqual(schedule?.state, "active");
      const applied = await applySchedules(db, new Date(now));
      deepStrictEqual(applied.started.map((s) => [s.gid, s.price]), [[42, "3.99"]]);
      deepStrictEqual(await prices(db, 42), { price: "3.99", regular: "5.10" });

      // Odoo changes its price while the promotion runs: the new regular price, the promotion stays.
      odoo.state.write("product.template", [34], { list_price: 6.35 });
      await puller.incrementalPull();
      deepStrictEqual(await prices(db, 42), { price: "3.99", regular: "6.35" });
      deepStrictEqual((await applySchedules(db, new Date(now))).started, []);

      // Overlaps: the latest created wins; cancelling it falls back to the earlier one.
      const later = await createSchedule(db, {
        gid: 42,
        price: "2.50",
        from: new Date(now - 500),
        until: null,
        by: "test",
        at: new Date(now + 1),
      });
      await applySchedules(db, new Date(now));
      deepStrictEqual(await prices(db, 42), { price: "2.50", regular: "6.35" });
      deepStrictEqual(
        (await listSchedules(db, new Date(now))).map((s) => [s.id, s.state]),
        [[later!.id, "active"], [schedule!.id, "overridden"]],
      );
      strictEqual(await cancelSchedule(db, later!.id, new Date(now)), true);
      strictEqual(await cancelSchedule(db, later!.id, new Date(now)), false);
      await applySchedules(db, new Date(now));
      deepStrictEqual(await prices(db, 42), { price: "3.99", regular: "6.35" });

      // The end: Odoo's (new) price is back.
      const ended = await applySchedules(db, new Date(now + 3_600_000));
      deepStrictEqual(ended.ended.map((e) => [e.gid, e.price]), [[42, "6.35"]]);
      deepStrictEqual(await prices(db, 42), { price: "6.35", regular: null });
    } finally {
      await odoo.close();
      await dispose();
    }
  });
}
