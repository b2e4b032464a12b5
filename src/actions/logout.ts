/**
 * `logout` (PROTOCOL.md §2): answered, then the connection is closed and the device marked offline.
 *
 * @module
 */
import type { ActionHandler } from "./context.ts";

/** Handles `logout`. */
export const logout: ActionHandler = (ctx) => {
  ctx.session.logout();
  return Promise.resolve({ body: { exception: "" } });
};
