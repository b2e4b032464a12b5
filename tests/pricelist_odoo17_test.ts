/**
 * The appliance prices as Odoo 17 does: `tests/fixtures/odoo17/08-pricelist.json` holds a store
 * pricelist's rules as a live Odoo 17 answered them (every rule kind, target, base, margin,
 * rounding tie and date case), the products and categories they read, and the prices that Odoo
 * itself computed for one unit of each (sale order lines). The rules and products go through the
 * connector's reading (`toRule`, `categoryChain`) and `Pricelists.price`; every price must be
 * Odoo's, to the cent.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import recorded from "./fixtures/odoo17/08-pricelist.json" with { type: "json" };
import { categoryChain, toRule } from "../src/upstream/odoo/pricelist.ts";
import { odooDecimal } from "../src/upstream/odoo/_values.ts";
import { Pricelists } from "../src/pricing/pricelist.ts";
import type { PricelistRule } from "../src/upstream/odoo/pricelist_rules.ts";

type Rec = Record<string, unknown> & { id: number };
const exchanges = recorded as unknown as {
  description: string;
  request: { params: { args: unknown[] } };
  response: { result: unknown };
}[];

function result(describedAs: string): unknown {
  const ex = exchanges.find((e) => e.description.startsWith(describedAs));
  if (!ex) throw new Error(`no recorded exchange "${describedAs}"`);
  return ex.response.result;
}

Deno.test("pricelist prices equal those a live Odoo 17 computed", () => {
  const rules = (result("the rules of both pricelists") as Rec[]).map(toRule);
  const book = new Map<number, PricelistRule[]>();
  for (const r of rules) book.set(r.pricelistId, [...(book.get(r.pricelistId) ?? []), r]);
  const [order] = result("the order's date") as { date_order: string; pricelist_id: [number] }[];
  const store = order.pricelist_id[0];
  const compiled = new Pricelists(book);
  const at = Date.parse(`${order.date_order.replace(" ", "T")}Z`);
  const parents = new Map(
    (result("every category") as Rec[]).map((
      c,
    ) => [c.id, (c.parent_id as [number] | false) ? (c.parent_id as [number])[0] : null]),
  );
  const products = new Map((result("the products priced") as Rec[]).map((p) => [p.id, p]));
  const lines = result("the prices Odoo computed") as {
    product_id: [number];
    price_unit: number;
  }[];
  ok(lines.length >= 20);
  const ours: Record<number, string> = {};
  const odoos: Record<number, string> = {};
  for (const line of lines) {
    const p = products.get(line.product_id[0])!;
    const product = {
      id: p.id,
      templateId: (p.product_tmpl_id as [number])[0],
      categories: categoryChain((p.categ_id as [number])[0], parents),
      listPrice: odooDecimal(p.lst_price, 12),
      cost: odooDecimal(p.standard_price, 12),
    };
    ours[p.id] = compiled.price(store, product, at).price;
    odoos[p.id] = odooDecimal(line.price_unit, 2);
  }
  deepStrictEqual(ours, odoos);
});
