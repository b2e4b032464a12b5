/**
 * Start-up failures of `serve` as the one line the operator reads: what is wrong and which
 * setting or flag changes it. Anything not recognised here keeps its stack (a bug, not a setup
 * problem).
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { DatabaseLockedError, DatabaseUnavailableError } from "../store/database.ts";

/** A PostgreSQL error as npm:postgres reports it (SQLSTATE in `code`). */
interface PostgresError {
  code?: string;
  message: string;
}

function databaseName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.replace(/^\//, "")) || "(default)";
  } catch {
    return "(unparsable URL)";
  }
}

function userName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).username) || "(default)";
  } catch {
    return "(unparsable URL)";
  }
}

function chain(e: unknown): unknown[] {
  const list: unknown[] = [];
  for (let c = e; c !== undefined && c !== null && list.length < 5; c = (c as Error).cause) {
    list.push(c);
  }
  return list;
}

/** The one line for a start-up failure of `serve`, or undefined when it is not a setup problem. */
export function describeStartFailure(e: unknown, config: Config): string | undefined {
  for (const c of chain(e)) {
    const line = describeOne(c, config);
    if (line) return line;
  }
  return undefined;
}

function describeOne(e: unknown, config: Config): string | undefined {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof DatabaseLockedError) return message;
  if (message.startsWith("admin HTTP cannot listen")) return message;
  const url = config.databaseUrl;
  const sqlState = (e as PostgresError)?.code;
  if (url && sqlState === "3D000") {
    return `PostgreSQL has no database "${databaseName(url)}": create it ` +
      `(createdb ${databaseName(url)}) or set DATABASE_URL / --database-url to one that exists`;
  }
  if (url && (sqlState === "28000" || sqlState === "28P01")) {
    return `PostgreSQL refused the role "${userName(url)}" (${message}): ` +
      `fix the user or password in DATABASE_URL / --database-url`;
  }
  if (e instanceof DatabaseUnavailableError) {
    return `${message} (check DATABASE_URL / --database-url, or unset it for the embedded database)`;
  }
  // The device server listens through node:net (code EADDRINUSE); admin errors are worded above.
  if (e instanceof Deno.errors.AddrInUse || (e as { code?: string })?.code === "EADDRINUSE") {
    return `the device port ${config.host}:${config.port} is in use by another program: ` +
      `stop it, or set port / NEWRETAIL_PORT / --port`;
  }
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    const path = /"([^"]+)"|'([^']+)'/.exec(message)?.slice(1).find(Boolean);
    if (!url && path && isUnder(path, config.stateDir)) {
      // Deno's permission checks say "Requires …"; an EPERM from the system is also NotCapable.
      return e instanceof Deno.errors.NotCapable && message.startsWith("Requires ")
        ? `the state directory ${config.stateDir} is outside what the permission set allows: ` +
          `start with \`deno task start\` or the installed newretail (they grant the --state-dir ` +
          `/ NEWRETAIL_STATE_DIR given), or add it to --allow-read and --allow-write`
        : `the state directory ${config.stateDir} is not writable by this user: ` +
          `fix its owner or mode, or set stateDir / NEWRETAIL_STATE_DIR / --state-dir`;
    }
  }
  if (
    !url && (e instanceof Deno.errors.AlreadyExists || e instanceof Deno.errors.NotADirectory ||
      /not a directory|File exists/i.test(message))
  ) {
    return `the state directory ${config.stateDir} is not a directory: ` +
      `remove or move that file, or set stateDir / NEWRETAIL_STATE_DIR / --state-dir`;
  }
  return undefined;
}

// Deno names the absolute path; the setting may be relative (./data).
function isUnder(path: string, dir: string): boolean {
  const d = dir.replace(/^\.\//, "").replace(/\/+$/, "");
  return path === d || path.startsWith(`${d}/`) || path.endsWith(`/${d}`) ||
    path.includes(`/${d}/`);
}
