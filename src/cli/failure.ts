/**
 * Turning the failures a command expects into one line on stderr: the one piece of the CLI
 * `main.ts` needs besides the commands themselves.
 *
 * @module
 */
import { ConfigError } from "../config/config.ts";
import { DatabaseLockedError, DatabaseUnavailableError } from "../store/database.ts";
import { NewerDatabaseError } from "../store/migrate.ts";
import { CliError } from "./_common.ts";

/** The one line printed for an error a command expects (bad config, locked or unreachable store). */
export function describeFailure(e: unknown): { line: string; code: number } | undefined {
  if (e instanceof CliError) return { line: e.message, code: e.code };
  if (e instanceof ConfigError) return { line: e.message, code: 1 };
  if (e instanceof DatabaseLockedError) return { line: e.message, code: 1 };
  if (e instanceof DatabaseUnavailableError) return { line: e.message, code: 1 };
  if (e instanceof NewerDatabaseError) return { line: e.message, code: 1 };
  if (e instanceof Deno.errors.NotCapable && e.message.startsWith("Requires ")) {
    // Deno's permission check (an EPERM from the system is NotCapable too, without "Requires").
    return {
      line: `${e.message.replace(/, run again with the --allow-\w+ flag$/, "")}: run it with ` +
        "`deno task newretail …` (a checkout) or the installed `newretail`, which grant what the " +
        "command needs",
      code: 1,
    };
  }
  return undefined;
}

/**
 * The one line printed for an error no command expected (a fault of the program, or of the
 * machine): its message, without the stack trace an operator cannot act on.
 */
export function unexpectedFailure(command: string, e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return `newretail ${command}: ${message.split("\n")[0]}`;
}
