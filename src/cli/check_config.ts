/**
 * `check-config`: prints the effective configuration (secrets masked) or one line naming the bad
 * key, exiting non-zero.
 *
 * @module
 */
import { maskedConfig } from "../config/config.ts";
import { CONFIG_FLAGS, CONFIG_FLAGS_HELP, loadCliConfig, parseCommandArgs } from "./_common.ts";

/** Runs `check-config`. */
export function checkConfigCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, CONFIG_FLAGS, false);
  if (values.help) {
    console.log(
      `newretail check-config [options]\n\nValidates the configuration and prints it with secrets masked.\n\n${CONFIG_FLAGS_HELP}`,
    );
    return Promise.resolve(0);
  }
  const { config, sources } = loadCliConfig(values);
  console.log(JSON.stringify({ sources, config: maskedConfig(config) }, null, 2));
  return Promise.resolve(0);
}
