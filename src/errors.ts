/**
 * Errors whose message is meant for the device (sent as the reply's `exception`). Any other
 * error is logged and answered with a generic reason, never with internals or a stack trace.
 *
 * @module
 */

/** A request that cannot be served as asked: bad field, unknown goods, unknown warehouse… */
export class UserError extends Error {
  /** @param message the `exception` text the device gets */
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/**
 * The message of anything thrown: an `Error`'s message, or the value as text (a rejected string,
 * a driver's plain object). The one way to say what went wrong in a log line or a reply.
 *
 * @example
 * ```ts
 * errorMessage(new Error("disk full")); // "disk full"
 * errorMessage("timeout"); // "timeout"
 * ```
 */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
