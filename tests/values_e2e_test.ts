/**
 * End-to-end over real TCP: quantities and amounts are read one way by every action (issue 10.6).
 * Goods sold by the piece take whole quantities only, in `stockGoods` as in `getPayInfo`; numbers
 * beyond the database's columns are refused with a reason, not an internal error; numbers
 * written with an exponent are numbers, refused (or accepted) for what they are.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { startTestAppliance } from "./_support/appliance.ts";

const utf8 = new TextEncoder();

for (const backend of backends()) {
  Deno.test(`quantities and amounts over TCP (${backend.name})`, async (t) => {
    const appliance = await startTestAppliance(backend.name);
    const db = appliance.app.db;
    const receipts = async () =>
      (await db.query<{ n: number }>("select count(*)::int as n from stock_receipts"))[0].n;
    const orders = async () =>
      (await db.query<{ n: number }>("select count(*)::int as n from orders"))[0].n;
    try {
      const pos = await appliance.device("POS_0001");
      const [{ barcode: bottleCode }] = await db.query<{ barcode: string }>(
        "select barcode from goods where id = 9",
      );
      const piece = "goods[0]: 农夫山泉 550ml is sold by the piece, its quantity must be whole";

      await t.step("a fractional quantity of a piece item is refused by every action", async () => {
        const before = await receipts();
        for (const line of [{ gid: 9, qty: 5.5 }, { code: bottleCode, qty: "5.5" }]) {
          const stock = await pos.request("stockGoods", { whid: 1, ref: "R-half", goods: [line] });
          assertEquals(stock.json, { exception: piece });
        }
        assertEquals(await receipts(), before, "nothing booked");
        const pay = await pos.request("getPayInfo", {
          order_id: "V-half",
          totalPrice: 11,
          goods: [{ gid: 9, qty: 5.5 }],
        });
        assertEquals(pay.json, { exception: piece, url: "" });
        // Weighed goods keep their decimals.
        const apples = await pos.request("stockGoods", {
          whid: 1,
          ref: "R-apples",
          goods: [{ gid: 1, qty: 5.5 }],
        });
        assertEquals(apples.json?.exception, "");
      });

      await t.step("quantities and amounts beyond the columns get a reason", async () => {
        const before = await orders();
        const cases: [Record<string, unknown>, string][] = [
          [
            { order_id: "V-big", totalPrice: 2e12, goods: [{ gid: 9, qty: 1e12 }] },
            "goods[0].qty is larger than 1000000000",
          ],
          [
            { order_id: "V-big", totalPrice: 4, goods: [{ gid: 9, qty: 1e12 }] },
            "goods[0].qty is larger than 1000000000",
          ],
          // A device total that differs is errorPrice however large (PROTOCOL.md §3).
          [
            { order_id: "V-big", totalPrice: 4, goods: [{ gid: 14, qty: 999_999_999 }] },
            "errorPrice",
          ],
          [
            { order_id: "V-big", totalPrice: 2e12, goods: [{ gid: 9, qty: 2 }] },
            "errorPrice",
          ],
        ];
        for (const [request, expected] of cases) {
          const reply = await pos.request("getPayInfo", request);
          assertEquals(reply.json, { exception: expected, url: "" }, JSON.stringify(request));
        }
        assertEquals(await orders(), before, "no order stored");
        const stock = await pos.request("stockGoods", {
          whid: 1,
          ref: "R-big",
          goods: [{ gid: 9, qty: 1e12 }],
        });
        assertEquals(stock.json, { exception: "goods[0].qty is larger than 1000000000" });
      });

      await t.step("numbers written with an exponent are numbers", async () => {
        const raw = (text: string) => utf8.encode(text);
        const cases: [string, string, string][] = [
          [
            "getPayInfo",
            `{"order_id":"V-e1","totalPrice":4,"goods":[{"gid":9,"qty":1e-7}]}`,
            "goods[0].qty: 0.0000001 has more than 3 decimal places",
          ],
          [
            "getPayInfo",
            `{"order_id":"V-e2","totalPrice":4,"goods":[{"gid":9,"qty":1e300}]}`,
            "goods[0].qty is larger than 1000000000",
          ],
          [
            "getPayInfo",
            `{"order_id":"V-e3","totalPrice":1e300,"goods":[{"gid":9,"qty":2}]}`,
            "errorPrice",
          ],
          [
            "stockGoods",
            `{"whid":1,"ref":"R-e1","goods":[{"gid":1,"qty":1e-7}]}`,
            "goods[0].qty: 0.0000001 has more than 3 decimal places",
          ],
          [
            "stockGoods",
            `{"whid":1,"ref":"R-e2","goods":[{"gid":1,"qty":1E+300}]}`,
            "goods[0].qty is larger than 1000000000",
          ],
        ];
        for (const [action, body, expected] of cases) {
          const reply = await pos.request(action, raw(body));
          assertEquals(reply.json?.exception, expected, body);
        }
        // An exponent that makes a fine number is accepted: 2e0 bottles at 2.00 are 4.00.
        const fine = await pos.request(
          "getPayInfo",
          raw(`{"order_id":"V-e4","totalPrice":4e0,"goods":[{"gid":9,"qty":2e0}]}`),
        );
        assertEquals(fine.json?.exception, "");
        const [order] = await db.query<{ amount: string }>(
          "select amount::text as amount from orders where terminal_order_id = 'V-e4'",
        );
        assertEquals(order.amount, "4.00");
      });
    } finally {
      await appliance.stop();
    }
  });
}
