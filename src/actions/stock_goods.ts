/**
 * `stockGoods` (PROTOCOL.md §3): records a stock receipt (入库) in one transaction; the same `ref`
 * from the same device twice returns the first receipt's id instead of booking twice.
 *
 * Body: `{"whid": 1, "ref": "…", "goods": [{"gid": 12, "qty": 5}, {"code": "690…", "qty": 2}]}`.
 *
 * @module
 */
import { type ActionHandler, requireDevice } from "./context.ts";
import { id, MAX_LIST_ITEMS, positiveDecimal, requiredText } from "./_values.ts";
import { UserError } from "../errors.ts";
import { toScaled } from "../decimal.ts";
import { bookStockReceipt, type ReceiptLine } from "../store/stock.ts";

/** Decimal places of a received quantity (grams for weighed goods). */
export const QUANTITY_SCALE = 3;

/** Largest quantity of one line: far above any delivery, far below the stock column's range. */
export const MAX_LINE_QUANTITY = 1_000_000_000;

function receiptLine(value: unknown, index: number): ReceiptLine {
  const where = `goods[${index}]`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserError(`${where} must be an object with gid or code, and qty`);
  }
  const line = value as Record<string, unknown>;
  const qty = positiveDecimal(line.qty, `${where}.qty`, QUANTITY_SCALE);
  if (toScaled(qty, QUANTITY_SCALE) > BigInt(MAX_LINE_QUANTITY) * 10n ** BigInt(QUANTITY_SCALE)) {
    throw new UserError(`${where}.qty is larger than ${MAX_LINE_QUANTITY}`);
  }
  if (line.gid !== undefined && line.gid !== null) {
    return { gid: id(line.gid, `${where}.gid`), qty };
  }
  if (line.code !== undefined && line.code !== null) {
    return { code: requiredText(line.code, `${where}.code`, 64), qty };
  }
  throw new UserError(`${where} needs gid or code`);
}

/** Handles `stockGoods`. */
export const stockGoods: ActionHandler = async (ctx, body) => {
  const device = requireDevice(ctx);
  if (body.whid === undefined || body.whid === null) throw new UserError("whid is required");
  const warehouseId = id(body.whid, "whid");
  if (body.ref === undefined || body.ref === null) throw new UserError("ref is required");
  const ref = requiredText(body.ref, "ref", 100);
  if (!Array.isArray(body.goods) || body.goods.length === 0) {
    throw new UserError("goods must be a non-empty list");
  }
  if (body.goods.length > MAX_LIST_ITEMS) {
    throw new UserError(`goods has more than ${MAX_LIST_ITEMS} lines`);
  }
  const lines = body.goods.map(receiptLine);
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
