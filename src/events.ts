/**
 * A small in-process event bus: actions announce committed work (`order-created`), background
 * workers listen. One per appliance, passed in; a listener's failure is logged, never thrown back
 * into the request that emitted.
 *
 * @module
 */
import type { Logger } from "./log.ts";

/**
 * Background work an action may wake after committing (the payment outbox, pushes). Events are
 * names such as `order-created`; listeners are registered by `main.ts`.
 */
export interface AppEvents {
  emit<E extends AppEventName>(event: E, detail: AppEventMap[E]): void;
}

/** Event emitted (with a {@link DeviceLoginEvent}) once a device's `loginReturn` is sent. */
export const DEVICE_LOGIN_EVENT = "device-login";

/** Detail of {@link DEVICE_LOGIN_EVENT}. */
export interface DeviceLoginEvent {
  equipId: string;
  kind: string;
}

/** Event emitted (with a {@link DeviceOfflineEvent}) once a device's session end is recorded. */
export const DEVICE_OFFLINE_EVENT = "device-offline";

/** Detail of {@link DEVICE_OFFLINE_EVENT}. */
export interface DeviceOfflineEvent {
  equipId: string;
}

/**
 * Event emitted (with a {@link LabelConfirmedEvent}) when shelf labels confirm what they show: a
 * device acknowledges label pushes, or a label's own `getGoods` by `mac_id` is answered.
 */
export const LABEL_CONFIRMED_EVENT = "label-confirmed";

/** Detail of {@link LABEL_CONFIRMED_EVENT}. */
export interface LabelConfirmedEvent {
  /** The base station that answered `sendGoodsReturn` (or asked by `mac_id`). */
  equipId: string;
  /** The label MACs it confirmed. */
  macs: string[];
}

/** Event emitted (with an {@link OrderPaidEvent}) once an order is settled as paid. */
export const ORDER_PAID_EVENT = "order-paid";

/** Detail of {@link ORDER_PAID_EVENT}. */
export interface OrderPaidEvent {
  orderId: number;
  code: string;
}

/** A payment order was committed; detail `{orderId, code}`. Wakes the payment-server outbox. */
export const ORDER_CREATED_EVENT = "order-created";

/** Detail of {@link ORDER_CREATED_EVENT}. */
export interface OrderCreatedEvent {
  orderId: number;
  code: string;
  /** When it expires unpaid (epoch ms): the expiry sweeper plans to look by then. */
  expiresAt: number;
}

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

/** Every event of the appliance and the detail it carries: an emit and a listener agree by type. */
export interface AppEventMap {
  [DEVICE_LOGIN_EVENT]: DeviceLoginEvent;
  [DEVICE_OFFLINE_EVENT]: DeviceOfflineEvent;
  [LABEL_CONFIRMED_EVENT]: LabelConfirmedEvent;
  [ORDER_PAID_EVENT]: OrderPaidEvent;
  [ORDER_CREATED_EVENT]: OrderCreatedEvent;
  [PAYMENT_REFUSED_EVENT]: PaymentRefusedEvent;
  [LOGIN_REFUSED_EVENT]: LoginRefusedEvent;
}

/** The name of an event of {@link AppEventMap}. */
export type AppEventName = keyof AppEventMap;

/** Listener of one event. */
export type EventListener<E extends AppEventName> = (
  detail: AppEventMap[E],
) => void | Promise<void>;

/** The event bus. */
export class EventBus implements AppEvents {
  // Keyed by name: each set holds listeners of that name's detail type.
  #listeners = new Map<AppEventName, Set<EventListener<never>>>();
  #log: Logger;

  /** @param log where listener failures go */
  constructor(log: Logger) {
    this.#log = log;
  }

  /** Subscribes; returns the unsubscribe function. */
  on<E extends AppEventName>(event: E, listener: EventListener<E>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, set = new Set());
    const listeners = set as Set<EventListener<E>>;
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /** Calls every listener of `event` (asynchronous ones are not awaited). */
  emit<E extends AppEventName>(event: E, detail: AppEventMap[E]): void {
    const listeners = (this.#listeners.get(event) ?? []) as Iterable<EventListener<E>>;
    for (const listener of listeners) {
      try {
        const result = listener(detail);
        if (result instanceof Promise) {
          result.catch((e) => this.#log.error("event listener failed", { event, error: e }));
        }
      } catch (e) {
        this.#log.error("event listener failed", { event, error: e });
      }
    }
  }
}
