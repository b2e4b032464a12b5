/**
 * The contract between the request core (`src/server/`) and the action handlers: what a handler
 * gets and returns, and the action table's entries. A handler is `(ctx, body) => reply`: no
 * sockets, byte orders or encodings inside, so each one is tested directly (STYLE.md: Hono's
 * context object). It lives on the ground floor so the core dispatches to handlers it is given
 * (by `src/app.ts`) without importing from `src/actions/`.
 *
 * @module
 */
import type { Config } from "./config/config.ts";
import type { Database } from "./store/database.ts";
import type { GoodsReader } from "./store/goods_cache.ts";
import type { GoodsAndShown, ShownGoods } from "./store/label_shown.ts";
import type { CreatedOrder, OrderDraft } from "./store/orders.ts";
import type { Logger } from "./log.ts";
import type { FrameHeader } from "./protocol/frame.ts";
import type { BodyEncoding, JsonObject } from "./protocol/body.ts";
import type { Clock } from "./clock.ts";
import type { AppEvents } from "./events.ts";
import type { DeviceIdentity, SessionControl } from "./device_link.ts";

/** The price devices other than shelf labels are told (price parity, src/pricing/parity.ts). */
export interface ShelfPrices {
  /** For goods `gid` whose current price is `current`: the price to show, and why. */
  priceFor(gid: number, current: string): Promise<{ price: string; reason: string }>;
  /**
   * The same at once, or undefined while what the labels show is being reloaded (then
   * {@link priceFor} waits for it): a look-up answered from memory needs no promise.
   */
  priceNow(gid: number, current: string): { price: string; reason: string } | undefined;
}

/** Records what shelf labels show (issue 14, src/pricing/label_display.ts). */
export interface LabelDisplays {
  /**
   * The device `equipId` asked for these labels by `mac_id` and was answered at `at`: it serves
   * them (their pushes go to it), and they show these goods now. Resolves once recorded; the
   * answers of many devices at once are recorded together.
   */
  answered(equipId: string, shown: ShownGoods[], at: Date): Promise<void>;
}

/** Reads what new payment orders are charged, and stores them (src/payment/order_intake.ts). */
export interface OrderWriter {
  /**
   * The active goods of `ids`, each with the labels still showing another price: what an order
   * is priced from. The reads of many tills at once are made together.
   */
  goods(ids: readonly number[]): Promise<GoodsAndShown[]>;
  /**
   * Stores the order with its lines and payment-server call (or finds the device's earlier order
   * with the same terminal number); resolves once it is durable. The orders of many tills at
   * once are stored together.
   */
  create(draft: OrderDraft): Promise<CreatedOrder>;
}

/** Everything a handler needs. */
export interface ActionContext {
  readonly header: FrameHeader;
  /** The logged-in device; undefined only for `login`. */
  readonly device: DeviceIdentity | undefined;
  /** Peer address `ip:port`. */
  readonly peer: string;
  readonly db: Database;
  /** Goods by barcode and id: the hottest look-ups, served from a coherent cache. */
  readonly goods: GoodsReader;
  /** Price parity for non-label devices; absent: the current price (handler tests). */
  readonly shelfPrices?: ShelfPrices;
  /** Where a shelf label's own look-up is recorded as what it shows. */
  readonly labels: LabelDisplays;
  /** Where `getPayInfo` stores its orders. */
  readonly orders: OrderWriter;
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly session: SessionControl;
  readonly events: AppEvents;
  /**
   * Aborted when the request timed out (its reply is already sent): stop. `db` carries it on every
   * statement already; pass it to other slow work (fetch, waits).
   */
  readonly signal: AbortSignal;
}

/** A handler's reply; `body: null` sends an empty body (0 bytes). */
export interface ActionResult {
  body: JsonObject | null;
  /** Overrides the reply header's `uniqueId` (login). */
  uniqueId?: string;
}

/** One action. */
export type ActionHandler = (ctx: ActionContext, body: JsonObject) => Promise<ActionResult>;

/**
 * An action that can answer from memory: it returns its result at once (not a promise) when it
 * can, and the request then costs no promise and no deadline timer (there is nothing to time
 * out); when it has to wait it returns a promise, and the request timeout applies.
 */
export type ImmediateActionHandler = (
  ctx: ActionContext,
  body: JsonObject,
) => ActionResult | Promise<ActionResult>;

/** One action and the rules the dispatcher applies around it (the action table's entries). */
export interface ActionEntry {
  readonly handle: ActionHandler | ImmediateActionHandler;
  /** Served without a logged-in device (only `login`). */
  readonly public?: boolean;
  /** The body is not read: the handler gets `{}` (field devices send `login` with "", "{}" or nothing). */
  readonly ignoresBody?: boolean;
  /** Fields every failure reply carries besides `exception` (devices read them on every reply). */
  readonly failureBody?: JsonObject;
  /** The encoding of a successful reply to this request body (default UTF-8). */
  readonly replyEncoding?: (body: JsonObject) => BodyEncoding;
  /**
   * It records a sale, receipt or payment: while the database's disk is full it is answered
   * `disk full` at once instead of being tried (reads go on).
   */
  readonly records?: boolean;
}

/** Action name → handler and its rules. An action not marked `public` needs a logged-in device. */
export type ActionTable = Readonly<Record<string, ActionEntry>>;
