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
  LabelDisplays,
  OrderWriter,
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
import { errorMessage, UserError } from "../errors.ts";
import { DeadlineExceeded, Deadlines } from "../deadline.ts";
import type { ServerMetrics } from "./server_metrics.ts";

/** What every request on every connection shares. */
export interface DispatchDeps {
  db: Database;
  goods: GoodsReader;
  shelfPrices?: ShelfPrices;
  labels: LabelDisplays;
  orders: OrderWriter;
  config: Config;
  clock: Clock;
  log: Logger;
  actions: ActionTable;
  events: AppEvents;
  metrics: ServerMetrics;
  /** Whether the database's disk is full (writes refused up front) and where to report it. */
  disk: DiskWatch;
  /** The request timeouts of every connection (one timer, not one a request). */
  deadlines: Deadlines;
}

/** The connection a request came on (its session). */
export interface RequestOrigin {
  readonly device: DeviceIdentity | undefined;
  readonly peer: string;
  readonly log: Logger;
  readonly control: SessionControl;
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
 * Runs one request and encodes its reply. Never throws: every failure becomes an `exception`. A
 * request answered from memory (see {@link ActionHandler}) is answered at once, not in a promise.
 */
export function dispatch(
  deps: DispatchDeps,
  origin: RequestOrigin,
  frame: Frame,
): EncodedReply | Promise<EncodedReply> {
  const action = frame.header.action;
  const started = performance.now();
  // Fuzzed action names must not become metric labels (or reach Object.prototype).
  const entry = Object.hasOwn(deps.actions, action) ? deps.actions[action] : undefined;
  const series = deps.metrics.forAction(entry ? action : "unknown");
  series.requests.inc();

  let result: ReplyResult | Promise<ReplyResult>;
  if (!entry?.public && (!origin.device || frame.header.uniqueId !== origin.device.uniqueId)) {
    result = withFailureBody(entry, exception(NOT_LOGGED_IN));
  } else if (!entry) {
    result = exception(`unknown action: ${action.slice(0, 64)}`);
  } else if (entry.records && deps.disk.full) {
    deps.disk.refused();
    result = withFailureBody(entry, exception(DISK_FULL));
  } else {
    result = runAction(
      entry,
      {
        header: frame.header,
        device: origin.device,
        peer: origin.peer,
        db: deps.db,
        goods: deps.goods,
        shelfPrices: deps.shelfPrices,
        labels: deps.labels,
        orders: deps.orders,
        config: deps.config,
        clock: deps.clock,
        log: origin.log,
        session: origin.control,
        events: deps.events,
      },
      frame.body,
      deps.disk,
      deps.deadlines,
    );
  }
  const encode = (result: ReplyResult): EncodedReply => {
    if (failed(result)) series.failed();
    series.seconds.observe((performance.now() - started) / 1000);
    return {
      action: `${action}Return`,
      uniqueId: result.uniqueId ?? origin.device?.uniqueId ?? "",
      body: encodeBody(result.body, result.encoding),
    };
  };
  return result instanceof Promise ? result.then(encode) : encode(result);
}

function withFailureBody(entry: ActionEntry | undefined, result: ActionResult): ActionResult {
  if (!entry?.failureBody || !failed(result)) return result;
  // `exception` first, as devices were answered and PROTOCOL.md writes it:
  // {"exception":"errorPrice","url":""}.
  const exception = result.body?.exception;
  return { ...result, body: { exception, ...entry.failureBody, ...result.body } };
}

/**
 * What a handler gets for one request. What only some handlers use is made when first asked for:
 * the request's {@link AbortSignal}, the database view that carries it, the guarded login
 * controls. A request answered from memory makes none of them.
 */
class RequestContext implements ActionContext {
  readonly header: ActionContext["header"];
  readonly device: ActionContext["device"];
  readonly peer: string;
  readonly goods: ActionContext["goods"];
  readonly shelfPrices: ActionContext["shelfPrices"];
  readonly labels: ActionContext["labels"];
  readonly orders: ActionContext["orders"];
  readonly config: ActionContext["config"];
  readonly clock: ActionContext["clock"];
  readonly log: ActionContext["log"];
  readonly events: ActionContext["events"];
  readonly #request: Omit<ActionContext, "signal">;
  #controller: AbortController | undefined;
  #expired: DeadlineExceeded | undefined;
  #db: Database | undefined;
  #session: SessionControl | undefined;

  constructor(request: Omit<ActionContext, "signal">) {
    this.#request = request;
    this.header = request.header;
    this.device = request.device;
    this.peer = request.peer;
    this.goods = request.goods;
    this.shelfPrices = request.shelfPrices;
    this.labels = request.labels;
    this.orders = request.orders;
    this.config = request.config;
    this.clock = request.clock;
    this.log = request.log;
    this.events = request.events;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#expired) this.#controller.abort(this.#expired);
    }
    return this.#controller.signal;
  }

  // A device waits for these statements: they go first where statements queue.
  get db(): Database {
    return this.#db ??= withSignal(this.#request.db.urgent(), this.signal);
  }

  // Once the time is up the handler can no longer log the session in or out.
  get session(): SessionControl {
    return this.#session ??= {
      login: (device) => {
        this.signal.throwIfAborted();
        return this.#request.session.login(device);
      },
      logout: () => {
        this.signal.throwIfAborted();
        this.#request.session.logout();
      },
    };
  }

  /** The request timed out: its signal is aborted (now, or when first asked for). */
  expire(error: DeadlineExceeded): void {
    this.#expired = error;
    this.#controller?.abort(error);
  }
}

/**
 * Runs one action's handler on a request body under the configured request timeout, with the
 * entry's rules: the body decoded unless the entry ignores it, every failure mapped to an
 * `exception` with the entry's failure fields. When the time is up the handler's signal is
 * aborted: its database statements stop, and it can no longer log the session in or out. A
 * failure for lack of disk space is answered {@link DISK_FULL} and told to `disk` (which logs
 * it, once a minute). A handler that answers at once is answered at once (no timer: there is
 * nothing to time out). Never throws.
 */
export function runAction(
  entry: ActionEntry,
  request: Omit<ActionContext, "signal">,
  body: Uint8Array,
  disk?: DiskWatch,
  deadlines: Deadlines = new Deadlines(),
): ReplyResult | Promise<ReplyResult> {
  const ctx = new RequestContext(request);
  let decoded: JsonObject | undefined;
  let handled: ActionResult | Promise<ActionResult>;
  try {
    decoded = entry.ignoresBody ? {} : decodeBody(body);
    handled = entry.handle(ctx, decoded);
  } catch (e) {
    return withFailureBody(entry, exception(failureReason(entry, request, e, disk)));
  }
  const done = (result: ActionResult): ReplyResult => {
    if (failed(result) || !entry.replyEncoding) return withFailureBody(entry, result);
    return { ...result, encoding: entry.replyEncoding(decoded!) };
  };
  if (!(handled instanceof Promise)) return done(handled);
  const action = request.header.action;
  return deadlines.race(
    request.config.requestTimeoutS * 1000,
    handled,
    (e) => ctx.expire(e),
    action,
  ).then(done, (e) => done(exception(failureReason(entry, request, e, disk))));
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
    if (!disk) log.warn("request failed: disk full", { action, error: errorMessage(e) });
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
  log.error("request failed", { action, error: errorMessage(e) });
  return "internal error";
}
