/**
 * Every configuration key, declared once with its environment name, default, parser and
 * meaning. The file, environment and flags are read by `config.ts`; the README's table comes
 * from here too (`deno task docs`).
 *
 * @module
 */
import {
  boolean,
  describe,
  fail,
  field,
  host,
  integer,
  oneOf,
  port,
  seconds,
  text,
  url,
} from "./parsers.ts";

/**
 * Every configuration key. The file uses these names; `env` is the environment variable.
 * Placeholders `{shop}` in topics and client id are replaced by `shopId`.
 */
export const CONFIG_SPEC = {
  // Devices (PROTOCOL.md §1–2)
  host: field({
    env: "NEWRETAIL_HOST",
    default: "0.0.0.0",
    parse: host,
    doc: "Address the device TCP server listens on.",
  }),
  port: field({
    env: "NEWRETAIL_PORT",
    default: 8686,
    parse: port,
    doc: "TCP port for devices; 0 picks a free port (logged at start-up).",
  }),
  byteOrder: field({
    env: "NEWRETAIL_BYTE_ORDER",
    default: "le" as "le" | "be" | "auto",
    parse: oneOf("le", "be", "auto"),
    doc: "Byte order of the frame length: le, be, or auto (per connection, from its first frame).",
  }),
  maxHeaderBytes: field({
    env: "NEWRETAIL_MAX_HEADER_BYTES",
    default: 65536,
    parse: integer(16, 16 * 1024 * 1024),
    doc: "Largest frame header accepted, in bytes.",
  }),
  maxBodyBytes: field({
    env: "NEWRETAIL_MAX_BODY_BYTES",
    default: 1048576,
    parse: integer(0, 256 * 1024 * 1024),
    doc: "Largest frame body accepted, in bytes.",
  }),
  maxConnections: field({
    env: "NEWRETAIL_MAX_CONNECTIONS",
    default: 20000,
    parse: integer(1, 1_000_000),
    doc: "Connections held at once; the excess is closed at accept.",
  }),
  loginTimeoutS: field({
    env: "NEWRETAIL_LOGIN_TIMEOUT_S",
    default: 30,
    parse: seconds(0.01),
    doc: "A connection that has not logged in by then is closed.",
  }),
  frameTimeoutS: field({
    env: "NEWRETAIL_FRAME_TIMEOUT_S",
    default: 30,
    parse: seconds(0.01),
    doc: "A frame begun but not completed by then (a peer trickling bytes) closes the connection.",
  }),
  heartbeatIntervalS: field({
    env: "NEWRETAIL_HEARTBEAT_INTERVAL_S",
    default: 30,
    parse: seconds(0.01),
    doc: "Seconds between the server's health frames to each logged-in device.",
  }),
  heartbeatMisses: field({
    env: "NEWRETAIL_HEARTBEAT_MISSES",
    default: 3,
    parse: integer(1, 1000),
    doc: "Missed healthReturn replies after which a connection is closed as dead.",
  }),
  requestTimeoutS: field({
    env: "NEWRETAIL_REQUEST_TIMEOUT_S",
    default: 10,
    parse: seconds(0.01),
    doc: "A request not answered by then gets an exception reply.",
  }),
  writeQueueBytes: field({
    env: "NEWRETAIL_WRITE_QUEUE_BYTES",
    default: 4 * 1024 * 1024,
    parse: integer(1024, 1024 * 1024 * 1024),
    doc: "Bytes queued for a device that does not read; past this the connection is dropped.",
  }),
  uniqueIdMode: field({
    env: "NEWRETAIL_UNIQUE_ID",
    default: "equipId" as "equipId" | "token",
    parse: oneOf("equipId", "token"),
    doc:
      "Identity handed out at login: the equipId itself (old server, default) or a random token.",
  }),
  admission: field({
    env: "NEWRETAIL_ADMISSION",
    default: "open" as "open" | "registered",
    parse: oneOf("open", "registered"),
    doc:
      "open: new devices are registered at first login; registered: only known, enabled devices may log in.",
  }),
  shopId: field({
    env: "NEWRETAIL_SHOP_ID",
    default: "shop0001",
    parse: (v) => text(v) || fail("must not be empty"),
    doc: "Store id, as used in MQTT topics and discovery answers.",
  }),

  // Storage
  stateDir: field({
    env: "NEWRETAIL_STATE_DIR",
    default: "./data",
    parse: (v) => text(v) || fail("must not be empty"),
    doc: "State directory: the embedded database lives in its db/ folder.",
  }),
  databaseUrl: field({
    env: "DATABASE_URL",
    default: "",
    parse: url("postgres", "postgresql"),
    secret: true,
    doc: "PostgreSQL URL; empty means the embedded PGlite database in stateDir.",
  }),
  demo: field({
    env: "NEWRETAIL_DEMO",
    default: true,
    parse: boolean,
    doc: "Load the demo catalogue into a newly created embedded database.",
  }),

  // Logs
  logLevel: field({
    env: "NEWRETAIL_LOG_LEVEL",
    default: "info" as "debug" | "info" | "warn" | "error",
    parse: oneOf("debug", "info", "warn", "error"),
    doc: "Lowest log level written (JSON lines on stdout).",
  }),

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

  // Pushes (PROTOCOL.md §4)
  pushTimeoutS: field({
    env: "NEWRETAIL_PUSH_TIMEOUT_S",
    default: 10,
    parse: seconds(0.01),
    doc: "Wait for a push's …Return before trying again.",
  }),
  pushTries: field({
    env: "NEWRETAIL_PUSH_TRIES",
    default: 3,
    parse: integer(1, 100),
    doc: "Tries of a push before it is kept for the device's next login.",
  }),
  pushInFlight: field({
    env: "NEWRETAIL_PUSH_IN_FLIGHT",
    default: 2,
    parse: integer(1, 64),
    doc: "sendGoods pushes awaiting their …Return at once, per device.",
  }),
  pushBatchGoods: field({
    env: "NEWRETAIL_PUSH_BATCH_GOODS",
    default: 20,
    parse: integer(1, 1000),
    doc: "Most goods in one sendGoods push (a base station serving many labels, a scale).",
  }),

  // AGV refill jobs (PROTOCOL.md §3–4)
  shelfWarehouse: field({
    env: "NEWRETAIL_SHELF_WAREHOUSE",
    default: "MD",
    parse: text,
    doc: "Code of the warehouse whose stock is what is on the shelves (refill thresholds).",
  }),
  refillThreshold: field({
    env: "NEWRETAIL_REFILL_THRESHOLD",
    default: "0",
    parse: (v) => {
      const s = typeof v === "number" ? String(v) : text(v);
      return /^\d{1,11}(\.\d{1,3})?$/.test(s)
        ? s
        : fail(`must be a quantity >= 0, got ${describe(v)}`);
    },
    doc:
      "Shelf quantity under which a positioned goods gets a refill job, unless it has its own; 0: only goods with their own threshold.",
  }),
  refillRetryS: field({
    env: "NEWRETAIL_REFILL_RETRY_S",
    default: 30,
    parse: seconds(0.01),
    doc: "Seconds before an open refill job that no AGV acknowledged is offered again.",
  }),

  // Discovery (PROTOCOL.md §5)
  discoveryEnabled: field({
    env: "NEWRETAIL_DISCOVERY",
    default: true,
    parse: boolean,
    doc: "Answer UDP discovery probes.",
  }),
  discoveryPort: field({
    env: "NEWRETAIL_DISCOVERY_PORT",
    default: 8686,
    parse: port,
    doc: "UDP port of discovery probes.",
  }),
  advertiseHost: field({
    env: "NEWRETAIL_ADVERTISE_HOST",
    default: "",
    parse: (v) => text(v) === "" ? "" : host(v),
    doc:
      "Address told to devices in discovery answers; empty: the local address facing the sender.",
  }),
  discoveryRatePerMinute: field({
    env: "NEWRETAIL_DISCOVERY_RATE",
    default: 12,
    parse: integer(1, 10000),
    doc: "Discovery answers per sender address per minute; further probes are ignored.",
  }),

  // Admin HTTP
  adminEnabled: field({
    env: "NEWRETAIL_ADMIN",
    default: true,
    parse: boolean,
    doc: "Serve /healthz, /metrics and /devices.",
  }),
  adminHost: field({
    env: "NEWRETAIL_ADMIN_HOST",
    default: "127.0.0.1",
    parse: host,
    doc: "Admin HTTP listen address (loopback by default).",
  }),
  adminPort: field({
    env: "NEWRETAIL_ADMIN_PORT",
    default: 8687,
    parse: port,
    doc: "Admin HTTP port; 0 picks a free port.",
  }),

  // Odoo upstream (DESIGN.md "upstream (Odoo)"; README "Using with Odoo")
  odooUrl: field({
    env: "NEWRETAIL_ODOO_URL",
    default: "",
    parse: url("http", "https"),
    doc: "Odoo server URL (e.g. https://erp.example.com); empty: no Odoo, the local store rules.",
  }),
  odooDb: field({
    env: "NEWRETAIL_ODOO_DB",
    default: "",
    parse: text,
    doc: "Odoo database name.",
  }),
  odooUser: field({
    env: "NEWRETAIL_ODOO_USER",
    default: "",
    parse: text,
    doc: "Odoo login of the user the appliance acts as.",
  }),
  odooApiKey: field({
    env: "NEWRETAIL_ODOO_API_KEY",
    default: "",
    parse: text,
    secret: true,
    doc: "That user's API key (or password).",
  }),
  odooWarehouse: field({
    env: "NEWRETAIL_ODOO_WAREHOUSE",
    default: "",
    parse: text,
    doc: "Odoo warehouse served (id or code, e.g. WH); empty: the first one.",
  }),
  odooPollS: field({
    env: "NEWRETAIL_ODOO_POLL_S",
    default: 5,
    parse: seconds(0.05),
    doc: "Seconds between incremental pulls (products, templates, stock) from Odoo.",
  }),
  odooFullPassS: field({
    env: "NEWRETAIL_ODOO_FULL_PASS_S",
    default: 3600,
    parse: seconds(1),
    doc: "Seconds between full passes, which catch archived and deleted products.",
  }),
  odooPartner: field({
    env: "NEWRETAIL_ODOO_PARTNER",
    default: "",
    parse: text,
    doc:
      'Customer of the sale orders sent to Odoo (partner id or name); empty: "newretail walk-in", created if missing.',
  }),
  odooOriginField: field({
    env: "NEWRETAIL_ODOO_ORIGIN_FIELD",
    default: "",
    parse: text,
    doc:
      "product.product field read as the goods origin (e.g. x_origin); empty: origin stays local.",
  }),
  odooFeaturesField: field({
    env: "NEWRETAIL_ODOO_FEATURES_FIELD",
    default: "",
    parse: text,
    doc: "product.product field read as the goods features; empty: features stay local.",
  }),
  odooTimeoutS: field({
    env: "NEWRETAIL_ODOO_TIMEOUT_S",
    default: 30,
    parse: seconds(0.01),
    doc: "Timeout of one call to Odoo.",
  }),
  odooPageSize: field({
    env: "NEWRETAIL_ODOO_PAGE_SIZE",
    default: 500,
    parse: integer(1, 10000),
    doc: "Products per page in a pull (a large catalogue is never read at once).",
  }),
  odooOutboxTries: field({
    env: "NEWRETAIL_ODOO_OUTBOX_TRIES",
    default: 8,
    parse: integer(1, 1000),
    doc: "Refusals by Odoo after which a delivery is parked as failed (Odoo down never parks).",
  }),
};

type Spec = typeof CONFIG_SPEC;

/** The validated configuration. */
export type Config = { -readonly [K in keyof Spec]: Spec[K]["default"] };

/** A configuration key. */
export type ConfigKey = keyof Config;
