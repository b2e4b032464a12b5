/**
 * `login` (PROTOCOL.md §2): admits the device named by the header's `equipId` and hands out the
 * identity for later requests. A refusal has an empty `uniqueId` and the reason.
 *
 * @module
 */
import type { ActionHandler, ActionResult } from "./context.ts";
import { deviceKind } from "../protocol/device_id.ts";
import { admitDevice } from "../store/devices.ts";

function refuse(reason: string): ActionResult {
  return { body: { exception: reason }, uniqueId: "" };
}

/** Handles `login`. */
export const login: ActionHandler = async (ctx) => {
  const equipId = typeof ctx.header.equipId === "string" ? ctx.header.equipId.trim() : "";
  if (equipId === "") return refuse("equipId is missing from the login header");
  const kind = deviceKind(equipId);
  if (!kind) return refuse("equipId is not valid: use TYPE_ID, e.g. DZBQ_0001");
  const loginAt = new Date(ctx.clock.now());
  const admission = await admitDevice(ctx.db, {
    equipId,
    kind,
    address: ctx.peer,
    at: loginAt,
    policy: ctx.config.admission,
  });
  if (!admission.admitted) {
    ctx.log.warn("login refused", { equipId, reason: admission.reason });
    return refuse(admission.reason);
  }
  if (admission.registered) ctx.log.info("device registered", { equipId, kind });
  const uniqueId = ctx.session.login({ equipId, kind, loginAt });
  // The old server answered a successful login with an empty body; devices rely on it.
  return { body: null, uniqueId };
};
