/**
 * `getPosition` (PROTOCOL.md §3, AGV): where a goods' stock is kept and the shelf place to refill.
 * Body `{"gid": 12}` or `{"code": "…"}` (gid wins when both are given).
 *
 * @module
 */
import type { ActionHandler } from "./context.ts";
import { id, requiredText } from "./_values.ts";
import { UserError } from "../errors.ts";
import { positionOf } from "../store/positions.ts";

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

/** Handles `getPosition`. */
export const getPosition: ActionHandler = async (ctx, body) => {
  let position;
  if (present(body.gid)) position = await positionOf(ctx.db, { gid: id(body.gid, "gid") });
  else if (present(body.code)) {
    position = await positionOf(ctx.db, { code: requiredText(body.code, "code", 64) });
  } else throw new UserError("getPosition needs gid or code");
  return {
    body: {
      exception: "",
      stockPosition: position.stockPosition,
      goodsPosition: position.goodsPosition,
    },
  };
};
