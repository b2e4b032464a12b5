/**
 * JSON-lines logging: one object per line on stdout (journald keeps them). Loggers are values
 * passed in, never a global; `child` adds fields such as the peer address or device identity.
 *
 * @module
 */

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Extra fields of a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
  /** Whether lines at `level` are written (to skip building costly fields). */
  enabled(level: LogLevel): boolean;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; stdout by default. */
  write?: (line: string) => void;
  /** Clock for the `ts` field. */
  now?: () => Date;
}

const encoder = new TextEncoder();

function writeStdout(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.byteLength) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/**
 * Creates a JSON-lines logger.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "info" });
 * log.child({ peer: "10.0.0.7:51000" }).info("connected");
 * ```
 */
export function createLogger(options: LoggerOptions = {}, base: LogFields = {}): Logger {
  const threshold = LEVELS[options.level ?? "info"];
  const write = options.write ?? writeStdout;
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVELS[level] < threshold) return;
    write(
      JSON.stringify({ ts: now().toISOString(), level, msg, ...base, ...fields }, errorReplacer),
    );
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLogger(options, { ...base, ...fields }),
    enabled: (level) => LEVELS[level] >= threshold,
  };
}

// Errors are logged by message only: a stack trace is noise in a store's journal, and printing
// some errors' stacks (EMFILE from accept) has crashed Deno.
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** A logger that keeps its lines in memory, for tests that assert on what was logged. */
export function createMemoryLogger(level: LogLevel = "debug"): Logger & { lines: LogFields[] } {
  const lines: LogFields[] = [];
  const logger = createLogger({ level, write: (line) => lines.push(JSON.parse(line)) });
  return Object.assign(logger, { lines });
}

/** Masks a customer identifier (WeChat openId) for info-level logs: keeps 3 characters each end. */
export function maskId(id: string): string {
  return id.length <= 8 ? "***" : `${id.slice(0, 3)}***${id.slice(-3)}`;
}
