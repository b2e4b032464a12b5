import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { Pricelists } from "./pricelist.ts";
import {
  type PricedProduct,
  type PricelistBook,
  pricelistClosure,
  type PricelistRule,
} from "../upstream/odoo/pricelist_rules.ts";

/** A rule with Odoo's defaults (global, fixed 0, list price, no dates). */
function rule(id: number, fields: Partial<PricelistRule> = {}): PricelistRule {
  return {
    id,
    pricelistId: 1,
    appliedOn: "3_global",
    categoryId: null,
    templateId: null,
    productId: null,
    minQuantity: "0",
    dateStart: null,
    dateEnd: null,
    computePrice: "fixed",
    base: "list_price",
    basePricelistId: null,
    fixedPrice: "0",
    percentPrice: "0",
    priceDiscount: "0",
    priceSurcharge: "0",
    priceRound: "0",
    priceMinMargin: "0",
    priceMaxMargin: "0",
    ...fields,
  };
}

// Odoo's demo: variant 42 "Desk Organizer" (template 34) in category 8, under 2 under 1.
const desk: PricedProduct = {
  id: 42,
  templateId: 34,
  categories: [8, 2, 1],
  listPrice: "5.1",
  cost: "4.5",
};

function book(...rules: PricelistRule[]): PricelistBook {
  const byList = new Map<number, PricelistRule[]>();
  for (const r of rules) byList.set(r.pricelistId, [...(byList.get(r.pricelistId) ?? []), r]);
  return byList;
}

const NOW = Date.parse("2026-12-20T10:00:00Z");
const price = (b: PricelistBook, p = desk, at = NOW) => new Pricelists(b).price(1, p, at);
const pricePeriods = (b: PricelistBook, id: number, p: PricedProduct, now: number) =>
  new Pricelists(b).periods(id, p, now);

Deno.test("pricelist: no rule, the sale price", () => {
  deepStrictEqual(price(book()), { price: "5.10", ruleId: null });
});

Deno.test("pricelist: fixed, percentage and formula, exactly", () => {
  strictEqual(price(book(rule(1, { fixedPrice: "3.99" }))).price, "3.99");
  // 5.10 − 15 %: 4.335, half away from zero (a float would give 4.334999…).
  strictEqual(
    price(book(rule(1, { computePrice: "percentage", percentPrice: "15" }))).price,
    "4.34",
  );
  // A negative percentage is a mark-up.
  strictEqual(
    price(book(rule(1, { computePrice: "percentage", percentPrice: "-10" }))).price,
    "5.61",
  );
  const formula = (f: Partial<PricelistRule>) =>
    price(book(rule(1, { computePrice: "formula", ...f }))).price;
  strictEqual(formula({ priceDiscount: "10" }), "4.59");
  strictEqual(formula({ priceSurcharge: "-0.5" }), "4.60");
  // "Prices that end in .99": round to 1, then −0.01.
  strictEqual(formula({ priceDiscount: "10", priceRound: "1", priceSurcharge: "-0.01" }), "4.99");
  // Rounding to 0.05, ties away from zero: 5.10 × 0.95 = 4.845 → 4.85.
  strictEqual(formula({ priceDiscount: "5", priceRound: "0.05" }), "4.85");
  // Margins hold the result within base + min and base + max.
  strictEqual(formula({ priceDiscount: "50", priceMinMargin: "-1" }), "4.10");
  strictEqual(formula({ priceSurcharge: "3", priceMaxMargin: "2" }), "7.10");
  strictEqual(formula({ priceDiscount: "200" }), "0.00"); // never below nothing
});

Deno.test("pricelist: based on the cost, or on another pricelist", () => {
  strictEqual(
    price(book(rule(1, { computePrice: "formula", base: "standard_price", priceDiscount: "-20" })))
      .price,
    "5.40",
  );
  const other = rule(9, { pricelistId: 2, computePrice: "percentage", percentPrice: "10" });
  const chained = rule(1, {
    computePrice: "formula",
    base: "pricelist",
    basePricelistId: 2,
    priceSurcharge: "-0.1",
  });
  // 5.10 − 10 % = 4.59 in pricelist 2, then −0.10.
  strictEqual(price(book(chained, other)).price, "4.49");
  deepStrictEqual(pricelistClosure(book(chained, other), 1), [1, 2]);
  // Based on "another pricelist" that names none: the sale price.
  strictEqual(
    price(book(rule(1, { computePrice: "formula", base: "pricelist", priceDiscount: "10" })))
      .price,
    "4.59",
  );
  // A loop through two pricelists ends (Odoo would recurse forever).
  const loopA = rule(1, { computePrice: "formula", base: "pricelist", basePricelistId: 2 });
  const loopB = rule(2, {
    pricelistId: 2,
    computePrice: "formula",
    base: "pricelist",
    basePricelistId: 1,
  });
  strictEqual(price(book(loopA, loopB)).price, "5.10");
});

Deno.test("pricelist: the first rule in Odoo's order wins", () => {
  const variant = rule(10, { appliedOn: "0_product_variant", productId: 42, fixedPrice: "1" });
  const template = rule(11, { appliedOn: "1_product", templateId: 34, fixedPrice: "2" });
  const leafCategory = rule(12, {
    appliedOn: "2_product_category",
    categoryId: 8,
    fixedPrice: "3",
  });
  const rootCategory = rule(13, {
    appliedOn: "2_product_category",
    categoryId: 1,
    fixedPrice: "4",
  });
  const everything = rule(14, { fixedPrice: "5" });
  const all = [everything, rootCategory, leafCategory, template, variant];
  deepStrictEqual(new Pricelists(book(...all)).rulesFor(1, desk).map((r) => r.id), [
    10,
    11,
    12,
    13,
    14,
  ]);
  strictEqual(price(book(...all)).price, "1.00");
  strictEqual(price(book(everything, rootCategory, leafCategory, template)).price, "2.00");
  // Deepest category first, whatever the ids.
  strictEqual(price(book(everything, rootCategory, leafCategory)).price, "3.00");
  // Among equals, the newest (highest id) first.
  strictEqual(
    price(book(rule(20, { fixedPrice: "7" }), rule(21, { fixedPrice: "8" }))).price,
    "8.00",
  );
  // min_quantity descending comes before the category: a root rule for 1 beats a leaf rule for 0.
  const rootForOne = rule(15, {
    appliedOn: "2_product_category",
    categoryId: 1,
    minQuantity: "1",
    fixedPrice: "6",
  });
  strictEqual(price(book(leafCategory, rootForOne)).price, "6.00");
});

Deno.test("pricelist: rules that do not apply to one unit of this product", () => {
  // A quantity break (from 5 units) never prices the shelf.
  strictEqual(price(book(rule(1, { minQuantity: "5", fixedPrice: "1" }))).price, "5.10");
  // Another variant, template or category.
  const others = book(
    rule(1, { appliedOn: "0_product_variant", productId: 43, fixedPrice: "1" }),
    rule(2, { appliedOn: "1_product", templateId: 35, fixedPrice: "1" }),
    rule(3, { appliedOn: "2_product_category", categoryId: 9, fixedPrice: "1" }),
  );
  strictEqual(price(others).price, "5.10");
  // A product without a category: category rules pass it by.
  const bare = { ...desk, categories: [] };
  strictEqual(
    price(book(rule(1, { appliedOn: "2_product_category", categoryId: 8, fixedPrice: "1" })), bare)
      .price,
    "5.10",
  );
});

Deno.test("pricelist: dates hold to the second, both ends included", () => {
  const start = Date.parse("2026-12-24T00:00:00Z");
  const end = Date.parse("2026-12-26T23:59:59Z");
  const promo = book(rule(1, { dateStart: start, dateEnd: end, fixedPrice: "3.99" }));
  strictEqual(price(promo, desk, start - 1).price, "5.10");
  strictEqual(price(promo, desk, start).price, "3.99");
  strictEqual(price(promo, desk, end + 999).price, "3.99");
  strictEqual(price(promo, desk, end + 1000).price, "5.10");
});

Deno.test("pricelist periods: a promotion becomes a span; past ones go", () => {
  const start = Date.parse("2026-12-24T00:00:00Z");
  const end = Date.parse("2026-12-26T23:59:59Z");
  const promo = book(
    rule(1, { computePrice: "percentage", percentPrice: "10" }),
    rule(2, {
      appliedOn: "1_product",
      templateId: 34,
      dateStart: start,
      dateEnd: end,
      fixedPrice: "3.99",
    }),
  );
  deepStrictEqual(pricePeriods(promo, 1, desk, NOW), {
    regular: "4.59",
    periods: [{ from: start, until: end + 1000, price: "3.99" }],
  });
  // During it: the span keeps its start.
  deepStrictEqual(pricePeriods(promo, 1, desk, start + 3600_000).periods, [
    { from: start, until: end + 1000, price: "3.99" },
  ]);
  // After it: nothing left to schedule.
  deepStrictEqual(pricePeriods(promo, 1, desk, end + 1000).periods, []);
});

Deno.test("pricelist periods: open ends, overlaps and shadowed rules", () => {
  const d = (day: number) => Date.parse(`2026-12-${day}T00:00:00Z`);
  // Until a date (no start): in force now, from "always".
  deepStrictEqual(
    pricePeriods(book(rule(1, { dateEnd: d(22) - 1000, fixedPrice: "2" })), 1, desk, NOW).periods,
    [{ from: null, until: d(22), price: "2.00" }],
  );
  // From a date (no end): for good.
  deepStrictEqual(
    pricePeriods(book(rule(1, { dateStart: d(22), fixedPrice: "2" })), 1, desk, NOW).periods,
    [{ from: d(22), until: null, price: "2.00" }],
  );
  // Two overlapping promotions: the variant one wins where both hold; merged where equal.
  const overlap = book(
    rule(1, { dateStart: d(22), dateEnd: d(28) - 1000, fixedPrice: "4" }),
    rule(2, {
      appliedOn: "0_product_variant",
      productId: 42,
      dateStart: d(24),
      dateEnd: d(26) - 1000,
      fixedPrice: "3",
    }),
  );
  deepStrictEqual(pricePeriods(overlap, 1, desk, NOW).periods, [
    { from: d(22), until: d(24), price: "4.00" },
    { from: d(24), until: d(26), price: "3.00" },
    { from: d(26), until: d(28), price: "4.00" },
  ]);
  // A dated global rule under an undated variant rule never shows: no span.
  const shadowed = book(
    rule(1, { appliedOn: "0_product_variant", productId: 42, fixedPrice: "4" }),
    rule(2, { dateStart: d(22), dateEnd: d(28), fixedPrice: "1" }),
  );
  deepStrictEqual(pricePeriods(shadowed, 1, desk, NOW), { regular: "4.00", periods: [] });
  // A dated rule of the pricelist a rule is based on moves the price too.
  const based = book(
    rule(1, {
      computePrice: "formula",
      base: "pricelist",
      basePricelistId: 2,
      priceSurcharge: "1",
    }),
    rule(5, { pricelistId: 2, dateStart: d(24), dateEnd: d(25) - 1000, fixedPrice: "2" }),
  );
  deepStrictEqual(pricePeriods(based, 1, desk, NOW), {
    regular: "6.10",
    periods: [{ from: d(24), until: d(25), price: "3.00" }],
  });
});
