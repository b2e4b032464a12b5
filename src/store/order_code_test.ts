import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { newOrderCode, ORDER_CODE_DIGITS } from "./order_code.ts";

Deno.test("order codes: 15 digits, no leading zero, exact as a JSON number", () => {
  for (let i = 0; i < 1000; i++) {
    const code = newOrderCode();
    assert(/^[1-9]\d{14}$/.test(code), code);
    assertEquals(String(JSON.parse(code)), code);
  }
});

Deno.test("order codes: consecutive codes are not neighbours, and digits are spread evenly", () => {
  const codes = Array.from({ length: 2000 }, () => newOrderCode());
  assertEquals(new Set(codes).size, codes.length);
  // A sequential code (time + counter) has consecutive codes a few units apart.
  const close = codes.slice(1).filter((c, i) => Math.abs(Number(c) - Number(codes[i])) < 1e9);
  assert(close.length < 10, `${close.length} consecutive codes within 10^9 of each other`);
  const counts = new Array(10).fill(0);
  for (const c of codes) for (const d of c.slice(1)) counts[Number(d)]++;
  const expected = (codes.length * (ORDER_CODE_DIGITS - 1)) / 10;
  for (const n of counts) assert(Math.abs(n - expected) < expected * 0.1, `digit counts ${counts}`);
});

Deno.test("order codes: a zero first digit and biased words are drawn again", () => {
  const words = [0, 4294967295, 13, ...Array(40).fill(7)];
  let at = 0;
  const code = newOrderCode((buffer) => {
    for (let i = 0; i < buffer.length; i++) buffer[i] = words[at++ % words.length];
    return buffer;
  });
  assertEquals(code, "3" + "7".repeat(14));
});
