/**
 * Per-store prices from an Odoo pricelist (issue 27): the real catalogue puller against the Odoo
 * stand-in serving `product.pricelist` and its rules, on every backend. Fixed, percentage and
 * formula rules on the sale price, by variant, product, category and for everything, a quantity
 * break that never prices the shelf; a dated rule becomes a local price schedule; a rule edited
 * or deleted in Odoo reprices at the next poll; a schedule made at the store wins; a store that
 * stops using the pricelist goes back to sale prices. And end to end: a promotion starts and
 * ends at the till on time while Odoo is down.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { type OdooStandin, startOdooStandin } from "./_support/odoo_standin.ts";
import { standinClient, standinDelivery, standinSettings } from "./_support/odoo.ts";
import { eventually, startTestAppliance } from "./_support/appliance.ts";
import type { Database } from "../src/store/database.ts";
import { odooDatetime } from "../src/upstream/odoo/jsonrpc.ts";
import { discoverSite } from "../src/upstream/odoo/site.ts";
import {
  applySchedules,
  cancelSchedule,
  createSchedule,
  listSchedules,
} from "../src/store/price_schedules.ts";

async function prices(db: Database, id: number) {
  const [row] = await db.query<{ price: string; regular: string | null }>(
    "select price::text as price, regular_price::text as regular from goods where id = $1",
    [id],
  );
  return row;
}

function callsSince(odoo: OdooStandin, mark: number): string[] {
  return odoo.calls.slice(mark).map((c) => `${c.model}.${c.modelMethod}`);
}

/** A rule in the stand-in, as a user would add it in Odoo's pricelist form. */
function addRule(odoo: OdooStandin, pricelist: number, vals: Record<string, unknown>): number {
  return odoo.state.create("product.pricelist.item", { pricelist_id: pricelist, ...vals });
}

/** Rules written an hour ago (outside any poll's window), as a pricelist set up before. */
function addOldRules(odoo: OdooStandin, pricelist: number, rules: Record<string, unknown>[]) {
  const tx = odoo.state.begin({ agoMs: 3_600_000 });
  for (const vals of rules) {
    tx.create("product.pricelist.item", { pricelist_id: pricelist, ...vals });
  }
  tx.commit();
  return odoo.state.all("product.pricelist.item").slice(-rules.length).map((r) => r.id);
}

for (const backend of backends()) {
  Deno.test(`odoo pricelist: the store's prices and schedules (${backend.name})`, async (t) => {
    const { db, dispose } = await backend.open({ demo: false });
    const odoo = await startOdooStandin({ version: 17 });
    try {
      const hour = 3_600_000;
      const now = Date.now();
      const store = odoo.state.create("product.pricelist", { name: "Store 12", currency_id: 1 });
      // Everything 10 % off; "All / Saleable" (category 2, the parent of 8) 20 % off, rounded to
      // 0.10, minus 0.01; variant 18 fixed; from 5 units of the Desk Organizer (template 34)
      // 1.00 (a quantity break: never on the shelf); template 34 at 3.99 from in an hour, for one.
      const [, , variant, , promo] = addOldRules(odoo, store, [
        { compute_price: "percentage", percent_price: 10 },
        {
          applied_on: "2_product_category",
          categ_id: 2,
          compute_price: "formula",
          price_discount: 20,
          price_round: 0.1,
          price_surcharge: -0.01,
        },
        { applied_on: "0_product_variant", product_id: 18, fixed_price: 9.99 },
        { applied_on: "1_product", product_tmpl_id: 34, min_quantity: 5, fixed_price: 1 },
        {
          applied_on: "1_product",
          product_tmpl_id: 34,
          fixed_price: 3.99,
          date_start: odooDatetime(now + hour),
          date_end: odooDatetime(now + 2 * hour - 1000),
        },
      ]);
      const other = odoo.state.createProduct({ name: "Soap", list_price: 2.5, categ_id: 9 });
      const { puller } = await standinDelivery(db, odoo, { pricelist: "Store 12" });

      await t.step("a full pull prices every goods by the pricelist", async () => {
        await puller.fullPull();
        deepStrictEqual(await prices(db, 42), { price: "4.09", regular: null }); // 5.10 → 4.08 → 4.10 → 4.09
        deepStrictEqual(await prices(db, 18), { price: "9.99", regular: null });
        deepStrictEqual(await prices(db, 8), { price: "359.99", regular: null }); // 450 × 0.8 − 0.01
        deepStrictEqual(await prices(db, other), { price: "2.25", regular: null }); // category 9: 10 %
      });

      await t.step("its dated rule is a local schedule (source odoo)", async () => {
        const schedules = (await listSchedules(db, new Date(now))).filter((s) => s.gid === 42);
        deepStrictEqual(
          schedules.map((s) => [s.price, s.from.getTime(), s.until?.getTime(), s.source, s.state]),
          [[
            "3.99",
            Math.floor((now + hour) / 1000) * 1000,
            Math.floor((now + 2 * hour) / 1000) * 1000,
            "odoo",
            "scheduled",
          ]],
        );
      });

      await t.step("an idle poll: the products and one read_group of the rules", async () => {
        await puller.incrementalPull();
        const mark = odoo.calls.length;
        await puller.incrementalPull();
        deepStrictEqual(callsSince(odoo, mark), [
          "product.pricelist.item.read_group",
          "product.product.search_read",
        ]);
      });

      await t.step("a rule edited in Odoo reprices at the next poll", async () => {
        odoo.state.write("product.pricelist.item", [variant], { fixed_price: 8.88 });
        await puller.incrementalPull();
        strictEqual((await prices(db, 18)).price, "8.88");
      });

      await t.step("a rule deleted in Odoo: the next one applies", async () => {
        odoo.state.unlink("product.pricelist.item", [variant]);
        await puller.incrementalPull();
        strictEqual((await prices(db, 18)).price, "12.59"); // 15.80 × 0.8 → 12.60 − 0.01
      });

      await t.step("a promotion in force: scheduled now; a store schedule wins", async () => {
        odoo.state.write("product.pricelist.item", [promo], {
          date_start: odooDatetime(now - 60_000),
        });
        await puller.incrementalPull();
        await applySchedules(db, new Date());
        deepStrictEqual(await prices(db, 42), { price: "3.99", regular: "4.09" });
        const local = await createSchedule(db, {
          gid: 42,
          price: "2.50",
          from: new Date(now - 1000),
          until: null,
          by: "test",
          at: new Date(now - 2000), // created before the pricelist's: it still wins
        });
        await applySchedules(db, new Date());
        strictEqual((await prices(db, 42)).price, "2.50");
        await cancelSchedule(db, local!.id, new Date());
        await applySchedules(db, new Date());
        strictEqual((await prices(db, 42)).price, "3.99");
      });

      await t.step("a sale price change in Odoo during it: the regular price moves", async () => {
        odoo.state.write("product.template", [34], { list_price: 6 });
        await puller.incrementalPull();
        deepStrictEqual(await prices(db, 42), { price: "3.99", regular: "4.79" }); // 6 × 0.8 − 0.01
        // Re-read in the window, the unchanged product is not rewritten.
        const before = await db.query("select updated_at from goods where id = 42");
        await puller.incrementalPull();
        deepStrictEqual(await db.query("select updated_at from goods where id = 42"), before);
      });

      await t.step("the pricelist by id, and a pricelist Odoo does not have", async () => {
        const client = standinClient(odoo);
        const byId = await discoverSite(
          client,
          standinSettings(odoo, { pricelist: String(store) }),
        );
        deepStrictEqual(byId.pricelist, { id: store, name: "Store 12", currency: "USD" });
        await rejects(
          () => discoverSite(client, standinSettings(odoo, { pricelist: "Store 99" })),
          /Odoo has no pricelist "Store 99"/,
        );
      });

      await t.step(
        "without the pricelist: a full pull, sale prices, its schedules gone",
        async () => {
          const plain = await standinDelivery(db, odoo);
          ok(await plain.puller.needsFullPull());
          await plain.puller.fullPull();
          ok(!(await plain.puller.needsFullPull()));
          strictEqual((await prices(db, 18)).price, "15.80");
          strictEqual(
            (await listSchedules(db, new Date(), { all: true })).filter((s) => s.source === "odoo")
              .length,
            0,
          );
          await applySchedules(db, new Date());
          deepStrictEqual(await prices(db, 42), { price: "6.00", regular: null });
        },
      );
    } finally {
      await odoo.close();
      await dispose();
    }
  });

  Deno.test(`odoo pricelist: a promotion starts and ends at the till while Odoo is down (${backend.name})`, async () => {
    const odoo = await startOdooStandin({ version: 17 });
    const store = odoo.state.create("product.pricelist", { name: "Store 12", currency_id: 1 });
    const appliance = await startTestAppliance(backend.name, {
      demo: false,
      config: {
        odooUrl: odoo.url,
        odooDb: odoo.db,
        odooUser: odoo.login,
        odooApiKey: odoo.password,
        odooPricelist: "Store 12",
        odooPollS: 0.2,
        odooPageSize: 50,
      },
    });
    try {
      const pos = await appliance.device("POS_0001");
      const priceAtTill = async () => {
        const reply = await pos.request("getGoods", { code: "2300001000008" });
        return (reply.json?.goods as { price: number }[] | undefined)?.[0]?.price;
      };
      await eventually(async () => (await priceAtTill()) === 5.1, "pulled", 20_000);
      // Odoo datetimes are whole seconds: the promotion holds from `start` through `end`.
      const start = Math.ceil((Date.now() + 8_000) / 1000) * 1000;
      const end = start + 4_000;
      addRule(odoo, store, {
        applied_on: "1_product",
        product_tmpl_id: 34,
        fixed_price: 3.33,
        date_start: odooDatetime(start),
        date_end: odooDatetime(end - 1000),
      });
      const scheduled = () =>
        appliance.app.db.query("select 1 from price_schedules where source = 'odoo'");
      await eventually(async () => (await scheduled()).length === 1, "the schedule", 10_000);
      odoo.setDown(true);
      await eventually(() => !appliance.app.odoo!.health().reachable, "Odoo seen down", 10_000);
      ok(Date.now() < start, "the promotion had not started when Odoo went down");
      await eventually(async () => (await priceAtTill()) === 3.33, "the promotion", 15_000);
      ok(Date.now() >= start);
      await eventually(async () => (await priceAtTill()) === 5.1, "its end", 15_000);
      ok(Date.now() >= end);
      ok(appliance.logs.some((l) => l.msg === "scheduled price applied" && l.gid === 42));
    } finally {
      await appliance.stop();
      await odoo.close();
    }
  });
}
