/**
 * What an action handler gets and returns. A handler is `(ctx, body) => reply`: no sockets, byte
 * orders or encodings inside, so each one is tested directly (STYLE.md: Hono's context object).
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import type { Database } from "../store/database.ts";
import type { GoodsReader } from "../store/goods_cache.ts";
import type { Logger } from "../log.ts";
import type { FrameHeader } from "../protocol/frame.ts";
import type { BodyEncoding, JsonObject } from "../protocol/body.ts";

/** Milliseconds since the epoch; passed in so that tests control time. */
export interface Clock {
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** The logged-in device on a connection. */
export interface DeviceIdentity {
  /** The device's own name from `login` (`DZBQ_0001`). */
  equipId: string;
  /** The identity handed out in `loginReturn`, carried by every later request. */
  uniqueId: string;
  /** Type prefix (`DZBQ`). */
  kind: string;
}

/** What a handler may do to its connection (only `login` and `logout` need it). */
export interface SessionControl {
  /**
   * Makes this connection the device's session (closing an older one of the same device) and
   * returns the identity to hand out.
   */
  login(device: { equipId: string; kind: string; loginAt: Date }): string;
  /** Ends the session after the reply is sent. */
  logout(): void;
}

/**
 * Background work an action may wake after committing (the payment outbox, pushes). Events are
 * names such as `order-created`; listeners are registered by `main.ts`.
 */
export interface AppEvents {
  emit(event: string, detail?: unknown): void;
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
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly session: SessionControl;
  readonly events: AppEvents;
}

/** A handler's reply; `body: null` sends an empty body (0 bytes). */
export interface ActionResult {
  body: JsonObject | null;
  encoding?: BodyEncoding;
  /** Overrides the reply header's `uniqueId` (login). */
  uniqueId?: string;
}

/** One action. */
export type ActionHandler = (ctx: ActionContext, body: JsonObject) => Promise<ActionResult>;

/** The device of a handler that requires login (every action but `login`). */
export function requireDevice(ctx: ActionContext): DeviceIdentity {
  if (!ctx.device) throw new Error("handler called without a logged-in device");
  return ctx.device;
}

/** Options of a server → device push. */
export interface PushOptions {
  /** Body encoding; `gbk` for shelf labels' `sendGoods`. */
  encoding?: BodyEncoding;
  /** How long to wait for the device's `…Return` (default: the configured push timeout). */
  timeoutMs?: number;
}

/** Why a push was not acknowledged. */
export type PushFailure = "offline" | "timeout" | "closed";

/** Outcome of one push attempt. */
export type PushOutcome =
  | { ok: true; reply: JsonObject }
  | { ok: false; reason: PushFailure };

/**
 * The server side of pushes (PROTOCOL.md §4): sends a frame to whatever connection a device has
 * now and waits for its `…Return`. One attempt; retries and persistence are the caller's
 * (push/payment workers), so the server stays a transport.
 */
export interface DeviceLink {
  /** Pushes `action` with `body` to the device's current session. Never throws. */
  push(equipId: string, action: string, body: JsonObject | null, options?: PushOptions): Promise<
    PushOutcome
  >;
  /** The logged-in devices now (equipId and kind). */
  online(): { equipId: string; kind: string }[];
  /** True when `equipId` has a logged-in session. */
  isOnline(equipId: string): boolean;
}

/** Event emitted (with a {@link DeviceLoginEvent}) once a device's `loginReturn` is sent. */
export const DEVICE_LOGIN_EVENT = "device-login";

/** Detail of {@link DEVICE_LOGIN_EVENT}. */
export interface DeviceLoginEvent {
  equipId: string;
  kind: string;
}
