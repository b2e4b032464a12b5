/**
 * From a decoded request frame to its reply: login check, body decoding, the handler (cancelled
 * when it overruns the request timeout), and the mapping of every failure to an `exception`
 * (PROTOCOL.md §3: never a stack trace, never a silent drop). What differs between actions comes
 * from their entry in the action table; no action is named here. No sockets here.
 *
 * @module
 */
import type {
  ActionContext,
  ActionEntry,
  ActionResult,
  ActionTable,
  ShelfPrices,
} from "../action_types.ts";
import type { AppEvents } from "../events.ts";
import type { Clock } from "../clock.ts";
import type { DeviceIdentity, SessionControl } from "../device_link.ts";
import type { Config } from "../config/config.ts";
import type { Database } from "../store/database.ts";
import type { GoodsReader } from "../store/goods_cache.ts";
import { DatabaseUnavailableError, withSignal } from "../store/database.ts";
import { isDiskFull } from "../disk_space.ts";
import type { DiskWatch } from "../disk_guard.ts";
import type { Logger } from "../log.ts";
import type { Frame } from "../protocol/frame.ts";
import {
  type BodyEncoding,
  BodyError,
  decodeBody,
  encodeBody,
  type JsonObject,
} from "../protocol/body.ts";
import { UserError } from "../errors.ts";
import { DeadlineExceeded, withDeadline } from "../deadline.ts";
import type { ServerMetrics } from "./server_metrics.ts";

/** What every request on every connection shares. */
export interface DispatchDeps {
  db: Database;
  goods: GoodsReader;
  shelfPrices?: ShelfPrices;
  config: Config;
  clock: Clock;
  log: Logger;
  actions: ActionTable;
  events: AppEvents;
  metrics: ServerMetrics;
  /** Whether the database's disk is full (writes refused up front) and where to report it. */
  disk: DiskWatch;
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

/**
 * The `exception` for a request that records something (order, receipt, payment) while the
 * database's disk is full: nothing was recorded; the same request later is safe (devices retry
 * with the same `order_id` / `ref`).
 */
export const DISK_FULL = "disk full: not recorded, try again later";

/** The `exception` while the database cannot be reached. */
export const DATABASE_UNAVAILABLE = "database unavailable, try again later";

function exception(reason: string): ActionResult {
  return { body: { exception: reason } };
}

function failed(result: ActionResult): boolean {
  const reason = result.body?.exception;
  return typeof reason === "string" && reason !== "";
}

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
  const entry = Object.hasOwn(deps.actions, action) ? deps.actions[action] : undefined;
  const label = { action: entry ? action : "unknown" };
  deps.metrics.requests.inc(label);

  let result: ReplyResult;
  if (!entry?.public && (!origin.device || frame.header.uniqueId !== origin.device.uniqueId)) {
    result = withFailureBody(entry, exception(NOT_LOGGED_IN));
  } else if (!entry) {
    result = exception(`unknown action: ${action.slice(0, 64)}`);
  } else if (entry.records && deps.disk.full) {
    deps.disk.refused();
    result = withFailureBody(entry, exception(DISK_FULL));
  } else {
    result = await runAction(
      entry,
      {
        header: frame.header,
        device: origin.device,
        peer: origin.peer,
        db: deps.db,
        goods: deps.goods,
        shelfPrices: deps.shelfPrices,
        config: deps.config,
        clock: deps.clock,
        log: origin.log,
        session: origin.session,
        events: deps.events,
      },
      frame.body,
      deps.disk,
    );
  }

  if (failed(result)) deps.metrics.requestErrors.inc(label);
  deps.metrics.requestSeconds.observe((performance.now() - started) / 1000, label);
  return {
    action: `${action}Return`,
    uniqueId: result.uniqueId ?? origin.device?.uniqueId ?? "",
    body: encodeBody(result.body, result.encoding),
  };
}

function withFailureBody(entry: ActionEntry | undefined, result: ActionResult): ActionResult {
  if (!entry?.failureBody || !failed(result)) return result;
  return { ...result, body: { ...entry.failureBody, ...result.body } };
}

/**
 * Runs one action's handler on a request body under the configured request timeout, with the
 * entry's rules: the body decoded unless the entry ignores it, every failure mapped to an
 * `exception` with the entry's failure fields. When the time is up the handler's signal is
 * aborted: its database statements stop, and it can no longer log the session in or out. A
 * failure for lack of disk space is answered {@link DISK_FULL} and told to `disk` (which logs
 * it, once a minute). Never throws.
 */
export async function runAction(
  entry: ActionEntry,
  request: Omit<ActionContext, "signal">,
  body: Uint8Array,
  disk?: DiskWatch,
): Promise<ReplyResult> {
  const action = request.header.action;
  const timeoutS = request.config.requestTimeoutS;
  let result: ActionResult;
  let decoded: JsonObject | undefined;
  try {
    result = await withDeadline(timeoutS * 1000, (signal) => {
      const ctx: ActionContext = {
        ...request,
        // A device waits for these statements: they go first where statements queue.
        db: withSignal(request.db.urgent(), signal),
        session: {
          login: (device) => {
            signal.throwIfAborted();
            return request.session.login(device);
          },
          logout: () => {
            signal.throwIfAborted();
            request.session.logout();
          },
        },
        signal,
      };
      decoded = entry.ignoresBody ? {} : decodeBody(body);
      return entry.handle(ctx, decoded);
    }, action);
  } catch (e) {
    result = exception(failureReason(entry, request, e, disk));
  }
  if (failed(result) || !decoded || !entry.replyEncoding) return withFailureBody(entry, result);
  return { ...result, encoding: entry.replyEncoding(decoded) };
}

/** A handler's reply with the encoding the action table gives it (absent: UTF-8). */
export interface ReplyResult extends ActionResult {
  encoding?: BodyEncoding;
}

function failureReason(
  entry: ActionEntry,
  request: Omit<ActionContext, "signal">,
  e: unknown,
  disk: DiskWatch | undefined,
): string {
  const action = request.header.action;
  const log = request.log;
  if (e instanceof UserError || e instanceof BodyError) {
    log.info("request refused", { action, reason: e.message });
    return e.message;
  }
  // Not one line per request: the disk watch logs once a minute, with the count.
  if (isDiskFull(e) && (disk?.failed(e) ?? true)) {
    if (!disk) log.warn("request failed: disk full", { action, error: (e as Error)?.message });
    // A read fails this way only while the embedded database is stopped by its full disk.
    return entry.records ? DISK_FULL : DATABASE_UNAVAILABLE;
  }
  if (e instanceof DatabaseUnavailableError) {
    log.warn("request failed: database unavailable", { action, error: e.message });
    return DATABASE_UNAVAILABLE;
  }
  if (e instanceof DeadlineExceeded) {
    log.warn("request timed out", { action, timeoutS: request.config.requestTimeoutS });
    return "request timed out, try again later";
  }
  log.error("request failed", { action, error: (e as Error)?.message ?? String(e) });
  return "internal error";
}
