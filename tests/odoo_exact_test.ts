/**
 * Odoo, exactly (issue 12), against the stand-in behaving like a live Odoo 17: changes committed
 * by long transactions (write_date = the transaction's start) are not missed, nor are variant
 * extra prices; references are unique per installation (a reinstall never adopts an old
 * picking); a create that timed out is waited for, not doubled, and duplicates are cancelled; a
 * deleted product goes at the pass every start runs; another company's warehouse is refused.
 */
import { match, ok, rejects, strictEqual } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { type OdooStandin, startOdooStandin } from "./_support/odoo_standin.ts";
import { standinDelivery, standinSettings } from "./_support/odoo.ts";
import { actionContext } from "./_support/action_context.ts";
import { eventually } from "./_support/eventually.ts";
import type { Database } from "../src/store/database.ts";
import { createMemoryLogger } from "../src/log.ts";
import type { OdooSettings } from "../src/upstream/odoo/settings.ts";
import { installationId, setUpstreamEnabled } from "../src/store/odoo_catalogue.ts";
import { deliverReceipt, receiptOrigin } from "../src/upstream/odoo/receipts.ts";
import { deliverOrder, saleOrigin } from "../src/upstream/odoo/orders.ts";
import { OutboxWorker } from "../src/upstream/odoo/outbox.ts";
import { listOutbox } from "../src/store/odoo_outbox.ts";
import { OdooConnector } from "../src/upstream/odoo/connector.ts";
import { systemClock } from "../src/clock.ts";
import { compilePricelists } from "../src/pricing/pricelist.ts";
import { bookStockReceipt } from "../src/store/stock.ts";
import { goodsById } from "../src/store/goods.ts";
import { createOrder, settleOrder } from "../src/store/orders.ts";
import { getWarehouseGoods } from "../src/actions/get_warehouse_goods.ts";
import { stockGoods } from "../src/actions/stock_goods.ts";

async function connect(db: Database, odoo: OdooStandin, overrides: Partial<OdooSettings> = {}) {
  const { puller, ctx, log } = await standinDelivery(db, odoo, overrides);
  const worker = new OutboxWorker({
    db,
    log,
    clock: systemClock,
    maxRefusals: 3,
    backoffMs: () => 0,
    deliver: (row) =>
      row.kind === "sale-order"
        ? deliverOrder(ctx, row.local_id)
        : deliverReceipt(ctx, row.local_id),
  });
  return { puller, ctx, worker, log };
}

async function priceOf(db: Database, id: number) {
  return (await goodsById(db, [id]))[0]?.price;
}

function pickings(odoo: OdooStandin, origin: string) {
  return odoo.state.all("stock.picking").filter((p) => p.origin === origin && !p.backorder_id);
}

let orderSeq = 0;
async function paidOrder(db: Database, goodsId: number, price: string) {
  const { order } = await createOrder(db, {
    equipId: "POS_0001",
    uniqueId: "POS_0001",
    terminalOrderId: `X${++orderSeq}`,
    kind: "normal",
    amount: price,
    deviceTotal: price,
    shopId: "shop0001",
    lines: [{ goodsId, name: `goods ${goodsId}`, unitPrice: price, quantity: "1", amount: price }],
    createdAt: new Date(),
    expiresAt: new Date(Date.now() + 600_000),
    payUrl: (code) => `https://pay.example.com/qr?order=${code}`,
  });
  await settleOrder(db, order.id, {
    outcome: "paid",
    by: "mqtt",
    at: new Date(),
    notifyDevice: false,
  });
  return order;
}

for (const backend of backends()) {
  Deno.test(`odoo exactly: pulls never miss a late commit (${backend.name})`, async (t) => {
    const { db, dispose } = await backend.open({ demo: false });
    const odoo = await startOdooStandin({ version: 17 });
    try {
      // Variant 12 gets an attribute value whose extra price will change later; linked an hour
      // ago, so that no recent write_date of the variant makes the pull re-read it anyway.
      const desk = odoo.state.get("product.product", 12)!;
      const value = odoo.state.create("product.template.attribute.value", {
        name: "Steel",
        product_tmpl_id: desk.product_tmpl_id,
        price_extra: 0,
      });
      const link = odoo.state.begin({ agoMs: 3_600_000 });
      link.write("product.product", [12], { product_template_attribute_value_ids: [value] });
      link.commit();
      const deskWritten = desk.write_date;
      const deskPrice = Number(
        await (async () => {
          const { puller } = await connect(db, odoo);
          await puller.fullPull();
          await puller.incrementalPull();
          return await priceOf(db, 12);
        })(),
      );

      await t.step(
        "a price, a product and a stock change committed 60 s after they were made are pulled",
        async () => {
          const { puller } = await connect(db, odoo);
          // A long import call: it started a minute ago and has not committed yet.
          const tx = odoo.state.begin({ agoMs: 60_000 });
          tx.write("product.template", [34], { list_price: 7.77 });
          tx.createProduct({ name: "Late apple", list_price: 3.3, barcode: "6901234500017" });
          const quant = odoo.state.all("stock.quant").find((q) =>
            q.product_id === 18 && q.location_id === 8
          )!;
          tx.write("stock.quant", [quant.id], { quantity: (quant.quantity as number) + 5 });
          const before = odoo.state.onHand(18, 1);
          await puller.incrementalPull(); // nothing committed yet: the cursor moves on
          strictEqual(await priceOf(db, 42), "5.10");
          tx.commit();
          await puller.incrementalPull();
          strictEqual(await priceOf(db, 42), "7.77");
          const late = odoo.state.all("product.product").at(-1)!;
          strictEqual(await priceOf(db, late.id), "3.30");
          const [stock] = await db.query<{ q: string }>(
            "select quantity::text as q from stock where warehouse_id = 1 and goods_id = 18",
          );
          strictEqual(Number(stock.q), before + 5);
        },
      );

      await t.step(
        "a variant's attribute extra price reaches the goods, also committed late",
        async () => {
          const { puller } = await connect(db, odoo);
          const tx = odoo.state.begin({ agoMs: 30_000 });
          tx.write("product.template.attribute.value", [value], { price_extra: 25 });
          await puller.incrementalPull();
          tx.commit();
          // Neither the variant's nor the template's write_date moved.
          strictEqual(odoo.state.get("product.product", 12)!.write_date, deskWritten);
          await puller.incrementalPull();
          strictEqual(await priceOf(db, 12), (deskPrice + 25).toFixed(2));
        },
      );

      await t.step(
        "beyond odooTransactionBoundS a late change is not guaranteed (the documented limit)",
        async () => {
          const { puller } = await connect(db, odoo, { transactionBoundMs: 5_000 });
          await puller.incrementalPull();
          const tx = odoo.state.begin({ agoMs: 60_000 });
          tx.write("product.template", [34], { list_price: 8.88 });
          tx.commit();
          await puller.incrementalPull();
          strictEqual(await priceOf(db, 42), "7.77");
        },
      );
    } finally {
      await odoo.close();
      await dispose();
    }
  });

  Deno.test(`odoo exactly: one record per local record (${backend.name})`, async (t) => {
    const first = await backend.open({ demo: false });
    const second = await backend.open({ demo: false });
    const odoo = await startOdooStandin({ version: 17 });
    try {
      await t.step(
        "a reinstalled appliance delivers its own receipt 1, not the old one's",
        async () => {
          const ids = [await installationId(first.db), await installationId(second.db)];
          match(ids[0], /^[0-9a-f]{12}$/);
          strictEqual(await installationId(first.db), ids[0]); // generated once, kept
          ok(ids[0] !== ids[1]);
          const origins: string[] = [];
          for (const { db } of [first, second]) {
            const { puller, worker } = await connect(db, odoo);
            await puller.fullPull();
            await setUpstreamEnabled(db, true);
            const { receiptId } = await bookStockReceipt(db, {
              equipId: "RK_0001",
              ref: "SAME-REF",
              warehouseId: 1,
              lines: [{ gid: 42, qty: "3" }],
            });
            strictEqual(receiptId, 1); // local ids restart with a new database
            strictEqual(await worker.runDue(), 1);
            origins.push(
              receiptOrigin("shop0001", await installationId(db), { id: 1, ref: "SAME-REF" }),
            );
          }
          ok(origins[0] !== origins[1]);
          for (const origin of origins) {
            const [picking, ...more] = pickings(odoo, origin);
            strictEqual(more.length, 0);
            strictEqual(picking.state, "done");
          }
        },
      );

      const { db } = first;
      await t.step(
        "a picking create that times out, then commits: waited for, found, not doubled",
        async () => {
          const { worker, log } = await connect(db, odoo, { timeoutMs: 300, requestLimitMs: 600 });
          odoo.fault({ match: "stock.picking.create", action: "slow", delayMs: 900 });
          const { receiptId } = await bookStockReceipt(db, {
            equipId: "RK_0001",
            ref: "SLOW-1",
            warehouseId: 1,
            lines: [{ gid: 42, qty: "1" }],
          });
          strictEqual(await worker.runDue(), 1);
          const origin = receiptOrigin("shop0001", await installationId(db), {
            id: receiptId,
            ref: "SLOW-1",
          });
          const found = pickings(odoo, origin);
          strictEqual(found.length, 1);
          strictEqual(found[0].state, "done");
          ok(log.lines.some((l) => String(l.msg).startsWith("odoo create timed out")));
          const row = (await listOutbox(db)).find((r) => r.local_id === receiptId)!;
          strictEqual(row.state, "delivered");
        },
      );

      await t.step(
        "stopped while waiting for a timed-out create: still one picking after the restart",
        async () => {
          const settings = standinSettings(odoo, { timeoutMs: 300, requestLimitMs: 60_000 });
          const log = createMemoryLogger("info");
          const connector = await OdooConnector.start({
            db,
            settings,
            log,
            shopId: "shop0001",
            clock: systemClock,
            random: Math.random,
            compilePricelists,
          });
          odoo.fault({ match: "stock.picking.create", action: "slow", delayMs: 900 });
          const { receiptId } = await bookStockReceipt(db, {
            equipId: "RK_0001",
            ref: "STOP-1",
            warehouseId: 1,
            lines: [{ gid: 42, qty: "1" }],
          });
          try {
            await eventually(
              () => log.lines.some((l) => String(l.msg).startsWith("odoo create timed out")),
              "the wait after the timeout",
            );
          } finally {
            await connector.stop(); // gives up the wait instead of sitting through it
          }
          const row = async () =>
            (await listOutbox(db)).find((r) =>
              r.kind === "stock-receipt" && r.local_id === receiptId
            )!;
          strictEqual((await row()).state, "pending");
          const origin = receiptOrigin("shop0001", await installationId(db), {
            id: receiptId,
            ref: "STOP-1",
          });
          await eventually(() => pickings(odoo, origin).length === 1, "the slow call committed");
          await db.query(
            "update odoo_outbox set next_attempt_at = now() where kind = 'stock-receipt' and local_id = $1",
            [receiptId],
          );
          const { worker } = await connect(db, odoo);
          strictEqual(await worker.runDue(), 1);
          strictEqual((await row()).state, "delivered");
          const found = pickings(odoo, origin);
          strictEqual(found.length, 1);
          strictEqual(found[0].state, "done");
        },
      );

      await t.step(
        "two pickings with the origin: one kept and validated, the draft cancelled",
        async () => {
          const { worker, log } = await connect(db, odoo);
          const { receiptId } = await bookStockReceipt(db, {
            equipId: "RK_0001",
            ref: "DUP-1",
            warehouseId: 1,
            lines: [{ gid: 42, qty: "2" }],
          });
          const origin = receiptOrigin("shop0001", await installationId(db), {
            id: receiptId,
            ref: "DUP-1",
          });
          for (let i = 0; i < 2; i++) {
            odoo.state.create("stock.picking", {
              picking_type_id: 1,
              location_id: 4,
              location_dest_id: 8,
              origin,
              move_ids: [[0, 0, {
                name: "Desk Organizer",
                product_id: 42,
                product_uom_qty: 2,
                product_uom: 1,
                location_id: 4,
                location_dest_id: 8,
              }]],
            });
          }
          strictEqual(await worker.runDue(), 1);
          const states = pickings(odoo, origin).map((p) => p.state).sort();
          strictEqual(states.join(","), "cancel,done");
          ok(log.lines.some((l) => l.msg === "odoo duplicates cancelled"));
        },
      );

      await t.step("a sale order create that times out, and a duplicate draft", async () => {
        const { worker, log } = await connect(db, odoo, { timeoutMs: 300, requestLimitMs: 600 });
        odoo.fault({ match: "sale.order.create", action: "slow", delayMs: 900 });
        const slow = await paidOrder(db, 42, "5.10");
        strictEqual(await worker.runDue(), 1);
        const origin = saleOrigin("shop0001", await installationId(db));
        const ofCode = (code: string) =>
          odoo.state.all("sale.order").filter((o) =>
            o.client_order_ref === code && o.origin === origin
          );
        strictEqual(ofCode(slow.code).length, 1);
        strictEqual(ofCode(slow.code)[0].state, "sale");
        ok(log.lines.some((l) => String(l.msg).startsWith("odoo create timed out")));

        // Two drafts with this installation's reference (as two committed attempts would leave).
        odoo.fault({ match: "sale.order.create", action: "error", message: "not now", times: 1 });
        const dup = await paidOrder(db, 42, "5.10");
        strictEqual(await worker.runDue(), 1); // refused once: nothing made
        for (let i = 0; i < 2; i++) {
          odoo.state.create("sale.order", {
            partner_id: 9,
            client_order_ref: dup.code,
            origin,
            order_line: [[0, 0, { product_id: 42, product_uom_qty: 1, price_unit: 5.1 }]],
          });
        }
        strictEqual(await worker.runDue(), 1);
        strictEqual(ofCode(dup.code).map((o) => o.state).sort().join(","), "cancel,sale");
        ok(log.lines.some((l) => l.msg === "odoo duplicates cancelled"));
      });
    } finally {
      await odoo.close();
      await first.dispose();
      await second.dispose();
    }
  });

  Deno.test(`odoo exactly: start pass and companies (${backend.name})`, async (t) => {
    const { db, dispose } = await backend.open({ demo: false });
    const odoo = await startOdooStandin({ version: 17 });
    try {
      const { puller } = await connect(db, odoo);
      await puller.fullPull();

      await t.step(
        "a product deleted in Odoo is gone at the id comparison every start runs, though no full pass is due",
        async () => {
          odoo.state.unlink("product.product", [8]);
          ok(!(await puller.fullPassDue()));
          strictEqual((await goodsById(db, [8])).length, 1);
          const log = createMemoryLogger("info");
          const connector = await OdooConnector.start({
            db,
            settings: standinSettings(odoo),
            log,
            shopId: "shop0001",
            clock: systemClock,
            random: Math.random,
            compilePricelists,
          });
          try {
            await eventually(
              () => connector.health().lastPull?.kind === "ids",
              "the start pass",
            );
            strictEqual((await goodsById(db, [8])).length, 0);
            strictEqual(connector.health().installationId, await installationId(db));
          } finally {
            await connector.stop();
          }
        },
      );

      await t.step(
        "another company's warehouse is not offered to devices and takes no receipt",
        async () => {
          const ctx = actionContext(db, "RK_0001");
          await rejects(
            () => Promise.resolve(getWarehouseGoods(ctx, { whid: 2 })),
            /warehouse 2 is not served: it belongs to the Odoo company "My Company \(Chicago\)"/,
          );
          await rejects(
            () =>
              Promise.resolve(
                stockGoods(ctx, { whid: 2, ref: "CHI-1", goods: [{ gid: 42, qty: "1" }] }),
              ),
            /warehouse 2 does not take receipts: it belongs to the Odoo company/,
          );
          const [n] = await db.query<{ n: number }>(
            "select count(*)::int as n from stock_receipts where warehouse_id = 2",
          );
          strictEqual(n.n, 0);
          // The served company's warehouse still works.
          const reply = await getWarehouseGoods(ctx, { whid: 1 });
          strictEqual(reply.body?.exception, "");
        },
      );

      await t.step("the stand-in refuses a picking of another company, as live Odoo did", () => {
        let message = "";
        try {
          odoo.state.create("stock.picking", { picking_type_id: 6, origin: "x" });
        } catch (e) {
          message = (e as Error).message;
        }
        match(message, /^Incompatible companies on records/);
      });
    } finally {
      await odoo.close();
      await dispose();
    }
  });
}
