/**
 * The history checker can fail: on a real appliance (PostgreSQL) a clean history checks clean, and
 * each kind of damage done to the database afterwards is reported as what it is: a lost order, a
 * refused order present anyway, a receipt without its stock moves, a ledger that no longer sums, a
 * payment the broker took that never made the order paid.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { startTestAppliance } from "../tests/_support/appliance.ts";
import { LabDevice } from "./_device.ts";
import { checkHistory, History, postgresReader } from "./_history.ts";

const SKIPPED = Deno.env.get("DATABASE_URL") ? "" : " [skipped: DATABASE_URL not set]";

Deno.test({
  name: `history checker: clean history checks clean, each damage is reported${SKIPPED}`,
  ignore: SKIPPED !== "",
  async fn() {
    const appliance = await startTestAppliance("postgres");
    const device = await LabDevice.connect({
      host: "127.0.0.1",
      port: appliance.port,
      equipId: "POS_9001",
    });
    const reader = await postgresReader(appliance.config.databaseUrl);
    try {
      const history = new History();
      const first = await history.getPayInfo(device, {
        orderId: "T1",
        totalPrice: "9.90",
        lines: [{ gid: 16, qty: "1" }],
      });
      const second = await history.getPayInfo(device, {
        orderId: "T2",
        totalPrice: "23.00",
        lines: [{ gid: 18, qty: "2" }],
      });
      const refused = await history.getPayInfo(device, {
        orderId: "T3",
        totalPrice: "1.00",
        lines: [{ gid: 16, qty: "1" }],
      });
      const receipt = await history.stockGoods(device, {
        ref: "R1",
        whid: 2,
        lines: [{ gid: 16, qty: "5" }, { gid: 18, qty: "2" }],
      });
      assertEquals(
        [first.outcome, second.outcome, refused.outcome, receipt.outcome],
        ["acknowledged", "acknowledged", "refused", "acknowledged"],
      );
      const code = new URL(first.url!).searchParams.get("order")!;
      await history.publishPayment(() => Promise.resolve(), {
        shopId: appliance.config.shopId,
        orderDevice: "POS_9001",
        orderId: "T1",
        orderCode: code,
      });

      const clean = await checkHistory(history, reader);
      assertEquals(clean.problems, []);
      assertEquals([clean.acknowledged, clean.lost, clean.duplicated], [4, 0, 0]);

      // The damage a power cut could do, and one it must never do.
      await reader.query(
        "delete from orders where equip_id = 'POS_9001' and terminal_order_id = 'T1'",
      );
      await reader.query(
        "update orders set terminal_order_id = 'T3' where equip_id = 'POS_9001' and terminal_order_id = 'T2'",
      );
      await reader.query("delete from stock_moves where reference = $1", [
        `receipt:${receipt.pickingId}`,
      ]);
      const damaged = await checkHistory(history, reader, { settled: true });
      assertEquals(damaged.byKind.order.lost, 2, damaged.problems.join("\n"));
      assertEquals(damaged.byKind.payment.lost, 1, damaged.problems.join("\n"));
      assertEquals(damaged.phantoms, 1, damaged.problems.join("\n"));
      assertEquals(damaged.halfThere, 1, damaged.problems.join("\n"));
      assertEquals(damaged.ledgerBroken, 2, damaged.problems.join("\n"));
      assertEquals(damaged.problems.length, 7, damaged.problems.join("\n"));
    } finally {
      device.close();
      await device.reading;
      await reader.close();
      await appliance.stop();
    }
  },
});
