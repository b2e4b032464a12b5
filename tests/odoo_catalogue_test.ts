/**
 * The catalogue pull against the Odoo stand-in (seeded from the recorded Odoo 17 exchanges), on
 * every database backend: full pull in pages, a template price change reaching the local goods,
 * archived and deleted products leaving device answers, stock per warehouse, field mappings, and
 * the Odoo 16 and 18 differences.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { startOdooStandin } from "./_support/odoo_standin.ts";
import { standinClient, standinSettings } from "./_support/odoo.ts";
import type { Database } from "../src/store/database.ts";
import { createMemoryLogger } from "../src/log.ts";
import { discoverSite } from "../src/upstream/odoo/site.ts";
import { CataloguePuller } from "../src/upstream/odoo/catalogue.ts";
import type { OdooSettings } from "../src/upstream/odoo/settings.ts";
import { goodsByBarcodes, goodsById, warehouseGoods } from "../src/store/goods.ts";
import type { OdooStandin } from "./_support/odoo_standin.ts";
import { systemClock } from "../src/clock.ts";

async function connect(db: Database, odoo: OdooStandin, overrides: Partial<OdooSettings> = {}) {
  const settings = standinSettings(odoo, overrides);
  const client = standinClient(odoo, overrides);
  const log = createMemoryLogger("info");
  const site = await discoverSite(client, settings);
  return {
    puller: new CataloguePuller({ clock: systemClock, db, odoo: client, site, settings, log }),
    log,
    site,
  };
}

async function stockOf(db: Database, warehouseId: number, goodsId: number) {
  const rows = await db.query<{ quantity: string }>(
    "select quantity::text as quantity from stock where warehouse_id = $1 and goods_id = $2",
    [warehouseId, goodsId],
  );
  return rows[0]?.quantity;
}

for (const backend of backends()) {
  Deno.test(`odoo catalogue pull (${backend.name})`, async (t) => {
    const { db, dispose } = await backend.open({ demo: true });
    const odoo = await startOdooStandin({ version: 17, customProductFields: { x_origin: "char" } });
    try {
      await t.step(
        "full pull in pages: Odoo ids, names, prices, stock of the served warehouse",
        async () => {
          const { puller, log } = await connect(db, odoo);
          const progress: number[] = [];
          const stats = await puller.fullPull((p) => progress.push(p.done));
          strictEqual(stats.products, 36);
          deepStrictEqual(progress, [10, 20, 30, 36]);
          const [organizer] = await goodsById(db, [42]);
          strictEqual(organizer.name, "Desk Organizer");
          strictEqual(organizer.barcode, "2300001000008");
          strictEqual(organizer.price, "5.10"); // Odoo sent 5.1000000000000005
          strictEqual(organizer.pcname, "Office Furniture");
          strictEqual(organizer.stock, "9.000");
          const [desk] = await goodsById(db, [12]);
          strictEqual(desk.name, "Customizable Desk (Steel, White)");
          // Product 17: 500 in WH, 200 in CHIC1; only the served warehouse (WH) counts.
          strictEqual(await stockOf(db, 1, 17), "500.000");
          const weighed = await db.query<{ weighed: boolean; unit: string }>(
            "select weighed, unit from goods where id = 42",
          );
          deepStrictEqual(weighed[0], { weighed: true, unit: "Units" });
          const wh = await db.query("select id, code, name from warehouses order by id");
          deepStrictEqual(wh.filter((w) => w.code === "WH" || w.code === "CHIC1").length, 2);
          ok(log.lines.some((l) => l.msg === "odoo full pull done"));
        },
      );

      await t.step("demo goods that Odoo does not have are no longer served", async () => {
        const demo = await goodsByBarcodes(db, ["690123450001" + "0"]);
        strictEqual(demo.length, 0);
        const active = await db.query<{ n: number }>(
          "select count(*)::int as n from goods where active",
        );
        strictEqual(active[0].n, 36);
      });

      await t.step("a second full pull changes nothing", async () => {
        const { puller } = await connect(db, odoo);
        const stats = await puller.fullPull();
        strictEqual(stats.goodsChanged, 0);
        strictEqual(stats.stockChanged, 0);
        strictEqual(stats.goodsDeactivated, 0);
      });

      await t.step(
        "a price change on the template reaches the goods by the incremental pull",
        async () => {
          const before = await db.query<{ updated_at: Date }>(
            "select updated_at from goods where id = 5",
          );
          odoo.state.write("product.template", [34], { list_price: 6.35 });
          const { puller } = await connect(db, odoo);
          const stats = await puller.incrementalPull();
          strictEqual(stats.goodsChanged, 1);
          strictEqual((await goodsById(db, [42]))[0].price, "6.35");
          const after = await db.query<{ updated_at: Date }>(
            "select updated_at from goods where id = 5",
          );
          deepStrictEqual(after, before); // untouched rows are not rewritten
          // The same window read again (overlap) changes nothing.
          strictEqual((await puller.incrementalPull()).goodsChanged, 0);
        },
      );

      await t.step("an archived product disappears from device answers", async () => {
        odoo.state.write("product.product", [42], { active: false });
        const { puller } = await connect(db, odoo);
        await puller.incrementalPull();
        deepStrictEqual(await goodsById(db, [42]), []);
        deepStrictEqual(await goodsByBarcodes(db, ["2300001000008"]), []);
        odoo.state.write("product.product", [42], { active: true });
        await puller.incrementalPull();
        strictEqual((await goodsById(db, [42])).length, 1);
      });

      await t.step("a deleted product is caught by the full pass", async () => {
        odoo.state.unlink("product.product", [7]);
        const { puller } = await connect(db, odoo);
        strictEqual((await puller.incrementalPull()).goodsDeactivated, 0);
        strictEqual((await goodsById(db, [7])).length, 1);
        const stats = await puller.fullPull();
        strictEqual(stats.goodsDeactivated, 1);
        deepStrictEqual(await goodsById(db, [7]), []);
      });

      await t.step("stock changes in Odoo reach the local store (stock.quant)", async () => {
        odoo.state.setOnHand(18, 40);
        const { puller } = await connect(db, odoo);
        const stats = await puller.incrementalPull();
        strictEqual(stats.stockChanged, 1);
        strictEqual(await stockOf(db, 1, 18), "40.000");
        const inWarehouse = await warehouseGoods(db, 1, 0, null);
        ok(inWarehouse.some((g) => g.gid === 18 && g.stock === "40.000"));
      });

      await t.step("a new product in Odoo appears with its Odoo id", async () => {
        const id = odoo.state.createProduct({
          name: "红富士苹果",
          list_price: 12.8,
          barcode: "6901234567892",
        });
        const { puller } = await connect(db, odoo);
        await puller.incrementalPull();
        const [apple] = await goodsByBarcodes(db, ["6901234567892"]);
        strictEqual(apple.gid, id);
        strictEqual(apple.price, "12.80");
      });

      await t.step("origin stays local unless mapped; mapped, it comes from Odoo", async () => {
        await db.query("update goods set origin = '本地' where id = 8");
        odoo.state.write("product.product", [8], { x_origin: "云南" });
        const unmapped = await connect(db, odoo);
        await unmapped.puller.incrementalPull();
        strictEqual((await goodsById(db, [8]))[0].origin, "本地");
        const mapped = await connect(db, odoo, { originField: "x_origin" });
        await mapped.puller.fullPull();
        strictEqual((await goodsById(db, [8]))[0].origin, "云南");
      });

      await t.step("a mapped field Odoo does not have is a clear error", async () => {
        await connect(db, odoo, { featuresField: "x_no_such_field" }).then(
          () => Promise.reject(new Error("expected an error")),
          (e: Error) => ok(/no field "x_no_such_field"/.test(e.message), e.message),
        );
      });

      await t.step(
        "an Odoo that lists no products deactivates nothing (last: it empties the stand-in)",
        async () => {
          const before = await db.query<{ n: number }>(
            "select count(*)::int as n from goods where active",
          );
          const saved = odoo.state.all("product.product");
          odoo.state.unlink("product.product", saved.map((p) => p.id));
          const { puller, log } = await connect(db, odoo);
          strictEqual((await puller.fullPull()).goodsDeactivated, 0);
          ok(log.lines.some((l) => /lists no products/.test(String(l.msg))));
          const after = await db.query<{ n: number }>(
            "select count(*)::int as n from goods where active",
          );
          strictEqual(after[0].n, before[0].n);
        },
      );
    } finally {
      await odoo.close();
      await dispose();
    }
  });
}

for (const version of [16, 18] as const) {
  Deno.test(`odoo catalogue pull: Odoo ${version} differences`, async () => {
    const backend = backends().at(-1)!; // PGlite: the differences are Odoo's, not the store's
    const { db, dispose } = await backend.open({ demo: false });
    const odoo = await startOdooStandin({ version });
    try {
      const { puller, site } = await connect(db, odoo);
      strictEqual(site.major, version);
      await puller.fullPull();
      // 18 reads the warehouse from the context key warehouse_id, 16 from warehouse.
      strictEqual(await stockOf(db, 1, 17), "500.000");
      odoo.state.write("product.template", [34], { list_price: 6.35 });
      // 16: the variant's write_date did not move; only the template poll finds it.
      const variant = odoo.state.get("product.product", 42)!;
      strictEqual(
        String(variant.write_date) < String(odoo.state.get("product.template", 34)!.write_date),
        version === 16,
      );
      await puller.incrementalPull();
      strictEqual((await goodsById(db, [42]))[0].price, "6.35");
    } finally {
      await odoo.close();
      await dispose();
    }
  });
}
