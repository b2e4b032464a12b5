/**
 * Configuration keys: the chain's MQTT broker, where each store publishes its retained status for
 * head office's fleet view. Part of `CONFIG_SPEC` (spec.ts).
 *
 * A connection of its own, not the store's `mqttUrl` one: a chain's central broker (EMQX, or
 * Mosquitto bridges) is usually not the store cloud's, its credentials and ACLs differ, and the
 * last-will that marks a dead store offline belongs to a connection with a short keep-alive and a
 * clean session, while the store's connection keeps a persistent session for payment results.
 *
 * @module
 */
import { describe, fail, field, integer, seconds, text, url } from "./parsers.ts";

/** The chain's MQTT broker and the store's status message. */
export const CHAIN_KEYS = {
  chainMqttUrl: field({
    env: "NEWRETAIL_CHAIN_MQTT_URL",
    default: "",
    parse: url("mqtt", "mqtts", "tcp", "tls", "ws", "wss"),
    secret: true,
    doc:
      "MQTT broker of the chain's head office (user and password in the URL); the store publishes its retained status there. Empty: off. May be the same broker as mqttUrl (a second connection).",
  }),
  chainMqttCaFile: field({
    env: "NEWRETAIL_CHAIN_MQTT_CA_FILE",
    default: "",
    parse: text,
    doc: "PEM file of the CA that signed the chain broker's TLS certificate (mqtts).",
  }),
  chainStatusTopic: field({
    env: "NEWRETAIL_CHAIN_STATUS_TOPIC",
    default: "newretail/{shop}/status",
    parse: (v) => {
      const s = text(v);
      if (!s.includes("{shop}")) fail(`must contain {shop}, got ${describe(v)}`);
      if (/[+#]/.test(s)) fail(`must not contain MQTT wildcards, got ${describe(v)}`);
      return s;
    },
    doc:
      "Topic of the store's retained status message (JSON); the fleet view subscribes to it with {shop} as +.",
  }),
  chainStatusIntervalS: field({
    env: "NEWRETAIL_CHAIN_STATUS_INTERVAL_S",
    default: 60,
    parse: seconds(1),
    doc: "The status is published on change and at least this often.",
  }),
  chainKeepaliveS: field({
    env: "NEWRETAIL_CHAIN_KEEPALIVE_S",
    default: 30,
    parse: integer(1, 600),
    doc:
      "MQTT keep-alive of the chain connection: a store whose appliance dies is shown offline (its last-will) within 1.5 times this.",
  }),
};
