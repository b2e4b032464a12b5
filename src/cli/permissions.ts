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
import { notifySettings } from "../systemd/notify.ts";
import {
  CONFIG_FLAGS,
  CONFIG_FLAGS_HELP,
  DEFAULT_CONFIG_FILE,
  loadCliConfig,
  readEnv,
} from "./_common.ts";

const HELP = `newretail permissions [--] [COMMAND [its options]]

Prints the Deno permission flags (one per line) that COMMAND (serve) needs with this
configuration: net (listen addresses and configured hosts; unrestricted while UDP discovery is
on), read (config file, state directory, CA file, program files), write (state directory), env.

${CONFIG_FLAGS_HELP}`;

/**
 * Directories of the program's own run-time files: beside the bundle (PGlite's wasm and data are
 * copied next to it), or the project's node_modules when running from source.
 */
export function programAssetDirs(mainModule: string = Deno.mainModule): string[] {
  const dir = fileURLToPath(new URL(".", mainModule)).replace(/\/$/, "");
  return mainModule.endsWith(".ts") ? [`${dir}/node_modules`] : [dir];
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
  const { values } = parseArgs({
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
    configFile: typeof values.config === "string" ? values.config : DEFAULT_CONFIG_FILE,
    assetDirs: programAssetDirs(),
    notify: notify && !("off" in notify) ? notify : undefined,
  });
  // The device simulator connects to whichever appliance it is pointed at.
  if (command === "device") permissions.net = true;
  console.log(permissionFlags(permissions).join("\n"));
  return Promise.resolve(0);
}
