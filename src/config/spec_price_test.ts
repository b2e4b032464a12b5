import assert from "node:assert/strict";
import { PRICE_KEYS } from "./spec_price.ts";

const parse = PRICE_KEYS.scaleBarcodes.parse;

Deno.test("scaleBarcodes: rules from JSON or text; bad rules refused with the reason", () => {
  const rules = [{ prefix: "28", pluDigits: 4, kind: "weight" }];
  assert.deepEqual(parse(rules), rules);
  assert.deepEqual(parse(JSON.stringify(rules)), rules);
  assert.deepEqual(parse("[]"), []);
  assert.throws(() => parse("not json"), /must be a JSON array of rules/);
  assert.throws(() => parse({ prefix: "21" }), /must be an array of rules/);
  assert.throws(() => parse([{ prefix: 21, pluDigits: 5, kind: "amount" }]), /prefix must be text/);
  assert.throws(() => parse([{ prefix: "21", pluDigits: 5, kind: "count" }]), /kind must be/);
  assert.throws(() => parse([{ prefix: "21", pluDigits: 9, kind: "amount" }]), /value digits/);
  assert.deepEqual(PRICE_KEYS.scaleBarcodes.default.map((r) => r.prefix), ["21", "22"]);
});

Deno.test("priceParity is lowest or current; priceParityMaxS at least a second", () => {
  assert.equal(PRICE_KEYS.priceParity.parse("current"), "current");
  assert.throws(() => PRICE_KEYS.priceParity.parse("max"), /lowest, current/);
  assert.equal(PRICE_KEYS.priceParityMaxS.parse("2"), 2);
  assert.throws(() => PRICE_KEYS.priceParityMaxS.parse("0.5"), />= 1/);
});
