/**
 * A store device written from `PROTOCOL.md` alone (it imports nothing of the product, so a lab
 * finding can never be a shared bug of codec and test): little-endian framing, `login`, requests
 * answered by `…Return`, the server's `health` answered, other pushes handed to a callback that
 * returns the body of their `…Return` (or `null` to leave them unanswered).
 *
 * @module
 */

/** A frame the device received. */
export interface Received {
  action: string;
  header: Record<string, unknown>;
  /** The body as JSON (GBK-decoded when asked for), `null` when empty or not an object. */
  body: Record<string, unknown> | null;
}

/** The request got no reply in time, or the connection ended first: its outcome is unknown. */
export class NoReply extends Error {
  /** @param why why no reply came */
  constructor(why: string) {
    super(why);
    this.name = "NoReply";
  }
}

/** Options of {@link LabDevice.connect}. */
export interface LabDeviceOptions {
  host: string;
  port: number;
  equipId: string;
  /** Answers a push (`sendGoods`, `sendPayResult`, `sendPosition`); default: `{"exception":""}`. */
  onPush?: (push: Received) => Record<string, unknown> | null;
  /** Gives up connecting after this long (a partitioned link drops the SYN); default: the OS's. */
  connectTimeoutMs?: number;
}

const encoder = new TextEncoder();

/** One device connection. */
export class LabDevice {
  uniqueId = "";
  /** True once the connection ended (closed by either side, or broken). */
  closed = false;
  readonly equipId: string;
  /** When the last frame from the server arrived (ms since the epoch): a device's watchdog. */
  lastHeardAt = Date.now();
  readonly #conn: Deno.Conn;
  readonly #onPush: NonNullable<LabDeviceOptions["onPush"]>;
  readonly #waiting = new Map<string, PromiseWithResolvers<Received>[]>();
  /** Actions whose reply body is GBK (a `getGoods` by `mac_id`), oldest first. */
  readonly #gbk: boolean[] = [];
  readonly reading: Promise<void>;

  private constructor(conn: Deno.Conn, options: LabDeviceOptions) {
    this.#conn = conn;
    this.equipId = options.equipId;
    this.#onPush = options.onPush ?? (() => ({ exception: "" }));
    this.reading = this.#read();
  }

  /** Connects and logs in; throws when the login is refused. */
  static async connect(options: LabDeviceOptions, timeoutMs = 10_000): Promise<LabDevice> {
    const conn = await Deno.connect({
      hostname: options.host,
      port: options.port,
      signal: options.connectTimeoutMs === undefined
        ? undefined
        : AbortSignal.timeout(options.connectTimeoutMs),
    });
    const device = new LabDevice(conn, options);
    try {
      const reply = await device.#exchange(
        { action: "login", equipId: options.equipId },
        null,
        timeoutMs,
      );
      const uniqueId = String(reply.header.uniqueId ?? "");
      if (uniqueId === "") throw new Error(`login refused: ${JSON.stringify(reply.body)}`);
      device.uniqueId = uniqueId;
      return device;
    } catch (e) {
      device.close();
      throw e;
    }
  }

  /**
   * Sends a request and waits for its `…Return`. Rejects with {@link NoReply} when none comes in
   * `timeoutMs` or the connection ends: the request may or may not have been carried out.
   */
  request(
    action: string,
    body: Record<string, unknown>,
    timeoutMs = 10_000,
  ): Promise<Received> {
    return this.#exchange({ action, uniqueId: this.uniqueId }, body, timeoutMs, "mac_id" in body);
  }

  /** The device's own port of this connection (what a packet filter sees). */
  get localPort(): number {
    return (this.#conn.localAddr as Deno.NetAddr).port;
  }

  /** Closes the connection (no `logout`: a device that loses power just goes). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.#conn.close();
    } catch {
      // closed already
    }
  }

  async #exchange(
    header: Record<string, unknown>,
    body: Record<string, unknown> | null,
    timeoutMs: number,
    gbkReply = false,
  ): Promise<Received> {
    if (this.closed) throw new NoReply("connection closed");
    const reply = Promise.withResolvers<Received>();
    const key = `${header.action}Return`;
    const queue = this.#waiting.get(key) ?? [];
    queue.push(reply);
    this.#waiting.set(key, queue);
    if (header.action === "getGoods") this.#gbk.push(gbkReply);
    const timer = setTimeout(
      () => reply.reject(new NoReply(`no ${key} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      await this.#write(header, body);
      return await reply.promise;
    } finally {
      clearTimeout(timer);
      const at = queue.indexOf(reply);
      if (at !== -1) queue.splice(at, 1);
    }
  }

  async #write(header: Record<string, unknown>, body: Record<string, unknown> | null) {
    const bodyBytes = body === null ? new Uint8Array() : encoder.encode(JSON.stringify(body));
    const headerBytes = encoder.encode(JSON.stringify({ ...header, length: bodyBytes.length }));
    const frame = new Uint8Array(4 + headerBytes.length + bodyBytes.length);
    new DataView(frame.buffer).setInt32(0, headerBytes.length, true);
    frame.set(headerBytes, 4);
    frame.set(bodyBytes, 4 + headerBytes.length);
    try {
      for (let written = 0; written < frame.length;) {
        written += await this.#conn.write(frame.subarray(written));
      }
    } catch (e) {
      this.close();
      throw new NoReply(`write failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async #read(): Promise<void> {
    let buffer = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        const joined = new Uint8Array(buffer.length + n);
        joined.set(buffer);
        joined.set(chunk.subarray(0, n), buffer.length);
        buffer = joined;
        for (;;) {
          if (buffer.length < 4) break;
          const headerLength = new DataView(buffer.buffer, buffer.byteOffset).getInt32(0, true);
          if (buffer.length < 4 + headerLength) break;
          const header = JSON.parse(new TextDecoder().decode(buffer.subarray(4, 4 + headerLength)));
          const bodyLength = Number(header.length ?? 0);
          if (buffer.length < 4 + headerLength + bodyLength) break;
          const bodyBytes = buffer.subarray(4 + headerLength, 4 + headerLength + bodyLength);
          buffer = buffer.slice(4 + headerLength + bodyLength);
          await this.#received(header, bodyBytes);
        }
      }
    } catch {
      // a reset or a close: the device is gone
    } finally {
      this.close();
      for (const queue of this.#waiting.values()) {
        for (const waiter of queue) waiter.reject(new NoReply("connection closed"));
      }
    }
  }

  async #received(header: Record<string, unknown>, bodyBytes: Uint8Array): Promise<void> {
    const action = String(header.action ?? "");
    this.lastHeardAt = Date.now();
    // PROTOCOL.md §4: sendGoods is GBK to shelf-label devices, UTF-8 to scales.
    const gbk = action === "getGoodsReturn"
      ? this.#gbk.shift() ?? false
      : action === "sendGoods" && this.equipId.startsWith("DZBQ_");
    let body: Record<string, unknown> | null = null;
    if (bodyBytes.length > 0) {
      try {
        const value = JSON.parse(new TextDecoder(gbk ? "gbk" : "utf-8").decode(bodyBytes));
        if (typeof value === "object" && value !== null && !Array.isArray(value)) body = value;
      } catch {
        body = null;
      }
    }
    const frame = { action, header, body };
    const waiter = this.#waiting.get(action)?.shift();
    if (waiter) return waiter.resolve(frame);
    if (action === "health") {
      return await this.#write({ action: "healthReturn", uniqueId: this.uniqueId }, null);
    }
    const answer = this.#onPush(frame);
    if (answer !== null && !action.endsWith("Return")) {
      await this.#write({ action: `${action}Return`, uniqueId: this.uniqueId }, answer);
    }
  }
}
