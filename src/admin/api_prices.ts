/**
 * The admin API's price routes (issue 14), part of `API_ROUTES` (api.ts):
 *
 * | route | what |
 * | --- | --- |
 * | `GET /api/prices` (`?all=1`) | schedules in force or to come (with ended and cancelled ones) |
 * | `POST /api/prices` `{"gid": 10, "price": "2.99", "from": "…", "until": "…"}` | schedules a price |
 * | `POST /api/prices/{id}/cancel` | cancels a schedule (the regular price returns) |
 *
 * @module
 */
import type { Route } from "./api_types.ts";
import { writeAudit } from "../store/audit.ts";
import { cancelSchedule, createSchedule, listSchedules } from "../store/price_schedules.ts";
import { scheduleOrProblem } from "../pricing/schedules.ts";
import { ApiError, jsonObjectBody, jsonResponse } from "./json_response.ts";

/** The price routes. */
export const PRICE_ROUTES: readonly Route[] = [
  {
    method: "GET",
    path: /^\/api\/prices$/,
    write: false,
    handle: async (deps, { request }) => {
      const all = new URL(request.url).searchParams.get("all");
      const at = new Date(deps.clock.now());
      return jsonResponse(await listSchedules(deps.db, at, { all: all === "1" || all === "true" }));
    },
  },
  {
    method: "POST",
    path: /^\/api\/prices$/,
    write: true,
    handle: async (deps, { request, caller }) => {
      const body = await jsonObjectBody(request);
      const checked = scheduleOrProblem(body);
      if (typeof checked === "string") throw new ApiError(400, checked);
      const at = new Date(deps.clock.now());
      const schedule = await createSchedule(deps.db, { ...checked, by: caller.actor, at });
      if (!schedule) throw new ApiError(404, `no goods with gid ${checked.gid}`);
      const detail = {
        gid: checked.gid,
        price: checked.price,
        from: checked.from,
        until: checked.until,
      };
      await writeAudit(deps.db, {
        at,
        actor: caller.actor,
        action: "price.schedule",
        target: String(schedule.id),
        detail,
      });
      deps.log.info("admin action", { actor: caller.actor, action: "price.schedule", ...detail });
      return jsonResponse(schedule, 201);
    },
  },
  {
    method: "POST",
    path: /^\/api\/prices\/(\d{1,9})\/cancel$/,
    write: true,
    handle: async (deps, { params, caller }) => {
      const id = Number(params[0]);
      const at = new Date(deps.clock.now());
      if (!await cancelSchedule(deps.db, id, at)) {
        throw new ApiError(404, `schedule ${id} does not exist or is already cancelled`);
      }
      await writeAudit(deps.db, {
        at,
        actor: caller.actor,
        action: "price.cancel",
        target: String(id),
        detail: {},
      });
      deps.log.info("admin action", { actor: caller.actor, action: "price.cancel", target: id });
      return jsonResponse((await listSchedules(deps.db, at, { id }))[0]);
    },
  },
];
