/**
 * `permissions`: prints, one per line, the Deno permission flags that `serve` needs with the
 * configuration these options give. The installed launcher runs it before every start, so the
 * permissions follow the config file.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { appliancePermissions, permissionFlags } from "../config/permissions.ts";
import {
  CONFIG_FLAGS,
  CONFIG_FLAGS_HELP,
  DEFAULT_CONFIG_FILE,
  loadCliConfig,
  parseCommandArgs,
} from "./_common.ts";

const HELP = `newretail permissions [COMMAND] [options]

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

/** Runs `permissions`. */
export function permissionsCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, CONFIG_FLAGS, true);
  if (values.help) {
    console.log(HELP);
    return Promise.resolve(0);
  }
  const { config } = loadCliConfig(values);
  const permissions = appliancePermissions(config, {
    configFile: values.config ?? DEFAULT_CONFIG_FILE,
    assetDirs: programAssetDirs(),
  });
  console.log(permissionFlags(permissions).join("\n"));
  return Promise.resolve(0);
}
