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
