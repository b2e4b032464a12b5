/**
 * Publishes this store's status on the chain's broker (`chainMqttUrl`): retained, QoS 1, on change
 * (device logins and losses, labels confirming, alerts, outbox) and at least every
 * `chainStatusIntervalS`, with a retained last-will that marks the store `offline` when the
 * appliance stops answering within the keep-alive. A clean stop publishes `offline` itself
 * (`reason: stopped`): the broker sends no will after a clean disconnect.
 *
 * Its own connection, not the store's (see config/spec_chain.ts for why): clean session, short
 * keep-alive, client id `newretail-status-{shop}`. A broker that is down is retried; the store
 * never waits for it.
 *
 * @module
 */
import type { IClientOptions, MqttClient } from "mqtt";
import { Worker } from "../background.ts";
import type { Clock } from "../clock.ts";
import { type Config, withShop } from "../config/config.ts";
import {
  type AppEventName,
  DEVICE_LOGIN_EVENT,
  DEVICE_OFFLINE_EVENT,
  type EventBus,
  LABEL_CONFIRMED_EVENT,
} from "../events.ts";
import { loadMqtt, readBrokerCa } from "../integrations/mqtt.ts";
import type { Logger } from "../log.ts";
import {
  offlineWill,
  statusChanged,
  type StatusReadings,
  stoppedStatus,
  type StoreStatus,
  storeStatus,
} from "./status.ts";

/** What the status is read from, each call (the store's state now). */
export type ReadStatus = () => Promise<
  Omit<StatusReadings, "shop" | "version" | "startedAt" | "now">
>;

/** What the publisher is built from. */
export interface StatusPublisherDeps {
  config: Pick<
    Config,
    | "shopId"
    | "chainMqttUrl"
    | "chainMqttCaFile"
    | "chainStatusTopic"
    | "chainStatusIntervalS"
    | "chainKeepaliveS"
    | "mqttReconnectS"
  >;
  version: string;
  log: Logger;
  clock: Clock;
  /** Wakes the publisher on device and label events. */
  events: Pick<EventBus, "on">;
  read: ReadStatus;
  /** Reads the CA file (tests pass their own). */
  readFile?: (path: string) => Promise<Uint8Array>;
}

// How often the readings are compared with the last message (a change is published then).
const CHECK_EVERY_MS = 10_000;
// A burst of events (200 labels confirming) makes one message, not 200.
const MIN_SPACING_MS = 1_000;
// A clean stop waits this long for the broker to take the "stopped" message.
const STOP_PUBLISH_MS = 2_000;

/** The chain status publisher of one appliance. */
export class StatusPublisher {
  readonly #deps: StatusPublisherDeps;
  readonly #topic: string;
  readonly #startedAt: number;
  readonly #worker: Worker;
  #client: MqttClient | undefined;
  #connected = false;
  #last: StoreStatus | undefined;
  #lastPublishedAt = -Infinity;
  #forced = false;
  #published = 0;

  /** @param deps settings, readings and clock */
  constructor(deps: StatusPublisherDeps) {
    this.#deps = deps;
    this.#topic = withShop(deps.config.chainStatusTopic, deps.config);
    this.#startedAt = deps.clock.now();
    this.#worker = new Worker((signal) => this.#step(signal), {
      name: "chain status",
      log: deps.log,
      clock: deps.clock,
      idleMs: CHECK_EVERY_MS,
      backoff: { initialMs: 1000, maxMs: CHECK_EVERY_MS },
    });
  }

  /** The topic this store's status goes to. */
  get topic(): string {
    return this.#topic;
  }

  /** Whether the connection to the chain's broker is up now. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Messages handed to the broker so far. */
  get published(): number {
    return this.#published;
  }

  /** Connects (in the background) and starts publishing. */
  async start(): Promise<void> {
    const { config, log } = this.#deps;
    const will = offlineWill(config.shopId, this.#deps.version, this.#startedAt);
    const options: IClientOptions = {
      clientId: withShop("newretail-status-{shop}", config),
      clean: true,
      protocolVersion: 4,
      keepalive: config.chainKeepaliveS,
      reconnectPeriod: config.mqttReconnectS * 1000,
      connectTimeout: 10_000,
      will: { topic: this.#topic, payload: JSON.stringify(will), qos: 1, retain: true },
    };
    if (config.chainMqttCaFile) {
      options.ca = await readBrokerCa(
        "chainMqttCaFile",
        config.chainMqttCaFile,
        this.#deps.readFile,
      );
    }
    const mqtt = await loadMqtt();
    const client = mqtt.connect(config.chainMqttUrl, options);
    this.#client = client;
    client.on("connect", () => {
      log.info(this.#connected ? "chain broker reconnected" : "chain broker connected", {
        topic: this.#topic,
      });
      this.#connected = true;
      // The will may have replaced the retained status while the connection was down.
      this.#forced = true;
      this.#worker.wake();
    });
    client.on("close", () => {
      if (this.#connected) log.warn("chain broker connection lost; reconnecting");
      this.#connected = false;
    });
    client.on("error", (e) => log.warn("chain broker error", { error: e.message }));
    const wakers: AppEventName[] = [
      DEVICE_LOGIN_EVENT,
      DEVICE_OFFLINE_EVENT,
      LABEL_CONFIRMED_EVENT,
    ];
    for (const event of wakers) {
      this.#worker.onStop(this.#deps.events.on(event, () => this.#worker.wake()));
    }
    this.#worker.start();
  }

  async #step(signal: AbortSignal): Promise<{ afterMs: number }> {
    const { clock, config } = this.#deps;
    const status = storeStatus({
      ...await this.#deps.read(),
      shop: config.shopId,
      version: this.#deps.version,
      startedAt: this.#startedAt,
      now: clock.now(),
    });
    if (signal.aborted || !this.#connected) {
      this.#last = status;
      return { afterMs: CHECK_EVERY_MS };
    }
    const sinceLast = clock.now() - this.#lastPublishedAt;
    const due = sinceLast >= config.chainStatusIntervalS * 1000;
    const changed = statusChanged(this.#last, status);
    if (!this.#forced && !due && changed && sinceLast < MIN_SPACING_MS) {
      return { afterMs: MIN_SPACING_MS - sinceLast };
    }
    if (this.#forced || due || changed) {
      this.#forced = false;
      this.#publish(status);
    }
    const untilDue = config.chainStatusIntervalS * 1000 - (clock.now() - this.#lastPublishedAt);
    return { afterMs: Math.max(MIN_SPACING_MS, Math.min(CHECK_EVERY_MS, untilDue)) };
  }

  #publish(status: StoreStatus): Promise<void> {
    this.#last = status;
    this.#lastPublishedAt = this.#deps.clock.now();
    this.#published++;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#client?.publish(
      this.#topic,
      JSON.stringify(status),
      { qos: 1, retain: true },
      (e) => {
        if (e) this.#deps.log.warn("chain status not published", { error: e.message });
        resolve();
      },
    );
    return promise;
  }

  /** Publishes `offline` (`reason: stopped`) when connected, then disconnects cleanly. */
  async stop(): Promise<void> {
    await this.#worker.stop();
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    if (this.#connected && this.#last) {
      const stopped = stoppedStatus(this.#last, this.#deps.clock.now());
      this.#client = client;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#publish(stopped),
        new Promise((resolve) => timer = setTimeout(resolve, STOP_PUBLISH_MS)),
      ]);
      clearTimeout(timer);
      this.#client = undefined;
    }
    await client.endAsync(!this.#connected);
    this.#connected = false;
  }
}
