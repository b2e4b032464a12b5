import assert from "node:assert/strict";
import { defaultConfig, loadConfig } from "./config.ts";
import { appliancePermissions, DRIVER_ENV, permissionFlags, urlTarget } from "./permissions.ts";

const DEV_PATHS = {
  configFile: "/etc/newretail/config.json",
  assetDirs: [
    "./node_modules",
    "./pglite-template.tar.gz",
    "./src/store/pglite/pglite_worker.ts",
    "./src/store/pglite/pglite_template.ts",
    "./src/store/pglite/pglite_wire.ts",
    "./src/store/pglite/pglite_durable_fs.ts",
    "./src/bytes.ts",
    "./src/fault_switch.ts",
  ],
};

// The static sets serve whatever the environment or config file configures at run time, MQTT
// included (which widens env); the installed launcher computes a narrower set per config file.
const ANY_MQTT = { mqttUrl: "mqtt://broker.invalid" };

Deno.test("permissions: deno.json's appliance set is the default configuration's", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.deepEqual(
    denoJson.permissions.appliance,
    appliancePermissions({ ...defaultConfig(), ...ANY_MQTT }, DEV_PATHS),
  );
  // The checkout's start computes its set from the flags given (scripts/start.ts).
  assert.match(denoJson.tasks.start, /scripts\/start\.ts/);
  const store = denoJson.permissions.store;
  assert.deepEqual(
    store,
    appliancePermissions(
      { ...defaultConfig(), ...ANY_MQTT, stateDir: "/var/lib/newretail" },
      { configFile: "/etc/newretail/config.json", assetDirs: [] },
    ),
    "the compiled binary's set: the installed paths (PGlite's files are inside the binary)",
  );
  assert.match(denoJson.tasks.compile, /-P=store/);
});

Deno.test("permissions: with discovery off, net is the listen addresses and configured hosts", () => {
  const { config } = loadConfig({
    env: (n) =>
      ({
        NEWRETAIL_DISCOVERY: "off",
        NEWRETAIL_HOST: "192.168.1.10",
        DATABASE_URL: "postgres://app:pw@db.store.lan/newretail",
        MQTT_URL: "mqtts://broker.example.com",
        NEWRETAIL_PAYMENT_SERVER_URL: "https://pay.example.com:8443/orders",
        NEWRETAIL_MQTT_CA_FILE: "/etc/newretail/ca.pem",
      })[n],
  });
  const p = appliancePermissions(config, {
    configFile: "/etc/newretail/config.json",
    assetDirs: ["/opt/newretail"],
  });
  assert.deepEqual(p.net, [
    "192.168.1.10:8686",
    "127.0.0.1:8687",
    "db.store.lan:5432",
    "broker.example.com:8883",
    "pay.example.com:8443",
  ]);
  assert.deepEqual(p.read, [
    "/etc/newretail/config.json",
    "/opt/newretail",
    "/etc/newretail/ca.pem",
  ]);
  assert.deepEqual(p.write, [], "PostgreSQL: nothing written locally");
  assert.equal(p.env, true, "with MQTT configured: npm:mqtt enumerates the environment");
  const { config: noMqtt } = loadConfig({ flags: { mqttUrl: "" } });
  const scoped = appliancePermissions(noMqtt, { configFile: "/c.json", assetDirs: [] });
  assert.ok(Array.isArray(scoped.env), "without MQTT the env list is scoped");
  assert.ok(scoped.env.includes("NEWRETAIL_PORT") && scoped.env.includes("DATABASE_URL"));
  for (const name of DRIVER_ENV) assert.ok(scoped.env.includes(name));
});

Deno.test("permissions: admin off drops its address; PGlite reads and writes the state dir", () => {
  const { config } = loadConfig({
    flags: {
      discoveryEnabled: false,
      adminEnabled: false,
      stateDir: "/var/lib/newretail",
      port: 0,
      host: "127.0.0.1",
    },
  });
  const p = appliancePermissions(config, { configFile: "/c.json", assetDirs: [] });
  assert.deepEqual(p.net, ["127.0.0.1:0"]);
  assert.deepEqual(p.read, ["/c.json", "/var/lib/newretail"]);
  assert.deepEqual(p.write, ["/var/lib/newretail"]);
});

Deno.test("permissions: PostgreSQL over a Unix socket may use the socket directory", () => {
  const { config } = loadConfig({
    flags: {
      discoveryEnabled: false,
      databaseUrl: "postgres://newretail@localhost/newretail?host=/run/postgresql",
    },
  });
  const p = appliancePermissions(config, { configFile: "/c.json", assetDirs: [] });
  assert.ok(p.read.includes("/run/postgresql") && p.write.includes("/run/postgresql"));
});

Deno.test("permissions: flags and URL targets", () => {
  assert.equal(urlTarget("http://pay.local/x"), "pay.local:80");
  assert.equal(urlTarget("https://pay.local/x"), "pay.local:443");
  assert.equal(urlTarget("mqtt://[::1]:1884"), "[::1]:1884");
  assert.equal(urlTarget("postgresql://u@db/x"), "db:5432");
  assert.deepEqual(
    permissionFlags({ net: ["a:1", "b:2"], read: ["/r"], write: [], env: ["X", "Y"], sys: [] }),
    ["--allow-net=a:1,b:2", "--allow-read=/r", "--allow-env=X,Y"],
  );
  assert.deepEqual(permissionFlags({ net: true, read: [], write: [], env: [], sys: [] }), [
    "--allow-net",
  ]);
  assert.deepEqual(
    permissionFlags({ net: true, read: [], write: [], env: [], sys: ["networkInterfaces"] }),
    ["--allow-net", "--allow-sys=networkInterfaces"],
  );
});

Deno.test("permissions: discovery reads the network interfaces unless advertiseHost is set", () => {
  const paths = { configFile: "/c.json", assetDirs: [] };
  const pg = { databaseUrl: "postgres://db/store" };
  const on = loadConfig({ flags: pg }).config;
  assert.deepEqual(appliancePermissions(on, paths).sys, ["networkInterfaces"]);
  const advertised = loadConfig({ flags: { ...pg, advertiseHost: "192.168.1.10" } }).config;
  assert.deepEqual(appliancePermissions(advertised, paths).sys, []);
  const off = loadConfig({ flags: { ...pg, discoveryEnabled: false } }).config;
  assert.deepEqual(appliancePermissions(off, paths).sys, []);
});

Deno.test("permissions: the free space of the database's disk (statfs) where it is watched", () => {
  const paths = { configFile: "/c.json", assetDirs: [] };
  const flags = { discoveryEnabled: false };
  const embedded = loadConfig({ flags: { ...flags, databaseUrl: "" } }).config;
  assert.deepEqual(appliancePermissions(embedded, paths).sys, ["statfs"]);
  const pg = { ...flags, databaseUrl: "postgres://db/store" };
  assert.deepEqual(appliancePermissions(loadConfig({ flags: pg }).config, paths).sys, []);
  const local = loadConfig({ flags: { ...pg, databaseDiskPath: "/var/lib/postgresql" } }).config;
  const p = appliancePermissions(local, paths);
  assert.deepEqual(p.sys, ["statfs"]);
  assert.ok(p.read.includes("/var/lib/postgresql") && !p.write.includes("/var/lib/postgresql"));
});

Deno.test("permissions: under systemd, the notification socket and serve's own sender socket", () => {
  const { config } = loadConfig({ flags: { discoveryEnabled: false, databaseUrl: "" } });
  const notify = { socket: "/run/systemd/notify", sender: "/run/newretail/notify.sock" };
  const p = appliancePermissions(config, { configFile: "/c.json", assetDirs: [], notify });
  for (const path of [notify.socket, notify.sender]) {
    assert.ok(p.read.includes(path) && p.write.includes(path), path);
    assert.ok(Array.isArray(p.net) && p.net.includes(`unix:${path}`), path);
  }
  assert.ok(
    Array.isArray(p.env) && p.env.includes("NOTIFY_SOCKET") &&
      p.env.includes("WATCHDOG_USEC"),
  );
});

Deno.test("permissions: the chain broker, its CA file and (beyond loopback) the admin TLS pair", () => {
  const { config } = loadConfig({
    env: (n) =>
      ({
        NEWRETAIL_DISCOVERY: "off",
        NEWRETAIL_ADMIN_HOST: "0.0.0.0",
        NEWRETAIL_ADMIN_TLS_CERT_FILE: "/etc/newretail/tls/admin.crt",
        NEWRETAIL_ADMIN_TLS_KEY_FILE: "/etc/newretail/tls/admin.key",
        NEWRETAIL_CHAIN_MQTT_URL: "mqtts://user:pw@fleet.chain.example",
        NEWRETAIL_CHAIN_MQTT_CA_FILE: "/etc/newretail/chain-ca.pem",
        DATABASE_URL: "postgres://db.store.lan/newretail",
      })[n],
  });
  const p = appliancePermissions(config, { configFile: "/c.json", assetDirs: [] });
  assert.deepEqual(p.net, [
    "0.0.0.0:8686",
    "0.0.0.0:8687",
    "db.store.lan:5432",
    "fleet.chain.example:8883",
  ]);
  assert.deepEqual(p.read, [
    "/c.json",
    "/etc/newretail/chain-ca.pem",
    "/etc/newretail/tls/admin.crt",
    "/etc/newretail/tls/admin.key",
  ]);
  assert.equal(p.env, true, "the chain broker loads npm:mqtt too");
  const loopback = appliancePermissions({ ...config, adminHost: "127.0.0.1" }, {
    configFile: "/c.json",
    assetDirs: [],
  });
  assert.ok(!loopback.read.includes("/etc/newretail/tls/admin.key"), "loopback reads no TLS pair");
});
