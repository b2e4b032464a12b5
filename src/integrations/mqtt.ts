/**
 * The appliance's one MQTT connection to the store's cloud (PROTOCOL.md §5): door events
 * (`/newretail/door/{shop}`) and payment results (`/newretail/pay/{shop}`). QoS 1 with a
 * persistent session (a fixed client id, `clean: false`), automatic reconnect and re-subscribe.
 *
 * A message is acknowledged (PUBACK) only after it was handled, so that one received just before
 * a crash, or while the database was unreachable, is delivered again by the broker. A malformed
 * payload, another store's id or an unknown order is logged and acknowledged: it will never work.
 *
 * @module
 */
import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt";
import { type Config, ConfigError, withShop } from "../config/config.ts";
import type { Logger } from "../log.ts";
import { maskId } from "../log.ts";
import { DatabaseUnavailableError } from "../store/database.ts";
import { isDiskFull } from "../disk_space.ts";
import { errorMessage } from "../errors.ts";
import { sleep } from "../deadline.ts";

/** A message from the store's cloud, validated. */
export type StoreMessage =
  | { topic: "door"; action: "open"; openId: string }
  | { topic: "door"; action: "close" }
  | { topic: "pay"; action: "pay"; orderCode: string; ok: boolean; result: string };

/** A message that is not acted on, and why. */
export interface IgnoredMessage {
  ignored: string;
}

const decoder = new TextDecoder();

// Ids in the field come with stray spaces (" shop0001"); order ids sometimes as JSON numbers.
function idText(value: unknown): string | undefined {
  if (typeof value === "string") return value.trim();
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return String(value);
  return undefined;
}

/**
 * Reads a payload received on the door or pay topic. Pure.
 *
 * @example
 * ```ts
 * parseStoreMessage("pay", new TextEncoder().encode('{"id":" shop0001","action":"pay","result":"ok","order_id":"1"}'), "shop0001");
 * // { topic: "pay", action: "pay", orderCode: "1", ok: true, result: "ok" }
 * ```
 */
export function parseStoreMessage(
  topic: "door" | "pay",
  payload: Uint8Array,
  shopId: string,
): StoreMessage | IgnoredMessage {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(payload));
  } catch {
    return { ignored: "payload is not JSON" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ignored: "payload is not a JSON object" };
  }
  const m = json as Record<string, unknown>;
  if (m.id !== undefined && m.id !== null) {
    const shop = idText(m.id);
    if (shop !== shopId) return { ignored: `message for another store: ${JSON.stringify(m.id)}` };
  }
  const action = typeof m.action === "string" ? m.action.trim() : "";
  if (topic === "door") {
    if (action === "close") return { topic, action };
    if (action !== "open") return { ignored: `unknown door action: ${JSON.stringify(m.action)}` };
    const openId = idText(m.openId ?? m.openid);
    if (!openId) return { ignored: "door open without openId" };
    return { topic, action, openId };
  }
  if (action !== "pay") return { ignored: `unknown pay action: ${JSON.stringify(m.action)}` };
  const orderCode = idText(m.order_id);
  if (!orderCode) return { ignored: "pay message without order_id" };
  const result = typeof m.result === "string" ? m.result.trim() : "";
  if (result === "") return { ignored: "pay message without result" };
  return { topic, action, orderCode, ok: result.toLowerCase() === "ok", result };
}

/** What the connection is built from. */
export interface StoreMqttDeps {
  config: Pick<
    Config,
    | "mqttUrl"
    | "mqttClientId"
    | "mqttUsername"
    | "mqttPassword"
    | "mqttCaFile"
    | "mqttDoorTopic"
    | "mqttPayTopic"
    | "mqttReconnectS"
    | "shopId"
  >;
  log: Logger;
  /**
   * Acts on a message; a {@link DatabaseUnavailableError} leaves it unacknowledged, a full disk
   * (`isDiskFull`) has it tried again until it is recorded.
   */
  onMessage(message: StoreMessage): Promise<void>;
  /** Reads the CA file (tests pass their own). */
  readFile?: (path: string) => Promise<Uint8Array>;
}

/**
 * The CA certificate a broker's TLS certificate is checked against, read from the file of config
 * key `key`; a file that cannot be read is a {@link ConfigError} naming the key.
 */
export async function readBrokerCa(
  key: string,
  path: string,
  readFile: (path: string) => Promise<Uint8Array> = (p) => Deno.readFile(p),
): Promise<string[]> {
  try {
    return [new TextDecoder().decode(await readFile(path))];
  } catch (e) {
    throw new ConfigError(key, `cannot read ${path}: ${errorMessage(e)}`);
  }
}

/**
 * npm:mqtt, loaded only when a broker is configured: its `debug` dependency enumerates the whole
 * environment at import, which needs unscoped --allow-env (see src/config/permissions.ts).
 */
export async function loadMqtt(): Promise<typeof import("mqtt").default> {
  return (await import("mqtt")).default;
}

/** Tries of a message whose handling failed because the database was unreachable. */
const HANDLE_TRIES = 3;

/** The MQTT connection. */
export class StoreMqtt {
  readonly #deps: StoreMqttDeps;
  readonly #doorTopic: string;
  readonly #payTopic: string;
  readonly #stopping = new AbortController();
  readonly #handling = new Set<Promise<unknown>>();
  #client: MqttClient | undefined;
  #connected = false;
  #everConnected = false;
  #subscribed = Promise.withResolvers<void>();

  /** @param deps settings, logger, and the message handler */
  constructor(deps: StoreMqttDeps) {
    this.#deps = deps;
    this.#doorTopic = withShop(deps.config.mqttDoorTopic, deps.config);
    this.#payTopic = withShop(deps.config.mqttPayTopic, deps.config);
  }

  /** Whether an MQTT broker is configured. */
  get configured(): boolean {
    return this.#deps.config.mqttUrl !== "";
  }

  /** Whether the connection is up now. */
  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Connects (in the background: a broker that is down is retried). With no broker configured it
   * says so once and does nothing.
   */
  async start(): Promise<void> {
    const { config, log } = this.#deps;
    if (!this.configured) {
      log.info(
        "MQTT not configured (MQTT_URL): door and payment events are off; " +
          "orders can still be paid with makePayment",
      );
      return;
    }
    const options: IClientOptions = {
      clientId: withShop(config.mqttClientId, config),
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: config.mqttReconnectS * 1000,
      connectTimeout: 10_000,
      keepalive: 30,
      username: config.mqttUsername || undefined,
      password: config.mqttPassword || undefined,
      // QoS 1 messages are handled one after another, in order.
      resubscribe: false,
    };
    if (config.mqttCaFile) {
      options.ca = await readBrokerCa("mqttCaFile", config.mqttCaFile, this.#deps.readFile);
    }
    const mqtt = await loadMqtt();
    const client = mqtt.connect(config.mqttUrl, options);
    this.#client = client;
    client.handleMessage = (packet, done) => {
      const work = this.#handle(packet);
      this.#handling.add(work);
      work.then((acknowledge) => {
        this.#handling.delete(work);
        // An error leaves the message unacknowledged: the broker sends it again after reconnect.
        done(acknowledge ? undefined : new Error("message not handled"));
      });
    };
    client.on("connect", (connack) => {
      this.#connected = true;
      log.info(this.#everConnected ? "MQTT reconnected" : "MQTT connected", {
        clientId: options.clientId,
        sessionPresent: connack.sessionPresent,
      });
      this.#everConnected = true;
      // Subscribing again is harmless and covers a broker that lost the persistent session.
      client.subscribe({ [this.#doorTopic]: { qos: 1 }, [this.#payTopic]: { qos: 1 } }, (e) => {
        if (e) log.warn("MQTT subscribe failed", { error: e.message });
        else this.#subscribed.resolve();
      });
    });
    client.on("close", () => {
      if (this.#connected) log.warn("MQTT connection lost; reconnecting");
      this.#connected = false;
    });
    client.on("error", (e) => {
      log.warn("MQTT error", { error: e.message });
    });
  }

  // True when the message can be acknowledged.
  async #handle(packet: IPublishPacket): Promise<boolean> {
    const { config, log, onMessage } = this.#deps;
    const topic = packet.topic === this.#doorTopic
      ? "door"
      : packet.topic === this.#payTopic
      ? "pay"
      : undefined;
    if (!topic) {
      log.warn("MQTT message on an unexpected topic ignored", { topic: packet.topic });
      return true;
    }
    const payload = typeof packet.payload === "string"
      ? new TextEncoder().encode(packet.payload)
      : packet.payload;
    const message = parseStoreMessage(topic, payload, config.shopId);
    if ("ignored" in message) {
      log.warn("MQTT message ignored", {
        topic: packet.topic,
        reason: message.ignored,
        bytes: payload.byteLength,
      });
      return true;
    }
    log.debug("MQTT message", {
      topic: packet.topic,
      action: message.action,
      ...(message.topic === "door" && message.action === "open"
        ? { customer: maskId(message.openId) }
        : {}),
    });
    for (let attempt = 1;; attempt++) {
      try {
        await onMessage(message);
        return true;
      } catch (e) {
        // A full disk is waited out, however long: the message is a customer's payment, and
        // acknowledging it unrecorded lost it (disk-full lab scenario). The disk guard logs it,
        // once a minute, not this handler once a message.
        const diskFull = isDiskFull(e);
        const unavailable = diskFull || e instanceof DatabaseUnavailableError;
        if (!unavailable) {
          log.error("MQTT message handling failed", {
            topic: packet.topic,
            error: errorMessage(e),
          });
          return true;
        }
        if (diskFull && !this.#stopping.signal.aborted) {
          await sleep(Math.min(attempt, 5) * 1000, this.#stopping.signal);
          continue;
        }
        if (attempt >= HANDLE_TRIES || this.#stopping.signal.aborted) {
          log.warn("MQTT message left unacknowledged: database unavailable", {
            topic: packet.topic,
            error: errorMessage(e),
          });
          return false;
        }
        await sleep(attempt * 1000, this.#stopping.signal);
      }
    }
  }

  /** Resolves once the topics are first subscribed (for start-up checks and tests). */
  subscribed(): Promise<void> {
    return this.#subscribed.promise;
  }

  /** Disconnects (after the message in hand is handled). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await Promise.all([...this.#handling]);
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.endAsync(false);
    this.#connected = false;
  }
}
