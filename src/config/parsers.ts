/**
 * How configuration values are read and refused: the value parsers the key table
 * ({@link CONFIG_SPEC} in `spec.ts`) is written with, and the error naming the bad key.
 *
 * @module
 */

/** An invalid configuration value. The message is one line naming the key. */
export class ConfigError extends Error {
  /** The offending key. */
  readonly key: string;

  /** @param key config key @param message what is wrong */
  constructor(key: string, message: string) {
    super(`invalid config: ${key}: ${message}`);
    this.name = "ConfigError";
    this.key = key;
  }
}

/** One configuration key: where it comes from, its default, how it is read and what it means. */
export interface FieldSpec<T> {
  env?: string;
  default: T;
  doc: string;
  secret?: boolean;
  /** Parses a value from the file (JSON value) or the environment/flags (string). */
  parse(value: unknown): T;
}

/** Reads a value from the file (JSON value) or the environment/flags (string); throws a TypeError. */
export type Parser<T> = (value: unknown) => T;

/** Refuses a value (the loader adds the key and where the value came from). */
export function fail(message: string): never {
  throw new TypeError(message);
}

/** A value as it is quoted in a refusal. */
export function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value));
}

/** Trimmed text. */
export const text: Parser<string> = (v) =>
  typeof v === "string" ? v.trim() : fail(`must be a string, got ${describe(v)}`);

/** An integer in `min..max`. */
export function integer(min: number, max: number): Parser<number> {
  return (v) => {
    const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      fail(`must be an integer ${min}..${max}, got ${describe(v)}`);
    }
    return n;
  };
}

/** A number of seconds, at least `min`. */
export function seconds(min = 0): Parser<number> {
  return (v) => {
    const n = typeof v === "string" && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isFinite(n) || n < min) {
      fail(`must be a number of seconds >= ${min}, got ${describe(v)}`);
    }
    return n;
  };
}

/** true/false, also as 1/0, yes/no, on/off. */
export const boolean: Parser<boolean> = (v) => {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(s)) return true;
    if (["0", "false", "no", "off"].includes(s)) return false;
  }
  return fail(`must be true or false, got ${describe(v)}`);
};

/** One of the given words. */
export function oneOf<const T extends string>(...choices: T[]): Parser<T> {
  return (v) =>
    typeof v === "string" && (choices as string[]).includes(v.trim())
      ? v.trim() as T
      : fail(`must be one of ${choices.join(", ")}, got ${describe(v)}`);
}

/** A URL with one of the given schemes and a host, or "" (not set). */
export function url(...schemes: string[]): Parser<string> {
  return (v) => {
    const s = text(v);
    if (s === "") return s;
    let parsed: URL;
    try {
      parsed = new URL(s);
    } catch {
      return fail(`must be a URL (${schemes.join(", ")}), got ${describe(v)}`);
    }
    if (!schemes.includes(parsed.protocol.replace(/:$/, ""))) {
      fail(`must be a URL with scheme ${schemes.join(", ")}, got ${describe(v)}`);
    }
    // "postgres:db" or "http:/x" parse as URLs without a host; only a socket directory in
    // ?host= (PostgreSQL over a Unix socket) stands in for one.
    if (parsed.hostname === "" && !parsed.searchParams.get("host")) {
      fail(`must be a URL with a host, got ${describe(v)}`);
    }
    return s;
  };
}

/** A host name or address. */
export const host: Parser<string> = (v) => {
  const s = text(v);
  return /^[A-Za-z0-9.:\-\[\]]+$/.test(s)
    ? s
    : fail(`must be a host name or address, got ${describe(v)}`);
};

/** Declares a key (the identity function: it gives each key its own value type). */
export function field<T>(spec: FieldSpec<T>): FieldSpec<T> {
  return spec;
}

/** A TCP port, 0 = any free port. */
export const port: Parser<number> = integer(0, 65535);

/** Device kind prefixes (`POS`), from a JSON array or a comma-separated text. */
export const deviceKinds: Parser<string[]> = (v) => {
  const items = typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : v;
  if (
    !Array.isArray(items) || !items.every((k) => typeof k === "string" && /^[A-Z0-9]+$/.test(k))
  ) {
    return fail(`must be a list of upper-case device kinds such as ["POS"], got ${describe(v)}`);
  }
  return items as string[];
};
