import assert from "node:assert/strict";
import {
  CONFIG_SPEC,
  configEnvNames,
  ConfigError,
  type ConfigInputs,
  defaultConfig,
  describeConfig,
  loadConfig,
  maskedConfig,
  maskSecret,
  nearestKey,
} from "./config.ts";

function envOf(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

function fileOf(text: string): Pick<ConfigInputs, "file" | "readFile"> {
  return { file: "/etc/newretail/config.json", readFile: () => text };
}

/** Asserts a ConfigError naming `key`, on one line that starts with the key. */
function assertBad(inputs: ConfigInputs, key: string, fragment?: string | RegExp): ConfigError {
  let error: unknown;
  try {
    loadConfig(inputs);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError, `expected a ConfigError for ${key}, got ${error}`);
  assert.equal(error.key, key);
  assert.ok(!error.message.includes("\n"), `one line: ${JSON.stringify(error.message)}`);
  assert.ok(error.message.startsWith(`invalid config: ${key}: `), error.message);
  if (typeof fragment === "string") assert.ok(error.message.includes(fragment), error.message);
  else if (fragment) assert.match(error.message, fragment);
  return error;
}

Deno.test("config: defaults load with no file and no environment", () => {
  const { config, sources } = loadConfig({});
  assert.deepEqual(config, defaultConfig());
  assert.deepEqual(sources, ["defaults"]);
  assert.equal(config.port, 8686);
  assert.equal(config.adminHost, "127.0.0.1");
  assert.equal(config.adminPort, 8687);
});

Deno.test("config: a missing default file is skipped, a missing --config file is an error", () => {
  const missing = () => {
    throw new Deno.errors.NotFound("No such file or directory (os error 2)");
  };
  const { sources } = loadConfig({ defaultFile: "/etc/newretail/config.json", readFile: missing });
  assert.deepEqual(sources, ["defaults"]);
  assertBad({ file: "/nowhere/config.json", readFile: missing }, "config", "/nowhere/config.json");
});

Deno.test("config: file < environment < flags, and the sources say so", () => {
  const { config, sources } = loadConfig({
    ...fileOf(JSON.stringify({ port: 9000, host: "10.0.0.1", logLevel: "warn" })),
    env: envOf({ NEWRETAIL_PORT: "9001", NEWRETAIL_LOG_LEVEL: "debug" }),
    flags: { logLevel: "error" },
  });
  assert.equal(config.host, "10.0.0.1");
  assert.equal(config.port, 9001);
  assert.equal(config.logLevel, "error");
  assert.deepEqual(sources, [
    "defaults",
    "file /etc/newretail/config.json",
    "env NEWRETAIL_PORT",
    "env NEWRETAIL_LOG_LEVEL",
    "flag logLevel",
  ]);
});

Deno.test("config: typed values from environment strings", () => {
  const { config } = loadConfig({
    env: envOf({
      NEWRETAIL_ADMIN: "off",
      NEWRETAIL_DEMO: "0",
      NEWRETAIL_PAYMENT_TIMEOUT_S: "2.5",
      NEWRETAIL_BYTE_ORDER: " auto ",
      DATABASE_URL: "postgres://app:pw@db.local:5433/newretail",
      MQTT_URL: "mqtts://broker.example.com:8883",
    }),
  });
  assert.equal(config.adminEnabled, false);
  assert.equal(config.demo, false);
  assert.equal(config.paymentTimeoutS, 2.5);
  assert.equal(config.byteOrder, "auto");
  assert.equal(config.databaseUrl, "postgres://app:pw@db.local:5433/newretail");
  assert.equal(config.mqttUrl, "mqtts://broker.example.com:8883");
});

Deno.test("config: comment keys of the example file are ignored", () => {
  const { config } = loadConfig(fileOf(JSON.stringify({
    "//": "a comment",
    "// port": "devices connect here",
    port: 8700,
  })));
  assert.equal(config.port, 8700);
});

Deno.test("config: every kind of bad value is one line naming the key", async (t) => {
  const cases: [string, ConfigInputs, string, string | RegExp][] = [
    ["port not a number (env)", { env: envOf({ NEWRETAIL_PORT: "http" }) }, "port", '"http"'],
    ["port out of range", { env: envOf({ NEWRETAIL_PORT: "65536" }) }, "port", "0..65535"],
    ["port negative", fileOf('{"port": -1}'), "port", "got -1"],
    ["port fractional", fileOf('{"port": 8686.5}'), "port", "8686.5"],
    ["port empty", { env: envOf({ NEWRETAIL_PORT: "" }) }, "port", 'got ""'],
    ["port a boolean", fileOf('{"port": true}'), "port", "got true"],
    ["admin port", { env: envOf({ NEWRETAIL_ADMIN_PORT: "99999" }) }, "adminPort", "99999"],
    ["discovery port", fileOf('{"discoveryPort": "x"}'), "discoveryPort", '"x"'],
    [
      "unknown byte order",
      { env: envOf({ NEWRETAIL_BYTE_ORDER: "little" }) },
      "byteOrder",
      "le, be, auto",
    ],
    ["byte order wrong type", fileOf('{"byteOrder": 1}'), "byteOrder", "got 1"],
    ["unknown log level", fileOf('{"logLevel": "verbose"}'), "logLevel", '"verbose"'],
    ["unknown admission", fileOf('{"admission": "closed"}'), "admission", "open, registered"],
    ["unknown uniqueId", { env: envOf({ NEWRETAIL_UNIQUE_ID: "x" }) }, "uniqueIdMode", '"x"'],
    [
      "malformed payment URL",
      { env: envOf({ NEWRETAIL_PAYMENT_SERVER_URL: "pay.example.com/orders" }) },
      "paymentServerUrl",
      "must be a URL",
    ],
    [
      "payment URL with a wrong scheme",
      fileOf('{"paymentServerUrl": "ftp://pay.example.com/"}'),
      "paymentServerUrl",
      "http, https",
    ],
    [
      "payment URL without a host",
      fileOf('{"paymentServerUrl": "http:"}'),
      "paymentServerUrl",
      /must be a URL/,
    ],
    [
      "database URL without a host",
      { env: envOf({ DATABASE_URL: "postgres:newretail" }) },
      "databaseUrl",
      "with a host",
    ],
    [
      "database URL not postgres",
      { env: envOf({ DATABASE_URL: "mysql://db/x" }) },
      "databaseUrl",
      "postgres, postgresql",
    ],
    [
      "MQTT URL malformed",
      { env: envOf({ MQTT_URL: "broker:1883:x" }) },
      "mqttUrl",
      "mqtt",
    ],
    [
      "negative timeout",
      { env: envOf({ NEWRETAIL_PAYMENT_TIMEOUT_S: "-5" }) },
      "paymentTimeoutS",
      '"-5"',
    ],
    ["zero timeout", fileOf('{"requestTimeoutS": 0}'), "requestTimeoutS", ">= 0.01"],
    ["timeout not a number", fileOf('{"loginTimeoutS": "soon"}'), "loginTimeoutS", '"soon"'],
    ["order TTL below 1 s", fileOf('{"orderTtlS": 0.5}'), "orderTtlS", "0.5"],
    ["push tries zero", fileOf('{"pushTries": 0}'), "pushTries", "1..100"],
    ["max connections zero", fileOf('{"maxConnections": 0}'), "maxConnections", "got 0"],
    ["header limit too small", fileOf('{"maxHeaderBytes": 4}'), "maxHeaderBytes", "got 4"],
    ["bad boolean", { env: envOf({ NEWRETAIL_DISCOVERY: "maybe" }) }, "discoveryEnabled", "maybe"],
    ["boolean as number", fileOf('{"demo": 1}'), "demo", "got 1"],
    ["bad host", { env: envOf({ NEWRETAIL_HOST: "0.0.0.0 8686" }) }, "host", "host name"],
    ["empty admin host", fileOf('{"adminHost": ""}'), "adminHost", 'got ""'],
    ["empty shop id", fileOf('{"shopId": "  "}'), "shopId", "must not be empty"],
    ["empty state dir", { env: envOf({ NEWRETAIL_STATE_DIR: "" }) }, "stateDir", "empty"],
    ["text given a number", fileOf('{"mqttDoorTopic": 5}'), "mqttDoorTopic", "string"],
    [
      "unknown key in the file",
      fileOf('{"prot": 8686}'),
      "prot",
      'unknown key in /etc/newretail/config.json (did you mean "port"?)',
    ],
    [
      "a key in the wrong case",
      fileOf('{"adminport": 1}'),
      "adminport",
      'did you mean "adminPort"?',
    ],
    [
      "a key far from any",
      fileOf('{"colour": "red"}'),
      "colour",
      "unknown key in /etc/newretail/config.json",
    ],
    ["file not JSON", fileOf("{port: 8686}"), "config", "not valid JSON"],
    ["file an array", fileOf("[1, 2]"), "config", "JSON object"],
    ["file null", fileOf("null"), "config", "JSON object"],
    ["unknown flag", { flags: { nope: 1 } as ConfigInputs["flags"] }, "nope", "unknown flag"],
    ["bad flag value", { flags: { port: "x" } }, "port", "command line"],
    [
      "admin port equal to the device port",
      { env: envOf({ NEWRETAIL_PORT: "9000", NEWRETAIL_ADMIN_PORT: "9000" }) },
      "adminPort",
      "must differ from port",
    ],
  ];
  for (const [name, inputs, key, fragment] of cases) {
    await t.step(name, () => {
      assertBad(inputs, key, fragment);
    });
  }
});

Deno.test("config: an unknown key is matched to the key it was likely meant to be, or to none", () => {
  const keys = ["port", "adminPort", "mqttUrl", "shopId"];
  assert.equal(nearestKey("prot", keys), "port");
  assert.equal(nearestKey("ADMINPORT", keys), "adminPort");
  assert.equal(nearestKey("mqttUrI", keys), "mqttUrl");
  assert.equal(nearestKey("colour", keys), undefined);
  assert.equal(nearestKey("id", keys), undefined);
  const e = assertBad(fileOf('{"colour": "red"}'), "colour");
  assert.ok(!e.message.includes("did you mean"), e.message);
});

Deno.test("config: the error says where the bad value came from", () => {
  assertBad({ env: envOf({ NEWRETAIL_PORT: "x" }) }, "port", "(from env NEWRETAIL_PORT)");
  assertBad(fileOf('{"port": "x"}'), "port", "(from /etc/newretail/config.json)");
});

Deno.test("config: a bad secret is reported without its value", () => {
  const e = assertBad(
    { env: envOf({ DATABASE_URL: "postgres//admin:hunter2@db/x" }) },
    "databaseUrl",
    "value not shown",
  );
  assert.ok(!e.message.includes("hunter2"), e.message);
  const m = assertBad(fileOf('{"mqttPassword": 12345}'), "mqttPassword");
  assert.ok(!m.message.includes("12345"), m.message);
});

Deno.test("config: admin port may equal the device port when admin is off or ports are 0", () => {
  loadConfig({ env: envOf({ NEWRETAIL_PORT: "0", NEWRETAIL_ADMIN_PORT: "0" }) });
  loadConfig({
    env: envOf({ NEWRETAIL_PORT: "9000", NEWRETAIL_ADMIN_PORT: "9000", NEWRETAIL_ADMIN: "false" }),
  });
});

Deno.test("config: masked output hides passwords and keeps the rest", () => {
  const { config } = loadConfig({
    env: envOf({
      DATABASE_URL: "postgres://app:s3cret@db.local:5432/newretail?sslmode=require",
      MQTT_URL: "mqtt://shop:brokerpw@broker:1883",
      NEWRETAIL_MQTT_PASSWORD: "pass:word",
    }),
  });
  const masked = maskedConfig(config);
  const text = JSON.stringify(masked);
  for (const secret of ["s3cret", "brokerpw", "pass:word"]) assert.ok(!text.includes(secret));
  assert.equal(masked.databaseUrl, "postgres://app:***@db.local:5432/newretail?sslmode=require");
  assert.equal(masked.mqttUrl, "mqtt://shop:***@broker:1883");
  assert.equal(masked.mqttPassword, "***");
  assert.equal(masked.port, 8686);
  assert.equal(maskedConfig(defaultConfig()).mqttPassword, "", "an empty secret stays empty");
  assert.equal(
    maskSecret("postgres://app@db/x?password=abc&sslmode=disable"),
    "postgres://app@db/x?password=***&sslmode=disable",
  );
});

Deno.test("config: every key is documented with an environment name", () => {
  const described = describeConfig();
  assert.equal(described.length, Object.keys(CONFIG_SPEC).length);
  for (const d of described) {
    assert.ok(d.doc.length > 10, `${d.key} has a meaning`);
    assert.ok(d.env === "DATABASE_URL" || d.env === "MQTT_URL" || d.env.startsWith("NEWRETAIL_"));
  }
  assert.equal(new Set(configEnvNames()).size, described.length, "env names are unique");
});
