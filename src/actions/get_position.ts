/**
 * `getPosition` (PROTOCOL.md §3, AGV): where a goods' stock is kept and the shelf place to refill.
 * Body `{"gid": 12}` or `{"code": "…"}` (gid wins when both are given).
 *
 * @module
 */
import type { ActionHandler } from "./context.ts";
import { id, present, text } from "../fields.ts";
import { UserError } from "../errors.ts";
import { positionOf } from "../store/positions.ts";

/** Handles `getPosition`. */
export const getPosition: ActionHandler = async (ctx, body) => {
  let position;
  if (present(body.gid)) position = await positionOf(ctx.db, { gid: id(body.gid, "gid") });
  else if (present(body.code)) {
    position = await positionOf(ctx.db, { code: text(64)(body.code, "code") });
  } else throw new UserError("getPosition needs gid or code");
  return {
    body: {
      exception: "",
      stockPosition: position.stockPosition,
      goodsPosition: position.goodsPosition,
    },
  };
};
