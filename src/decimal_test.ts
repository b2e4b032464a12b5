import assert from "node:assert/strict";
import {
  compareDecimal,
  DecimalError,
  decimalText,
  fromScaled,
  roundScaled,
  scaleOf,
  toScaled,
  trimZeros,
} from "./decimal.ts";

Deno.test("decimalText keeps the literal a device wrote", () => {
  assert.equal(decimalText(0.1), "0.1");
  assert.equal(decimalText(5.24), "5.24");
  assert.equal(decimalText(" 3.50 "), "3.50");
  assert.equal(decimalText(12), "12");
  assert.equal(decimalText(NaN), undefined);
  assert.equal(decimalText(Infinity), undefined);
  assert.equal(decimalText("1,5"), undefined);
  assert.equal(decimalText(true), undefined);
});

Deno.test("decimalText writes an exponent out, so the caller can say what is wrong", () => {
  assert.equal(decimalText(1e21), "1" + "0".repeat(21));
  assert.equal(decimalText(1e300)?.length, 301);
  assert.equal(decimalText(1e-7), "0.0000001");
  assert.equal(decimalText(-1.5e-7), "-0.00000015");
  assert.equal(decimalText("2.5E3"), "2500");
  assert.equal(decimalText("0.5e1"), "5");
  assert.equal(decimalText("1.25e1"), "12.5");
  assert.equal(decimalText("1e+2"), "100");
  assert.equal(decimalText("1e999"), undefined);
  assert.equal(decimalText("1e"), undefined);
});

Deno.test("toScaled and fromScaled are exact", () => {
  assert.equal(toScaled("0.1", 2) + toScaled("0.2", 2), 30n);
  assert.equal(fromScaled(toScaled("0.1", 2) + toScaled("0.2", 2), 2), "0.30");
  assert.equal(toScaled("1.500", 2), 150n);
  assert.equal(toScaled("-2", 3), -2000n);
  assert.equal(fromScaled(5n, 2), "0.05");
  assert.equal(fromScaled(-5n, 2), "-0.05");
  assert.equal(fromScaled(7n, 0), "7");
  assert.throws(() => toScaled("1.234", 2), DecimalError);
  assert.throws(() => toScaled("abc", 2), DecimalError);
});

Deno.test("roundScaled rounds half away from zero", () => {
  // 12.80 per kg × 1.235 kg = 15.808 → 15.81
  assert.equal(roundScaled(toScaled("12.80", 2) * toScaled("1.235", 3), 3), 1581n);
  assert.equal(roundScaled(125n, 1), 13n);
  assert.equal(roundScaled(-125n, 1), -13n);
  assert.equal(roundScaled(124n, 1), 12n);
});

Deno.test("trimZeros", () => {
  assert.equal(trimZeros("12.000"), "12");
  assert.equal(trimZeros("1.250"), "1.25");
  assert.equal(trimZeros("100"), "100");
  assert.equal(trimZeros("0.000"), "0");
});

Deno.test("compareDecimal compares exactly whatever the places written", () => {
  assert.equal(compareDecimal("5.240", "5.24"), 0);
  assert.equal(compareDecimal("5.241", "5.24"), 1);
  assert.equal(compareDecimal("-1", "0.001"), -1);
  assert.equal(scaleOf("5.240"), 3);
  assert.equal(scaleOf("12"), 0);
});
