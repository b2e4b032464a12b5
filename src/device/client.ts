/**
 * A device that speaks the protocol: used by the `device` simulator (installers on site), by the
 * end-to-end tests and by the load generator. It answers the server's `health` by itself and
 * keeps the server's other pushes in a queue until someone takes them.
 *
 * @module
 */
import { type BodyEncoding, decodeText, encodeBody, type JsonObject } from "../protocol/body.ts";
import { type ByteOrder, encodeFrame, type Frame, FrameDecoder } from "../protocol/frame.ts";

/** A frame received by a device, with its body decoded when it is JSON. */
export interface ReceivedFrame extends Frame {
  /** The body as JSON (`null` for an empty body or one that is not a JSON object). */
  json: JsonObject | null;
}

/** Options of {@link DeviceClient.connect}. */
export interface DeviceClientOptions {
  host: string;
  port: number;
  /** The device's name, `TYPE_ID`. */
  equipId: string;
  byteOrder?: ByteOrder;
  /** Answer the server's `health` automatically (default true). */
  answerHeartbeats?: boolean;
  /** Default reply timeout of {@link DeviceClient.request}. */
  timeoutMs?: number;
}

/** The connection was closed while waiting. */
export class DeviceClosedError extends Error {
  constructor() {
    super("connection closed by the server");
    this.name = "DeviceClosedError";
  }
}

/** No reply in time. */
export class DeviceTimeoutError extends Error {
  /** @param what what was waited for */
  constructor(what: string) {
    super(`timed out waiting for ${what}`);
    this.name = "DeviceTimeoutError";
  }
}

interface Waiter {
  match(frame: ReceivedFrame): boolean;
  resolve(frame: ReceivedFrame): void;
  reject(error: Error): void;
}

/** Decodes a body: GBK when asked for, else UTF-8; JSON object or null. */
export function parseBody(body: Uint8Array, encoding: BodyEncoding = "utf8"): JsonObject | null {
  if (body.byteLength === 0) return null;
  try {
    const value = JSON.parse(decodeText(body, encoding));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** A device connection. */
export class DeviceClient {
  /** The identity handed out by `loginReturn`. */
  uniqueId = "";
  readonly equipId: string;
  readonly #conn: Deno.TcpConn;
  readonly #order: ByteOrder;
  readonly #timeoutMs: number;
  readonly #answerHeartbeats: boolean;
  readonly #decoder: FrameDecoder;
  readonly #waiters: Waiter[] = [];
  readonly #unclaimed: ReceivedFrame[] = [];
  readonly #reading: Promise<void>;
  #closed = false;
  /** Server `health` frames received (and answered when enabled). */
  heartbeatsReceived = 0;

  private constructor(conn: Deno.TcpConn, options: DeviceClientOptions) {
    this.#conn = conn;
    this.equipId = options.equipId;
    this.#order = options.byteOrder ?? "le";
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#answerHeartbeats = options.answerHeartbeats ?? true;
    this.#decoder = new FrameDecoder({
      byteOrder: this.#order,
      limits: { minHeaderBytes: 2, maxHeaderBytes: 1 << 20, maxBodyBytes: 64 << 20 },
    });
    this.#reading = this.#read();
  }

  /** Connects (does not log in). */
  static async connect(options: DeviceClientOptions): Promise<DeviceClient> {
    const conn = await Deno.connect({ hostname: options.host, port: options.port });
    conn.setNoDelay(true);
    return new DeviceClient(conn, options);
  }

  /** Connects and logs in; throws when the login is refused. */
  static async login(options: DeviceClientOptions): Promise<DeviceClient> {
    const client = await DeviceClient.connect(options);
    try {
      const reply = await client.login();
      if (!client.uniqueId) {
        throw new Error(`login refused: ${String(reply.json?.exception ?? "no reason given")}`);
      }
    } catch (e) {
      await client.close();
      throw e;
    }
    return client;
  }

  /** True once the server closed the connection (or {@link close} was called). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when the connection is closed. */
  get done(): Promise<void> {
    return this.#reading;
  }

  /** Sends `login` and records the `uniqueId` of the reply. */
  async login(): Promise<ReceivedFrame> {
    this.sendRaw(
      encodeFrame({ action: "login", equipId: this.equipId }, new Uint8Array(), this.#order),
    );
    const reply = await this.waitFor((f) => f.header.action === "loginReturn", "loginReturn");
    this.uniqueId = typeof reply.header.uniqueId === "string" ? reply.header.uniqueId : "";
    return reply;
  }

  /**
   * Sends a request and waits for its `…Return`. `body` may be an object, raw bytes (to send
   * something that is not JSON) or null (empty body).
   */
  async request(
    action: string,
    body: JsonObject | Uint8Array | null = {},
    options: { timeoutMs?: number; encoding?: BodyEncoding } = {},
  ): Promise<ReceivedFrame> {
    const bytes = body instanceof Uint8Array ? body : encodeBody(body);
    this.sendRaw(encodeFrame({ action, uniqueId: this.uniqueId }, bytes, this.#order));
    const reply = await this.waitFor(
      (f) => f.header.action === `${action}Return`,
      `${action}Return`,
      options.timeoutMs,
    );
    if (options.encoding === "gbk") reply.json = parseBody(reply.body, "gbk");
    return reply;
  }

  /** Waits for a server push of `action` (e.g. `sendGoods`), taking it from the queue. */
  nextPush(action: string, timeoutMs?: number): Promise<ReceivedFrame> {
    return this.waitFor((f) => f.header.action === action, action, timeoutMs);
  }

  /** Answers a push with `…Return`. */
  acknowledge(action: string, body: JsonObject | null = { exception: "" }): void {
    this.sendRaw(
      encodeFrame(
        { action: `${action}Return`, uniqueId: this.uniqueId },
        encodeBody(body),
        this.#order,
      ),
    );
  }

  /** Writes raw bytes (tests of malformed frames). */
  sendRaw(bytes: Uint8Array): void {
    if (this.#closed) throw new DeviceClosedError();
    // Writes are small; chain them so that their bytes never interleave.
    this.#writeChain = this.#writeChain.then(async () => {
      let offset = 0;
      while (offset < bytes.byteLength) offset += await this.#conn.write(bytes.subarray(offset));
    }).catch(() => {});
  }
  #writeChain: Promise<void> = Promise.resolve();

  /** Waits for the first received frame matching `match` (already received ones included). */
  waitFor(
    match: (frame: ReceivedFrame) => boolean,
    what = "a frame",
    timeoutMs = this.#timeoutMs,
  ): Promise<ReceivedFrame> {
    const at = this.#unclaimed.findIndex(match);
    if (at >= 0) return Promise.resolve(this.#unclaimed.splice(at, 1)[0]);
    if (this.#closed) return Promise.reject(new DeviceClosedError());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new DeviceTimeoutError(what));
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        const { frames, error } = this.#decoder.decode(buffer.subarray(0, n));
        for (const frame of frames) this.#deliver(frame);
        if (error) break; // the frames before the bad bytes are delivered, then it ends
      }
    } catch {
      // closed locally or reset by the server: both end the connection
    } finally {
      this.#closed = true;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(new DeviceClosedError());
      try {
        this.#conn.close();
      } catch {
        // already closed
      }
    }
  }

  #deliver(frame: Frame): void {
    const received: ReceivedFrame = { ...frame, json: parseBody(frame.body) };
    if (frame.header.action === "health") {
      this.heartbeatsReceived++;
      if (this.#answerHeartbeats) this.acknowledge("health", null);
      return;
    }
    const at = this.#waiters.findIndex((w) => w.match(received));
    if (at >= 0) {
      this.#waiters.splice(at, 1)[0].resolve(received);
    } else {
      this.#unclaimed.push(received);
    }
  }

  /** Closes the connection and waits for the reader to stop. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#writeChain;
      try {
        this.#conn.close();
      } catch {
        // already closed
      }
    }
    await this.#reading;
  }
}
