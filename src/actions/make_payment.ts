/**
 * `makePayment` (PROTOCOL.md §3): the device took the payment itself (cash) and marks the order
 * paid. Idempotent: an order already paid answers success again.
 *
 * Body: `{"oid": "T1001"}`: the device's own order number, or the order code of the payment URL.
 *
 * @module
 */
import { type ActionHandler, requireDevice } from "./context.ts";
import { required, text } from "../fields.ts";
import { UserError } from "../errors.ts";
import { findOrderByCode, findTerminalOrder, settleOrder } from "../store/orders.ts";

/** Handles `makePayment`. */
export const makePayment: ActionHandler = async (ctx, body) => {
  const device = requireDevice(ctx);
  const oid = required(body, "oid", text(64));
  const order = await findTerminalOrder(ctx.db, device.equipId, oid) ??
    await findOrderByCode(ctx.db, oid);
  if (!order) throw new UserError(`unknown order: ${oid}`);
  const settled = await settleOrder(ctx.db, order.id, {
    outcome: "paid",
    by: "device",
    at: new Date(ctx.clock.now()),
    detail: device.equipId,
    // The device that took the money knows; it is not sent sendPayResult for it.
    notifyDevice: false,
  });
  if (settled?.changed) {
    const fields = { equipId: device.equipId, code: order.code, amount: order.amount };
    if (settled.previous === "pending") ctx.log.info("order paid by device", fields);
    else ctx.log.warn("order paid by device after it was " + settled.previous, fields);
  }
  return { body: { exception: "" } };
};
