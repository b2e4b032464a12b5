import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import iconv from "iconv-lite";
import { decodeCsv, importBindings, parseBindings, parseCsv } from "./bindings_csv.ts";
import { backends } from "../../tests/_support/databases.ts";
import { goodsByLabels, goodsByRfids } from "./goods.ts";

Deno.test("bindings csv: parsing", async (t) => {
  await t.step("quotes, CRLF, blank lines, BOM", () => {
    deepStrictEqual(parseCsv('a,"b,c","d""e"\r\n\r\n1,2,3'), [["a", "b,c", 'd"e'], [""], [
      "1",
      "2",
      "3",
    ]]);
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("mac,gid\n")]);
    strictEqual(decodeCsv(bom), "mac,gid\n");
  });
  await t.step("GBK from Excel is read as GBK", () => {
    strictEqual(decodeCsv(iconv.encode("epc,barcode\n标签,1\n", "gbk")), "epc,barcode\n标签,1\n");
  });
  await t.step("every bad row is reported with its line", () => {
    const { rows, errors } = parseBindings(
      "MAC,gid,device\nAC:01,42,DZBQ_0001\n,7,\nAC:02,x,\nAC:03,,\nAC:04,5,not a device\n",
    );
    strictEqual(rows.length, 1);
    deepStrictEqual(errors, [
      "line 3: needs a mac or an epc",
      'line 4: gid must be a positive whole number, got "x"',
      "line 5: needs a gid or a barcode",
      'line 6: device must look like DZBQ_0001, got "not a device"',
    ]);
  });
  await t.step("a header without the needed columns", () => {
    const { errors } = parseBindings("label,sku\n1,2\n");
    ok(errors.some((e) => /unknown column\(s\) label, sku/.test(e)));
    ok(errors.some((e) => /needs a mac or epc column/.test(e)));
  });
});

for (const backend of backends()) {
  Deno.test(`bindings csv: import (${backend.name})`, async (t) => {
    const { db, dispose } = await backend.open({ demo: true });
    try {
      const [apple] = await db.query<{ id: number; barcode: string }>(
        "select id, barcode from goods where active order by id limit 1",
      );
      await t.step(
        "labels (with a configured device) and tags, by gid and by barcode",
        async () => {
          const file = `mac,epc,gid,barcode,device
NEW:MAC:01,,${apple.id},,DZBQ_0100
,EPC-NEW-1,,${apple.barcode},
`;
          const { rows, errors } = parseBindings(file);
          deepStrictEqual(errors, []);
          const result = await importBindings(db, rows);
          deepStrictEqual(result, { labels: 1, tags: 1, devices: 1, errors: [] });
          strictEqual((await goodsByLabels(db, ["NEW:MAC:01"]))[0].gid, apple.id);
          strictEqual((await goodsByRfids(db, ["EPC-NEW-1"]))[0].gid, apple.id);
          const [device] = await db.query(
            "select equip_id, source from label_devices where mac = 'NEW:MAC:01'",
          );
          deepStrictEqual({ ...device }, { equip_id: "DZBQ_0100", source: "configured" });
        },
      );
      await t.step("unknown goods: nothing imported, each reported", async () => {
        const { rows } = parseBindings("mac,gid\nNEW:MAC:02,999999\nNEW:MAC:03," + apple.id + "\n");
        const result = await importBindings(db, rows);
        deepStrictEqual(result.errors, ["line 2: unknown goods gid 999999"]);
        deepStrictEqual(await goodsByLabels(db, ["NEW:MAC:03"]), []);
      });
      await t.step("dry run counts without importing", async () => {
        const { rows } = parseBindings(`epc,gid\nEPC-DRY,${apple.id}\n`);
        const result = await importBindings(db, rows, { dryRun: true });
        strictEqual(result.tags, 1);
        deepStrictEqual(await goodsByRfids(db, ["EPC-DRY"]), []);
      });
    } finally {
      await dispose();
    }
  });
}
