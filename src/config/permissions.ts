/**
 * The narrowest Deno permissions a configuration needs: the listen addresses and the hosts of
 * every configured URL (net), the config file, state directory, CA files, the admin server's TLS
 * certificate and key, and PGlite's files (read),
 * the state directory (write), and the environment names the configuration and the PostgreSQL
 * driver read (env). `deno.json`'s `appliance` set is this function's answer for the default
 * configuration (a test keeps them equal), and the installed launcher asks `newretail
 * permissions` for it at every start, so editing the config file never needs a new install.
 *
 * @module
 */
import { type Config, CONFIG_SPEC, configEnvNames } from "./config.ts";
import { NOTIFY_ENV } from "../systemd/notify.ts";
import { isLoopbackHost } from "../net_address.ts";

/** Deno permissions, as in a deno.json permission set. */
export interface DenoPermissions {
  /** `true`: unrestricted (see {@link appliancePermissions} for when). */
  net: true | string[];
  read: string[];
  write: string[];
  /** `true`: unrestricted (only with MQTT, see {@link appliancePermissions}). */
  env: true | string[];
  /**
   * System information: `networkInterfaces` for discovery answers without `advertiseHost`,
   * `statfs` for the free space of the database's disk (src/disk_guard.ts).
   */
  sys: string[];
}

/** Paths that depend on how the program is installed, not on the configuration. */
export interface ProgramPaths {
  /** The config file read (the `--config` one, else the default location, read when present). */
  configFile: string;
  /** Directories holding the program's own files read at run time (PGlite's wasm and data). */
  assetDirs: string[];
  /**
   * Under systemd with `Type=notify`: its notification socket and the socket file serve sends
   * from (see src/systemd/notify.ts); both need read, write and, when net is a list, `unix:`.
   */
  notify?: { socket: string; sender?: string };
}

/**
 * Environment names npm:postgres reads when the URL leaves them out (`PG*`), and the user-name
 * fallbacks it asks for before connecting.
 */
export const DRIVER_ENV = ["PG*", "USER", "USERNAME", "LOGNAME"];

/** Environment names the command line reads besides the configuration's (the launcher's). */
export const LAUNCHER_ENV = ["NEWRETAIL_CONFIG_FILE"];

/**
 * The fault lab's test-only switches (`NEWRETAIL_FAULT_LAB_UNSAFE_…`, each read in one module and
 * logged when on): readable, so that the lab turns them on in the installed appliance; never set
 * in a store.
 */
export const FAULT_LAB_ENV = ["NEWRETAIL_FAULT_LAB_*"];

const DEFAULT_PORTS: Record<string, number> = {
  "http:": 80,
  "https:": 443,
  "ws:": 80,
  "wss:": 443,
  "mqtt:": 1883,
  "tcp:": 1883,
  "mqtts:": 8883,
  "tls:": 8883,
  "postgres:": 5432,
  "postgresql:": 5432,
};

/** `host:port` a URL connects to, as Deno's net permission names it. */
export function urlTarget(url: string): string | undefined {
  const u = new URL(url);
  const port = u.port || DEFAULT_PORTS[u.protocol];
  if (!u.hostname) return undefined;
  return port ? `${u.hostname}:${port}` : u.hostname;
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}

/**
 * The permissions `serve` needs with this configuration.
 *
 * Network is unrestricted while UDP discovery is on: a discovery answer goes back to whichever
 * device asked, and Deno's net permission lists hosts, not address ranges. With discovery off,
 * it is the listen addresses plus the host of every configured URL (database, MQTT, payment
 * server, and any `…Url` key added later).
 *
 * Discovery without `advertiseHost` answers with the local address on the sender's subnet, read
 * from the network interfaces (sys `networkInterfaces`). The free space of the database's disk
 * (the state directory, or `databaseDiskPath`) is read with sys `statfs`.
 *
 * Environment is unrestricted when MQTT (the store's or the chain's broker) is configured: npm:mqtt's `debug` dependency reads the
 * names of every variable (`Object.keys(process.env)`) when it is loaded, and Deno grants that
 * only with unscoped `--allow-env`. Without MQTT, the module is never loaded and the list holds.
 *
 * @example
 * ```ts
 * const p = appliancePermissions(defaultConfig(), {
 *   configFile: "/etc/newretail/config.json", assetDirs: ["/opt/newretail"] });
 * ```
 */
export function appliancePermissions(config: Config, paths: ProgramPaths): DenoPermissions {
  const targets: string[] = [`${config.host}:${config.port}`];
  if (config.adminEnabled) targets.push(`${config.adminHost}:${config.adminPort}`);
  const read = [paths.configFile, ...paths.assetDirs];
  const write: string[] = [];
  for (const key of Object.keys(CONFIG_SPEC) as (keyof Config)[]) {
    const value = config[key];
    if (!key.endsWith("Url") || typeof value !== "string" || value === "") continue;
    // Templates (payUrlTemplate) are handed to devices, never fetched: the key ends in Template.
    const target = urlTarget(value);
    if (target) targets.push(target);
    const socketDir = new URL(value).searchParams.get("host");
    if (socketDir?.startsWith("/")) {
      // PostgreSQL over a Unix socket: connecting needs read and write of the socket file.
      read.push(socketDir);
      write.push(socketDir);
    }
  }
  if (!config.databaseUrl) {
    read.push(config.stateDir);
    write.push(config.stateDir);
  } else if (config.databaseDiskPath) {
    // Its free space is read (statfs), nothing in it.
    read.push(config.databaseDiskPath);
  }
  // The admin server's TLS pair is read only beyond loopback (loopback stays plain HTTP).
  const adminTls = config.adminEnabled && !isLoopbackHost(config.adminHost)
    ? [config.adminTlsCertFile, config.adminTlsKeyFile]
    : [];
  for (const file of [config.mqttCaFile, config.chainMqttCaFile, ...adminTls]) {
    if (file) read.push(file);
  }
  for (const socket of [paths.notify?.socket, paths.notify?.sender]) {
    if (!socket) continue;
    read.push(socket);
    write.push(socket);
    targets.push(`unix:${socket}`);
  }
  return {
    net: config.discoveryEnabled ? true : unique(targets),
    read: unique(read),
    write: unique(write),
    env: config.mqttUrl || config.chainMqttUrl ? true : unique([
      ...configEnvNames(),
      ...LAUNCHER_ENV,
      ...DRIVER_ENV,
      ...NOTIFY_ENV,
      ...FAULT_LAB_ENV,
    ]),
    sys: [
      ...(config.discoveryEnabled && !config.advertiseHost ? ["networkInterfaces"] : []),
      ...(!config.databaseUrl || config.databaseDiskPath ? ["statfs"] : []),
    ],
  };
}

/** The command-line flags of a permission set (one flag per element, no shell quoting needed). */
export function permissionFlags(p: DenoPermissions): string[] {
  const list = (name: string, values: string[]) =>
    values.length ? [`--allow-${name}=${values.join(",")}`] : [];
  return [
    ...(p.net === true ? ["--allow-net"] : list("net", p.net)),
    ...list("read", p.read),
    ...list("write", p.write),
    ...(p.env === true ? ["--allow-env"] : list("env", p.env)),
    ...list("sys", p.sys),
  ];
}
