/**
 * Configuration keys: payment server, MQTT and order life. Part of `CONFIG_SPEC` (spec.ts).
 *
 * @module
 */
import { field, seconds, text, url } from "./parsers.ts";

/** Payment server, MQTT and order life. */
export const PAYMENT_KEYS = {
  // Payment and MQTT (PROTOCOL.md §5)
  mqttUrl: field({
    env: "MQTT_URL",
    default: "",
    parse: url("mqtt", "mqtts", "tcp", "tls", "ws", "wss"),
    secret: true,
    doc: "MQTT broker of the store's cloud; empty turns MQTT off.",
  }),
  mqttClientId: field({
    env: "NEWRETAIL_MQTT_CLIENT_ID",
    default: "newretail-{shop}",
    parse: text,
    doc: "MQTT client id (persistent session).",
  }),
  mqttUsername: field({
    env: "NEWRETAIL_MQTT_USERNAME",
    default: "",
    parse: text,
    doc: "MQTT user name.",
  }),
  mqttPassword: field({
    env: "NEWRETAIL_MQTT_PASSWORD",
    default: "",
    parse: text,
    secret: true,
    doc: "MQTT password.",
  }),
  mqttCaFile: field({
    env: "NEWRETAIL_MQTT_CA_FILE",
    default: "",
    parse: text,
    doc: "PEM file of the CA that signed the broker's TLS certificate (mqtts).",
  }),
  mqttDoorTopic: field({
    env: "NEWRETAIL_MQTT_DOOR_TOPIC",
    default: "/newretail/door/{shop}",
    parse: text,
    doc: "Topic of door open/close events.",
  }),
  mqttPayTopic: field({
    env: "NEWRETAIL_MQTT_PAY_TOPIC",
    default: "/newretail/pay/{shop}",
    parse: text,
    doc: "Topic of payment results.",
  }),
  paymentServerUrl: field({
    env: "NEWRETAIL_PAYMENT_SERVER_URL",
    default: "",
    parse: url("http", "https"),
    doc: "Where payment orders are POSTed; empty means no call.",
  }),
  paymentTimeoutS: field({
    env: "NEWRETAIL_PAYMENT_TIMEOUT_S",
    default: 5,
    parse: seconds(0.01),
    doc: "Timeout of one call to the payment server.",
  }),
  payUrlTemplate: field({
    env: "NEWRETAIL_PAY_URL_TEMPLATE",
    default: "https://pay.example.com/qr?shop={shop}&order={order}&amount={amount}",
    parse: text,
    doc:
      "Payment URL handed to the device for its QR code; {order}, {amount}, {shop} are replaced.",
  }),
  paymentRetryMinS: field({
    env: "NEWRETAIL_PAYMENT_RETRY_MIN_S",
    default: 1,
    parse: seconds(0.01),
    doc:
      "First wait before calling the payment server again after a failed call (doubles each time).",
  }),
  paymentRetryMaxS: field({
    env: "NEWRETAIL_PAYMENT_RETRY_MAX_S",
    default: 60,
    parse: seconds(0.01),
    doc: "Longest wait between two calls to the payment server for the same order.",
  }),
  mqttReconnectS: field({
    env: "NEWRETAIL_MQTT_RECONNECT_S",
    default: 5,
    parse: seconds(0.1),
    doc: "Wait before reconnecting to the MQTT broker after the connection is lost.",
  }),
  orderTtlS: field({
    env: "NEWRETAIL_ORDER_TTL_S",
    default: 600,
    parse: seconds(1),
    doc: "A payment order not paid by then expires.",
  }),
};
