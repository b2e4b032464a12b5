/**
 * `serve`: runs the appliance until SIGTERM or SIGINT, then shuts down gracefully.
 *
 * @module
 */
import { startAppliance } from "../app.ts";
import { createLogger } from "../log.ts";
import { CONFIG_FLAGS, CONFIG_FLAGS_HELP, loadCliConfig, parseCommandArgs } from "./_common.ts";

/** Help of `serve`. */
export const SERVE_HELP = `newretail serve [options]

Runs the appliance: the device TCP server, discovery, MQTT, pushes, admin HTTP.
With no configuration it runs on the embedded database in ./data with the demo catalogue.

${CONFIG_FLAGS_HELP}`;

/** Runs `serve`. Resolves with the exit code once stopped. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, CONFIG_FLAGS, false);
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  const { config, sources } = loadCliConfig(values);
  const log = createLogger({ level: config.logLevel });
  const app = await startAppliance({ config, configSources: sources, log });

  const stopped = Promise.withResolvers<void>();
  const onSignal = (signal: string) => () => {
    log.info("signal received", { signal });
    stopped.resolve();
  };
  const onTerm = onSignal("SIGTERM");
  const onInt = onSignal("SIGINT");
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  await stopped.promise;
  Deno.removeSignalListener("SIGTERM", onTerm);
  Deno.removeSignalListener("SIGINT", onInt);
  await app.shutdown();
  return 0;
}
