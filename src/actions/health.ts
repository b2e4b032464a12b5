/**
 * `health` from a device (PROTOCOL.md §2): answered with `healthReturn` and an empty body.
 *
 * @module
 */
import type { ActionHandler } from "./context.ts";

/** Handles a device's `health`. */
export const health: ActionHandler = () => Promise.resolve({ body: null });
