/**
 * From a decoded request frame to its reply: login check, body decoding, the handler, and the
 * mapping of every failure to an `exception` (PROTOCOL.md §3: never a stack trace, never a silent
 * drop). No sockets here.
 *
 * @module
 */
import type { ActionContext, ActionResult } from "../actions/context.ts";
import type { AppEvents } from "../events.ts";
import type { Clock } from "../clock.ts";
import type { DeviceIdentity, SessionControl } from "../device_link.ts";
import type { ActionTable } from "../actions/mod.ts";
import type { Config } from "../config/config.ts";
import type { Database } from "../store/database.ts";
import type { GoodsReader } from "../store/goods_cache.ts";
import { DatabaseUnavailableError } from "../store/database.ts";
import type { Logger } from "../log.ts";
import type { Frame } from "../protocol/frame.ts";
import { BodyError, decodeBody, encodeBody, type JsonObject } from "../protocol/body.ts";
import { UserError } from "../errors.ts";
import type { ServerMetrics } from "./server_metrics.ts";

/** What every request on every connection shares. */
export interface DispatchDeps {
  db: Database;
  goods: GoodsReader;
  config: Config;
  clock: Clock;
  log: Logger;
  actions: ActionTable;
  events: AppEvents;
  metrics: ServerMetrics;
}

/** The connection a request came on. */
export interface RequestOrigin {
  device: DeviceIdentity | undefined;
  peer: string;
  log: Logger;
  session: SessionControl;
}

/** An encoded reply, ready for the write queue. */
export interface EncodedReply {
  action: string;
  uniqueId: string;
  body: Uint8Array;
}

/** The `exception` for a request whose identity is missing or wrong. */
export const NOT_LOGGED_IN = "not logged in";

class RequestTimeout extends Error {}

async function withTimeout<T>(work: Promise<T>, seconds: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestTimeout()), seconds * 1000);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function exception(reason: string): ActionResult {
  return { body: { exception: reason } };
}

// Replies whose failure form has more than `exception`: devices read these fields on every reply
// (the old server's getPayInfo sent a stale variable instead of `url` when it failed).
const FAILURE_FIELDS: Readonly<Record<string, JsonObject>> = { getPayInfo: { url: "" } };

/**
 * Runs one request and encodes its reply. Never throws: every failure becomes an `exception`.
 */
export async function dispatch(
  deps: DispatchDeps,
  origin: RequestOrigin,
  frame: Frame,
): Promise<EncodedReply> {
  const action = frame.header.action;
  const started = performance.now();
  // Fuzzed action names must not become metric labels (or reach Object.prototype).
  const known = Object.hasOwn(deps.actions, action);
  const label = { action: known ? action : "unknown" };
  deps.metrics.requests.inc(label);

  let result: ActionResult;
  if (action !== "login" && (!origin.device || frame.header.uniqueId !== origin.device.uniqueId)) {
    result = exception(NOT_LOGGED_IN);
  } else if (!known) {
    result = exception(`unknown action: ${action.slice(0, 64)}`);
  } else {
    result = await runHandler(deps, origin, frame);
  }

  const reason = result.body?.exception;
  if (typeof reason === "string" && reason !== "") {
    deps.metrics.requestErrors.inc(label);
    if (Object.hasOwn(FAILURE_FIELDS, action)) {
      result = { ...result, body: { ...FAILURE_FIELDS[action], ...result.body } };
    }
  }
  deps.metrics.requestSeconds.observe((performance.now() - started) / 1000, label);
  return {
    action: `${action}Return`,
    uniqueId: result.uniqueId ?? origin.device?.uniqueId ?? "",
    body: encodeBody(result.body, result.encoding),
  };
}

async function runHandler(
  deps: DispatchDeps,
  origin: RequestOrigin,
  frame: Frame,
): Promise<ActionResult> {
  const action = frame.header.action;
  const ctx: ActionContext = {
    header: frame.header,
    device: origin.device,
    peer: origin.peer,
    db: deps.db,
    goods: deps.goods,
    config: deps.config,
    clock: deps.clock,
    log: origin.log,
    session: origin.session,
    events: deps.events,
  };
  try {
    // The old server ignored login bodies; field devices send "", "{}" or nothing.
    const body = action === "login" ? {} : decodeBody(frame.body);
    return await withTimeout(deps.actions[action](ctx, body), deps.config.requestTimeoutS);
  } catch (e) {
    if (e instanceof UserError || e instanceof BodyError) {
      origin.log.info("request refused", { action, reason: e.message });
      return exception(e.message);
    }
    if (e instanceof DatabaseUnavailableError) {
      origin.log.warn("request failed: database unavailable", { action, error: e.message });
      return exception("database unavailable, try again later");
    }
    if (e instanceof RequestTimeout) {
      origin.log.warn("request timed out", { action, timeoutS: deps.config.requestTimeoutS });
      return exception("request timed out, try again later");
    }
    origin.log.error("request failed", { action, error: (e as Error)?.message ?? String(e) });
    return exception("internal error");
  }
}
