/**
 * The payment flow's background side, assembled: the payment-server outbox worker, the MQTT
 * connection (door sessions and payment results), the expiry sweeper and the `sendPayResult`
 * notifier, wired to the appliance's event bus and device link.
 *
 * @module
 */
import type { Worker } from "../background.ts";
import type { Clock } from "../clock.ts";
import type { DeviceLink } from "../device_link.ts";
import type { Config } from "../config/config.ts";
import {
  type AppEvents,
  type EventBus,
  ORDER_CREATED_EVENT,
  ORDER_PAID_EVENT,
  type OrderPaidEvent,
} from "../events.ts";
import type { Logger } from "../log.ts";
import { maskId } from "../log.ts";
import type { Database } from "../store/database.ts";
import { closeDoorSession, openDoorSession } from "../store/door_sessions.ts";
import { findOrderByCode, settleOrder } from "../store/orders.ts";
import { type StoreMessage, StoreMqtt } from "../integrations/mqtt.ts";
import { PaymentServerClient } from "../integrations/payment_server.ts";
import { expirySweeper } from "./expiry.ts";
import { PayResultNotifier } from "./result_notifier.ts";
import { errorMessage } from "../errors.ts";

/** What the payment services are built from. */
export interface PaymentServicesDeps {
  db: Database;
  config: Config;
  clock: Clock;
  log: Logger;
  events: EventBus;
  link: DeviceLink;
  /** The HTTP client for the payment server (global fetch by default). */
  fetch?: typeof fetch;
}

/**
 * Acts on a message from the store's cloud: a door open remembers the customer, a close forgets
 * them; a payment result settles the order (once) and tells its device. Returns the device owed a
 * result, if any.
 */
export async function handleStoreMessage(
  deps: Pick<PaymentServicesDeps, "db" | "config" | "clock" | "log"> & { events?: AppEvents },
  message: StoreMessage,
): Promise<string | undefined> {
  const { db, config, clock, log } = deps;
  const now = new Date(clock.now());
  if (message.topic === "door") {
    if (message.action === "open") {
      await openDoorSession(db, config.shopId, message.openId, now);
      log.info("door opened", { customer: maskId(message.openId) });
    } else {
      await closeDoorSession(db, config.shopId);
      log.info("door session closed");
    }
    return undefined;
  }
  const order = await findOrderByCode(db, message.orderCode);
  if (!order) {
    log.warn("payment result for an unknown order ignored", { code: message.orderCode });
    return undefined;
  }
  const settled = await settleOrder(db, order.id, {
    outcome: message.ok ? "paid" : "failed",
    by: "mqtt",
    at: now,
    detail: message.result,
    notifyDevice: true,
  });
  const fields = { code: order.code, equipId: order.equipId, result: message.result };
  if (!settled?.changed) {
    log.info("payment result ignored: order already " + (settled?.order.state ?? "gone"), fields);
    return undefined;
  }
  if (message.ok) {
    const paid: OrderPaidEvent = { orderId: order.id, code: order.code };
    deps.events?.emit(ORDER_PAID_EVENT, paid);
  }
  if (message.ok && settled.previous !== "pending") {
    log.warn(`order paid after it was ${settled.previous}`, fields);
  } else log.info(message.ok ? "order paid" : "order payment failed", fields);
  return order.equipId;
}

/** The running payment services. */
export class PaymentServices {
  readonly notifier: PayResultNotifier;
  readonly paymentServer: PaymentServerClient;
  readonly mqtt: StoreMqtt;
  readonly expiry: Worker;
  readonly #unsubscribe: (() => void)[] = [];

  private constructor(deps: PaymentServicesDeps) {
    this.notifier = new PayResultNotifier(deps);
    this.paymentServer = new PaymentServerClient(deps);
    this.expiry = expirySweeper({
      ...deps,
      onExpired: (equipIds) => equipIds.forEach((id) => this.notifier.deliver(id)),
    });
    this.mqtt = new StoreMqtt({
      config: deps.config,
      log: deps.log,
      onMessage: async (message) => {
        const owed = await handleStoreMessage(deps, message);
        if (owed) this.notifier.deliver(owed);
      },
    });
  }

  /**
   * Starts every part: results owed to devices already online are delivered, calls left in the
   * outbox by a previous run are made, orders past their time are expired.
   */
  static async start(deps: PaymentServicesDeps): Promise<PaymentServices> {
    const services = new PaymentServices(deps);
    services.#unsubscribe.push(
      services.notifier.attach(deps.events),
      deps.events.on(ORDER_CREATED_EVENT, (created) => {
        services.paymentServer.wake();
        // Not a sweep per order: under a rush that would be a sweep after every commit.
        services.expiry.wakeBy(created.expiresAt);
      }),
    );
    try {
      await services.mqtt.start();
    } catch (e) {
      await services.stop();
      throw e;
    }
    services.paymentServer.start();
    services.expiry.start();
    services.notifier.deliverOnline().catch((e) =>
      deps.log.error("payment result delivery failed", { error: errorMessage(e) })
    );
    return services;
  }

  /** Stops every part (the database is closed by the caller afterwards). */
  async stop(): Promise<void> {
    for (const off of this.#unsubscribe) off();
    await this.mqtt.stop();
    await Promise.all([this.paymentServer.stop(), this.expiry.stop(), this.notifier.stop()]);
  }
}
