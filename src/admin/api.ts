/**
 * The admin JSON API under `/api/`: a route table (method, path pattern, whether it writes,
 * handler) and the guard that decides who may call it. Every write is recorded in the audit log
 * (who, what, on what, when). The store console and the CLI (when the embedded database is held
 * by the running service) are its clients.
 *
 * | route | what |
 * | --- | --- |
 * | `GET /api/devices` | every device (as `/devices`, with `admittedVia`) |
 * | `POST /api/devices/{equipId}/disable`, `/enable` | as `devices disable|enable ID` |
 * | `GET /api/teach-in` | the open window, if any, and the devices it admitted |
 * | `POST /api/teach-in` `{"minutes": 30}` | opens a window (0 closes it) |
 * | `POST /api/outbox/{id}/retry` | puts a parked Odoo delivery back in line |
 * | `POST /api/labels/{mac}/bind` `{"barcode": "690…"}` | binds a shelf label to the goods with that barcode (optional `"device"`: its base station) |
 * | `GET /api/stock/{gid}?moves=N` | a goods' stock per warehouse and its last moves |
 * | `GET /api/stock/moves?since=ISO` | stock moves since a time |
 * | `GET /api/stock/negative` | stock below zero, and the open refill jobs |
 * | `POST /api/stock/{gid}/adjust` `{"warehouse","quantity","reason"}` | an inventory count |
 * | `GET /api/audit?limit=N` | the latest audit lines |
 * | `GET /api/backup` | a consistent snapshot of the embedded database (token always; audited) |
 * | `GET /api/outbox?state=failed&limit=N` | deliveries owed to Odoo (`outbox list`) |
 * | `GET /api/positions?warehouse=MD`, `POST /api/positions/{gid}` | goods positions (`positions`) |
 * | `POST /api/bindings?dryRun=1` (CSV bytes) | imports label bindings and RFID tags |
 * | `POST /api/push-goods` `{"gids": [9]}` or `"all"`, `…/progress` | pushes goods again |
 * | `POST /api/refill` `{"gid": 9}`, `GET /api/refill/{id}` | a manual refill job and its state |
 * | `/api/prices…` | scheduled prices (api_prices.ts) |
 *
 * @module
 */
import { ConfigError } from "../config/config.ts";
import { isLoopbackHost } from "../net_address.ts";
import { getDevice, listDevices, setDeviceEnabled } from "../store/devices.ts";
import { currentTeachIn, setTeachIn, taughtInSince } from "../store/teach_in.ts";
import { recentAudit, writeAudit } from "../store/audit.ts";
import { listOutbox, retryOutbox } from "../store/odoo_outbox.ts";
import { deviceKind } from "../protocol/device_id.ts";
import { decodeCsv, importBindings, parseBindings } from "../store/bindings_csv.ts";
import {
  createRefillJob,
  listPositions,
  positionChange,
  refillJob,
  setPosition,
} from "../store/positions.ts";
import { markForPush } from "../push/progress.ts";
import { pushProgress } from "../store/push_progress.ts";
import { adjustStock, goodsStock, movesSince, negativeStock } from "../store/stock_moves.ts";
import { openRefills } from "../store/refill_stock.ts";
import { goodsByBarcodes } from "../store/goods.ts";
import { errorMessage, UserError } from "../errors.ts";
import { deviceView } from "./device_view.ts";
import { backupRoute } from "./backup.ts";
import { PRICE_ROUTES } from "./api_prices.ts";
import type { AdminApiDeps, Caller, Route } from "./api_types.ts";
import { ApiError, jsonError, jsonObjectBody, jsonResponse } from "./json_response.ts";
export type { AdminApiDeps, Caller, Route, RouteRequest } from "./api_types.ts";

/** Who may call: the configured token, and whether reads need it too (non-loopback address). */
export interface AdminAuthPolicy {
  /** `adminToken`; empty: none configured (then the server only listens on loopback). */
  token: string;
  /** True when the server listens on a non-loopback address: every request needs the token. */
  tokenForReads: boolean;
}

const TOKEN_ACTOR = "adminToken";

function sameSecret(a: string, b: string): boolean {
  // Compared in full whatever the first difference (no timing hint of the prefix).
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** The cookie the console sets for reads beyond loopback. */
export const TOKEN_COOKIE = "newretail_token";

function tokenCookie(request: Request): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === TOKEN_COOKIE) return decodeURIComponent(value.join("="));
  }
  return undefined;
}

/**
 * The guard: the caller of a request, or the 401 answer. A write needs the token whenever one is
 * configured; any request needs it when the server listens beyond loopback. Without a token the
 * server only listens on loopback (see {@link assertAdminExposure}) and the caller is `loopback`.
 */
export function authorize(
  request: Request,
  policy: AdminAuthPolicy,
  write: boolean,
): Caller | Response {
  const needed = policy.token !== "" && (write || policy.tokenForReads);
  if (!needed) return { actor: "loopback" };
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match && sameSecret(match[1], policy.token)) return { actor: TOKEN_ACTOR };
  // A browser cannot send a header when it navigates or opens an event stream: reads also take
  // the console's cookie. Writes never do (another site's form could make the browser send it).
  const cookie = tokenCookie(request);
  if (!write && cookie !== undefined && sameSecret(cookie, policy.token)) {
    return { actor: TOKEN_ACTOR };
  }
  return jsonError(401, "unauthorized: send Authorization: Bearer <adminToken>", {
    "www-authenticate": 'Bearer realm="newretail"',
  });
}

/**
 * Throws one line naming the key when the admin server would listen beyond loopback without a
 * token (anyone on the store network could then disable devices) or without TLS (the token would
 * cross the store network in clear).
 */
export function assertAdminExposure(hostname: string, token: string, tls = false): void {
  if (isLoopbackHost(hostname)) return;
  if (token === "") {
    throw new ConfigError(
      "adminToken",
      `must be set when adminHost is not loopback (adminHost ${hostname})`,
    );
  }
  if (!tls) {
    throw new ConfigError(
      "adminTlsCertFile",
      `must be set (with adminTlsKeyFile) when adminHost is not loopback (adminHost ${hostname}): ` +
        "the admin server speaks only HTTPS there; install.sh makes a self-signed pair",
    );
  }
}

async function audit(
  deps: AdminApiDeps,
  caller: Caller,
  action: string,
  target: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  const at = new Date(deps.clock.now());
  await writeAudit(deps.db, { at, actor: caller.actor, action, target, detail });
  deps.log.info("admin action", { actor: caller.actor, action, target, ...detail });
}

function setEnabled(enabled: boolean): Route["handle"] {
  return async (deps, { params, caller }) => {
    const equipId = decodeURIComponent(params[0]);
    const kind = deviceKind(equipId);
    if (!kind) throw new ApiError(400, `not a device ID: ${equipId} (use TYPE_ID, e.g. DZBQ_0001)`);
    const { created } = await setDeviceEnabled(deps.db, equipId, kind, enabled);
    await audit(deps, caller, enabled ? "device.enable" : "device.disable", equipId, { created });
    return jsonResponse({ device: deviceView((await getDevice(deps.db, equipId))!), created });
  };
}

async function teachInState(deps: AdminApiDeps): Promise<Record<string, unknown>> {
  const window = await currentTeachIn(deps.db, new Date(deps.clock.now()));
  return {
    open: window !== undefined,
    openedAt: window?.openedAt.toISOString() ?? null,
    closesAt: window?.closesAt.toISOString() ?? null,
    openedBy: window?.openedBy ?? null,
    admitted: window ? (await taughtInSince(deps.db, window.openedAt)).map(deviceView) : [],
  };
}

const bindLabel: Route["handle"] = async (deps, { request, params, caller }) => {
  const mac = decodeURIComponent(params[0]).trim();
  const { barcode, device } = await jsonObjectBody(request);
  if (mac === "" || mac.length > 64) {
    throw new ApiError(400, "the label MAC must be 1..64 characters");
  }
  if (typeof barcode !== "string" || barcode.trim() === "" || barcode.length > 64) {
    throw new ApiError(
      400,
      'barcode must be a text of 1..64 characters, e.g. {"barcode": "6901234567892"}',
    );
  }
  if (device !== undefined && (typeof device !== "string" || !deviceKind(device))) {
    throw new ApiError(400, "device must be a device ID such as DZBQ_0001");
  }
  const row = { line: 1, mac, barcode: barcode.trim(), device: device as string | undefined };
  const result = await importBindings(deps.db, [row]);
  if (result.errors.length > 0) throw new ApiError(404, `unknown goods: barcode ${row.barcode}`);
  const [goods] = await goodsByBarcodes(deps.db, [row.barcode]);
  await audit(deps, caller, "label.bind", mac, { barcode: row.barcode, gid: goods?.gid });
  return jsonResponse({
    mac,
    gid: goods?.gid ?? null,
    name: goods?.name ?? null,
    barcode: row.barcode,
  });
};
/** Issue 13: the stock ledger, read and counted (`newretail stock`). */
function stockRoutes(): Route[] {
  const userErrors = async (run: () => Promise<Response>) => {
    try {
      return await run();
    } catch (e) {
      if (e instanceof UserError) throw new ApiError(400, e.message);
      throw e;
    }
  };
  return [
    {
      method: "GET",
      path: /^\/api\/stock\/moves$/,
      write: false,
      handle: async (deps, { request }) => {
        const since = new Date(new URL(request.url).searchParams.get("since") ?? "");
        if (Number.isNaN(since.getTime())) {
          throw new ApiError(400, "since must be a time, e.g. ?since=2026-01-01T00:00:00Z");
        }
        return jsonResponse(await movesSince(deps.db, since));
      },
    },
    {
      method: "GET",
      path: /^\/api\/stock\/negative$/,
      write: false,
      handle: async (deps) =>
        jsonResponse({
          negative: await negativeStock(deps.db),
          refillJobs: await openRefills(deps.db),
        }),
    },
    {
      method: "GET",
      path: /^\/api\/stock\/(\d{1,9})$/,
      write: false,
      handle: (deps, { request, params }) =>
        userErrors(async () => {
          const moves = Number(new URL(request.url).searchParams.get("moves") ?? 10);
          if (!Number.isInteger(moves) || moves < 0 || moves > 1000) {
            throw new ApiError(400, "moves must be 0..1000");
          }
          return jsonResponse(await goodsStock(deps.db, Number(params[0]), moves));
        }),
    },
    {
      method: "POST",
      path: /^\/api\/stock\/(\d{1,9})\/adjust$/,
      write: true,
      handle: (deps, { request, params, caller }) =>
        userErrors(async () => {
          const { warehouse, quantity, reason } = await jsonObjectBody(request);
          if (typeof warehouse !== "string" || warehouse === "") {
            throw new ApiError(400, "warehouse must be a warehouse code");
          }
          if (typeof quantity !== "string") {
            throw new ApiError(400, 'quantity must be decimal text, e.g. "12.5"');
          }
          if (typeof reason !== "string" || reason.trim() === "") {
            throw new ApiError(400, "reason must say why (the count's note)");
          }
          const gid = Number(params[0]);
          const move = await adjustStock(deps.db, {
            gid,
            warehouse,
            quantity,
            note: reason,
            by: caller.actor,
          });
          await audit(deps, caller, "stock.adjust", String(gid), { warehouse, quantity, reason });
          return jsonResponse({ move });
        }),
    },
  ];
}

/** A positive whole number from a JSON field or path, or the 400 answer naming it. */
function wholeNumber(value: unknown, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1) {
    throw new ApiError(400, `${name} must be a whole number > 0`);
  }
  return n;
}

/**
 * What the CLI's store commands need while the running appliance holds the embedded database
 * (`outbox list`, `positions`, `bindings import`, `push-goods`, `refill`): the same store
 * functions the commands call directly otherwise.
 */
function operatorRoutes(): Route[] {
  const userErrors = (status: number) => (e: unknown) => {
    throw e instanceof UserError ? new ApiError(status, e.message) : e;
  };
  return [
    {
      method: "GET",
      path: /^\/api\/outbox$/,
      write: false,
      handle: async (deps, { request }) => {
        const query = new URL(request.url).searchParams;
        const state = query.get("state") ?? undefined;
        if (state !== undefined && state !== "pending" && state !== "failed") {
          throw new ApiError(400, "state must be pending or failed");
        }
        const limit = Number(query.get("limit") ?? 100);
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
          throw new ApiError(400, "limit must be 1..10000");
        }
        return jsonResponse(await listOutbox(deps.db, { state, limit }));
      },
    },
    {
      method: "GET",
      path: /^\/api\/positions$/,
      write: false,
      handle: async (deps, { request }) => {
        const warehouse = new URL(request.url).searchParams.get("warehouse") ?? "MD";
        return jsonResponse(await listPositions(deps.db, warehouse));
      },
    },
    {
      method: "POST",
      path: /^\/api\/positions\/(\d{1,10})$/,
      write: true,
      handle: async (deps, { request, params, caller }) => {
        const body = await jsonObjectBody(request);
        let change;
        try {
          const { stock, shelf, refillBelow, capacity } = body;
          change = positionChange({ gid: params[0], stock, shelf, refillBelow, capacity });
        } catch (e) {
          return userErrors(400)(e);
        }
        await setPosition(
          deps.db,
          change.gid,
          change.stock,
          change.shelf,
          change.below,
          change.capacity,
        ).catch(userErrors(404));
        await audit(deps, caller, "position.set", String(change.gid), { ...change });
        return jsonResponse({ gid: change.gid });
      },
    },
    {
      // The CSV file's bytes (UTF-8 or GBK), as `bindings import FILE` reads them.
      method: "POST",
      path: /^\/api\/bindings$/,
      write: true,
      handle: async (deps, { request, caller }) => {
        const dryRun = new URL(request.url).searchParams.get("dryRun") === "1";
        const { rows, errors } = parseBindings(decodeCsv(await request.bytes()));
        if (errors.length) throw new ApiError(400, errors.join("; "));
        const result = await importBindings(deps.db, rows, { dryRun });
        if (!dryRun && result.errors.length === 0) {
          const { labels, tags, devices } = result;
          await audit(deps, caller, "bindings.import", "", { labels, tags, devices });
        }
        return jsonResponse(result);
      },
    },
    {
      method: "POST",
      path: /^\/api\/push-goods$/,
      write: true,
      handle: async (deps, { request, caller }) => {
        const { gids } = await jsonObjectBody(request);
        const ids = gids === "all"
          ? "all" as const
          : Array.isArray(gids) && gids.length > 0
          ? gids.map((g) => wholeNumber(g, "gids"))
          : undefined;
        if (!ids) {
          throw new ApiError(400, 'gids must be goods ids, e.g. {"gids": [9, 10]}, or "all"');
        }
        const marked = await markForPush(deps.db, ids);
        await audit(deps, caller, "push-goods", "", {
          goods: ids === "all" ? "all" : marked.goods.length,
        });
        return jsonResponse(marked);
      },
    },
    {
      // How far a push is: a read, with the goods in the body (a push of every goods is long).
      method: "POST",
      path: /^\/api\/push-goods\/progress$/,
      write: false,
      handle: async (deps, { request }) => {
        const { gids, tries } = await jsonObjectBody(request);
        if (!Array.isArray(gids)) throw new ApiError(400, "gids must be goods ids");
        const ids = gids.map((g) => wholeNumber(g, "gids"));
        return jsonResponse(await pushProgress(deps.db, ids, wholeNumber(tries ?? 3, "tries")));
      },
    },
    {
      method: "POST",
      path: /^\/api\/refill$/,
      write: true,
      handle: async (deps, { request, caller }) => {
        const gid = wholeNumber((await jsonObjectBody(request)).gid, "gid");
        const opened = await createRefillJob(deps.db, gid).catch(userErrors(404));
        if (opened.created) await audit(deps, caller, "refill.open", String(gid));
        return jsonResponse(opened);
      },
    },
    {
      method: "GET",
      path: /^\/api\/refill\/(\d{1,15})$/,
      write: false,
      handle: async (deps, { params }) => {
        const job = await refillJob(deps.db, Number(params[0]));
        if (!job) throw new ApiError(404, `refill job ${params[0]} does not exist`);
        return jsonResponse({ job });
      },
    },
  ];
}

/** The routes; a route carries its own rules (write or not), the server never names one. */
export const API_ROUTES: readonly Route[] = [
  {
    method: "GET",
    path: /^\/api\/devices$/,
    write: false,
    handle: async (deps) => jsonResponse((await listDevices(deps.db)).map(deviceView)),
  },
  {
    method: "POST",
    path: /^\/api\/devices\/([^/]+)\/disable$/,
    write: true,
    handle: setEnabled(false),
  },
  {
    method: "POST",
    path: /^\/api\/devices\/([^/]+)\/enable$/,
    write: true,
    handle: setEnabled(true),
  },
  {
    method: "GET",
    path: /^\/api\/teach-in$/,
    write: false,
    handle: async (deps) => jsonResponse(await teachInState(deps)),
  },
  {
    method: "POST",
    path: /^\/api\/teach-in$/,
    write: true,
    handle: async (deps, { request, caller }) => {
      const { minutes } = await jsonObjectBody(request);
      if (typeof minutes !== "number" || !Number.isInteger(minutes)) {
        throw new ApiError(400, 'minutes must be a whole number, e.g. {"minutes": 30}');
      }
      try {
        await setTeachIn(deps.db, { at: new Date(deps.clock.now()), minutes, by: caller.actor });
      } catch (e) {
        if (e instanceof RangeError) throw new ApiError(400, e.message);
        throw e;
      }
      await audit(deps, caller, minutes > 0 ? "teach-in.open" : "teach-in.close", "", { minutes });
      return jsonResponse(await teachInState(deps));
    },
  },
  {
    method: "POST",
    path: /^\/api\/outbox\/(\d{1,15})\/retry$/,
    write: true,
    handle: async (deps, { params, caller }) => {
      const id = Number(params[0]);
      if (!await retryOutbox(deps.db, id)) {
        throw new ApiError(404, `outbox row ${id} does not exist or is already delivered`);
      }
      await audit(deps, caller, "outbox.retry", String(id));
      return jsonResponse({ id, state: "pending" });
    },
  },
  ...stockRoutes(),
  {
    method: "POST",
    path: /^\/api\/labels\/([^/]+)\/bind$/,
    write: true,
    handle: bindLabel,
  },
  {
    // A backup holds every order and customer id: guarded like a write, and audited.
    method: "GET",
    path: /^\/api\/backup$/,
    write: true,
    handle: async (deps, { request, caller }) => {
      await audit(deps, caller, "backup", "");
      return backupRoute(deps.db, deps.log, deps.clock)(request);
    },
  },
  {
    method: "GET",
    path: /^\/api\/audit$/,
    write: false,
    handle: async (deps, { request }) => {
      const limit = Number(new URL(request.url).searchParams.get("limit") ?? 100);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new ApiError(400, "limit must be 1..1000");
      }
      return jsonResponse(await recentAudit(deps.db, limit));
    },
  },
  ...operatorRoutes(),
  ...PRICE_ROUTES,
];

/**
 * Answers a request under `/api/` (after the guard), or 404/405 when no route matches.
 */
export function createApiHandler(
  deps: AdminApiDeps,
  policy: AdminAuthPolicy,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const path = new URL(request.url).pathname;
    const matching = API_ROUTES.filter((r) => r.path.test(path));
    if (matching.length === 0) {
      // Unknown paths are guarded like reads, so they tell nothing to a caller without a token.
      const caller = authorize(request, policy, false);
      return caller instanceof Response ? caller : jsonError(404, `not found: ${path}`);
    }
    const route = matching.find((r) => r.method === request.method);
    if (!route) {
      const caller = authorize(request, policy, matching.some((r) => r.write));
      if (caller instanceof Response) return caller;
      return jsonError(405, "method not allowed", {
        allow: matching.map((r) => r.method).join(", "),
      });
    }
    const caller = authorize(request, policy, route.write);
    if (caller instanceof Response) return caller;
    try {
      return await route.handle(deps, { request, params: route.path.exec(path)!.slice(1), caller });
    } catch (e) {
      if (e instanceof ApiError) return jsonError(e.status, e.message);
      deps.log.warn("admin API request failed", { path, error: errorMessage(e) });
      return jsonError(503, errorMessage(e));
    }
  };
}
