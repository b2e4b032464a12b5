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

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

async function jsonObject(request: Request): Promise<Record<string, unknown> | undefined> {
  try {
    const value = JSON.parse(await request.text());
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The price routes. */
export const PRICE_ROUTES: readonly Route[] = [
  {
    method: "GET",
    path: /^\/api\/prices$/,
    write: false,
    handle: async (deps, { request }) => {
      const all = new URL(request.url).searchParams.get("all");
      const at = new Date(deps.clock.now());
      return json(await listSchedules(deps.db, at, { all: all === "1" || all === "true" }));
    },
  },
  {
    method: "POST",
    path: /^\/api\/prices$/,
    write: true,
    handle: async (deps, { request, caller }) => {
      const body = await jsonObject(request);
      if (!body) return json({ error: "the body must be a JSON object" }, 400);
      const checked = scheduleOrProblem(body);
      if (typeof checked === "string") return json({ error: checked }, 400);
      const at = new Date(deps.clock.now());
      const schedule = await createSchedule(deps.db, { ...checked, by: caller.actor, at });
      if (!schedule) return json({ error: `no goods with gid ${checked.gid}` }, 404);
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
      return json(schedule, 201);
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
        return json({ error: `schedule ${id} does not exist or is already cancelled` }, 404);
      }
      await writeAudit(deps.db, {
        at,
        actor: caller.actor,
        action: "price.cancel",
        target: String(id),
        detail: {},
      });
      deps.log.info("admin action", { actor: caller.actor, action: "price.cancel", target: id });
      return json((await listSchedules(deps.db, at, { id }))[0]);
    },
  },
];
