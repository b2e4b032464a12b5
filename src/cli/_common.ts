/**
 * What the commands share: configuration flags, loading the configuration, running one-shot
 * commands on the store (opened, migrated and closed around them) (`failure.ts` turns their expected failures into one line on stderr).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Config, type ConfigKey, loadConfig } from "../config/config.ts";
import type { Database } from "../store/database.ts";
import { openDatabase, type OpenedDatabase } from "../app.ts";
import { migrate } from "../store/migrate.ts";
import { embeddedDatabaseExists } from "../store/pglite/pglite.ts";
import { errorMessage } from "../errors.ts";

/** Where the configuration file is read from when `--config` is not given. */
export const DEFAULT_CONFIG_FILE = "/etc/newretail/config.json";

/**
 * The config file read when `--config` is not given: `NEWRETAIL_CONFIG_FILE` (the launcher of a
 * scratch-root install sets it to that root's file), else {@link DEFAULT_CONFIG_FILE}.
 */
export function defaultConfigFile(): string {
  return readEnv("NEWRETAIL_CONFIG_FILE") || DEFAULT_CONFIG_FILE;
}

/** Flags every command that opens the store accepts. */
export const CONFIG_FLAGS = {
  config: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  "state-dir": { type: "string" },
  "database-url": { type: "string" },
  "no-demo": { type: "boolean" },
  "log-level": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Help text of {@link CONFIG_FLAGS}. */
export const CONFIG_FLAGS_HELP =
  `  --config FILE         JSON config file (default ${DEFAULT_CONFIG_FILE} when present)
  --host ADDR           device TCP listen address (NEWRETAIL_HOST, default 0.0.0.0)
  --port N              device TCP port, 0 = any free port (NEWRETAIL_PORT, default 8686)
  --state-dir DIR       embedded database location (NEWRETAIL_STATE_DIR, default ./data)
  --database-url URL    PostgreSQL instead of the embedded database (DATABASE_URL)
  --no-demo             do not load the demo catalogue into a new embedded database
  --log-level LEVEL     debug, info, warn or error (NEWRETAIL_LOG_LEVEL)`;

/** A failure the operator can fix: printed as one line, exit code 1 (2 for usage). */
export class CliError extends Error {
  /** Process exit code. */
  readonly code: number;
  /** @param message one line @param code exit code */
  constructor(message: string, code = 1) {
    super(message);
    this.name = "CliError";
    this.code = code;
  }
}

/** Parsed configuration flags as config overrides. */
export function configFlags(values: Record<string, unknown>): Partial<Record<ConfigKey, unknown>> {
  return {
    host: values.host,
    port: values.port,
    stateDir: values["state-dir"],
    databaseUrl: values["database-url"],
    demo: values["no-demo"] ? false : undefined,
    logLevel: values["log-level"],
  };
}

/** Loads the configuration: defaults ← file ← environment ← flags. */
export function loadCliConfig(
  values: Record<string, unknown>,
): { config: Config; sources: string[] } {
  const { config, sources } = loadConfig({
    file: values.config as string | undefined,
    defaultFile: defaultConfigFile(),
    env: readEnv,
    flags: configFlags(values),
  });
  return { config, sources };
}

/**
 * Reads an environment variable; one the permission set does not grant reads as "not set" (with
 * `--allow-env=<names>` asking for another would fail) rather than crashing.
 */
export function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return undefined;
    }
    throw e;
  }
}

/** The option specs `node:util` `parseArgs` takes. */
type FlagSpecs = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

/** Parses a command's arguments, turning parse errors into usage errors. */
export function parseCommandArgs<const O extends FlagSpecs>(
  args: string[],
  options: O,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    throw new CliError(errorMessage(e), 2);
  }
}

/**
 * Parses a store command's arguments ({@link CONFIG_FLAGS} plus its own `flags`) and answers
 * `--help`: `exit` is set (0) when the help was printed, or (2) when `verb` is asked for and the
 * command line has none. `positionals`: `"verb"` (a verb is needed), `"any"` or `"none"`.
 *
 * @example
 * ```ts
 * const { values, positionals, exit } = parseStoreCommand(args, HELP, { all: { type: "boolean" } });
 * if (exit !== undefined) return exit;
 * ```
 */
export function parseStoreCommand<const O extends FlagSpecs>(
  args: string[],
  help: string,
  flags: O,
  positionals: "verb" | "any" | "none" = "verb",
) {
  const parsed = parseCommandArgs(args, { ...CONFIG_FLAGS, ...flags }, positionals !== "none");
  const missingVerb = positionals === "verb" && !parsed.positionals[0];
  const asked = (parsed.values as { help?: boolean }).help === true;
  if (asked || missingVerb) console.log(help);
  const exit = asked ? 0 : missingVerb ? 2 : undefined;
  return { ...parsed, exit };
}

/** How a one-shot command may open the store. */
export interface StoreAccess {
  /**
   * Only a store that exists: a listing on a state directory where nothing has run yet (a wrong
   * `--state-dir`, an appliance never started) says so instead of making an empty database there.
   */
  existing?: boolean;
}

async function openMigratedStore(config: Config, access: StoreAccess): Promise<OpenedDatabase> {
  if (access.existing && !config.databaseUrl && !await embeddedDatabaseExists(config.stateDir)) {
    throw new CliError(
      `no store database in ${config.stateDir}: the appliance makes it at its first start ` +
        "(newretail serve); is this the state directory it runs with?",
    );
  }
  const opened = await openDatabase(config);
  try {
    await migrate(opened.db);
  } catch (e) {
    await opened.db.close();
    throw e;
  }
  return opened;
}

/**
 * Opens and migrates the store for a one-shot command, runs `work` on it, and closes it whatever
 * `work` does.
 */
export async function withStore<T>(
  config: Config,
  work: (db: Database) => Promise<T>,
  access: StoreAccess = {},
): Promise<T> {
  const { db } = await openMigratedStore(config, access);
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

/**
 * The body of a one-shot store command: the configuration from the command's flags, then
 * {@link withStore}.
 *
 * @example
 * ```ts
 * return await storeCommand(values, async (db) => {
 *   console.log(`schema version ${await schemaVersion(db)}`);
 *   return 0;
 * });
 * ```
 */
export function storeCommand<T>(
  values: Record<string, unknown>,
  work: (db: Database, config: Config) => Promise<T>,
): Promise<T> {
  const { config } = loadCliConfig(values);
  return withStore(config, (db) => work(db, config));
}
