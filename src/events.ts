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
  emit(event: string, detail?: unknown): void;
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

/** Listener of one event. */
export type EventListener = (detail: unknown) => void | Promise<void>;

/** The event bus. */
export class EventBus implements AppEvents {
  #listeners = new Map<string, Set<EventListener>>();
  #log: Logger;

  /** @param log where listener failures go */
  constructor(log: Logger) {
    this.#log = log;
  }

  /** Subscribes; returns the unsubscribe function. */
  on(event: string, listener: EventListener): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, set = new Set());
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Calls every listener of `event` (asynchronous ones are not awaited). */
  emit(event: string, detail?: unknown): void {
    for (const listener of this.#listeners.get(event) ?? []) {
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
