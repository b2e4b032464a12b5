import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import type { PricedGoods } from "../store/priced_goods.ts";
import {
  embeddedTotal,
  priceLines,
  requestedLines,
  requireChargeableTotal,
  resolveScaleLines,
  totalMatches,
} from "./order_lines.ts";
import { DEFAULT_SCALE_RULES } from "../scale_barcode.ts";
import { payResultBody, printList } from "../payment/print_list.ts";

const CATALOGUE: PricedGoods[] = [
  { id: 1, name: "红富士苹果", price: "12.80", weighed: true },
  { id: 9, name: "农夫山泉 550ml", price: "2.00", weighed: false },
  { id: 10, name: "可口可乐 330ml", price: "3.50", weighed: false },
];

function refused(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (e: unknown) => e instanceof UserError && pattern.test(e.message));
}

Deno.test("requestedLines reads the array form, the old list form and either as JSON text", () => {
  const array = [{ gid: 1, standardPrice: 12.8, weight: 0.41 }, { gid: "9", price: 2, weight: 2 }];
  const expected = [{ gid: 1, quantity: "0.41" }, { gid: 9, quantity: "2" }];
  assert.deepEqual(requestedLines(array, "scale"), expected);
  assert.deepEqual(
    requestedLines({ gid: "1, 9", standardPrice: "12.8,2", weight: "0.41,2" }, "scale"),
    expected,
  );
  assert.deepEqual(requestedLines(JSON.stringify(array), "scale"), expected);
  assert.deepEqual(requestedLines({ gid: [1, 9], weight: [0.41, 2] }, "scale"), expected);
  // A goods id may repeat: two lines, not one.
  assert.equal(requestedLines({ gid: "9,9", qty: "1,1" }, "normal").length, 2);
});

Deno.test("requestedLines: a scale weighs, a POS counts, each takes the other's field if alone", () => {
  assert.deepEqual(requestedLines([{ gid: 1, weight: "0.5", qty: 3 }], "scale"), [
    { gid: 1, quantity: "0.5" },
  ]);
  assert.deepEqual(requestedLines([{ gid: 1, weight: "0.5", qty: 3 }], "normal"), [
    { gid: 1, quantity: "3" },
  ]);
  assert.deepEqual(requestedLines([{ gid: 1, weight: "0.5" }], "normal"), [
    { gid: 1, quantity: "0.5" },
  ]);
});

Deno.test("requestedLines refuses malformed goods with a reason naming the field", () => {
  refused(() => requestedLines(undefined, "normal"), /goods must be a list/);
  refused(() => requestedLines(42, "normal"), /goods must be a list/);
  refused(() => requestedLines([], "normal"), /goods is empty/);
  refused(() => requestedLines("[{", "normal"), /not valid JSON/);
  refused(() => requestedLines([7], "normal"), /goods\[0\] must be an object/);
  refused(() => requestedLines([{ qty: 1 }], "normal"), /goods\[0\]\.gid is required/);
  refused(() => requestedLines([{ gid: 1 }], "scale"), /goods\[0\]\.weight is required/);
  refused(() => requestedLines([{ gid: -1, qty: 1 }], "normal"), /gid must be a positive/);
  refused(() => requestedLines([{ gid: 1, qty: "abc" }], "normal"), /qty must be a number/);
  refused(() => requestedLines([{ gid: 1, qty: 0 }], "normal"), /greater than 0/);
  refused(() => requestedLines([{ gid: 1, weight: "0.0001" }], "scale"), /more than 3 decimal/);
  refused(
    () => requestedLines([{ gid: 1, qty: 1e21 }], "normal"),
    /qty is larger than 1000000000$/,
  );
  refused(() => requestedLines([{ gid: 1, qty: 1e-7 }], "normal"), /0\.0000001 has more than 3/);
  refused(() => requestedLines({ gid: "1,2", weight: "1" }, "scale"), /2 items but goods.weight/);
  refused(() => requestedLines({ weight: "1" }, "scale"), /goods.gid is required/);
  refused(() => requestedLines({ gid: "1,x", weight: "1,1" }, "scale"), /gid\[1\]/);
  refused(
    () => requestedLines(Array.from({ length: 1001 }, () => ({ gid: 1, qty: 1 })), "normal"),
    /more than 1000 lines/,
  );
});

Deno.test("priceLines prices from the catalogue, rounds each line to the cent, sums exactly", () => {
  const priced = priceLines([{ gid: 1, quantity: "0.413" }, { gid: 9, quantity: "3" }, {
    gid: 10,
    quantity: "1",
  }], CATALOGUE);
  // 12.80 × 0.413 = 5.2864 → 5.29; 2.00 × 3 = 6.00; 3.50.
  assert.deepEqual(priced.lines.map((l) => l.amount), ["5.29", "6.00", "3.50"]);
  assert.equal(priced.amount, "14.79");
  assert.deepEqual(priced.lines[0], {
    goodsId: 1,
    name: "红富士苹果",
    unitPrice: "12.80",
    quantity: "0.413",
    amount: "5.29",
    priceReason: "current",
  });
  assert.equal(priceLines([{ gid: 1, quantity: "1.25" }], CATALOGUE).amount, "16.00");
  // Half a cent rounds away from zero: 5.00 × 0.001 = 0.005 → 0.01.
  const half = priceLines([{ gid: 1, quantity: "0.001" }], [{ ...CATALOGUE[0], price: "5.00" }]);
  assert.equal(half.amount, "0.01"); // 0.005 → 0.01
});

Deno.test("priceLines refuses unknown goods and a fractional piece count", () => {
  refused(
    () => priceLines([{ gid: 77, quantity: "1" }, { gid: 78, quantity: "1" }], CATALOGUE),
    /unknown goods: gid 77, 78/,
  );
  refused(() => priceLines([{ gid: 9, quantity: "1.5" }], CATALOGUE), /sold by the piece/);
  // The total's bounds are checked after the device's total is compared with it.
  assert.equal(priceLines([{ gid: 1, quantity: "100000000" }], CATALOGUE).amount, "1280000000.00");
});

Deno.test("requireChargeableTotal refuses a zero total and one beyond the bound, at the bound", () => {
  requireChargeableTotal("1000000000.00");
  requireChargeableTotal("0.01");
  refused(
    () => requireChargeableTotal("1000000000.01"),
    /^the order total is larger than 1000000000$/,
  );
  refused(() => requireChargeableTotal("0.00"), /greater than 0/);
});

Deno.test("totalMatches compares exactly within one cent, whatever the device's decimals", () => {
  assert.equal(totalMatches("5.24", "5.24"), true);
  assert.equal(totalMatches("5.25", "5.24"), true);
  assert.equal(totalMatches("5.23", "5.24"), true);
  assert.equal(totalMatches("5.26", "5.24"), false);
  assert.equal(totalMatches("5.2300001", "5.24"), true);
  assert.equal(totalMatches("5.2299999", "5.24"), false);
  assert.equal(totalMatches("5.239999999999999", "5.24"), true);
  assert.equal(totalMatches("-5.24", "5.24"), false);
  assert.equal(totalMatches("5", "5.00"), true);
});

Deno.test("printList and the sendPayResult body keep names intact and amounts two-decimal", () => {
  const lines = [{ name: "红富士苹果", count: "1.2", price: "12.80", total: "15.36" }];
  assert.equal(
    printList("15.36", lines),
    '{"totalAmount":"15.36","productList":[{"name":"红富士苹果","count":"1.2","price":"12.80","total":"15.36"}]}',
  );
  const owed = {
    orderId: 1,
    code: "250101000000001",
    equipId: "DZC_0001",
    terminalOrderId: "T1",
    amount: "15.36",
    result: "success" as const,
    reason: "",
    attempts: 0,
  };
  assert.deepEqual(payResultBody(owed, lines), {
    order_id: "T1",
    totalPrice: 15.36,
    result: "success",
    printList: printList("15.36", lines),
    exception: "",
  });
  assert.deepEqual(payResultBody({ ...owed, result: "error", reason: "order expired" }, lines), {
    order_id: "T1",
    totalPrice: 15.36,
    result: "error",
    printList: "",
    exception: "order expired",
  });
});

Deno.test("scale-barcode lines: weight and total from the code, PLU resolved, bad codes refused", () => {
  const lines = requestedLines(
    [{ code: "2200001005006" }, { code: "2100001012809" }, { gid: 9, qty: 1 }],
    "normal",
    DEFAULT_SCALE_RULES,
  );
  assert.deepEqual(lines.map((l) => [l.gid, l.quantity, l.scale?.kind, l.scale?.value]), [
    [0, "0.500", "weight", "0.500"],
    [0, "", "amount", "12.80"],
    [9, "1", undefined, undefined],
  ]);
  const resolved = resolveScaleLines(lines, new Map([[1, 1]]));
  const priced = priceLines(resolved, CATALOGUE);
  assert.deepEqual(priced.lines.map((l) => [l.goodsId, l.quantity, l.unitPrice, l.amount]), [
    [1, "0.500", "12.80", "6.40"],
    [1, "1.000", "12.80", "12.80"],
    [9, "1", "2.00", "2.00"],
  ]);
  refused(() => resolveScaleLines(lines, new Map()), /no goods has PLU 1/);
  refused(
    () => requestedLines([{ code: "2100001012800" }], "normal", DEFAULT_SCALE_RULES),
    /is not a scale barcode/,
  );
  refused(() => requestedLines([{ code: "2200001005006" }], "normal", []), /not a scale barcode/);
});

Deno.test("price parity in pricing: a held price and its reason; an embedded total never above it", () => {
  const held: PricedGoods = {
    id: 1,
    name: "红富士苹果",
    price: "12.80",
    listPrice: "16.00",
    weighed: true,
    reason: "label AC:23:3F:00:00:01 shows 12.80",
  };
  // 8.00 printed at 16.00/kg is 0.5 kg; at the shown 12.80 that is 6.40.
  assert.deepEqual(embeddedTotal("8.00", "16.00", "12.80"), { quantity: "0.500", amount: "6.40" });
  assert.deepEqual(embeddedTotal("8.00", "16.00", "16.00"), { quantity: "0.500", amount: "8.00" });
  // Rounded to the gram (7.99 / 16.00 = 0.499375 kg), never more than the printed total.
  assert.deepEqual(embeddedTotal("7.99", "16.00", "16.00"), { quantity: "0.499", amount: "7.98" });
  const [line] = resolveScaleLines(
    requestedLines([{ code: "2100001008000" }], "normal", DEFAULT_SCALE_RULES),
    new Map([[1, 1]]),
  );
  const priced = priceLines([line, { gid: 1, quantity: "1" }], [held]);
  assert.deepEqual(priced.lines.map((l) => [l.amount, l.priceReason]), [
    ["6.40", held.reason],
    ["12.80", held.reason],
  ]);
});
