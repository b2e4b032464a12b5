/**
 * Configuration keys: device connections, storage and logs. Part of `CONFIG_SPEC` (spec.ts).
 *
 * @module
 */
import {
  boolean,
  deviceKinds,
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

/** Device connections, storage and logs. */
export const CORE_KEYS = {
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
  payAuthority: field({
    env: "NEWRETAIL_PAY_AUTHORITY",
    default: [] as string[],
    parse: deviceKinds,
    doc:
      'Device kinds that may mark any order paid with makePayment (cashiers, e.g. ["POS"]); others only their own.',
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
  diskWarnFreeMb: field({
    env: "NEWRETAIL_DISK_WARN_FREE_MB",
    default: 1024,
    parse: integer(0, 16 * 1024 * 1024),
    doc:
      "Free space (MB) of the database's disk under which the console warns (disk_low alert, one log line).",
  }),
  diskReserveMb: field({
    env: "NEWRETAIL_DISK_RESERVE_MB",
    default: 64,
    parse: integer(0, 1024 * 1024),
    doc:
      "Free space (MB) kept for the database: under it orders, receipts and payments are answered 'disk full' (reads go on).",
  }),
  databaseDiskPath: field({
    env: "NEWRETAIL_DATABASE_DISK_PATH",
    default: "",
    parse: text,
    doc:
      "PostgreSQL on this machine: a directory on its data disk (e.g. /var/lib/postgresql), to watch its free space; the embedded database's is stateDir's.",
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
};
