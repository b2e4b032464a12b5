import assert from "node:assert/strict";
import { type Backend, backends } from "../../tests/_support/databases.ts";
import type { ActionContext, ActionResult } from "./context.ts";
import { defaultConfig } from "../config/config.ts";
import { actionContext } from "../../tests/_support/action_context.ts";
import type { Database } from "../store/database.ts";
import { callState } from "../store/payment_calls.ts";
import { findTerminalOrder } from "../store/orders.ts";
import { openDoorSession } from "../store/door_sessions.ts";
import { payUrl } from "./get_pay_info.ts";
import { makePayment } from "./make_payment.ts";
import { ORDER_CREATED_EVENT } from "../events.ts";
import { CORE_ACTIONS } from "./mod.ts";
import { runAction } from "../server/dispatch.ts";
import { encodeBody, type JsonObject } from "../protocol/body.ts";

const NOW = Date.UTC(2025, 0, 2, 3, 4, 5);

function context(db: Database, equipId: string, emitted: unknown[] = []): ActionContext {
  const config = defaultConfig();
  config.shopId = "shopT";
  config.payUrlTemplate = "https://pay.test/qr?o={order}&a={amount}&s={shop}";
  config.orderTtlS = 600;
  return actionContext(db, equipId, {
    header: { action: "getPayInfo", length: 0, uniqueId: equipId },
    config,
    clock: { now: () => NOW, monotonic: () => performance.now() },
    events: { emit: (event, detail) => emitted.push({ event, detail }) },
  });
}

/** Runs `getPayInfo` as a device request is run: with its failure rules from the action table. */
async function ask(ctx: ActionContext, fields: JsonObject): Promise<ActionResult> {
  return await runAction(CORE_ACTIONS.getPayInfo, ctx, encodeBody(fields));
}

function body(result: ActionResult) {
  return result.body as Record<string, unknown>;
}

async function suite(t: Deno.TestContext, db: Database) {
  await t.step("a scale order is priced by weight and answered with the URL", async () => {
    const emitted: unknown[] = [];
    await openDoorSession(db, "shopT", "oWx-customer-1", new Date(NOW));
    const reply = body(
      await ask(context(db, "DZC_0001", emitted), {
        order_id: "S-1",
        totalPrice: 5.29,
        goods: [{ gid: 1, standardPrice: 12.8, weight: 0.413 }],
      }),
    );
    assert.equal(reply.exception, "");
    const order = await findTerminalOrder(db, "DZC_0001", "S-1");
    assert.ok(order);
    // Random, not the time: the code is printed in the QR URL (issue 10).
    assert.match(order.code, /^[1-9]\d{14}$/);
    assert.equal(reply.url, `https://pay.test/qr?o=${order.code}&a=5.29&s=shopT`);
    assert.equal(order.kind, "scale");
    assert.equal(order.amount, "5.29");
    assert.equal(order.state, "pending");
    assert.equal(order.openId, "oWx-customer-1");
    assert.equal(order.expiresAt.getTime(), NOW + 600_000);
    assert.deepEqual(await callState(db, order.id), {
      state: "pending",
      attempts: 0,
      lastError: "",
    });
    assert.deepEqual(emitted, [{
      event: ORDER_CREATED_EVENT,
      detail: { orderId: order.id, code: order.code, expiresAt: NOW + 600_000 },
    }]);
  });

  await t.step("the same order_id again gives the same order and URL, nothing new", async () => {
    const emitted: unknown[] = [];
    const first = await findTerminalOrder(db, "DZC_0001", "S-1");
    const reply = body(
      await ask(context(db, "DZC_0001", emitted), {
        order_id: "S-1",
        totalPrice: "5.29",
        goods: { gid: "1", standardPrice: "12.8", weight: "0.413" },
      }),
    );
    assert.deepEqual(reply, { exception: "", url: first!.payUrl });
    assert.deepEqual(emitted, []);
    const count = await db.query<{ n: number }>(
      "select count(*)::int as n from orders where equip_id = 'DZC_0001'",
    );
    assert.equal(count[0].n, 1);
    // The same number for a different total is another sale: refused, not merged.
    const weighed = (equipId: string, totalPrice: number, weight: number) =>
      ask(context(db, equipId), { order_id: "S-1", totalPrice, goods: [{ gid: 1, weight }] });
    const other = body(await weighed("DZC_0001", 12.8, 1));
    assert.equal(other.url, "");
    assert.match(String(other.exception), /order_id S-1 is already used/);
    // Another device may use the same number.
    const elsewhere = body(await weighed("DZC_0002", 5.29, 0.413));
    assert.equal(elsewhere.exception, "");
    assert.notEqual(elsewhere.url, first!.payUrl);
  });

  await t.step("concurrent identical requests make one order", async () => {
    const request = { order_id: "P-9", totalPrice: 7, goods: [{ gid: 10, qty: 2 }] };
    const replies = await Promise.all(
      Array.from({ length: 4 }, () => ask(context(db, "POS_0001"), request)),
    );
    const urls = new Set(replies.map((r) => body(r).url));
    assert.equal(urls.size, 1);
    assert.ok(String([...urls][0]).startsWith("https://pay.test/"));
    const count = await db.query<{ n: number }>(
      "select count(*)::int as n from orders where equip_id = 'POS_0001' and terminal_order_id = 'P-9'",
    );
    assert.equal(count[0].n, 1);
  });

  await t.step("errorPrice when the device's total is off by more than 0.01", async () => {
    const goods = [{ gid: 9, qty: 2 }, { gid: 10, qty: 1 }]; // 4.00 + 3.50
    assert.deepEqual(
      body(await ask(context(db, "POS_0001"), { order_id: "E1", totalPrice: 7.52, goods })),
      { exception: "errorPrice", url: "" },
    );
    const within = body(
      await ask(context(db, "POS_0001"), { order_id: "E1", totalPrice: 7.51, goods }),
    );
    assert.equal(within.exception, "");
    assert.match(String(within.url), /^https:\/\/pay\.test\/qr\?o=\d{15}&a=7\.50&s=shopT$/);
    assert.equal((await findTerminalOrder(db, "POS_0001", "E1"))?.amount, "7.50");
  });

  await t.step(
    "errorPrice however large the difference, at and over the 1,000,000,000 bound",
    async () => {
      const exactly = async (fields: JsonObject) =>
        new TextDecoder().decode(encodeBody((await ask(context(db, "POS_0001"), fields)).body));
      const errorPrice = '{"exception":"errorPrice","url":""}';
      const two = [{ gid: 9, qty: 2 }]; // 4.00
      for (const totalPrice of [1_000_000_000, "1000000000.00", "1000000000.01", 1e300, -4, 4.02]) {
        assert.equal(await exactly({ order_id: "B-1", totalPrice, goods: two }), errorPrice);
      }
      // The server's total over the bound: refused as too large only when the device agrees.
      const many = [{ gid: 9, qty: 999_999_999 }]; // 1999999998.00
      assert.equal(await exactly({ order_id: "B-2", totalPrice: 4, goods: many }), errorPrice);
      assert.equal(
        await exactly({ order_id: "B-2", totalPrice: "1999999998.00", goods: many }),
        '{"exception":"the order total is larger than 1000000000","url":""}',
      );
      // A total of exactly the bound is an order.
      const atBound = [{ gid: 9, qty: 500_000_000 }];
      const made = body(
        await ask(context(db, "POS_0001"), { order_id: "B-3", totalPrice: 1e9, goods: atBound }),
      );
      assert.equal(made.exception, "");
      assert.equal((await findTerminalOrder(db, "POS_0001", "B-3"))?.amount, "1000000000.00");
      assert.equal(await findTerminalOrder(db, "POS_0001", "B-1"), undefined);
      assert.equal(await findTerminalOrder(db, "POS_0001", "B-2"), undefined);
    },
  );

  await t.step(
    "a retry after a price change or a deactivation gets the order it made",
    async () => {
      const request = { order_id: "R-1", totalPrice: 4, goods: [{ gid: 9, qty: 2 }] }; // 2 x 2.00
      const first = body(await ask(context(db, "POS_0001"), request));
      assert.equal(first.exception, "");
      await db.query("update goods set price = price + 1 where id = 9");
      try {
        assert.deepEqual(body(await ask(context(db, "POS_0001"), request)), first);
        // A new number at the old price is refused: only the retry keeps it.
        assert.deepEqual(
          body(await ask(context(db, "POS_0001"), { ...request, order_id: "R-2" })),
          { exception: "errorPrice", url: "" },
        );
        await db.query("update goods set active = false where id = 9");
        assert.deepEqual(body(await ask(context(db, "POS_0001"), request)), first);
      } finally {
        await db.query("update goods set price = price - 1, active = true where id = 9");
      }
      const count = await db.query<{ n: number }>(
        "select count(*)::int as n from orders where equip_id = 'POS_0001' and terminal_order_id like 'R-%'",
      );
      assert.equal(count[0].n, 1);
    },
  );

  await t.step("every failure answers an exception and an empty url", async () => {
    const cases: [JsonObject, RegExp][] = [
      [{ totalPrice: 1, goods: [{ gid: 9, qty: 1 }] }, /order_id is required/],
      [{ order_id: "X", goods: [{ gid: 9, qty: 1 }] }, /totalPrice is required/],
      [{ order_id: "X", totalPrice: 2 }, /goods is required/],
      [{ order_id: "X", totalPrice: "2,00", goods: [{ gid: 9, qty: 1 }] }, /totalPrice must be/],
      [{ order_id: "X", totalPrice: 2, goods: [{ gid: 999, qty: 1 }] }, /unknown goods: gid 999/],
      [{ order_id: "X", totalPrice: 2, goods: [{ gid: 9, qty: 0.5 }] }, /sold by the piece/],
      [{ order_id: "X", totalPrice: 2, goods: "nonsense" }, /goods must be a list/],
      [{ order_id: { a: 1 }, totalPrice: 2, goods: [{ gid: 9, qty: 1 }] }, /order_id must be text/],
    ];
    for (const [fields, reason] of cases) {
      const reply = body(await ask(context(db, "POS_0001"), fields));
      assert.equal(reply.url, "", JSON.stringify(fields));
      assert.match(String(reply.exception), reason);
    }
    assert.equal(await findTerminalOrder(db, "POS_0001", "X"), undefined);
  });

  await t.step("a failing store answers the error reply, not a stale value", async () => {
    const broken: Database = {
      ...db,
      query: () => Promise.reject(new Error("relation does not exist")),
      urgent: () => broken,
    };
    const reply = body(
      await ask(context(broken, "POS_0001"), {
        order_id: "B1",
        totalPrice: 2,
        goods: [{ gid: 9, qty: 1 }],
      }),
    );
    assert.deepEqual(reply, { exception: "internal error", url: "" });
  });

  await t.step("makePayment marks paid, idempotently, by terminal number or code", async () => {
    const order = (await findTerminalOrder(db, "POS_0001", "P-9"))!;
    const ctx = context(db, "POS_0001");
    assert.deepEqual(body(await makePayment(ctx, { oid: "P-9" })), { exception: "" });
    assert.deepEqual(body(await makePayment(ctx, { oid: "P-9" })), { exception: "" });
    assert.deepEqual(body(await makePayment(ctx, { oid: order.code })), { exception: "" });
    const paid = await findTerminalOrder(db, "POS_0001", "P-9");
    assert.equal(paid?.state, "paid");
    assert.equal(paid?.settledBy, "device");
    // Paid before the payment server was called: the call is not made.
    assert.equal((await callState(db, order.id))?.state, "cancelled");
    await assert.rejects(makePayment(ctx, { oid: "nope" }), /unknown order: nope/);
    await assert.rejects(makePayment(ctx, {}), /oid is required/);
  });
}

for (const backend of backends()) {
  Deno.test(`getPayInfo and makePayment (${backend.name})`, async (t) => {
    const opened = await (backend as Backend).open();
    try {
      await suite(t, opened.db);
    } finally {
      await opened.dispose();
    }
  });
}

Deno.test("payUrl fills the template with URL-encoded values", () => {
  assert.equal(
    payUrl("https://p/{shop}/{order}?a={amount}&again={order}", "1 2", "5.00", "shop&1"),
    "https://p/shop%261/1%202?a=5.00&again=1%202",
  );
});
