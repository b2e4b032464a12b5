/**
 * What a device was refused for acting beyond itself (issue 10), announced on the app's event
 * bus by the handlers; the {@link TrustMonitor} of `monitor.ts` counts and logs them, so the
 * handlers need no metrics or memo of their own.
 *
 * @module
 */

/** Event emitted (with a {@link PaymentRefusedEvent}) when `makePayment` names an order the device may not pay. */
export const PAYMENT_REFUSED_EVENT = "payment-refused";

/** Detail of {@link PAYMENT_REFUSED_EVENT}. */
export interface PaymentRefusedEvent {
  /** `not_owner`: the order exists but is another device's; `unknown`: no such order. */
  reason: "not_owner" | "unknown";
  equipId: string;
  peer: string;
  oid: string;
}

/** Event emitted (with a {@link LoginRefusedEvent}) when admission refuses a login. */
export const LOGIN_REFUSED_EVENT = "login-refused";

/** Detail of {@link LOGIN_REFUSED_EVENT}. */
export interface LoginRefusedEvent {
  /** Stable metric label: `not_registered`, `disabled`, `invalid_id`. */
  reason: string;
  /** The line the device was answered with. */
  message: string;
  equipId: string;
  peer: string;
}
