/**
 * What handlers import: the handler contract (defined on the ground floor in
 * `src/action_types.ts`, so the core needs nothing from `src/actions/`) and the helpers handlers
 * share.
 *
 * @module
 */
import type { ActionContext } from "../action_types.ts";
import type { DeviceIdentity } from "../device_link.ts";

export type {
  ActionContext,
  ActionEntry,
  ActionHandler,
  ActionResult,
  ImmediateActionHandler,
} from "../action_types.ts";

/** The device of a handler that requires login (every action but `login`). */
export function requireDevice(ctx: ActionContext): DeviceIdentity {
  if (!ctx.device) throw new Error("handler called without a logged-in device");
  return ctx.device;
}
