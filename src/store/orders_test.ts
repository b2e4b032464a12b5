import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import type { Database } from "./database.ts";
import { migrate } from "./migrate.ts";
import {
  callState,
  claimDueCalls,
  markCallFailed,
  markCallSent,
  nextCallDue,
} from "./payment_calls.ts";
import { closeDoorSession, currentCustomer, openDoorSession } from "./door_sessions.ts";
import {
  createOrder,
  createOrders,
  expireDueOrders,
  nextExpiry,
  type OrderDraft,
  settleOrder,
} from "./orders.ts";
import {
  devicesOwedAmong,
  devicesOwedResults,
  markResultDelivered,
  owedResults,
} from "./pay_results.ts";
import { printLines } from "./print_lines.ts";

const T0 = new Date(Date.UTC(2025, 5, 1, 8, 0, 0));
const at = (s: number) => new Date(T0.getTime() + s * 1000);

function draft(equipId: string, terminalOrderId: string, ttlS = 60): OrderDraft {
  return {
    equipId,
    uniqueId: equipId,
    terminalOrderId,
    kind: "normal",
    amount: "7.50",
    deviceTotal: "7.5",
    shopId: "shopS",
    lines: [
      { goodsId: 9, name: "农夫山泉 550ml", unitPrice: "2.00", quantity: "2", amount: "4.00" },
      { goodsId: 10, name: "可口可乐 330ml", unitPrice: "3.50", quantity: "1", amount: "3.50" },
    ],
    createdAt: T0,
    expiresAt: at(ttlS),
    payUrl: (code) => `https://pay/${code}`,
  };
}

async function suite(t: Deno.TestContext, db: Database) {
  await t.step("migration 2 is recorded and re-running migrate applies nothing", async () => {
    assert.deepEqual(await migrate(db), []);
    const rows = await db.query<{ name: string }>(
      "select name from schema_migrations where version = 2",
    );
    assert.deepEqual([...rows], [{ name: "payment" }]);
  });

  await t.step("door session: open, newer open, close", async () => {
    assert.equal(await currentCustomer(db, "shopS"), "");
    await openDoorSession(db, "shopS", "oA", T0);
    await openDoorSession(db, "shopS", "oB", at(1));
    assert.equal(await currentCustomer(db, "shopS"), "oB");
    assert.equal(await currentCustomer(db, "other"), "");
    await closeDoorSession(db, "shopS");
    assert.equal(await currentCustomer(db, "shopS"), "");
    await openDoorSession(db, "shopS", "oC", at(2));
  });

  let orderId = 0;
  await t.step("createOrder stores lines, the customer and a pending call", async () => {
    const { order, created } = await createOrder(db, draft("POS_1", "A"));
    assert.equal(created, true);
    orderId = order.id;
    assert.equal(order.openId, "oC");
    assert.equal(order.payUrl, `https://pay/${order.code}`);
    assert.deepEqual([...await printLines(db, order.id)], [
      { name: "农夫山泉 550ml", count: "2", price: "2.00", total: "4.00" },
      { name: "可口可乐 330ml", count: "1", price: "3.50", total: "3.50" },
    ]);
    assert.equal((await callState(db, order.id))?.state, "pending");
    const again = await createOrder(db, draft("POS_1", "A"));
    assert.deepEqual(again, { order, created: false });
  });

  await t.step(
    "createOrders: a batch in one statement, each order with its own lines",
    async () => {
      const one = draft("POS_3", "B1");
      const two = { ...draft("POS_4", "B2"), amount: "2.00", deviceTotal: "2" };
      two.lines = [{
        goodsId: 9,
        name: "农夫山泉 550ml",
        unitPrice: "2.00",
        quantity: "1",
        amount: "2.00",
      }];
      const results = await createOrders(db, [one, draft("POS_1", "A"), two, draft("POS_3", "B1")]);
      assert.deepEqual(results.map((r) => r.created), [true, false, true, false]);
      assert.equal(results[1].order.id, orderId, "an earlier order with the number is found");
      assert.deepEqual(results[3].order, results[0].order, "a draft repeated in the batch: once");
      assert.deepEqual(results.map((r) => r.order.equipId), ["POS_3", "POS_1", "POS_4", "POS_3"]);
      assert.equal(results[2].order.amount, "2.00");
      assert.equal(results[2].order.payUrl, `https://pay/${results[2].order.code}`);
      assert.equal(results[2].order.openId, "oC");
      assert.deepEqual([...await printLines(db, results[2].order.id)], [
        { name: "农夫山泉 550ml", count: "1", price: "2.00", total: "2.00" },
      ]);
      assert.equal((await printLines(db, results[0].order.id)).length, 2);
      assert.equal((await callState(db, results[2].order.id))?.state, "pending");
      const [{ n }] = await db.query<{ n: number }>(
        "select count(*)::int as n from orders where equip_id = 'POS_3'",
      );
      assert.equal(n, 1);
    },
  );

  await t.step("order codes are 15 digits and unique", async () => {
    const codes = new Set<string>();
    for (let i = 0; i < 20; i++) {
      codes.add((await createOrder(db, draft("POS_2", `C${i}`))).order.code);
    }
    assert.equal(codes.size, 20);
    for (const code of codes) assert.match(code, /^[1-9]\d{14}$/);
  });

  await t.step("claimed calls are leased, retried when due, never again once sent", async () => {
    const claimed = await claimDueCalls(db, at(0), at(10), 100);
    const mine = claimed.find((c) => c.orderId === orderId);
    assert.deepEqual(mine && { ...mine, code: "" }, {
      orderId,
      code: "",
      amount: "7.50",
      openId: "oC",
      uniqueId: "POS_1",
      attempts: 1,
    });
    // Leased: not due again before the lease ends.
    assert.equal((await claimDueCalls(db, at(5), at(15), 100)).length, 0);
    await markCallFailed(db, orderId, "HTTP 503", at(1), at(3));
    assert.equal((await nextCallDue(db))?.getTime(), at(3).getTime());
    assert.equal((await claimDueCalls(db, at(2), at(12), 100)).length, 0);
    const retry = await claimDueCalls(db, at(3), at(13), 100);
    assert.deepEqual(retry.map((c) => [c.orderId, c.attempts]), [[orderId, 2]]);
    await markCallSent(db, orderId, at(4));
    // A late failure report from an overlapping attempt does not reopen it.
    await markCallFailed(db, orderId, "late", at(5), at(5));
    assert.deepEqual(await callState(db, orderId), { state: "sent", attempts: 2, lastError: "" });
    assert.equal(
      (await claimDueCalls(db, at(100), at(110), 100)).some((c) => c.orderId === orderId),
      false,
    );
  });

  await t.step("settleOrder pays once and owes the device one result", async () => {
    const settle = (outcome: "paid" | "failed", s: number) =>
      settleOrder(db, orderId, { outcome, by: "mqtt", at: at(s), notifyDevice: true });
    const first = await settle("paid", 6);
    assert.equal(first?.changed, true);
    assert.equal(first?.previous, "pending");
    assert.equal((await settle("paid", 7))?.changed, false);
    assert.equal((await settle("failed", 8))?.changed, false);
    const owed = await owedResults(db, "POS_1");
    assert.deepEqual(owed.map((o) => [o.orderId, o.result, o.terminalOrderId, o.amount]), [
      [orderId, "success", "A", "7.50"],
    ]);
    assert.deepEqual(await devicesOwedResults(db), ["POS_1"]);
    await markResultDelivered(db, orderId, "success", at(9));
    assert.deepEqual([...await owedResults(db, "POS_1")], []);
    assert.equal(
      await settleOrder(db, 999999, { outcome: "paid", by: "mqtt", at: T0, notifyDevice: true }),
      undefined,
    );
  });

  await t.step("expiry: due orders expire once, owe an error, cancel their call", async () => {
    const { order } = await createOrder(db, draft("DZC_9", "X", 30));
    assert.ok((await nextExpiry(db))!.getTime() <= at(30).getTime());
    assert.equal((await expireDueOrders(db, at(29))).some((o) => o.id === order.id), false);
    const expired = await expireDueOrders(db, at(30));
    assert.ok(expired.some((o) => o.id === order.id && o.equipId === "DZC_9"));
    assert.equal((await expireDueOrders(db, at(31))).length, 0);
    assert.equal((await callState(db, order.id))?.state, "cancelled");
    assert.deepEqual((await owedResults(db, "DZC_9")).map((o) => [o.result, o.reason]), [
      ["error", "order expired"],
    ]);
    // A failure after expiry changes nothing; a payment after expiry is recorded and replaces
    // the owed error with success.
    assert.equal(
      (await settleOrder(db, order.id, {
        outcome: "failed",
        by: "mqtt",
        at: at(32),
        notifyDevice: true,
      }))
        ?.changed,
      false,
    );
    const late = await settleOrder(db, order.id, {
      outcome: "paid",
      by: "mqtt",
      at: at(33),
      notifyDevice: true,
    });
    assert.equal(late?.previous, "expired");
    assert.deepEqual((await owedResults(db, "DZC_9")).map((o) => o.result), ["success"]);
    // Acknowledging the replaced error does not settle the success.
    await markResultDelivered(db, order.id, "error", at(34));
    assert.deepEqual((await owedResults(db, "DZC_9")).map((o) => o.result), ["success"]);
    // Logins ask many devices at once.
    assert.deepEqual(
      [...await devicesOwedAmong(db, ["DZC_9", "POS_1", "NOBODY"])],
      ["DZC_9"],
    );
  });

  await t.step(
    "a due call whose order was settled behind its back is cancelled, not made",
    async () => {
      const { order: settled } = await createOrder(db, draft("POS_7", "Z1", 600));
      const { order: live } = await createOrder(db, draft("POS_7", "Z2", 600));
      const { order: expired } = await createOrder(db, draft("POS_7", "Z3", 1));
      // Written directly (an operator's psql), so nothing cancelled the calls.
      await db.query("update orders set state = 'paid' where id = $1", [settled.id]);
      const claimed = await claimDueCalls(db, at(5), at(15), 100);
      const mine = claimed.map((c) => c.orderId).filter((id) =>
        [settled.id, live.id, expired.id].includes(id)
      );
      assert.deepEqual(mine, [live.id]);
      assert.equal((await callState(db, settled.id))?.state, "cancelled");
      assert.equal((await callState(db, expired.id))?.state, "cancelled");
      assert.deepEqual(await callState(db, live.id), {
        state: "pending",
        attempts: 1,
        lastError: "",
      });
    },
  );
}

for (const backend of backends()) {
  Deno.test(`order store (${backend.name})`, async (t) => {
    const opened = await backend.open();
    try {
      await suite(t, opened.db);
    } finally {
      await opened.dispose();
    }
  });
}
