/**
 * `login` (PROTOCOL.md §2): admits the device named by the header's `equipId` and hands out the
 * identity for later requests. A refusal has an empty `uniqueId` and the reason.
 *
 * @module
 */
import type { ActionHandler, ActionResult } from "./context.ts";
import { deviceKind, equipIdProblem } from "../protocol/device_id.ts";
import { LOGIN_REFUSED_EVENT, type LoginRefusedEvent } from "../events.ts";
import { admitDevice } from "../store/devices.ts";

function refuse(reason: string): ActionResult {
  return { body: { exception: reason }, uniqueId: "" };
}

/** Handles `login`. */
export const login: ActionHandler = async (ctx) => {
  const equipId = typeof ctx.header.equipId === "string" ? ctx.header.equipId.trim() : "";
  if (equipId === "") return refuse("equipId is missing from the login header");
  const problem = equipIdProblem(equipId);
  const kind = deviceKind(equipId);
  if (problem !== undefined || !kind) {
    return refused(ctx, equipId, "invalid_id", `equipId is not valid: ${problem}`);
  }
  const loginAt = new Date(ctx.clock.now());
  const admission = await admitDevice(ctx.db, {
    equipId,
    kind,
    address: ctx.peer,
    at: loginAt,
    policy: ctx.config.admission,
  });
  if (!admission.admitted) return refused(ctx, equipId, admission.code, admission.reason);
  if (admission.registered) ctx.log.info("device registered", { equipId, kind });
  const uniqueId = ctx.session.login({
    equipId,
    kind,
    loginAt,
    generation: admission.generation,
  });
  // The old server answered a successful login with an empty body; devices rely on it.
  return { body: null, uniqueId };
};

// Logged (once per device per hour) and counted by the trust monitor, not here: a device that
// retries every few seconds would fill the journal.
function refused(
  ctx: Parameters<ActionHandler>[0],
  equipId: string,
  code: string,
  reason: string,
): ActionResult {
  const event: LoginRefusedEvent = { reason: code, message: reason, equipId, peer: ctx.peer };
  ctx.events.emit(LOGIN_REFUSED_EVENT, event);
  return refuse(reason);
}
