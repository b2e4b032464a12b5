import assert from "node:assert/strict";
import {
  DEFAULT_SCALE_RULES,
  ean13CheckDigit,
  parseScaleBarcode,
  ruleProblem,
  scaleBarcode,
} from "./scale_barcode.ts";

const [AMOUNT, WEIGHT] = DEFAULT_SCALE_RULES;

Deno.test("check digit: a known EAN-13 (4006381333931)", () => {
  assert.deepEqual(ean13CheckDigit("400638133393"), 1);
});

const CASES = [
  {
    name: "prefix 21: PLU and total in fen",
    rule: AMOUNT,
    plu: 1,
    raw: 1280,
    kind: "amount",
    value: "12.80",
    small: { plu: 42, raw: 7, value: "0.07" },
  },
  {
    name: "prefix 22: PLU and weight in grams",
    rule: WEIGHT,
    plu: 12345,
    raw: 1250,
    kind: "weight",
    value: "1.250",
    small: { plu: 1, raw: 5, value: "0.005" },
  },
] as const;

for (const c of CASES) {
  Deno.test(c.name, () => {
    const code = scaleBarcode(c.rule, c.plu, c.raw);
    assert.deepEqual(parseScaleBarcode(code, DEFAULT_SCALE_RULES), {
      code,
      plu: c.plu,
      kind: c.kind,
      value: c.value,
    });
    const small = scaleBarcode(c.rule, c.small.plu, c.small.raw);
    assert.deepEqual(parseScaleBarcode(small, DEFAULT_SCALE_RULES)?.value, c.small.value);
  });
}

Deno.test("prefix 21: the barcode spells prefix, PLU and total", () => {
  assert.deepEqual(scaleBarcode(AMOUNT, 1, 1280).slice(0, 12), "210000101280");
});

Deno.test("a bad check digit, another prefix, a wrong length or letters are no match", () => {
  const code = scaleBarcode(AMOUNT, 1, 1280);
  const bad = code.slice(0, 12) + String((Number(code[12]) + 1) % 10);
  assert.deepEqual(parseScaleBarcode(bad, DEFAULT_SCALE_RULES), undefined);
  assert.deepEqual(parseScaleBarcode("6901234500017", DEFAULT_SCALE_RULES), undefined);
  assert.deepEqual(parseScaleBarcode(code.slice(0, 12), DEFAULT_SCALE_RULES), undefined);
  assert.deepEqual(parseScaleBarcode(code + "0", DEFAULT_SCALE_RULES), undefined);
  assert.deepEqual(parseScaleBarcode("21000010128a2", DEFAULT_SCALE_RULES), undefined);
});

Deno.test("configured rules: a 4-digit PLU leaves 6 value digits", () => {
  const rule = { prefix: "28", pluDigits: 4, kind: "weight" } as const;
  const code = scaleBarcode(rule, 77, 123456);
  assert.deepEqual(parseScaleBarcode(code, [rule])?.value, "123.456");
  assert.deepEqual(parseScaleBarcode(code, [rule])?.plu, 77);
  assert.deepEqual(parseScaleBarcode(code, DEFAULT_SCALE_RULES), undefined);
});

Deno.test("rule problems are named; a value too long for its digits is refused", () => {
  assert.deepEqual(ruleProblem(AMOUNT), undefined);
  assert.deepEqual(
    ruleProblem({ prefix: "2a", pluDigits: 5, kind: "amount" }),
    "prefix must be 1 to 4 digits",
  );
  assert.deepEqual(
    ruleProblem({ prefix: "21", pluDigits: 8, kind: "amount" }),
    "prefix + pluDigits must leave 3 to 7 value digits",
  );
  assert.throws(() => scaleBarcode(AMOUNT, 1, 123456), RangeError);
});
