/**
 * End-to-end: the real appliance over real TCP, like a device, on PostgreSQL and on PGlite.
 */
import { deepStrictEqual, deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import iconv from "iconv-lite";
import { backends } from "./_support/databases.ts";
import { eventually, startTestAppliance } from "./_support/appliance.ts";
import { encodeFrame } from "../src/protocol/frame.ts";
import { getDevice } from "../src/store/devices.ts";
import { parseBody } from "../src/device/client.ts";

const utf8 = new TextEncoder();

for (const backend of backends()) {
  Deno.test(`core actions over TCP (${backend.name})`, async (t) => {
    const appliance = await startTestAppliance(backend.name);
    const db = appliance.app.db;
    try {
      await t.step("login: empty body, uniqueId = equipId, device registered online", async () => {
        const pos = await appliance.connect("POS_0001");
        const reply = await pos.login();
        assertEquals(reply.header.uniqueId, "POS_0001");
        assertEquals(reply.body.byteLength, 0);
        const row = await getDevice(db, "POS_0001");
        assertEquals(row?.kind, "POS");
        assertEquals(row?.online, true);
        assert(row?.last_address?.startsWith("127.0.0.1:"));
        await pos.close();
      });

      await t.step("login without or with an invalid equipId is refused", async () => {
        const client = await appliance.connect("x");
        client.sendRaw(encodeFrame({ action: "login" }, new Uint8Array(), "le"));
        const reply = await client.waitFor((f) => f.header.action === "loginReturn");
        assertEquals(reply.header.uniqueId, "");
        assertEquals(reply.json?.exception, "equipId is missing from the login header");
        client.sendRaw(
          encodeFrame({ action: "login", equipId: "no spaces!" }, new Uint8Array(), "le"),
        );
        const second = await client.waitFor((f) => f.header.action === "loginReturn");
        assertEquals(second.header.uniqueId, "");
        assert(String(second.json?.exception).includes("not valid"));
        await client.close();
      });

      await t.step("requests before login or with a wrong uniqueId: not logged in", async () => {
        const client = await appliance.connect("POS_0002");
        const before = await client.request("getGoods", { code: "6901234500011" });
        assertEquals(before.json, { exception: "not logged in" });
        await client.login();
        client.uniqueId = "POS_9999";
        const wrong = await client.request("getGoods", { code: "6901234500011" });
        assertEquals(wrong.json, { exception: "not logged in" });
        client.uniqueId = "POS_0002";
        const right = await client.request("getGoods", { code: "6901234500011" });
        assertEquals(right.json?.exception, "");
        await client.close();
      });

      const pos = await appliance.device("POS_0003");

      await t.step("getGoods by code: known codes found, unknown left out", async () => {
        const reply = await pos.request("getGoods", { code: "6901234500011, 0000000000000" });
        assertEquals(reply.header.uniqueId, "POS_0003");
        assertEquals(reply.json?.exception, "");
        const goods = reply.json?.goods as Record<string, unknown>[];
        assertEquals(goods.length, 1);
        deepStrictEqual(goods[0], {
          gid: 1,
          name: "红富士苹果",
          mac: "AC:23:3F:00:00:01",
          scanCode: "6901234500011",
          price: 12.8,
          standardPrice: 8.5,
          description: "红富士苹果，脆甜多汁",
          area: "山东烟台",
          feature: "脆甜多汁",
          stock: "23.75",
        });
      });

      await t.step("getGoods by mac_id answers in GBK and learns the label's device", async () => {
        const label = await appliance.device("DZBQ_0001");
        const reply = await label.request("getGoods", { mac_id: "ac:23:3f:00:00:01" });
        // The exact bytes of the name as the label's GBK display expects them.
        const name = iconv.encode("红富士苹果", "gbk");
        assertEquals(
          [...name].map((b) => b.toString(16)).join(" "),
          "ba ec b8 bb ca bf c6 bb b9 fb",
        );
        assert(indexOf(reply.body, name) >= 0, "GBK name bytes in the body");
        assertEquals(indexOf(reply.body, utf8.encode("红富士苹果")), -1, "no UTF-8 name");
        assertEquals(reply.header.length, reply.body.byteLength);
        const json = parseBody(reply.body, "gbk");
        const goods = json?.goods as Record<string, unknown>[];
        assertEquals(goods.map((g) => [g.gid, g.mac, g.name]), [[
          1,
          "AC:23:3F:00:00:01",
          "红富士苹果",
        ]]);
        const learned = await db.query<{ equip_id: string; source: string }>(
          "select equip_id, source from label_devices where mac = $1",
          ["AC:23:3F:00:00:01"],
        );
        assertEquals(learned, [{ equip_id: "DZBQ_0001", source: "learned" }]);
        await label.close();
      });

      await t.step("getGoods by gid, gname and rfids (text and array)", async () => {
        const byId = await pos.request("getGoods", { gid: "9,10" });
        assertEquals((byId.json?.goods as { gid: number }[]).map((g) => g.gid), [9, 10]);
        const byName = await pos.request("getGoods", { gname: "苹果" });
        assert((byName.json?.goods as { name: string }[]).every((g) => g.name.includes("苹果")));
        assert((byName.json?.goods as unknown[]).length >= 1);
        const byTags = await pos.request("getGoods", {
          rfids: [
            "E28011606000020400000901",
            "E28011606000020400000902",
            "E28011606000020400001001",
          ],
        });
        assertEquals(
          (byTags.json?.goods as { gid: number }[]).map((g) => g.gid).sort((a, b) => a - b),
          [9, 9, 10],
        );
        const byText = await pos.request("getGoods", { rfids: "e28011606000020400001701" });
        assertEquals((byText.json?.goods as { gid: number }[]).map((g) => g.gid), [17]);
      });

      await t.step(
        "getGoods: first key wins; no key, wrong types, bad JSON → exception",
        async () => {
          const both = await pos.request("getGoods", { gid: "2", code: "6901234500011" });
          assertEquals((both.json?.goods as { gid: number }[]).map((g) => g.gid), [1]);
          const none = await pos.request("getGoods", { foo: 1 });
          assertEquals(
            none.json?.exception,
            "getGoods needs one of code, mac_id, gid, gname, rfids",
          );
          const wrong = await pos.request("getGoods", { gid: "abc" });
          assertEquals(wrong.json?.exception, "gid must be a positive integer");
          const obj = await pos.request("getGoods", { code: { a: 1 } });
          assertEquals(obj.json?.exception, "code must be text or a list");
          const notJson = await pos.request("getGoods", utf8.encode("{code:"));
          assert(String(notJson.json?.exception).includes("JSON"), String(notJson.json?.exception));
          const notUtf8 = await pos.request("getGoods", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
          assert(
            String(notUtf8.json?.exception).includes("UTF-8"),
            String(notUtf8.json?.exception),
          );
          const array = await pos.request("getGoods", utf8.encode("[1,2]"));
          assert(String(array.json?.exception).includes("object"), String(array.json?.exception));
          const still = await pos.request("getGoods", { code: "6901234500028" });
          assertEquals((still.json?.goods as unknown[]).length, 1, "the session goes on");
        },
      );

      await t.step("unknown action → exception, session goes on", async () => {
        const reply = await pos.request("frobnicate", {});
        assertEquals(reply.json, { exception: "unknown action: frobnicate" });
        const proto = await pos.request("__proto__", {});
        assertEquals(proto.json, { exception: "unknown action: __proto__" });
      });

      await t.step("device health → empty healthReturn", async () => {
        const reply = await pos.request("health", null);
        assertEquals(reply.body.byteLength, 0);
        assertEquals(reply.header.uniqueId, "POS_0003");
      });

      await t.step(
        "getAllGoods pages over more than one page, each goods once, with pcname",
        async () => {
          for (let i = 0; i < 160; i++) {
            await db.query(
              `insert into goods (barcode, name, price, cost, category_id, active)
             values ($1, $2, 1.00, 0.50, 2, true)`,
              [`99${String(i).padStart(11, "0")}`, `测试商品${i}`],
            );
          }
          const total = (await db.query<{ n: number }>(
            "select count(*)::int as n from goods where active",
          ))[0].n;
          const seen: number[] = [];
          for (let ost = 0;; ost += 150) {
            const reply = await pos.request("getAllGoods", { ost, lmt: 150 });
            const goods = reply.json?.goods as { gid: number; pcname: string }[];
            if (goods.length === 0) break;
            assert(goods.every((g) => typeof g.pcname === "string" && g.pcname !== ""));
            seen.push(...goods.map((g) => g.gid));
          }
          assertEquals(seen.length, total);
          assertEquals(new Set(seen).size, total);
          assertEquals(seen, [...seen].sort((a, b) => a - b));
          const defaults = await pos.request("getAllGoods", {});
          assertEquals((defaults.json?.goods as unknown[]).length, 150);
          const apple = (defaults.json?.goods as { gid: number; pcname: string }[])[0];
          assertEquals([apple.gid, apple.pcname], [1, "水果"]);
          const tooBig = await pos.request("getAllGoods", { lmt: 5000 });
          assertEquals(tooBig.json?.exception, "lmt must be an integer 1..1000");
          const negative = await pos.request("getAllGoods", { ost: -1 });
          assert(String(negative.json?.exception).startsWith("ost must be"));
        },
      );

      await t.step("getWarehouseGoods: stock of that warehouse; unknown warehouse", async () => {
        const reply = await pos.request("getWarehouseGoods", { whid: 2 });
        const goods = reply.json?.goods as { gid: number; stock: string }[];
        assert(goods.length > 0);
        const stock = await db.query<{ goods_id: number; quantity: string }>(
          "select goods_id, quantity::text as quantity from stock where warehouse_id = 2 order by goods_id",
        );
        const apple = goods.find((g) => g.gid === 1)!;
        const row = stock.find((s) => s.goods_id === 1)!;
        assertEquals(Number(apple.stock), Number(row.quantity));
        const unknown = await pos.request("getWarehouseGoods", { whid: 99 });
        assertEquals(unknown.json, { exception: "unknown warehouse: 99" });
        const missing = await pos.request("getWarehouseGoods", {});
        assertEquals(missing.json?.exception, "whid is required");
      });

      await t.step("stockGoods books once per ref, and atomically", async () => {
        const stockOf = async (gid: number) =>
          Number(
            (await db.query<{ q: string }>(
              "select quantity::text as q from stock where warehouse_id = 1 and goods_id = $1",
              [gid],
            ))[0]?.q ?? 0,
          );
        const before1 = await stockOf(1);
        const before2 = await stockOf(2);
        const body = {
          whid: 1,
          ref: "PO-2026-001",
          goods: [{ gid: 1, qty: 5 }, { code: "6901234500028", qty: "2.5" }],
        };
        const first = await pos.request("stockGoods", body);
        assertEquals(first.json?.exception, "");
        assert(/^\d+$/.test(String(first.json?.picking_id)));
        assertEquals(await stockOf(1), before1 + 5);
        assertEquals(await stockOf(2), before2 + 2.5);
        const again = await pos.request("stockGoods", body);
        assertEquals(again.json, first.json);
        assertEquals(await stockOf(1), before1 + 5, "not booked twice");

        const bad = await pos.request("stockGoods", {
          whid: 1,
          ref: "PO-2026-002",
          goods: [{ gid: 1, qty: 1 }, { code: "0000000000000", qty: 1 }],
        });
        assert(String(bad.json?.exception).includes("0000000000000"), String(bad.json?.exception));
        assertEquals(await stockOf(1), before1 + 5, "nothing booked");
        const receipts = await db.query("select 1 from stock_receipts where ref = 'PO-2026-002'");
        assertEquals(receipts.length, 0);

        const cases: [unknown, string][] = [
          [{ ref: "x", goods: [{ gid: 1, qty: 1 }] }, "whid is required"],
          [{ whid: 9, ref: "x", goods: [{ gid: 1, qty: 1 }] }, "unknown warehouse: 9"],
          [{ whid: 1, goods: [{ gid: 1, qty: 1 }] }, "ref is required"],
          [{ whid: 1, ref: "x", goods: [] }, "goods must be a non-empty list"],
          [{ whid: 1, ref: "x", goods: [{ gid: 1 }] }, "goods[0].qty is required"],
          [
            { whid: 1, ref: "x", goods: [{ gid: 1, qty: -1 }] },
            "goods[0].qty must be greater than 0",
          ],
          [
            { whid: 1, ref: "x", goods: [{ gid: 1, qty: 1.0001 }] },
            "goods[0].qty: 1.0001 has more than 3 decimal places",
          ],
          [{ whid: 1, ref: "x", goods: [{ qty: 1 }] }, "goods[0] needs gid or code"],
        ];
        for (const [request, expected] of cases) {
          const reply = await pos.request("stockGoods", request as Record<string, unknown>);
          assertEquals(reply.json, { exception: expected }, JSON.stringify(request));
        }
      });

      await t.step("logout answers, closes and marks the device offline", async () => {
        const scale = await appliance.device("DZC_0001");
        const reply = await scale.request("logout", {});
        assertEquals(reply.json, { exception: "" });
        await scale.done;
        await eventually(
          async () => (await getDevice(db, "DZC_0001"))?.online === false,
          "offline",
        );
        assert((await getDevice(db, "DZC_0001"))?.last_offline_at instanceof Date);
      });

      await t.step("disconnect marks offline; takeover closes the older connection", async () => {
        const first = await appliance.device("DZBQ_0100");
        const second = await appliance.device("DZBQ_0100");
        await first.done; // closed by the server
        const reply = await second.request("getGoods", { gid: 1 });
        assertEquals(reply.json?.exception, "");
        assertEquals((await getDevice(db, "DZBQ_0100"))?.online, true, "the new session owns it");
        await second.close();
        await eventually(
          async () => (await getDevice(db, "DZBQ_0100"))?.online === false,
          "offline",
        );
      });

      await t.step(
        "protocol errors close only the offending connection, with a reason",
        async () => {
          const bad: [string, Uint8Array][] = [
            ["header_length_out_of_range", lengthPrefix(-5)],
            ["header_length_out_of_range", lengthPrefix(10_000_000)],
            ["header_not_json", frameOf("not json")],
            ["header_not_object", frameOf("[1]")],
            ["missing_action", frameOf('{"length":0}')],
            ["bad_length", frameOf('{"action":"getGoods","length":"7"}')],
            ["bad_length", frameOf('{"action":"getGoods","length":-1}')],
            ["body_too_large", frameOf('{"action":"getGoods","length":2000000000}')],
          ];
          for (const [reason, bytes] of bad) {
            const peer = await appliance.connect("x");
            peer.sendRaw(bytes);
            await peer.done;
            const logged = appliance.logs.find((l) =>
              l.msg === "protocol error, closing connection" && l.reason === reason
            );
            assert(logged, `logged ${reason}`);
            const reply = await pos.request("getGoods", { code: "6901234500011" });
            assertEquals((reply.json?.goods as unknown[]).length, 1, "other device still served");
          }
        },
      );

      await t.step("frames split at every byte, and many frames in one write", async () => {
        const client = await appliance.connect("POS_0004");
        await client.login();
        const frame = encodeFrame(
          { action: "getGoods", uniqueId: "POS_0004" },
          utf8.encode('{"code":"6901234500011"}'),
          "le",
        );
        for (let i = 0; i < frame.byteLength; i++) {
          client.sendRaw(frame.subarray(i, i + 1));
          await new Promise((r) => setTimeout(r, 0));
        }
        const one = await client.waitFor((f) => f.header.action === "getGoodsReturn");
        assertEquals((one.json?.goods as unknown[]).length, 1);
        const many = new Uint8Array(frame.byteLength * 5);
        for (let i = 0; i < 5; i++) many.set(frame, i * frame.byteLength);
        client.sendRaw(many);
        for (let i = 0; i < 5; i++) {
          const r = await client.waitFor((f) => f.header.action === "getGoodsReturn");
          assertEquals((r.json?.goods as unknown[]).length, 1);
        }
        await client.close();
      });
    } finally {
      await appliance.stop();
    }
  });
}

function lengthPrefix(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, n, true);
  return out;
}

function frameOf(headerText: string): Uint8Array {
  const header = utf8.encode(headerText);
  const out = new Uint8Array(4 + header.byteLength);
  new DataView(out.buffer).setInt32(0, header.byteLength, true);
  out.set(header, 4);
  return out;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.byteLength <= haystack.byteLength; i++) {
    for (let j = 0; j < needle.byteLength; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
