/**
 * `stockGoods` (PROTOCOL.md §3): records a stock receipt (入库) in one transaction; the same `ref`
 * from the same device twice returns the first receipt's id instead of booking twice.
 *
 * Body: `{"whid": 1, "ref": "…", "goods": [{"gid": 12, "qty": 5}, {"code": "690…", "qty": 2}]}`.
 *
 * @module
 */
import { type ActionHandler, requireDevice } from "./context.ts";
import { type Fields, id, lineList, present, quantity, required, text } from "../fields.ts";
import { UserError } from "../errors.ts";
import { bookStockReceipt, type ReceiptLine } from "../store/stock.ts";

function receiptLine(value: unknown, index: number): ReceiptLine {
  const where = `goods[${index}]`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserError(`${where} must be an object with gid or code, and qty`);
  }
  const line = value as Fields;
  const qty = required(line, "qty", quantity, `${where}.qty`);
  if (present(line.gid)) return { gid: id(line.gid, `${where}.gid`), qty };
  if (present(line.code)) return { code: text(64)(line.code, `${where}.code`), qty };
  throw new UserError(`${where} needs gid or code`);
}

/** Handles `stockGoods`. */
export const stockGoods: ActionHandler = async (ctx, body) => {
  const device = requireDevice(ctx);
  const warehouseId = required(body, "whid", id);
  const ref = required(body, "ref", text(100));
  const lines = lineList(body.goods, "goods").map(receiptLine);
  const booked = await bookStockReceipt(ctx.db, {
    equipId: device.equipId,
    ref,
    warehouseId,
    lines,
  });
  if (booked.created) {
    ctx.log.info("stock receipt booked", {
      equipId: device.equipId,
      ref,
      receiptId: booked.receiptId,
      lines: lines.length,
    });
  }
  return { body: { exception: "", picking_id: String(booked.receiptId) } };
};
