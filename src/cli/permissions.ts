/**
 * `permissions`: prints, one per line, the Deno permission flags that `serve` needs with the
 * configuration these options give. The installed launcher runs it before every start, so the
 * permissions follow the config file.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { appliancePermissions, permissionFlags } from "../config/permissions.ts";
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { notifySettings } from "../systemd/notify.ts";
import {
  CONFIG_FLAGS,
  CONFIG_FLAGS_HELP,
  defaultConfigFile,
  loadCliConfig,
  readEnv,
} from "./_common.ts";

const HELP = `newretail permissions [--] [COMMAND [its options]]

Prints the Deno permission flags (one per line) that COMMAND (serve) needs with this
configuration: net (listen addresses and configured hosts; unrestricted while UDP discovery is
on), read (config file, state directory, CA file, program files), write (state directory), env.

${CONFIG_FLAGS_HELP}`;

/**
 * Directories (and files) of the program's own run-time files: beside the bundle (PGlite's wasm
 * and data, the worker and the empty-database template are copied next to it), or from source
 * the project's node_modules, the template at the project's root and the worker's module.
 */
export function programAssetDirs(mainModule: string = Deno.mainModule): string[] {
  const dir = fileURLToPath(new URL(".", mainModule)).replace(/\/$/, "");
  if (!mainModule.endsWith(".ts")) return [dir];
  // A Worker's modules need read permission: the embedded database's thread and its import.
  return [
    `${dir}/node_modules`,
    `${dir}/pglite-template.tar.gz`,
    `${dir}/src/store/pglite/pglite_worker.ts`,
    `${dir}/src/store/pglite/pglite_template.ts`,
    `${dir}/src/store/pglite/pglite_wire.ts`,
    `${dir}/src/store/pglite/pglite_durable_fs.ts`,
    `${dir}/src/bytes.ts`,
    `${dir}/src/fault_switch.ts`,
  ];
}

/**
 * Runs `permissions`. The launcher calls `permissions -- ARGS…` with the arguments of the command
 * it is about to run, whatever they are (`--help` included): after `--` only the configuration
 * flags count, anything else is that command's business.
 */
export function permissionsCommand(args: string[]): Promise<number> {
  const forLauncher = args[0] === "--";
  const rest = forLauncher ? args.slice(1) : args;
  const named = rest[0] !== undefined && !rest[0].startsWith("-");
  const command = named ? rest[0] : "serve";
  const { values, positionals } = parseArgs({
    args: named ? rest.slice(1) : rest,
    options: CONFIG_FLAGS,
    strict: false,
    allowPositionals: true,
  });
  if (values.help && !forLauncher) {
    console.log(HELP);
    return Promise.resolve(0);
  }
  const { config } = loadCliConfig(
    command === "device" ? { config: values.config } : values, // its --host/--port are a target
  );
  // Started by systemd (Type=notify): serve will notify it, from its RuntimeDirectory.
  const notify = command === "serve" ? notifySettings(readEnv, Deno.pid) : undefined;
  const permissions = appliancePermissions(config, {
    configFile: typeof values.config === "string" ? values.config : defaultConfigFile(),
    assetDirs: programAssetDirs(),
    notify: notify && !("off" in notify) ? notify : undefined,
  });
  // The device simulator connects to whichever appliance it is pointed at.
  if (command === "device") permissions.net = true;
  // backup/restore read or write their FILE, and run pg_dump/pg_restore on PostgreSQL.
  const backup = (command === "backup" || command === "restore") && positionals.length === 1;
  if (backup && command === "restore") permissions.read.push(resolve(positionals[0]));
  if (backup && command === "backup") {
    // Written whole: FILE.partial first (its disk's free space read through it), then renamed.
    const file = resolve(positionals[0]);
    permissions.write.push(file, `${file}.partial`);
    permissions.read.push(`${file}.partial`);
    if (!permissions.sys.includes("statfs")) permissions.sys.push("statfs");
  }
  // bindings import reads its CSV file wherever it is.
  if (command === "bindings" && positionals[0] === "import" && positionals[1] !== undefined) {
    permissions.read.push(resolve(positionals[1]));
  }
  const flags = permissionFlags(permissions);
  if (backup) flags.push("--allow-run=pg_dump,pg_restore");
  console.log(flags.join("\n"));
  return Promise.resolve(0);
}
