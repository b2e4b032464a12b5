/**
 * The appliance's one typed configuration: defaults ← JSON file ← environment ← command-line
 * flags. Every key is declared once in {@link CONFIG_SPEC} with its environment name, default,
 * validation and meaning; the README's table and `check-config` come from the same place.
 *
 * @module
 */

/** An invalid configuration value. The message is one line naming the key. */
export class ConfigError extends Error {
  /** The offending key. */
  readonly key: string;

  /** @param key config key @param message what is wrong */
  constructor(key: string, message: string) {
    super(`invalid config: ${key}: ${message}`);
    this.name = "ConfigError";
    this.key = key;
  }
}

interface FieldSpec<T> {
  env?: string;
  default: T;
  doc: string;
  secret?: boolean;
  /** Parses a value from the file (JSON value) or the environment/flags (string). */
  parse(value: unknown): T;
}

type Parser<T> = (value: unknown) => T;

function fail(message: string): never {
  throw new TypeError(message);
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value));
}

const text: Parser<string> = (v) =>
  typeof v === "string" ? v.trim() : fail(`must be a string, got ${describe(v)}`);

function integer(min: number, max: number): Parser<number> {
  return (v) => {
    const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      fail(`must be an integer ${min}..${max}, got ${describe(v)}`);
    }
    return n;
  };
}

function seconds(min = 0): Parser<number> {
  return (v) => {
    const n = typeof v === "string" && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isFinite(n) || n < min) {
      fail(`must be a number of seconds >= ${min}, got ${describe(v)}`);
    }
    return n;
  };
}

const boolean: Parser<boolean> = (v) => {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(s)) return true;
    if (["0", "false", "no", "off"].includes(s)) return false;
  }
  return fail(`must be true or false, got ${describe(v)}`);
};

function oneOf<const T extends string>(...choices: T[]): Parser<T> {
  return (v) =>
    typeof v === "string" && (choices as string[]).includes(v.trim())
      ? v.trim() as T
      : fail(`must be one of ${choices.join(", ")}, got ${describe(v)}`);
}

function url(...schemes: string[]): Parser<string> {
  return (v) => {
    const s = text(v);
    if (s === "") return s;
    let parsed: URL;
    try {
      parsed = new URL(s);
    } catch {
      return fail(`must be a URL (${schemes.join(", ")}), got ${describe(v)}`);
    }
    if (!schemes.includes(parsed.protocol.replace(/:$/, ""))) {
      fail(`must be a URL with scheme ${schemes.join(", ")}, got ${describe(v)}`);
    }
    // "postgres:db" or "http:/x" parse as URLs without a host; only a socket directory in
    // ?host= (PostgreSQL over a Unix socket) stands in for one.
    if (parsed.hostname === "" && !parsed.searchParams.get("host")) {
      fail(`must be a URL with a host, got ${describe(v)}`);
    }
    return s;
  };
}

const host: Parser<string> = (v) => {
  const s = text(v);
  return /^[A-Za-z0-9.:\-\[\]]+$/.test(s)
    ? s
    : fail(`must be a host name or address, got ${describe(v)}`);
};

function field<T>(spec: FieldSpec<T>): FieldSpec<T> {
  return spec;
}

const port = integer(0, 65535);

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
    default: 300,
    parse: seconds(1),
    doc:
      "Seconds between id comparisons with Odoo (one search of product ids: deleted products go); one also runs at every start.",
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
  odooTransactionBoundS: field({
    env: "NEWRETAIL_ODOO_TRANSACTION_BOUND_S",
    default: 600,
    parse: seconds(1),
    doc:
      "Longest Odoo transaction whose changes the incremental pull is sure to see (Odoo stamps write_date with the transaction start); each poll re-reads this much.",
  }),
  odooRequestLimitS: field({
    env: "NEWRETAIL_ODOO_REQUEST_LIMIT_S",
    default: 120,
    parse: seconds(1),
    doc:
      "Odoo's own request time limit (limit_time_real); after a timed-out delivery call the appliance waits longer than this before looking it up.",
  }),
};

type Spec = typeof CONFIG_SPEC;

/** The validated configuration. */
export type Config = { -readonly [K in keyof Spec]: Spec[K]["default"] };

/** A configuration key. */
export type ConfigKey = keyof Config;

/** Where the configuration was read from, for the start-up log. */
export interface LoadedConfig {
  config: Config;
  /** e.g. `["defaults", "file /etc/newretail/config.json", "env NEWRETAIL_PORT"]` */
  sources: string[];
}

/** What {@link loadConfig} reads; passed in so that tests and `check-config` use the same code. */
export interface ConfigInputs {
  /** `--config PATH`: must exist when given. */
  file?: string;
  /** Read when `file` is not given and it exists. */
  defaultFile?: string;
  /** Environment lookup (only the names in {@link CONFIG_SPEC} are asked for). */
  env?: (name: string) => string | undefined;
  /** Command-line flags, highest precedence; strings or typed values. */
  flags?: Partial<Record<ConfigKey, unknown>>;
  /** File reader (defaults to Deno.readTextFileSync). */
  readFile?: (path: string) => string;
}

/** The configuration with every key at its default. */
export function defaultConfig(): Config {
  const config: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SPEC)) config[key] = spec.default;
  return config as Config;
}

function parseField(key: string, value: unknown, origin: string): unknown {
  const spec = (CONFIG_SPEC as Record<string, FieldSpec<unknown>>)[key];
  try {
    return spec.parse(value);
  } catch (e) {
    let message = (e as Error).message;
    // A secret's bad value would otherwise land in the journal with its password.
    if (spec.secret) message = message.replace(/, got .*$/s, " (value not shown: secret)");
    throw new ConfigError(key, `${message} (from ${origin})`);
  }
}

/**
 * Builds and validates the configuration. Throws {@link ConfigError} naming the first bad key.
 *
 * @example
 * ```ts
 * const { config } = loadConfig({ env: (n) => Deno.env.get(n), flags: { port: "0" } });
 * ```
 */
export function loadConfig(inputs: ConfigInputs = {}): LoadedConfig {
  const readFile = inputs.readFile ?? ((p: string) => Deno.readTextFileSync(p));
  const config = defaultConfig() as Record<string, unknown>;
  const sources = ["defaults"];

  const path = inputs.file ?? inputs.defaultFile;
  if (path) {
    let raw: string | undefined;
    try {
      raw = readFile(path);
    } catch (e) {
      const missing = e instanceof Deno.errors.NotFound;
      if (inputs.file || !missing) {
        throw new ConfigError("config", `cannot read ${path}: ${(e as Error).message}`);
      }
    }
    if (raw !== undefined) {
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch (e) {
        throw new ConfigError("config", `${path} is not valid JSON: ${(e as Error).message}`);
      }
      if (typeof json !== "object" || json === null || Array.isArray(json)) {
        throw new ConfigError("config", `${path} must hold a JSON object`);
      }
      for (const [key, value] of Object.entries(json)) {
        if (key.startsWith("//") || key.startsWith("_")) continue; // comments in the example file
        if (!(key in CONFIG_SPEC)) throw new ConfigError(key, `unknown key in ${path}`);
        config[key] = parseField(key, value, path);
      }
      sources.push(`file ${path}`);
    }
  }

  if (inputs.env) {
    for (const [key, spec] of Object.entries(CONFIG_SPEC) as [string, FieldSpec<unknown>][]) {
      if (!spec.env) continue;
      const value = inputs.env(spec.env);
      if (value === undefined) continue;
      config[key] = parseField(key, value, `env ${spec.env}`);
      sources.push(`env ${spec.env}`);
    }
  }

  for (const [key, value] of Object.entries(inputs.flags ?? {})) {
    if (value === undefined) continue;
    if (!(key in CONFIG_SPEC)) throw new ConfigError(key, "unknown flag");
    config[key] = parseField(key, value, "command line");
    sources.push(`flag ${key}`);
  }

  checkCombinations(config as Config);
  return { config: config as Config, sources };
}

// Values that are each valid but cannot work together; reported like a single bad value.
function checkCombinations(config: Config): void {
  if (config.adminEnabled && config.adminPort !== 0 && config.adminPort === config.port) {
    throw new ConfigError(
      "adminPort",
      `must differ from port (both ${config.port}); set another admin port or adminEnabled false`,
    );
  }
}

/** The names of every environment variable the configuration reads. */
export function configEnvNames(): string[] {
  return Object.values(CONFIG_SPEC as Record<string, FieldSpec<unknown>>)
    .map((s) => s.env)
    .filter((e): e is string => e !== undefined);
}

/** The configuration with secrets masked (passwords inside URLs too), for printing. */
export function maskedConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [ConfigKey, FieldSpec<unknown>][]) {
    const value = config[key];
    if (!spec.secret || typeof value !== "string" || value === "") out[key] = value;
    // A password such as "a:b" parses as a URL: only URL-valued keys keep their visible parts.
    else out[key] = key.endsWith("Url") ? maskSecret(value) : "***";
  }
  return out;
}

const SECRET_PARAM = /pass|secret|token|key/i;

/**
 * Hides a secret: a URL keeps its scheme, host and path but not its password (nor query
 * parameters such as `?password=`); other text is starred.
 */
export function maskSecret(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return "***";
  }
  if (u.password) u.password = "***";
  for (const name of [...u.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) u.searchParams.set(name, "***");
  }
  return u.toString();
}

/** Each key with its environment name, default and meaning (for documentation and `--help`). */
export function describeConfig(): { key: string; env: string; default: unknown; doc: string }[] {
  return Object.entries(CONFIG_SPEC as Record<string, FieldSpec<unknown>>).map(([key, s]) => ({
    key,
    env: s.env ?? "",
    default: s.default,
    doc: s.doc,
  }));
}

/** Replaces `{shop}` in a configured text (topics, client id). */
export function withShop(template: string, config: Pick<Config, "shopId">): string {
  return template.replaceAll("{shop}", config.shopId);
}
