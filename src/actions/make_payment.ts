/**
 * `makePayment` (PROTOCOL.md §3): the device took the payment itself (cash) and marks the order
 * paid. Idempotent: an order already paid answers success again.
 *
 * Body: `{"oid": "T1001"}`: the device's own order number, or the order code of the payment URL.
 * Only the device that made the order may pay it, or a device of a kind in `payAuthority`
 * (PROTOCOL.md §6); for any other device the order does not exist.
 *
 * @module
 */
import { type ActionHandler, requireDevice } from "./context.ts";
import { required, text } from "../fields.ts";
import { UserError } from "../errors.ts";
import { findOrderByCode, findTerminalOrder, settleOrder } from "../store/orders.ts";
import {
  ORDER_PAID_EVENT,
  type OrderPaidEvent,
  PAYMENT_REFUSED_EVENT,
  type PaymentRefusedEvent,
} from "../events.ts";

/** Handles `makePayment`. */
export const makePayment: ActionHandler = async (ctx, body) => {
  const device = requireDevice(ctx);
  const oid = required(body, "oid", text(64));
  const own = await findTerminalOrder(ctx.db, device.equipId, oid);
  const byCode = own ? undefined : await findOrderByCode(ctx.db, oid);
  // The code is printed in the QR URL: knowing it does not make the order this device's. For
  // anyone but its device (and the cashier kinds of payAuthority) the order does not exist.
  const order = own ??
    (byCode && (byCode.equipId === device.equipId ||
        ctx.config.payAuthority.includes(device.kind))
      ? byCode
      : undefined);
  if (!order) {
    const refused: PaymentRefusedEvent = {
      reason: byCode ? "not_owner" : "unknown",
      equipId: device.equipId,
      peer: ctx.peer,
      oid,
    };
    ctx.events.emit(PAYMENT_REFUSED_EVENT, refused);
    throw new UserError(`unknown order: ${oid}`);
  }
  const settled = await settleOrder(ctx.db, order.id, {
    outcome: "paid",
    by: "device",
    at: new Date(ctx.clock.now()),
    detail: device.equipId,
    // The device that took the money knows; it is not sent sendPayResult for it.
    notifyDevice: false,
  });
  if (settled?.changed) {
    const paid: OrderPaidEvent = { orderId: order.id, code: order.code };
    ctx.events.emit(ORDER_PAID_EVENT, paid);
    const fields = { equipId: device.equipId, code: order.code, amount: order.amount };
    if (settled.previous === "pending") ctx.log.info("order paid by device", fields);
    else ctx.log.warn("order paid by device after it was " + settled.previous, fields);
  }
  return { body: { exception: "" } };
};
