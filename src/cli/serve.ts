/**
 * `serve`: runs the appliance until SIGTERM or SIGINT, then shuts down gracefully. Under systemd
 * (`Type=notify`) it says when devices can be served, sends watchdog keep-alives and says when it
 * stops (src/systemd/notify.ts).
 *
 * Signals during the shutdown: `deno task` and a terminal both deliver a Ctrl-C, so copies that
 * arrive within {@link SAME_PRESS_MS} of each other count as one. A second press is logged and
 * ignored; a third, or {@link FORCE_AFTER_S} without the shutdown finishing, exits at once with a
 * line naming the part that had not stopped.
 *
 * @module
 */
import { type Appliance, startAppliance } from "../app.ts";
import { createLogger, type Logger } from "../log.ts";
import { notifierFromEnv } from "../systemd/notify.ts";
import { ConfigError } from "../config/config.ts";
import {
  CliError,
  CONFIG_FLAGS,
  CONFIG_FLAGS_HELP,
  loadCliConfig,
  parseCommandArgs,
  readEnv,
} from "./_common.ts";
import { describeStartFailure } from "./serve_failures.ts";

/** Help of `serve`. */
export const SERVE_HELP = `newretail serve [options]

Runs the appliance: the device TCP server, discovery, MQTT, pushes, admin HTTP.
With no configuration it runs on the embedded database in ./data with the demo catalogue.
Ctrl-C (or SIGTERM) stops it gracefully; a third Ctrl-C stops it at once.

${CONFIG_FLAGS_HELP}`;

/** Signals closer together than this are copies of one Ctrl-C (deno task forwards its own). */
export const SAME_PRESS_MS = 500;
/** A graceful shutdown taking longer than this is cut short (systemd's stop timeout is 20 s). */
export const FORCE_AFTER_S = 15;

/** Runs `serve`. Resolves with the exit code once stopped. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, CONFIG_FLAGS, false);
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  const { config, sources } = loadServeConfig(values);
  const log = createLogger({ level: config.logLevel });
  let app: Appliance;
  try {
    // Before anything is created: a new state directory with a database in it is no way to
    // learn that another program has the port.
    if (config.port !== 0) Deno.listen({ hostname: config.host, port: config.port }).close();
    app = await startAppliance({ config, configSources: sources, log });
  } catch (e) {
    const line = describeStartFailure(e, config);
    if (line) throw new CliError(line);
    throw e;
  }
  const notifier = notifierFromEnv(readEnv, log);
  await notifier.send(`READY=1\nSTATUS=serving devices on port ${app.server.addr.port}`);

  const stopped = Promise.withResolvers<void>();
  const presses = pressCounter({
    log,
    stoppingPart: () => app.stoppingPart,
    stop: stopped.resolve,
    force: (why) => forceExit(log, app, why),
  });
  const onTerm = () => presses("SIGTERM");
  const onInt = () => presses("SIGINT");
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  try {
    await stopped.promise;
    await notifier.send("STOPPING=1\nSTATUS=shutting down");
    const force = setTimeout(
      () => forceExit(log, app, `the shutdown took longer than ${FORCE_AFTER_S} s`),
      FORCE_AFTER_S * 1000,
    );
    try {
      await app.shutdown();
    } finally {
      clearTimeout(force);
    }
  } finally {
    notifier.close();
    Deno.removeSignalListener("SIGTERM", onTerm);
    Deno.removeSignalListener("SIGINT", onInt);
  }
  return 0;
}

/** What {@link pressCounter} acts on. */
export interface PressActions {
  log: Logger;
  /** The part being stopped now (logged with an ignored press). */
  stoppingPart: () => string | undefined;
  /** Starts the graceful shutdown (first press). */
  stop: () => void;
  /** Exits at once (third press). */
  force: (why: string) => void;
  /** Milliseconds, monotonic (default `performance.now`). */
  now?: () => number;
}

/**
 * Counts presses of Ctrl-C (or SIGTERMs): the first starts the shutdown, the second is logged and
 * ignored, the third forces the exit. Copies within {@link SAME_PRESS_MS} of the last press count
 * as that press.
 */
export function pressCounter(actions: PressActions): (signal: Deno.Signal) => void {
  const { log } = actions;
  const now = actions.now ?? (() => performance.now());
  let presses = 0;
  let last = -Infinity;
  return (signal) => {
    const at = now();
    if (presses > 0 && at - last < SAME_PRESS_MS) {
      log.info("signal ignored: a copy of the last one", { signal });
      return;
    }
    presses++;
    last = at;
    if (presses === 1) {
      log.info("signal received", { signal });
      actions.stop();
    } else if (presses === 2) {
      log.warn("signal ignored: shutting down already (send it once more to stop at once)", {
        signal,
        stopping: actions.stoppingPart(),
      });
    } else {
      actions.force(`${signal} received a third time`);
    }
  };
}

// A --config outside a fixed permission set (deno run -P=appliance) is a start-up problem, not an
// invalid config: say how to start so that it is granted.
function loadServeConfig(values: Record<string, unknown>): ReturnType<typeof loadCliConfig> {
  try {
    return loadCliConfig(values);
  } catch (e) {
    if (e instanceof ConfigError && /Requires read access/.test(e.message)) {
      throw new CliError(
        `the config file ${values.config} is outside what the permission set allows: start with ` +
          "`deno task start` or the installed newretail (they grant the --config given), or add " +
          "it to --allow-read",
      );
    }
    throw e;
  }
}

function forceExit(log: Logger, app: Appliance, why: string): never {
  const part = app.stoppingPart ?? "the shutdown";
  log.error(`forced exit: ${why}; not finished: ${part}`, {
    notFinished: part,
    databaseClosed: false,
  });
  Deno.exit(1);
}
