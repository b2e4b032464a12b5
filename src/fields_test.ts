import assert from "node:assert/strict";
import { UserError } from "./errors.ts";
import {
  amount,
  id,
  idList,
  int,
  lineList,
  MAX_INT,
  optional,
  present,
  quantity,
  required,
  requireWholePieces,
  text,
  textList,
} from "./fields.ts";

function refused(fn: () => unknown, message: string) {
  assert.throws(fn, (e: unknown) => e instanceof UserError && e.message === message);
}

Deno.test("required and optional: missing, null and empty text are absent", () => {
  for (const value of [undefined, null, ""]) {
    assert.equal(present(value), false);
    refused(() => required({ whid: value }, "whid", id), "whid is required");
    assert.equal(optional({ lmt: value }, "lmt", int(1, 1000), 150), 150);
    assert.equal(optional({ lmt: value }, "lmt", int(1, 1000)), undefined);
  }
  assert.equal(present(0), true);
  assert.equal(required({ whid: "2" }, "whid", id), 2);
  refused(() => required({ qty: 1 }, "gid", id, "goods[3].gid"), "goods[3].gid is required");
  refused(
    () => required({ gid: "x" }, "gid", id, "goods[3].gid"),
    "goods[3].gid must be a positive integer",
  );
  assert.equal(optional({ lmt: "50" }, "lmt", int(1, 1000), 150), 50);
  refused(
    () => optional({ lmt: 1001 }, "lmt", int(1, 1000), 150),
    "lmt must be an integer 1..1000",
  );
});

Deno.test("id, int, text and lists accept the forms devices send", () => {
  assert.equal(id(MAX_INT, "gid"), MAX_INT);
  refused(() => id(MAX_INT + 1, "gid"), "gid must be a positive integer");
  refused(() => id(1.5, "gid"), "gid must be a positive integer");
  assert.equal(int(0, MAX_INT)(" 7 ", "ost"), 7);
  refused(() => int(0, 10)(-1, "ost"), "ost must be an integer 0..10");
  assert.equal(text(5)(" ab ", "ref"), "ab");
  assert.equal(text(5)(12, "ref"), "12");
  refused(() => text(5)("abcdef", "ref"), "ref is longer than 5 characters");
  refused(() => text()("a\u0000", "ref"), "ref contains a NUL character");
  refused(() => text()(true, "ref"), "ref must be text");
  assert.deepEqual(textList("a, b,a", "code"), ["a", "b"]);
  assert.deepEqual(idList([1, "2", 1], "gid"), [1, 2]);
  refused(() => textList(" , ", "code"), "code is empty");
  refused(() => lineList([], "goods"), "goods must be a non-empty list");
  refused(() => lineList(new Array(1001).fill(1), "goods"), "goods has more than 1000 lines");
});

Deno.test("quantity: positive, three decimals, bounded; exponents are numbers", () => {
  assert.equal(quantity(2.5, "qty"), "2.5");
  assert.equal(quantity("1000000000", "qty"), "1000000000");
  assert.equal(quantity(2.5e2, "qty"), "250");
  refused(() => quantity(1e-7, "qty"), "qty: 0.0000001 has more than 3 decimal places");
  refused(() => quantity(1e300, "qty"), "qty is larger than 1000000000");
  refused(() => quantity(1e12, "qty"), "qty is larger than 1000000000");
  refused(() => quantity("1000000000.001", "qty"), "qty is larger than 1000000000");
  refused(() => quantity(0, "qty"), "qty must be greater than 0");
  refused(() => quantity("abc", "qty"), "qty must be a number");
});

Deno.test("amount: any device decimals and any size (compared, never stored)", () => {
  assert.equal(amount(5.239999999999999, "totalPrice"), "5.239999999999999");
  assert.equal(amount(" 5.24 ", "totalPrice"), "5.24");
  assert.equal(amount("1000000000.00", "totalPrice"), "1000000000.00");
  assert.equal(amount("1000000000.01", "totalPrice"), "1000000000.01");
  assert.equal(amount(1e300, "totalPrice"), "1" + "0".repeat(300));
  refused(() => amount(1e-40, "totalPrice"), "totalPrice has more than 30 decimal places");
  refused(() => amount("five", "totalPrice"), "totalPrice must be a number");
  refused(() => amount(true, "totalPrice"), "totalPrice must be a number");
});

Deno.test("requireWholePieces: goods sold by the piece take whole quantities only", () => {
  const bottle = { name: "农夫山泉 550ml", weighed: false };
  requireWholePieces(bottle, "2.000", "goods[0]");
  requireWholePieces({ ...bottle, weighed: true }, "0.413", "goods[0]");
  refused(
    () => requireWholePieces(bottle, "5.5", "goods[1]"),
    "goods[1]: 农夫山泉 550ml is sold by the piece, its quantity must be whole",
  );
});
