/**
 * The appliance in Odoo mode, end to end over real TCP and real HTTP: it pulls the catalogue from
 * the Odoo stand-in by itself, devices see Odoo's products under Odoo's ids, a price change in
 * Odoo reaches getGoods, an archived product disappears, a stock receipt is answered at once
 * while Odoo is down and delivered (once) when Odoo is back, a shelf label bound to an Odoo
 * product is pushed its new price. And bad credentials: the appliance still serves devices and
 * says what is wrong.
 */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { eventually, startTestAppliance } from "./_support/appliance.ts";
import { startOdooStandin } from "./_support/odoo_standin.ts";
import { listOutbox } from "../src/store/odoo_outbox.ts";
import { importBindings, parseBindings } from "../src/store/bindings_csv.ts";
import { unpushedChanges } from "../src/store/goods_changes.ts";
import { parseBody } from "../src/device/client.ts";

const ODOO_LABEL = "AC:23:3F:00:09:01";

for (const backend of backends()) {
  Deno.test(`appliance in Odoo mode over TCP (${backend.name})`, async (t) => {
    const odoo = await startOdooStandin({ version: 17 });
    const appliance = await startTestAppliance(backend.name, {
      demo: false,
      config: {
        odooUrl: odoo.url,
        odooDb: odoo.db,
        odooUser: odoo.login,
        odooApiKey: odoo.password,
        odooPollS: 0.1,
        odooPageSize: 10,
        adminEnabled: true,
        adminHost: "127.0.0.1",
        adminPort: 0,
      },
    });
    const pos = await appliance.device("POS_0001");
    const lookUp = async (code: string) => {
      const reply = await pos.request("getGoods", { code });
      strictEqual(reply.json?.exception, "");
      return reply.json?.goods as Record<string, unknown>[];
    };
    try {
      await t.step(
        "the catalogue is pulled by itself; devices see Odoo ids and prices",
        async () => {
          await eventually(
            async () => (await lookUp("2300001000008")).length === 1,
            "pulled",
            20_000,
          );
          const [organizer] = await lookUp("2300001000008");
          deepStrictEqual(
            {
              gid: organizer.gid,
              name: organizer.name,
              price: organizer.price,
              stock: organizer.stock,
            },
            { gid: 42, name: "Desk Organizer", price: 5.1, stock: "9" },
          );
          ok(
            appliance.logs.some((l) => l.msg === "odoo connected" && l.version === "17.0-20240709"),
          );
          const admin = `http://127.0.0.1:${appliance.app.admin!.port}`;
          const health = await (await fetch(`${admin}/healthz`)).json();
          strictEqual(health.odoo.state, "up");
          strictEqual(health.odoo.version, "17.0-20240709");
          strictEqual(health.odoo.warehouse, "1 WH");
          strictEqual(health.odoo.outboxFailed, 0);
          // Generated once with the database; part of every reference left in Odoo.
          ok(/^[0-9a-f]{12}$/.test(health.odoo.installationId), health.odoo.installationId);
          strictEqual(health.odoo.installationId, appliance.app.odoo!.health().installationId);
          const metrics = await (await fetch(`${admin}/metrics`)).text();
          ok(/newretail_odoo_outbox\{state="pending"\} 0/.test(metrics), metrics);
          ok(/newretail_odoo_up 1/.test(metrics), metrics);
        },
      );

      await t.step("a template price change in Odoo reaches getGoods", async () => {
        odoo.state.write("product.template", [34], { list_price: 6.35 });
        await eventually(
          async () => (await lookUp("2300001000008"))[0]?.price === 6.35,
          "new price",
          10_000,
        );
      });

      await t.step("an archived product is no longer answered", async () => {
        odoo.state.write("product.product", [42], { active: false });
        await eventually(
          async () => (await lookUp("2300001000008")).length === 0,
          "archived",
          10_000,
        );
        odoo.state.write("product.product", [42], { active: true });
        await eventually(async () => (await lookUp("2300001000008")).length === 1, "back", 10_000);
      });

      await t.step(
        "Odoo down: a receipt is answered at once, delivered once Odoo is back",
        async () => {
          await odoo.stop();
          const reply = await pos.request("stockGoods", {
            whid: 1,
            ref: "SUPPLIER-778",
            goods: [{ gid: 42, qty: 5 }],
          });
          strictEqual(reply.json?.exception, "");
          const receiptId = Number(reply.json?.picking_id);
          const row = async () =>
            (await listOutbox(appliance.app.db)).find((r) =>
              r.kind === "stock-receipt" && r.local_id === receiptId
            );
          await eventually(
            async () => ((await row())?.attempts ?? 0) >= 1,
            "a failed attempt",
            10_000,
          );
          strictEqual((await row())!.state, "pending");
          await eventually(() => !appliance.app.odoo!.health().reachable, "Odoo seen down", 10_000);
          // Devices are still served from the local store.
          strictEqual((await lookUp("2300001000008")).length, 1);
          await odoo.restart(); // what waited is expedited once a pull sees Odoo back
          await eventually(async () => (await row())?.state === "delivered", "delivered", 20_000);
          const pickings = odoo.state.all("stock.picking").filter((p) =>
            String(p.origin).includes("SUPPLIER-778")
          );
          strictEqual(pickings.length, 1);
          strictEqual(pickings[0].state, "done");
          ok(
            String(pickings[0].origin).includes(
              `/${appliance.app.odoo!.health().installationId}/R`,
            ),
            String(pickings[0].origin),
          );
          // The counter is told of the outcome after the row's commit: wait for it, then check
          // it counted exactly one delivery.
          const delivered =
            /newretail_odoo_deliveries_total\{kind="stock-receipt",result="delivered"\} (\d+)/;
          await eventually(
            () => delivered.test(appliance.app.metrics.render()),
            "the delivery counted",
            10_000,
          );
          const metrics = appliance.app.metrics.render();
          strictEqual(delivered.exec(metrics)?.[1], "1", metrics);
        },
      );

      await t.step("an order paid at the till becomes a confirmed sale order in Odoo", async () => {
        const pay = await pos.request("getPayInfo", {
          order_id: "T-ODOO-1",
          totalPrice: 12.7,
          goods: [{ gid: 42, qty: 2 }],
        });
        strictEqual(pay.json?.exception, "", JSON.stringify(pay.json));
        const paid = await pos.request("makePayment", { oid: "T-ODOO-1" });
        strictEqual(paid.json?.exception, "");
        const [order] = await appliance.app.db.query<{ id: number; code: string }>(
          "select id, code from orders where terminal_order_id = 'T-ODOO-1'",
        );
        await eventually(
          () =>
            odoo.state.all("sale.order").some((o) =>
              o.client_order_ref === order.code && o.state === "sale"
            ),
          "sale order confirmed in Odoo",
          20_000,
        );
        const [sale] = odoo.state.all("sale.order").filter((o) =>
          o.client_order_ref === order.code
        );
        const lines = odoo.state.all("sale.order.line").filter((l) => l.order_id === sale.id);
        deepStrictEqual(lines.map((l) => [l.product_id, l.product_uom_qty, l.price_unit]), [[
          42,
          2,
          6.35,
        ]]);
        await eventually(
          async () =>
            (await listOutbox(appliance.app.db)).some((r) =>
              r.kind === "sale-order" && r.local_id === order.id && r.odoo_name === sale.name
            ),
          "order marked delivered with the Odoo name",
          10_000,
        );
      });

      await t.step(
        "a shelf label bound to an Odoo product gets the new price (GBK sendGoods) after a pull",
        async () => {
          const db = appliance.app.db;
          const parsed = parseBindings(`mac,gid\n${ODOO_LABEL},42\n`);
          deepStrictEqual(parsed.errors, []);
          deepStrictEqual((await importBindings(db, parsed.rows)).errors, []);
          // The binding is a goods change too: fanned out (to nobody yet) before the label learns,
          // so the only push the label can get is the one for the price change below.
          await eventually(async () => (await unpushedChanges(db)) === 0, "binding fanned out");
          const label = await appliance.device("DZBQ_0901");
          const learned = await label.request("getGoods", { mac_id: ODOO_LABEL }, {
            encoding: "gbk",
          });
          strictEqual(learned.json?.exception, "");
          deepStrictEqual(
            (learned.json?.goods as Record<string, unknown>[]).map((g) => [g.gid, g.price]),
            [[42, 6.35]],
          );

          // A Chinese name as well: GBK and UTF-8 bytes differ only outside ASCII.
          odoo.state.write("product.template", [34], { list_price: 7.45, name: "桌面收纳盒" });
          // A push of the state before the change may still be on its way (a pull can rewrite
          // the row first, e.g. its stock): it is acknowledged, and the one with the change awaited.
          let push = await label.nextPush("sendGoods", 20_000);
          let body = parseBody(push.body, "gbk");
          const isNew = (b: typeof body) => {
            const g = (b?.goods as { price?: number; name?: string }[] | undefined)?.[0];
            return g?.price === 7.45 && g?.name === "桌面收纳盒";
          };
          for (let seen = 1; !isNew(body); seen++) {
            ok(seen < 5, "the new price arrives within a few pushes");
            label.acknowledge("sendGoods");
            push = await label.nextPush("sendGoods", 20_000);
            body = parseBody(push.body, "gbk");
          }
          ok(body, "sendGoods body is GBK JSON");
          throws(() => new TextDecoder("utf-8", { fatal: true }).decode(push.body));
          strictEqual(body.exception, "");
          const goods = body.goods as Record<string, unknown>[];
          deepStrictEqual(goods.map((g) => [g.gid, g.mac, g.price, g.name]), [[
            42,
            ODOO_LABEL,
            7.45,
            "桌面收纳盒",
          ]]);
          label.acknowledge("sendGoods");
          await eventually(
            async () =>
              (await db.query<{ n: number }>(
                "select count(*)::int as n from pending_label_pushes where mac = $1",
                [ODOO_LABEL],
              ))[0].n === 0,
            "the label push acknowledged",
          );
        },
      );
    } finally {
      await appliance.stop();
      await odoo.close();
    }
  });
}

Deno.test("appliance in Odoo mode with a wrong API key: devices served, the error is said", async () => {
  const odoo = await startOdooStandin({ version: 17 });
  const appliance = await startTestAppliance("pglite", {
    demo: false,
    config: {
      odooUrl: odoo.url,
      odooDb: odoo.db,
      odooUser: odoo.login,
      odooApiKey: "not-the-key",
      odooPollS: 0.1,
    },
  });
  try {
    await eventually(() => appliance.app.odoo!.health().lastError !== "", "an error", 10_000);
    const health = appliance.app.odoo!.health();
    ok(/refused user "admin" on database "odootest"/.test(health.lastError), health.lastError);
    ok(!JSON.stringify(appliance.logs).includes("not-the-key"));
    const pos = await appliance.device("POS_0001");
    const reply = await pos.request("getGoods", { code: "2300001000008" });
    deepStrictEqual(reply.json, { exception: "", goods: [] });
  } finally {
    await appliance.stop();
    await odoo.close();
  }
});
