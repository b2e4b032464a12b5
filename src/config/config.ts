/**
 * The appliance's one typed configuration: defaults ← JSON file ← environment ← command-line
 * flags. Every key is declared once in {@link CONFIG_SPEC} with its environment name, default,
 * validation and meaning; the table of docs/configuration.md and `check-config` come from the
 * same place. The keys are in `spec.ts`, the value parsers in `parsers.ts`; this module loads,
 * checks and prints the configuration, and is what the rest of the appliance imports.
 *
 * @module
 */
import { ConfigError, type FieldSpec } from "./parsers.ts";
import { type Config, CONFIG_SPEC, type ConfigKey } from "./spec.ts";
import { errorMessage } from "../errors.ts";

export { ConfigError } from "./parsers.ts";
export { type Config, CONFIG_SPEC, type ConfigKey } from "./spec.ts";

/** Where the configuration was read from, for the start-up log. */
export interface LoadedConfig {
  config: Config;
  /** e.g. `["defaults", "file /etc/newretail/config.json", "env NEWRETAIL_PORT"]` */
  sources: string[];
}

/** What {@link loadConfig} reads; passed in so that tests and `check-config` use the same code. */
export interface ConfigInputs {
  /** `--config PATH`: must exist when given. */
  file?: string;
  /** Read when `file` is not given and it exists. */
  defaultFile?: string;
  /** Environment lookup (only the names in {@link CONFIG_SPEC} are asked for). */
  env?: (name: string) => string | undefined;
  /** Command-line flags, highest precedence; strings or typed values. */
  flags?: Partial<Record<ConfigKey, unknown>>;
  /** File reader (defaults to Deno.readTextFileSync). */
  readFile?: (path: string) => string;
}

/** The configuration with every key at its default. */
export function defaultConfig(): Config {
  const config: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SPEC)) config[key] = spec.default;
  return config as Config;
}

function parseField(key: string, value: unknown, origin: string): unknown {
  const spec = (CONFIG_SPEC as Record<string, FieldSpec<unknown>>)[key];
  try {
    return spec.parse(value);
  } catch (e) {
    let message = errorMessage(e);
    // A secret's bad value would otherwise land in the journal with its password.
    if (spec.secret) message = message.replace(/, got .*$/s, " (value not shown: secret)");
    throw new ConfigError(key, `${message} (from ${origin})`);
  }
}

/**
 * Builds and validates the configuration. Throws {@link ConfigError} naming the first bad key.
 *
 * @example
 * ```ts
 * const { config } = loadConfig({ env: (n) => Deno.env.get(n), flags: { port: "0" } });
 * ```
 */
export function loadConfig(inputs: ConfigInputs = {}): LoadedConfig {
  const readFile = inputs.readFile ?? ((p: string) => Deno.readTextFileSync(p));
  const config = defaultConfig() as Record<string, unknown>;
  const sources = ["defaults"];

  const path = inputs.file ?? inputs.defaultFile;
  if (path) {
    let raw: string | undefined;
    try {
      raw = readFile(path);
    } catch (e) {
      const missing = e instanceof Deno.errors.NotFound;
      if (inputs.file || !missing) {
        throw new ConfigError("config", `cannot read ${path}: ${errorMessage(e)}`);
      }
    }
    if (raw !== undefined) {
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch (e) {
        throw new ConfigError("config", `${path} is not valid JSON: ${errorMessage(e)}`);
      }
      if (typeof json !== "object" || json === null || Array.isArray(json)) {
        throw new ConfigError("config", `${path} must hold a JSON object`);
      }
      for (const [key, value] of Object.entries(json)) {
        if (key.startsWith("//") || key.startsWith("_")) continue; // comments in the example file
        if (!(key in CONFIG_SPEC)) {
          const near = nearestKey(key, Object.keys(CONFIG_SPEC));
          throw new ConfigError(
            key,
            `unknown key in ${path}${near ? ` (did you mean "${near}"?)` : ""}`,
          );
        }
        config[key] = parseField(key, value, path);
      }
      sources.push(`file ${path}`);
    }
  }

  if (inputs.env) {
    for (const [key, spec] of Object.entries(CONFIG_SPEC) as [string, FieldSpec<unknown>][]) {
      if (!spec.env) continue;
      const value = inputs.env(spec.env);
      if (value === undefined) continue;
      config[key] = parseField(key, value, `env ${spec.env}`);
      sources.push(`env ${spec.env}`);
    }
  }

  for (const [key, value] of Object.entries(inputs.flags ?? {})) {
    if (value === undefined) continue;
    if (!(key in CONFIG_SPEC)) throw new ConfigError(key, "unknown flag");
    config[key] = parseField(key, value, "command line");
    sources.push(`flag ${key}`);
  }

  checkCombinations(config as Config);
  return { config: config as Config, sources };
}

/** Edit distance (insertions, deletions, substitutions; case ignored) between two keys. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      row[j] = Math.min(
        previous[j] + 1,
        row[j - 1] + 1,
        previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[y.length];
}

/**
 * The known key an unknown one was most likely meant to be (a typo, a case slip: at most a
 * third of its letters wrong, and never more than 3), or undefined.
 *
 * @example
 * ```ts
 * nearestKey("prot", ["port", "host"]); // "port"
 * ```
 */
export function nearestKey(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(3, Math.ceil(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = distance(key, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

// Values that are each valid but cannot work together; reported like a single bad value.
function checkCombinations(config: Config): void {
  if ((config.adminTlsCertFile === "") !== (config.adminTlsKeyFile === "")) {
    const missing = config.adminTlsCertFile === "" ? "adminTlsCertFile" : "adminTlsKeyFile";
    throw new ConfigError(missing, "the admin server's certificate and key go together: set both");
  }
  if (config.adminEnabled && config.adminPort !== 0 && config.adminPort === config.port) {
    throw new ConfigError(
      "adminPort",
      `must differ from port (both ${config.port}); set another admin port or adminEnabled false`,
    );
  }
}

/** The names of every environment variable the configuration reads. */
export function configEnvNames(): string[] {
  return Object.values(CONFIG_SPEC as Record<string, FieldSpec<unknown>>)
    .map((s) => s.env)
    .filter((e): e is string => e !== undefined);
}

/** The configuration with secrets masked (passwords inside URLs too), for printing. */
export function maskedConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [ConfigKey, FieldSpec<unknown>][]) {
    const value = config[key];
    if (!spec.secret || typeof value !== "string" || value === "") out[key] = value;
    // A password such as "a:b" parses as a URL: only URL-valued keys keep their visible parts.
    else out[key] = key.endsWith("Url") ? maskSecret(value) : "***";
  }
  return out;
}

const SECRET_PARAM = /pass|secret|token|key/i;

/**
 * Hides a secret: a URL keeps its scheme, host and path but not its password (nor query
 * parameters such as `?password=`); other text is starred.
 */
export function maskSecret(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return "***";
  }
  if (u.password) u.password = "***";
  for (const name of [...u.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) u.searchParams.set(name, "***");
  }
  return u.toString();
}

/** Each key with its environment name, default and meaning (for documentation and `--help`). */
export function describeConfig(): { key: string; env: string; default: unknown; doc: string }[] {
  return Object.entries(CONFIG_SPEC as Record<string, FieldSpec<unknown>>).map(([key, s]) => ({
    key,
    env: s.env ?? "",
    default: s.default,
    doc: s.doc,
  }));
}

/** Replaces `{shop}` in a configured text (topics, client id). */
export function withShop(template: string, config: Pick<Config, "shopId">): string {
  return template.replaceAll("{shop}", config.shopId);
}
