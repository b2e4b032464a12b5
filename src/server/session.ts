/**
 * One device connection: its reader, its write queue, its login state and its pending pushes.
 * Replies and pushes go through one queue, so their bytes never interleave (DESIGN.md: server).
 *
 * Connections are `node:net` sockets, read by `data` events. Measured here (bench/RESULTS.md,
 * "Fairness"): with 1,000 busy connections and another process on one of the two cores, as on a
 * store PC running PostgreSQL, a `Deno.Conn` loop per connection (`await conn.read()`) let p99
 * reach 6-9× p50 (some connections wait while others are served again), `node:net` 2.2×; on a
 * quiet machine 2.6-4.6× against 2.1×, at the same throughput.
 *
 * @module
 */
import type { Socket } from "node:net";
import type { DeviceIdentity, PushOutcome, SessionControl } from "../device_link.ts";
import type { Logger } from "../log.ts";
import type { JsonObject } from "../protocol/body.ts";
import { decodeBody } from "../protocol/body.ts";
import {
  type ByteOrder,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
  type ProtocolError,
} from "../protocol/frame.ts";
import type { EncodedReply } from "./dispatch.ts";
import { waitAtMost } from "../deadline.ts";
import type { Clock } from "../clock.ts";

/** Why a connection was closed; stable strings, used in logs and as a metrics label. */
export type CloseReason =
  | "peer_closed"
  | "read_failed"
  | "write_failed"
  | "protocol_error"
  | "login_timeout"
  | "frame_timeout"
  | "heartbeat_timeout"
  | "taken_over"
  | "logout"
  | "write_queue_full"
  | "disabled"
  | "shutdown";

/** What a session needs from its server. */
export interface SessionHooks {
  /** Runs one request; never throws. A request answered from memory is answered at once. */
  handle(session: Session, frame: Frame): EncodedReply | Promise<EncodedReply>;
  /** Called once a device logged in on this connection (after its loginReturn is queued). */
  onLogin(session: Session, device: DeviceIdentity): void;
  /**
   * Makes this session the device's, closing an older one; returns false (and closes this one)
   * when the device's session is of a newer login generation.
   */
  takeOver(session: Session, equipId: string, generation: number): boolean;
  /** Called once, when the session is closed. */
  onClose(session: Session, reason: CloseReason): void;
  /** Counts a protocol error. */
  onProtocolError(session: Session, error: ProtocolError): void;
}

/** Options of a {@link Session}. */
export interface SessionOptions {
  decoder: FrameDecoderOptions;
  /** Bytes allowed in the write queue before the connection is dropped. */
  writeQueueBytes: number;
  /** Identity handed out at login. */
  uniqueIdMode: "equipId" | "token";
  /** Push acknowledgement timeout. */
  pushTimeoutMs: number;
  /**
   * The appliance clock; its `monotonic()` times the login, frame and heartbeat timeouts: they are
   * durations, which a step of the wall clock must neither fire nor stall.
   */
  clock: Clock;
}

interface PendingPush {
  resolve(outcome: PushOutcome): void;
  timer: ReturnType<typeof setTimeout>;
}

// Requests are answered in order; a peer that pipelines more than this waits for the reader.
const MAX_QUEUED_REQUESTS = 32;
const RETURN_SUFFIX = "Return";

/** A device connection. Created by the server; `run()` drives it until it closes. */
export class Session {
  /** `ip:port` of the peer. */
  readonly peer: string;
  /** When the connection was accepted (ms). */
  readonly connectedAt: number;
  /** The logged-in device, if any. */
  device: DeviceIdentity | undefined;
  /** When the device logged in. */
  loginAt: Date | undefined;
  /** The store's login generation of this session (devices.login_generation). */
  loginGeneration = 0;
  /** Server `health` frames sent and not yet answered. */
  missedHeartbeats = 0;
  /** When the last server `health` was sent (ms). */
  lastHeartbeatAt = 0;
  /** Whether a frame arrived since the server last recorded `last_seen_at`. */
  heardFrom = false;
  /**
   * When the frame now being received began (ms), `undefined` between frames. A peer that
   * trickles one frame forever (slowloris) is closed by the server's frame timeout.
   */
  partialFrameSince: number | undefined;
  /** This connection's logger (peer and, after login, device). */
  log: Logger;

  #socket: Socket;
  #hooks: SessionHooks;
  #options: SessionOptions;
  #decoder: FrameDecoder;
  #paused = false;
  // Requests are answered in order: while one waits (a promise), the next ones wait here.
  #waiting: Frame[] = [];
  #busy = false;
  #queuedRequests = 0;
  #drained: PromiseWithResolvers<void> | undefined;
  #pushes = new Map<string, PendingPush[]>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #closeReason: CloseReason | undefined;
  // Set by a handler through `control`, acted on once its reply is queued.
  #newLogin: DeviceIdentity | undefined;
  #loggedOut = false;
  // No more frames are read: a protocol error, or a logout, ended the stream.
  #readingDone = false;
  #socketClosed = Promise.withResolvers<void>();

  /** @param socket the accepted connection @param hooks the server @param log logger */
  constructor(socket: Socket, hooks: SessionHooks, options: SessionOptions, log: Logger) {
    this.#socket = socket;
    this.#hooks = hooks;
    this.#options = options;
    this.#decoder = new FrameDecoder(options.decoder);
    this.peer = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    this.connectedAt = options.clock.monotonic();
    this.log = log.child({ peer: this.peer });
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("error", (e: Error) => {
      if (!this.#closed) this.log.debug("connection error", { error: e.message });
    });
    // A FIN ends the peer's requests, not its wish for replies (`printf … | nc` half-closes):
    // answer what was asked (each request is bounded by the request timeout), then close.
    socket.on("end", () => {
      this.settle().then(() => this.close("peer_closed", { flushMs: 1000 }));
    });
    socket.on("close", () => {
      this.#socketClosed.resolve();
      this.close("peer_closed");
    });
  }

  /** True once closed (or closing). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Why it was closed. */
  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
  }

  /** Bytes waiting to be written. */
  get queuedBytes(): number {
    return this.#socket.writableLength;
  }

  /** Byte order of replies: the one the peer uses, little-endian until it has sent a frame. */
  get byteOrder(): ByteOrder {
    return this.#decoder.byteOrder ?? "le";
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed || this.#readingDone) return;
    const { frames, error } = this.#decoder.decode(chunk);
    if (error) {
      // The frames that arrived complete before the bad bytes are run and answered, then the
      // connection is closed (PROTOCOL.md §6); nothing after them is read.
      this.#readingDone = true;
      this.partialFrameSince = undefined; // nothing more is awaited from the peer
      if (frames.length > 0) this.heardFrom = true;
      this.#hooks.onProtocolError(this, error);
      for (const frame of frames) this.#receive(frame);
      this.settle().then(() => this.close("protocol_error", { flushMs: 1000 }));
      return;
    }
    if (frames.length > 0) this.heardFrom = true;
    if (!this.#decoder.midFrame) this.partialFrameSince = undefined;
    else if (frames.length > 0 || this.partialFrameSince === undefined) {
      this.partialFrameSince = this.#options.clock.monotonic();
    }
    for (const frame of frames) this.#receive(frame);
    // Backpressure: a peer that pipelines faster than we answer stops being read.
    if (this.#queuedRequests >= MAX_QUEUED_REQUESTS && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #receive(frame: Frame): void {
    const action = frame.header.action;
    if (action.endsWith(RETURN_SUFFIX) && action.length > RETURN_SUFFIX.length) {
      this.#acknowledge(action.slice(0, -RETURN_SUFFIX.length), frame);
      return;
    }
    this.#queuedRequests++;
    if (this.#busy) this.#waiting.push(frame);
    else this.#serve(frame);
  }

  // Runs requests in order, at once while they are answered at once; one that waits holds the
  // ones after it (queued in #waiting) until its reply is queued.
  #serve(frame: Frame): void {
    for (let next: Frame | undefined = frame; next; next = this.#waiting.shift()) {
      if (this.#closed) {
        this.#finished();
        continue;
      }
      let reply: EncodedReply | Promise<EncodedReply>;
      try {
        reply = this.#hooks.handle(this, next);
      } catch (e) {
        this.#finished();
        throw e;
      }
      if (reply instanceof Promise) {
        this.#busy = true;
        const resume = () => {
          this.#busy = false;
          const after = this.#waiting.shift();
          if (after) this.#serve(after);
          else this.#settled();
        };
        reply.then((r) => {
          try {
            this.#answer(r);
          } finally {
            resume();
          }
        }, () => {
          this.#finished();
          resume();
        });
        return;
      }
      this.#answer(reply);
    }
    this.#settled();
  }

  #answer(reply: EncodedReply): void {
    try {
      if (this.#closed) return;
      this.send(reply.action, reply.uniqueId, reply.body);
      const login = this.#newLogin;
      this.#newLogin = undefined;
      if (login && login === this.device) this.#hooks.onLogin(this, login);
      if (this.#loggedOut) {
        // The session ends with this reply: frames pipelined after the logout are not served.
        this.#readingDone = true;
        this.close("logout", { flushMs: 1000 });
      }
    } finally {
      this.#finished();
    }
  }

  // One request answered (or dropped with its closed connection).
  #finished(): void {
    this.#queuedRequests--;
    if (this.#paused && this.#queuedRequests <= MAX_QUEUED_REQUESTS / 2 && !this.#closed) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  #settled(): void {
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.resolve();
  }

  #acknowledge(action: string, frame: Frame): void {
    if (action === "health") {
      this.missedHeartbeats = 0;
      return;
    }
    const waiting = this.#pushes.get(action);
    const pending = waiting?.shift();
    if (!pending) {
      this.log.debug("unexpected reply ignored", { action: frame.header.action });
      return;
    }
    clearTimeout(pending.timer);
    let reply: JsonObject;
    try {
      reply = decodeBody(frame.body);
    } catch {
      reply = {}; // an empty or non-JSON acknowledgement still acknowledges
    }
    pending.resolve({ ok: true, reply });
  }

  /** Queues one frame. Drops the connection when the peer does not read its replies. */
  send(action: string, uniqueId: string, body: Uint8Array): void {
    if (this.#closed) return;
    const bytes = encodeFrame({ action, uniqueId }, body, this.byteOrder);
    const queued = this.#socket.writableLength;
    if (queued + bytes.byteLength > this.#options.writeQueueBytes) {
      this.log.warn("write queue full, dropping connection", {
        queuedBytes: queued,
        limit: this.#options.writeQueueBytes,
      });
      this.close("write_queue_full");
      return;
    }
    this.#socket.write(bytes);
  }

  /**
   * Sends a push and waits for its `…Return` (matched in order per action). Never throws.
   */
  push(
    action: string,
    body: Uint8Array,
    timeoutMs = this.#options.pushTimeoutMs,
  ): Promise<PushOutcome> {
    if (this.#closed || !this.device) return Promise.resolve({ ok: false, reason: "closed" });
    const uniqueId = this.device.uniqueId;
    return new Promise<PushOutcome>((resolve) => {
      const queue = this.#pushes.get(action) ?? [];
      this.#pushes.set(action, queue);
      const pending: PendingPush = {
        resolve,
        timer: setTimeout(() => {
          const at = queue.indexOf(pending);
          if (at >= 0) queue.splice(at, 1);
          resolve({ ok: false, reason: "timeout" });
        }, timeoutMs),
      };
      queue.push(pending);
      this.send(action, uniqueId, body);
    });
  }

  /** Sends the server's `health` and counts it as unanswered until `healthReturn` arrives. */
  sendHeartbeat(): void {
    if (!this.device) return;
    this.missedHeartbeats++;
    this.lastHeartbeatAt = this.#options.clock.monotonic();
    this.send("health", this.device.uniqueId, new Uint8Array());
  }

  /** The login/logout controls handed to the `login` and `logout` handlers. */
  readonly control: SessionControl = {
    login: ({ equipId, kind, loginAt, generation }) => {
      const uniqueId = this.#options.uniqueIdMode === "token" ? crypto.randomUUID() : equipId;
      // Lost to a newer login of the same device: this session is closed, the reply not sent.
      if (!this.#hooks.takeOver(this, equipId, generation)) return uniqueId;
      this.device = { equipId, kind, uniqueId };
      this.loginAt = loginAt;
      this.loginGeneration = generation;
      this.missedHeartbeats = 0;
      this.lastHeartbeatAt = this.#options.clock.monotonic();
      this.log = this.log.child({ equipId });
      this.#newLogin = this.device;
      return uniqueId;
    },
    logout: () => {
      // The reply is queued after the handler returns; the session closes once it is written.
      this.#loggedOut = true;
    },
  };

  /** Waits for the requests received so far to be answered. */
  settle(): Promise<void> {
    if (!this.#busy && this.#waiting.length === 0) return Promise.resolve();
    return (this.#drained ??= Promise.withResolvers<void>()).promise;
  }

  /**
   * Closes the connection (idempotent). With `flushMs`, queued bytes are written first, waiting at
   * most that long.
   */
  close(reason: CloseReason, options: { flushMs?: number } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closeReason = reason;
    for (const queue of this.#pushes.values()) {
      for (const pending of queue) {
        clearTimeout(pending.timer);
        pending.resolve({ ok: false, reason: "closed" });
      }
    }
    this.#pushes.clear();
    this.#closing = (async () => {
      if (options.flushMs && this.#socket.writableLength > 0 && !this.#socket.destroyed) {
        // FIN after the queued bytes; give a slow reader `flushMs` to take them.
        this.#socket.end();
        await waitAtMost(options.flushMs, this.#socketClosed.promise);
      }
      this.#socket.destroy();
      await this.#socketClosed.promise;
      this.#hooks.onClose(this, reason);
    })();
    return this.#closing;
  }
}
