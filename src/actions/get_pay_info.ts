/**
 * `getPayInfo` (PROTOCOL.md §3): prices the device's lines from the catalogue, stores a pending
 * order with its payment-server call, and answers with the payment URL at once; the call itself
 * is made in the background (src/integrations/payment_server.ts).
 *
 * Body: `{"order_id": "T1001", "totalPrice": 5.24, "goods": [{"gid": 1, "weight": 0.41}]}`, or
 * the old list form `{"goods": {"gid": "1,2", "standardPrice": "12.8,2", "weight": "0.41,1"}}`.
 *
 * @module
 */
import {
  type ActionContext,
  type ActionHandler,
  type ActionResult,
  requireDevice,
} from "./context.ts";
import { amount, required, text } from "../fields.ts";
import { UserError } from "../errors.ts";
import type { JsonObject } from "../protocol/body.ts";
import { isScale } from "../protocol/device_id.ts";
import { maskId } from "../log.ts";
import { findTerminalOrder, type OrderRecord } from "../store/orders.ts";
import type { PricedGoods } from "../store/priced_goods.ts";
import { goodsByPlus } from "../store/goods.ts";
import { compareDecimal } from "../decimal.ts";
import {
  ERROR_PRICE,
  priceLines,
  requestedLines,
  requireChargeableTotal,
  resolveScaleLines,
  totalMatches,
} from "../pricing/order_lines.ts";
import { ORDER_CREATED_EVENT } from "../events.ts";
import { chargedGoods } from "../pricing/parity.ts";

/**
 * The payment URL for the device's QR code: `{order}`, `{amount}` and `{shop}` of the template
 * replaced (URL-encoded).
 *
 * @example
 * ```ts
 * payUrl("https://pay.example.com/qr?o={order}&a={amount}", "250101120000001", "5.24", "shop0001");
 * // "https://pay.example.com/qr?o=250101120000001&a=5.24"
 * ```
 */
export function payUrl(template: string, order: string, amount: string, shop: string): string {
  return template
    .replaceAll("{order}", encodeURIComponent(order))
    .replaceAll("{amount}", encodeURIComponent(amount))
    .replaceAll("{shop}", encodeURIComponent(shop));
}

function reply(order: OrderRecord): ActionResult {
  return { body: { exception: "", url: order.payUrl } };
}

async function createPayment(ctx: ActionContext, body: JsonObject): Promise<ActionResult> {
  const device = requireDevice(ctx);
  const terminalOrderId = required(body, "order_id", text(64));
  const total = required(body, "totalPrice", amount);
  const kind = isScale(device.equipId) ? "scale" : "normal";
  const asked = required(
    body,
    "goods",
    (goods) => requestedLines(goods, kind, ctx.config.scaleBarcodes),
  );

  // A device that did not get the reply asks again with the same order number: that order is
  // found when this one cannot be priced as asked, or when creating it finds the number taken
  // (a new order, the usual case, costs no look-up of its own).
  let priced: ReturnType<typeof priceLines>;
  try {
    priced = await priceOrder(ctx, asked, total);
  } catch (e) {
    const earlier = e instanceof UserError
      ? await findTerminalOrder(ctx.db, device.equipId, terminalOrderId)
      : undefined;
    if (earlier) return retried(earlier, total);
    if (e instanceof TotalDiffers) {
      ctx.log.info("order refused: total differs", {
        equipId: device.equipId,
        orderId: terminalOrderId,
        deviceTotal: total,
        serverTotal: e.serverTotal,
      });
    }
    throw e;
  }
  const now = new Date(ctx.clock.now());
  const { order, created } = await ctx.orders.create({
    equipId: device.equipId,
    uniqueId: device.uniqueId,
    terminalOrderId,
    kind,
    amount: priced.amount,
    deviceTotal: total,
    shopId: ctx.config.shopId,
    lines: priced.lines,
    createdAt: now,
    expiresAt: new Date(now.getTime() + ctx.config.orderTtlS * 1000),
    payUrl: (code) => payUrl(ctx.config.payUrlTemplate, code, priced.amount, ctx.config.shopId),
  });
  if (!created) return retried(order, total);
  ctx.log.info("order created", {
    equipId: device.equipId,
    orderId: terminalOrderId,
    code: order.code,
    kind,
    amount: order.amount,
    lines: priced.lines.length,
    // Lines charged at a price a shelf label still shows (price parity).
    shelfPriced: priced.lines.filter((l) => l.priceReason !== "current").length,
    customer: order.openId ? maskId(order.openId) : "",
  });
  ctx.events.emit(ORDER_CREATED_EVENT, {
    orderId: order.id,
    code: order.code,
    expiresAt: order.expiresAt.getTime(),
  });
  return reply(order);
}

/** The device's total is not the order's (answered {@link ERROR_PRICE}). */
class TotalDiffers extends UserError {
  /** @param serverTotal the order's total as priced here */
  constructor(readonly serverTotal: string) {
    super(ERROR_PRICE);
  }
}

/**
 * Prices the asked lines from the catalogue, scale PLUs resolved, with price parity (PROTOCOL.md
 * §6: a label still showing a lower price inside the window holds it). Throws a {@link UserError}
 * when a line cannot be priced, and {@link TotalDiffers} when the device's total is not the
 * order's.
 */
async function priceOrder(
  ctx: ActionContext,
  asked: ReturnType<typeof requestedLines>,
  total: string,
): Promise<ReturnType<typeof priceLines>> {
  const plus = [...new Set(asked.flatMap((l) => l.scale ? [l.scale.plu] : []))];
  const byPlu = new Map(
    plus.length > 0 ? (await goodsByPlus(ctx.db, plus)).map((g) => [Number(g.matched), g.gid]) : [],
  );
  const requested = resolveScaleLines(asked, byPlu);
  const ids = requested.map((l) => l.gid);
  const catalogue = chargedGoods(await ctx.orders.goods(ids), ctx.clock.now(), ctx.config);
  const priced = priceLines(requested, catalogue);
  if (!totalMatches(total, priced.amount) && !atCurrentPrices(total, requested, catalogue)) {
    throw new TotalDiffers(priced.amount);
  }
  requireChargeableTotal(priced.amount);
  return priced;
}

/**
 * Whether the device's total is the order at the current prices while some lines are held lower
 * by a shelf label: a scale that was already pushed the new price. It is charged the lower, shelf
 * price (the customer never pays more than a label shows), not refused.
 */
function atCurrentPrices(
  total: string,
  requested: Parameters<typeof priceLines>[0],
  catalogue: PricedGoods[],
): boolean {
  if (!catalogue.some((g) => g.listPrice !== undefined && g.listPrice !== g.price)) return false;
  const current = catalogue.map((g) => ({
    ...g,
    price: g.listPrice ?? g.price,
    reason: "current",
  }));
  return totalMatches(total, priceLines(requested, current).amount);
}

function retried(order: OrderRecord, total: string): ActionResult {
  if (compareDecimal(order.deviceTotal, total) !== 0) {
    throw new UserError(
      `order_id ${order.terminalOrderId} is already used by order ${order.code} of ${order.amount}`,
    );
  }
  return reply(order);
}

/**
 * Handles `getPayInfo`. A failure carries `"url": ""` besides the `exception` (the action table's
 * `failureBody`): the old server sent a stale variable there, which devices could not read.
 */
export const getPayInfo: ActionHandler = (ctx, body) => createPayment(ctx, body);
