/**
 * The appliance's own time in the store (issue 24, clock; the fault lab's `clock` scenario steps
 * the real process's clock with libfaketime): the embedded database's `now()` runs on the time it
 * is told, not on the machine's clock; a jump of the appliance's time gives what was stamped
 * meanwhile its whole time (orders to pay, a stale label's parity window).
 */
import assert from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { openPglite } from "../src/store/pglite/pglite.ts";
import { createOrder, moveClockDeadlines } from "../src/store/orders.ts";
import { eventually } from "./_support/eventually.ts";

const DAY = 86_400_000;

Deno.test("the embedded database's now() runs on the appliance's time, not the machine's clock", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "newretail-clock-" });
  try {
    const db = await openPglite(stateDir, { template: null });
    try {
      const now = async () =>
        Date.parse(
          String((await db.query<{ t: string }>("select now()::text as t"))[0].t).replace(" ", "T")
            .replace(/\+00$/, "Z"),
        );
      assert.ok(Math.abs((await now()) - Date.now()) < 60_000, "at first, the machine's clock");
      const told = Date.now() - 365 * DAY;
      db.setClock(told);
      // Told by message: the next statement sees it.
      const seen = await eventually(async () => {
        const t = await now();
        return Math.abs(t - told) < 60_000 ? t : false;
      }, "now() on the told time");
      await new Promise((r) => setTimeout(r, 1100));
      const later = await now();
      assert.ok(later - seen >= 1000 && later - seen < 30_000, "it runs on from there");
    } finally {
      await db.close();
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

for (const backend of backends()) {
  Deno.test(`a jump of the appliance's time gives orders and stale labels stamped since their whole time (${backend.name})`, async () => {
    const { db, dispose } = await backend.open();
    try {
      const behind = Date.parse("2026-12-07T10:00:00Z");
      const order = (id: string, at: number) =>
        createOrder(db, {
          equipId: "POS_0001",
          uniqueId: "POS_0001",
          terminalOrderId: id,
          kind: "normal",
          amount: "3.00",
          deviceTotal: "3.00",
          shopId: "shop0001",
          lines: [{
            goodsId: 11,
            name: "goods 11",
            unitPrice: "3.00",
            quantity: "1",
            amount: "3.00",
          }],
          createdAt: new Date(at),
          expiresAt: new Date(at + 600_000),
          payUrl: (code) => `https://pay.example.com/qr?order=${code}`,
        });
      await order("before", behind - 60_000); // made before the PC went off: its time ran
      await order("during", behind + 5_000); // made while the clock was behind
      await db.query(
        `insert into label_shown (mac, goods_id, name, price, equip_id, via, confirmed_at, stale_since)
         values ('AC:00', 11, 'x', 2.00, 'DZBQ_1', 'push', $1, $1)`,
        [new Date(behind + 6_000)],
      );
      await moveClockDeadlines(db, new Date(behind), 3_600_000);
      const expiries = await db.query<{ id: string; expires: Date }>(
        "select terminal_order_id as id, expires_at as expires from orders order by id",
      );
      assert.deepEqual(expiries.map((o) => [o.id, o.expires.getTime() - behind]), [
        ["before", 540_000],
        ["during", 605_000 + 3_600_000],
      ]);
      const [label] = await db.query<{ since: Date }>(
        "select stale_since as since from label_shown where mac = 'AC:00'",
      );
      assert.equal(label.since.getTime() - behind, 6_000 + 3_600_000);
    } finally {
      await dispose();
    }
  });
}
