/**
 * What an idle store costs Odoo (issue 27): against the Odoo stand-in, which counts requests and
 * models the SQL statements and request time of each on a live Odoo 17 (`_support/odoo_cost.ts`).
 * An idle poll is one request; at the default settings an idle store stays within 6 requests and
 * 0.1 s of Odoo time a minute; the poll it replaced (five reads every 5 s) costs what the issue
 * measured on a live Odoo 17. And the new poll misses nothing: stock of the served warehouse only,
 * a quant Odoo deleted after its move, a price changed while the loop runs (the next poll has it).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { type OdooStandin, startOdooStandin } from "./_support/odoo_standin.ts";
import { standinDelivery, standinSettings } from "./_support/odoo.ts";
import { eventually } from "./_support/eventually.ts";
import { COST_MODEL } from "./_support/odoo_cost.ts";
import type { Database } from "../src/store/database.ts";
import { defaultConfig } from "../src/config/config.ts";
import { createMemoryLogger } from "../src/log.ts";
import { systemClock } from "../src/clock.ts";
import { compilePricelists } from "../src/pricing/pricelist.ts";
import { reconcileIds } from "../src/upstream/odoo/reconcile.ts";
import { OdooConnector, POLL_JITTER, pollDelayMs } from "../src/upstream/odoo/connector.ts";
import { goodsById } from "../src/store/goods.ts";
import { odooDatetime } from "../src/upstream/odoo/jsonrpc.ts";

const backend = backends()[0]; // request counts are Odoo's, not the store's

async function stockOf(db: Database, goodsId: number) {
  const rows = await db.query<{ q: string }>(
    "select quantity::text as q from stock where warehouse_id = 1 and goods_id = $1",
    [goodsId],
  );
  return rows[0]?.q;
}

/** The calls made from `mark` on, as `model.method`. */
function callsSince(odoo: OdooStandin, mark: number): string[] {
  return odoo.calls.slice(mark).map((c) =>
    c.model ? `${c.model}.${c.modelMethod}` : `${c.service}.${c.method}`
  );
}

Deno.test("pollDelayMs: within POLL_JITTER of odooPollS, on average odooPollS", () => {
  strictEqual(pollDelayMs(10_000, 0), 10_000 * (1 - POLL_JITTER));
  strictEqual(pollDelayMs(10_000, 0.5), 10_000);
  ok(pollDelayMs(10_000, 0.999999) <= 10_000 * (1 + POLL_JITTER));
  let sum = 0;
  for (let i = 0; i < 1000; i++) sum += pollDelayMs(10_000, (i + 0.5) / 1000);
  strictEqual(Math.round(sum / 1000), 10_000);
});

Deno.test(`odoo idle cost: one request a poll, within budget (${backend.name})`, async (t) => {
  const { db, dispose } = await backend.open({ demo: false });
  const odoo = await startOdooStandin({ version: 17 });
  try {
    const { puller, client, log } = await standinDelivery(db, odoo);
    await puller.fullPull();

    let poll = odoo.load();
    await t.step("an idle poll is one product.product search_read", async () => {
      const mark = odoo.calls.length;
      const stats = await puller.incrementalPull();
      strictEqual(stats.products, 0);
      deepStrictEqual(callsSince(odoo, mark), ["product.product.search_read"]);
      poll = odoo.load(mark);
      strictEqual(poll.requests, 1);
    });

    await t.step(
      "at the default settings an idle store costs at most 6 requests and 0.1 s a minute",
      async () => {
        const defaults = defaultConfig();
        const mark = odoo.calls.length;
        await reconcileIds({ clock: systemClock, db, odoo: client, log, puller });
        const comparison = odoo.load(mark);
        const pollsPerMinute = 60 / defaults.odooPollS;
        const comparisonsPerMinute = 60 / defaults.odooFullPassS;
        const perMinute = {
          requests: pollsPerMinute * poll.requests + comparisonsPerMinute * comparison.requests,
          queries: pollsPerMinute * poll.queries + comparisonsPerMinute * comparison.queries,
          ms: pollsPerMinute * poll.ms + comparisonsPerMinute * comparison.ms,
        };
        ok(perMinute.requests <= 6, JSON.stringify(perMinute));
        ok(perMinute.ms <= 100, JSON.stringify(perMinute));
      },
    );

    await t.step(
      "the poll it replaced (five reads every 5 s) costs what a live Odoo 17 measured",
      async () => {
        // The incremental pull before issue 27, request for request, on an idle window.
        const since = odooDatetime(Date.now());
        const mark = odoo.calls.length;
        const noCompany = { active_test: false };
        await client.executeKw("product.product", "search_read", [[["write_date", ">", since]]], {
          fields: ["id", "lst_price"],
          order: "id",
          limit: 500,
          context: { warehouse: 1, active_test: false },
        });
        for (const model of ["product.template", "product.template.attribute.value"]) {
          await client.executeKw(model, "search_read", [[["write_date", ">", since]]], {
            fields: ["id"],
            context: noCompany,
          });
        }
        await client.executeKw("stock.quant", "search_read", [[
          ["write_date", ">", since],
          ["location_id", "child_of", 7],
        ]], { fields: ["product_id"] });
        await client.executeKw("stock.move", "search_read", [[
          ["write_date", ">", since],
          ["state", "=", "done"],
          "|",
          ["location_id", "child_of", 7],
          ["location_dest_id", "child_of", 7],
        ]], { fields: ["product_id"] });
        const old = odoo.load(mark);
        strictEqual(old.requests, 5);
        // Issue 27, live Odoo 17, default odooPollS 5: 60 requests, 288 queries, 1.09 s a minute.
        strictEqual(old.queries * 12, 288);
        strictEqual(Math.round(old.ms * 12 / 10) / 100, 1.08);
        // The same model for the new poll (the numbers docs/odoo.md reports).
        strictEqual(poll.queries, COST_MODEL.baseQueries + 2);
        ok(old.ms / poll.ms > 4.5, `${old.ms} / ${poll.ms}`);
      },
    );
  } finally {
    await odoo.close();
    await dispose();
  }
});

Deno.test(`odoo polls miss nothing in one request (${backend.name})`, async (t) => {
  const { db, dispose } = await backend.open({ demo: false });
  const odoo = await startOdooStandin({ version: 17 });
  try {
    const { puller } = await standinDelivery(db, odoo);
    await puller.fullPull();
    await puller.incrementalPull();

    await t.step("stock moved in another warehouse reads nothing", async () => {
      // Product 17 holds 200 in CHIC1 (company 2's warehouse).
      const quant = odoo.state.all("stock.quant").find((q) =>
        q.product_id === 17 && q.location_id === 28
      )!;
      odoo.state.write("stock.quant", [quant.id], { quantity: 150 });
      const mark = odoo.calls.length;
      strictEqual((await puller.incrementalPull()).products, 0);
      deepStrictEqual(callsSince(odoo, mark), ["product.product.search_read"]);
      strictEqual(await stockOf(db, 17), "500.000");
    });

    await t.step(
      "stock changed in the served warehouse: the product, read in the poll",
      async () => {
        odoo.state.setOnHand(18, 41);
        const mark = odoo.calls.length;
        const stats = await puller.incrementalPull();
        strictEqual(stats.stockChanged, 1);
        deepStrictEqual(callsSince(odoo, mark), ["product.product.search_read"]);
        strictEqual(await stockOf(db, 18), "41.000");
      },
    );

    await t.step(
      "a quant emptied and deleted by Odoo's clean-up: its done move still tells",
      async () => {
        // A delivery of all of product 17's stock in WH/Stock, done, then the empty quant
        // removed (Odoo's _quant_tasks): no quant of the product there shows a write_date.
        const quant = odoo.state.all("stock.quant").find((q) =>
          q.product_id === 17 && q.location_id === 8
        )!;
        odoo.state.create("stock.move", {
          name: "sold out",
          product_id: 17,
          product_uom_qty: quant.quantity,
          product_uom: 1,
          location_id: 8,
          location_dest_id: 5,
          state: "done",
        });
        odoo.state.unlink("stock.quant", [quant.id]);
        const mark = odoo.calls.length;
        await puller.incrementalPull();
        deepStrictEqual(callsSince(odoo, mark), ["product.product.search_read"]);
        strictEqual(await stockOf(db, 17), "0.000");
      },
    );

    await t.step("a variant's attribute extra price, in the same one request", async () => {
      const desk = odoo.state.get("product.product", 12)!;
      const value = odoo.state.create("product.template.attribute.value", {
        name: "Oak",
        product_tmpl_id: desk.product_tmpl_id,
        price_extra: 0,
      });
      const link = odoo.state.begin({ agoMs: 3_600_000 });
      link.write("product.product", [12], { product_template_attribute_value_ids: [value] });
      link.commit();
      const price = Number((await goodsById(db, [12]))[0].price);
      odoo.state.write("product.template.attribute.value", [value], { price_extra: 10 });
      const mark = odoo.calls.length;
      await puller.incrementalPull();
      deepStrictEqual(callsSince(odoo, mark), ["product.product.search_read"]);
      strictEqual((await goodsById(db, [12]))[0].price, (price + 10).toFixed(2));
    });
  } finally {
    await odoo.close();
    await dispose();
  }
});

for (const version of [16, 18] as const) {
  Deno.test(`odoo ${version}: idle poll requests, and a template price found`, async () => {
    const { db, dispose } = await backend.open({ demo: false });
    const odoo = await startOdooStandin({ version });
    try {
      const { puller } = await standinDelivery(db, odoo);
      await puller.fullPull();
      await puller.incrementalPull();
      const mark = odoo.calls.length;
      await puller.incrementalPull();
      // 16 has no `any` operator: stock is asked apart.
      deepStrictEqual(
        callsSince(odoo, mark),
        version === 16
          ? ["product.product.search_read", "stock.quant.search_read", "stock.move.search_read"]
          : ["product.product.search_read"],
      );
      odoo.state.write("product.template", [34], { list_price: 6.35 });
      await puller.incrementalPull();
      strictEqual((await goodsById(db, [42]))[0].price, "6.35");
    } finally {
      await odoo.close();
      await dispose();
    }
  });
}

Deno.test(`odoo connector loop: idle polls, and a price at the next poll (${backend.name})`, async () => {
  const { db, dispose } = await backend.open({ demo: false });
  const odoo = await startOdooStandin({ version: 17 });
  const log = createMemoryLogger("info");
  const connector = await OdooConnector.start({
    db,
    settings: standinSettings(odoo, { pollMs: 100 }),
    log,
    shopId: "shop0001",
    clock: systemClock,
    random: Math.random,
    compilePricelists,
  });
  try {
    const polls = () =>
      odoo.calls.filter((c) => c.model === "product.product" && c.modelMethod === "search_read")
        .length;
    await eventually(() => connector.health().lastPull?.kind === "full", "the first pull");
    const mark = odoo.calls.length;
    const start = polls();
    await eventually(() => polls() >= start + 5, "five polls");
    const idle = callsSince(odoo, mark).filter((c) => c !== "product.product.search_read");
    deepStrictEqual(idle, []);

    odoo.state.write("product.template", [34], { list_price: 7.25 });
    const written = polls();
    await eventually(async () => (await goodsById(db, [42]))[0].price === "7.25", "the price");
    // The poll in flight when Odoo wrote may have missed it; the one after cannot.
    ok(polls() - written <= 2, `${polls() - written} polls`);
  } finally {
    await connector.stop();
    await odoo.close();
    await dispose();
  }
});

Deno.test(`odoo pricelist store: two requests a poll, one with the add-on (${backend.name})`, async (t) => {
  const { db, dispose } = await backend.open({ demo: false });
  const plain = await startOdooStandin({ version: 17 });
  const withAddon = await startOdooStandin({ version: 17, syncAddon: true });
  try {
    const setUp = (odoo: OdooStandin) => {
      const store = odoo.state.create("product.pricelist", { name: "Store 12", currency_id: 1 });
      // Rules made an hour ago: outside every poll's window.
      const tx = odoo.state.begin({ agoMs: 3_600_000 });
      tx.create("product.pricelist.item", {
        pricelist_id: store,
        compute_price: "percentage",
        percent_price: 10,
      });
      tx.create("product.pricelist.item", {
        pricelist_id: store,
        applied_on: "0_product_variant",
        product_id: 18,
        fixed_price: 9.99,
      });
      tx.commit();
      return odoo.state.all("product.pricelist.item").at(-1)!.id;
    };
    const defaults = defaultConfig();
    const perMinute = (poll: { requests: number; ms: number }) => ({
      requests: poll.requests * 60 / defaults.odooPollS,
      ms: poll.ms * 60 / defaults.odooPollS,
    });

    await t.step("without the add-on: the products and the rules' read_group", async () => {
      setUp(plain);
      const { puller, site } = await standinDelivery(db, plain, { pricelist: "Store 12" });
      strictEqual(site.syncAddon, false);
      await puller.fullPull();
      await puller.incrementalPull();
      const mark = plain.calls.length;
      await puller.incrementalPull();
      deepStrictEqual(callsSince(plain, mark), [
        "product.pricelist.item.read_group",
        "product.product.search_read",
      ]);
      strictEqual(perMinute(plain.load(mark)).requests, 10);
    });

    const rule = setUp(withAddon);
    const { puller, site } = await standinDelivery(db, withAddon, { pricelist: "Store 12" });
    await t.step("with the add-on: one request, within the budget", async () => {
      strictEqual(site.syncAddon, true);
      await puller.fullPull();
      await puller.incrementalPull();
      const mark = withAddon.calls.length;
      await puller.incrementalPull();
      deepStrictEqual(callsSince(withAddon, mark), ["newretail.sync.poll"]);
      const cost = perMinute(withAddon.load(mark));
      ok(cost.requests <= 6 && cost.ms <= 100, JSON.stringify(cost));
    });

    await t.step("with the add-on: a rule edited, a price changed, a rule deleted", async () => {
      strictEqual((await goodsById(db, [18]))[0].price, "9.99");
      withAddon.state.write("product.pricelist.item", [rule], { fixed_price: 8.88 });
      await puller.incrementalPull();
      strictEqual((await goodsById(db, [18]))[0].price, "8.88");
      withAddon.state.write("product.template", [34], { list_price: 6 });
      await puller.incrementalPull();
      strictEqual((await goodsById(db, [42]))[0].price, "5.40");
      withAddon.state.unlink("product.pricelist.item", [rule]);
      await puller.incrementalPull();
      strictEqual((await goodsById(db, [18]))[0].price, "14.22"); // 15.80 − 10 %
    });
  } finally {
    await plain.close();
    await withAddon.close();
    await dispose();
  }
});
