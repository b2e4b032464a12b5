import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import type { Database, Queryable } from "../store/database.ts";
import { findTerminalOrder, type OrderDraft } from "../store/orders.ts";
import { printLines } from "../store/print_lines.ts";
import { OrderIntake } from "./order_intake.ts";

const T0 = new Date(Date.UTC(2025, 5, 1, 8, 0, 0));

function draft(equipId: string, terminalOrderId: string, amount = "2.00"): OrderDraft {
  return {
    equipId,
    uniqueId: equipId,
    terminalOrderId,
    kind: "normal",
    amount,
    deviceTotal: amount,
    shopId: "shopI",
    lines: [{ goodsId: 9, name: "农夫山泉 550ml", unitPrice: amount, quantity: "1", amount }],
    createdAt: T0,
    expiresAt: new Date(T0.getTime() + 60_000),
    payUrl: (code) => `https://pay/${code}`,
  };
}

/** `db` whose urgent view counts the statements that insert orders and that read goods. */
function counting(db: Database) {
  const seen = { inserts: 0, reads: 0 };
  const inner = db.urgent();
  const urgent: Queryable = {
    ...inner,
    query: (text, params) => {
      if (/insert into orders/.test(text)) seen.inserts++;
      if (/from goods g/.test(text)) seen.reads++;
      return inner.query(text, params);
    },
  };
  return { db: { ...db, urgent: () => urgent } as Database, seen };
}

for (const backend of backends()) {
  Deno.test(`order intake: a rush of orders in shared statements (${backend.name})`, async (t) => {
    const { db, dispose } = await backend.open();
    try {
      await t.step("orders asked together are stored by one statement, each durable", async () => {
        const { db: watched, seen } = counting(db);
        const intake = new OrderIntake({ db: watched });
        const drafts = Array.from({ length: 30 }, (_, i) => draft(`POS_${i % 10}`, `R${i}`));
        const created = await Promise.all(drafts.map((d) => intake.create(d)));
        assert.equal(seen.inserts, 1, "one statement for the orders of one tick");
        assert.ok(created.every((c) => c.created));
        assert.equal(new Set(created.map((c) => c.order.code)).size, 30);
        for (const [i, c] of created.entries()) {
          const stored = await findTerminalOrder(db, `POS_${i % 10}`, `R${i}`);
          assert.equal(stored?.code, c.order.code);
          assert.equal((await printLines(db, c.order.id)).length, 1);
        }
        // Asked again (a till that missed the reply): the same orders, none new.
        const again = await Promise.all(drafts.map((d) => intake.create(d)));
        assert.deepEqual(again.map((c) => c.created), drafts.map(() => false));
        assert.deepEqual(again.map((c) => c.order.code), created.map((c) => c.order.code));
      });

      await t.step("the goods of orders asked together are read by one statement", async () => {
        const { db: watched, seen } = counting(db);
        const intake = new OrderIntake({ db: watched });
        const [a, b, c] = await Promise.all([
          intake.goods([2, 1]),
          intake.goods([3]),
          intake.goods([999_999, 1]),
        ]);
        assert.equal(seen.reads, 1);
        assert.deepEqual(a.map((g) => g.id), [1, 2]);
        assert.deepEqual(b.map((g) => g.id), [3]);
        assert.deepEqual(c.map((g) => g.id), [1], "an unknown goods is not found");
        assert.ok(a.every((g) => typeof g.price === "string" && Array.isArray(g.stale)));
      });

      await t.step("an order asked again while its batch is written is stored once", async () => {
        const intake = new OrderIntake({ db });
        // The first batch is on its way when the next tick's orders make the second (written
        // at the same time on PostgreSQL): whichever statement takes the order's key first
        // stores it, and the other finds it.
        const first = intake.create(draft("POS_5", "W1"));
        await Promise.resolve();
        const again = Promise.all([
          intake.create(draft("POS_6", "W2")),
          intake.create(draft("POS_5", "W1")),
        ]);
        const [one, [other, repeated]] = await Promise.all([first, again]);
        assert.equal(other.created, true);
        assert.deepEqual([one.created, repeated.created].sort(), [false, true]);
        assert.equal(repeated.order.code, one.order.code);
        const [{ n }] = await db.query<{ n: number }>(
          "select count(*)::int as n from orders where equip_id = 'POS_5' and terminal_order_id = 'W1'",
        );
        assert.equal(n, 1);
      });

      await t.step("an order the database refuses fails alone, not its batch", async () => {
        const intake = new OrderIntake({ db });
        const drafts = [
          draft("POS_1", "S1"),
          draft("POS_2", "S2", "not a number"),
          draft("POS_3", "S3"),
        ];
        const outcomes = await Promise.allSettled(drafts.map((d) => intake.create(d)));
        assert.deepEqual(outcomes.map((o) => o.status), ["fulfilled", "rejected", "fulfilled"]);
        assert.ok(await findTerminalOrder(db, "POS_1", "S1"));
        assert.equal(await findTerminalOrder(db, "POS_2", "S2"), undefined);
        assert.ok(await findTerminalOrder(db, "POS_3", "S3"));
      });
    } finally {
      await dispose();
    }
  });
}
