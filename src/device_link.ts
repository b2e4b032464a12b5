/**
 * The device side as the rest of the appliance sees it: who is logged in on a connection, what a
 * handler may do to its session, and how background work pushes a frame to a device. Ground-floor
 * types, implemented by `server/`, used by actions, push, payment and integrations.
 *
 * @module
 */
import type { BodyEncoding, JsonObject } from "./protocol/body.ts";

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
   * returns the identity to hand out. Of two logins of one device the one with the higher store
   * `generation` wins, whichever arrives first; the other connection is closed.
   */
  login(device: { equipId: string; kind: string; loginAt: Date; generation: number }): string;
  /** Ends the session after the reply is sent. */
  logout(): void;
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
