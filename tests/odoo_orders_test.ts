/**
 * Paid orders upstream as confirmed sale orders, against the Odoo stand-in, on every backend:
 * lookup by client_order_ref before creating (a lost answer after Odoo created the order makes no
 * second one), the walk-in partner created once, a configured partner, prices as charged.
 * Orders are made and paid through the payment store (src/store/orders.ts), as getPayInfo and
 * the MQTT pay message do.
 */
import { ok, strictEqual } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { type OdooStandin, startOdooStandin } from "./_support/odoo_standin.ts";
import { standinDelivery } from "./_support/odoo.ts";
import type { Database } from "../src/store/database.ts";
import { setUpstreamEnabled } from "../src/store/odoo_catalogue.ts";
import { deliverOrder } from "../src/upstream/odoo/orders.ts";
import { OutboxWorker } from "../src/upstream/odoo/outbox.ts";
import { enqueueMissedOrders, listOutbox } from "../src/store/odoo_outbox.ts";
import type { OdooSettings } from "../src/upstream/odoo/settings.ts";
import { createOrder, settleOrder } from "../src/store/orders.ts";
import { systemClock } from "../src/clock.ts";

let orderSeq = 0;

/** A pending order (through the payment store) with lines [goods id, unit price, quantity]. */
async function createTestOrder(db: Database, lines: [number, string, string][]) {
  const cents = lines.reduce((s, [, p, q]) => s + Math.round(Number(p) * Number(q) * 100), 0);
  const amount = (cents / 100).toFixed(2);
  const { order } = await createOrder(db, {
    equipId: "POS_0001",
    uniqueId: "POS_0001",
    terminalOrderId: `T${++orderSeq}`,
    kind: "normal",
    amount,
    deviceTotal: amount,
    shopId: "shop0001",
    lines: lines.map(([goodsId, unitPrice, quantity]) => ({
      goodsId,
      name: `goods ${goodsId}`,
      unitPrice,
      quantity,
      amount: (Math.round(Number(unitPrice) * Number(quantity) * 100) / 100).toFixed(2),
    })),
    createdAt: new Date(),
    expiresAt: new Date(Date.now() + 600_000),
    payUrl: (code) => `https://pay.example.com/qr?order=${code}`,
  });
  return { id: order.id, code: order.code };
}

/** Marks the order paid the way the MQTT pay message does. */
async function pay(db: Database, orderId: number) {
  await settleOrder(db, orderId, {
    outcome: "paid",
    by: "mqtt",
    at: new Date(),
    notifyDevice: false,
  });
  // The migration-004 trigger queued it in the settlement's transaction: the sweep finds nothing.
  strictEqual(await enqueueMissedOrders(db), 0);
}

async function setup(db: Database, odoo: OdooStandin, overrides: Partial<OdooSettings> = {}) {
  const { puller, ctx, log } = await standinDelivery(db, odoo, overrides);
  await puller.fullPull();
  await setUpstreamEnabled(db, true);
  const worker = new OutboxWorker({
    db,
    log,
    clock: systemClock,
    maxRefusals: 3,
    backoffMs: () => 0,
    deliver: (row) => deliverOrder(ctx, row.local_id),
  });
  return { worker };
}

function saleOrders(odoo: OdooStandin, code: string) {
  return odoo.state.all("sale.order").filter((o) => o.client_order_ref === code);
}

async function rowOf(db: Database, orderId: number) {
  return (await listOutbox(db)).find((r) => r.kind === "sale-order" && r.local_id === orderId);
}

for (const backend of backends()) {
  Deno.test(`odoo paid orders as sale orders (${backend.name})`, async (t) => {
    const { db, dispose } = await backend.open({ demo: false });
    const odoo = await startOdooStandin({ version: 17 });
    try {
      const { worker } = await setup(db, odoo);

      await t.step(
        "a pending order owes Odoo nothing; paid, it becomes a confirmed sale order",
        async () => {
          const order = await createTestOrder(db, [[42, "4.50", "2"], [5, "12.00", "1"]]);
          await enqueueMissedOrders(db);
          strictEqual(await rowOf(db, order.id), undefined);
          await pay(db, order.id);
          strictEqual((await rowOf(db, order.id))?.state, "pending");
          await worker.runDue();
          const row = (await rowOf(db, order.id))!;
          strictEqual(row.state, "delivered", row.last_error);
          const [sale] = saleOrders(odoo, order.code);
          strictEqual(sale.state, "sale");
          strictEqual(sale.name, row.odoo_name);
          strictEqual(sale.warehouse_id, 1);
          const partner = odoo.state.get("res.partner", sale.partner_id as number)!;
          strictEqual(partner.name, "newretail walk-in");
          const lines = odoo.state.all("sale.order.line").filter((l) => l.order_id === sale.id);
          strictEqual(
            lines.map((l) => `${l.product_id}:${l.product_uom_qty}@${l.price_unit}`).join(" "),
            "42:2@4.5 5:1@12",
          );
          const names = await db.query<{ odoo_name: string }>(
            "select odoo_name from odoo_ids where model = 'sale.order' and local_id = $1",
            [order.id],
          );
          strictEqual(names[0].odoo_name, sale.name);
        },
      );

      await t.step(
        "answer lost after Odoo created the order: found by client_order_ref, confirmed, not doubled",
        async () => {
          odoo.fault({ match: "sale.order.create", action: "lose-response" });
          const order = await createTestOrder(db, [[18, "9.90", "3"]]);
          await pay(db, order.id);
          await worker.runDue();
          strictEqual((await rowOf(db, order.id))!.state, "pending");
          strictEqual(saleOrders(odoo, order.code).length, 1);
          strictEqual(saleOrders(odoo, order.code)[0].state, "draft");
          await worker.runDue();
          strictEqual((await rowOf(db, order.id))!.state, "delivered");
          const sales = saleOrders(odoo, order.code);
          strictEqual(sales.length, 1);
          strictEqual(sales[0].state, "sale");
          // The walk-in partner was created once, not per order.
          strictEqual(
            odoo.state.all("res.partner").filter((p) => p.name === "newretail walk-in").length,
            1,
          );
        },
      );

      await t.step("answer lost after the confirmation: found confirmed, left alone", async () => {
        odoo.fault({ match: "sale.order.action_confirm", action: "lose-response" });
        const order = await createTestOrder(db, [[30, "1.00", "1"]]);
        await pay(db, order.id);
        await worker.runDue();
        await worker.runDue();
        strictEqual((await rowOf(db, order.id))!.state, "delivered");
        strictEqual(saleOrders(odoo, order.code).length, 1);
        const confirms = odoo.calls.filter((c) =>
          c.model === "sale.order" && c.modelMethod === "action_confirm"
        );
        ok(confirms.length >= 1);
      });
    } finally {
      await odoo.close();
      await dispose();
    }
  });
}

Deno.test("odoo paid orders: a configured partner", async () => {
  const { db, dispose } = await backends().at(-1)!.open({ demo: false });
  const odoo = await startOdooStandin({ version: 17 });
  try {
    const { worker } = await setup(db, odoo, { partner: "9" });
    const order = await createTestOrder(db, [[42, "5.10", "1"]]);
    await pay(db, order.id);
    await worker.runDue();
    strictEqual(saleOrders(odoo, order.code)[0].partner_id, 9);
  } finally {
    await odoo.close();
    await dispose();
  }
});
