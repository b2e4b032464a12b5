/**
 * Names of the in-process events of the payment flow (on the appliance's `EventBus`).
 *
 * @module
 */

/** A payment order was committed; detail `{orderId, code}`. Wakes the payment-server outbox. */
export const ORDER_CREATED_EVENT = "order-created";

/** Detail of {@link ORDER_CREATED_EVENT}. */
export interface OrderCreatedEvent {
  orderId: number;
  code: string;
}
