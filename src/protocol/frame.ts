/**
 * The device frame codec (PROTOCOL.md §1): a 4-byte signed header length, a JSON header, a body of
 * `header.length` bytes. Pure: bytes in, frames out, no I/O.
 *
 * @module
 */

/** Byte order of the 4-byte header length on one connection. */
export type ByteOrder = "le" | "be";

/** Configured byte-order policy: a fixed order, or `auto` (decided from a connection's first frame). */
export type ByteOrderPolicy = ByteOrder | "auto";

/** A decoded frame header. `action` and `length` are validated; other fields are passed through. */
export interface FrameHeader {
  action: string;
  length: number;
  equipId?: unknown;
  uniqueId?: unknown;
  [field: string]: unknown;
}

/** One decoded frame: its header and the raw body bytes (not yet decoded from UTF-8 or GBK). */
export interface Frame {
  header: FrameHeader;
  body: Uint8Array;
}

/** Size limits a decoder enforces; a frame outside them is a protocol error. */
export interface FrameLimits {
  /** Smallest acceptable header length in bytes (`{}` is 2). */
  minHeaderBytes: number;
  /** Largest acceptable header length in bytes. */
  maxHeaderBytes: number;
  /** Largest acceptable body length in bytes. */
  maxBodyBytes: number;
}

/** The defaults from PROTOCOL.md §1: header 2..64 KiB, body 0..1 MiB. */
export const DEFAULT_FRAME_LIMITS: Readonly<FrameLimits> = Object.freeze({
  minHeaderBytes: 2,
  maxHeaderBytes: 64 * 1024,
  maxBodyBytes: 1024 * 1024,
});

/** Why a byte stream was rejected; stable strings, used in logs and as a metrics label. */
export type ProtocolErrorReason =
  | "header_length_out_of_range"
  | "header_not_utf8"
  | "header_not_json"
  | "header_not_object"
  | "missing_action"
  | "bad_length"
  | "body_too_large";

/** A violation of the framing rules. The connection that sent it must be closed. */
export class ProtocolError extends Error {
  /** Machine-readable reason. */
  readonly reason: ProtocolErrorReason;

  /** @param reason the rule that was broken @param detail what was seen, for the log */
  constructor(reason: ProtocolErrorReason, detail: string) {
    super(`${reason}: ${detail}`);
    this.name = "ProtocolError";
    this.reason = reason;
  }
}

const utf8Encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes one frame. The header's `length` is set from the body; `action` comes first so that a
 * human reading a capture sees it at once.
 *
 * @example
 * ```ts
 * const bytes = encodeFrame({ action: "health", uniqueId: "DZC_0001" }, new Uint8Array(), "le");
 * ```
 */
export function encodeFrame(
  header: { action: string; [field: string]: unknown },
  body: Uint8Array,
  order: ByteOrder,
): Uint8Array {
  const headerBytes = utf8Encoder.encode(JSON.stringify({ ...header, length: body.byteLength }));
  const out = new Uint8Array(4 + headerBytes.byteLength + body.byteLength);
  new DataView(out.buffer).setInt32(0, headerBytes.byteLength, order === "le");
  out.set(headerBytes, 4);
  out.set(body, 4 + headerBytes.byteLength);
  return out;
}

/**
 * Chooses the byte order in which the first four bytes of a connection give a plausible header
 * length. When both orders are plausible (only possible for lengths such as 256 vs 65536) the
 * field default, little-endian, wins. Returns `undefined` when neither is plausible.
 */
export function detectByteOrder(
  first4: Uint8Array,
  limits: FrameLimits = DEFAULT_FRAME_LIMITS,
): ByteOrder | undefined {
  const view = new DataView(first4.buffer, first4.byteOffset, 4);
  const plausible = (n: number) => n >= limits.minHeaderBytes && n <= limits.maxHeaderBytes;
  if (plausible(view.getInt32(0, true))) return "le";
  if (plausible(view.getInt32(0, false))) return "be";
  return undefined;
}

/** Options of a {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  byteOrder?: ByteOrderPolicy;
  limits?: FrameLimits;
}

/** What one chunk gave: the complete frames, and the error that ended the stream, if it did. */
export interface DecodeResult {
  /** Every frame completed by the chunk, in order, up to the first bad byte. */
  frames: Frame[];
  /** Set once the stream is known to be bad; the frames before it are still in `frames`. */
  error: ProtocolError | undefined;
}

/**
 * Incremental frame decoder for one connection. Feed it chunks exactly as they arrive (one byte at
 * a time or many frames at once); it returns the complete frames and keeps the rest. A bad frame
 * is reported as soon as it is known to be bad (for a 2 GB body: at its header, without waiting for
 * the bytes), together with the good frames that came before it in the same chunk: a connection
 * answers those before it closes (PROTOCOL.md §6). After an error nothing more is decoded.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder({ byteOrder: "auto" });
 * const { frames, error } = decoder.decode(chunk);
 * for (const frame of frames) console.log(frame.header.action);
 * if (error) console.log("closing:", error.reason);
 * ```
 */
export class FrameDecoder {
  #policy: ByteOrderPolicy;
  #limits: FrameLimits;
  #order: ByteOrder | undefined;
  // One growable buffer with a read offset: appending 1-byte chunks stays linear.
  #buffer = new Uint8Array(0);
  #start = 0;
  #end = 0;
  #pendingHeader: FrameHeader | undefined;
  #error: ProtocolError | undefined;

  /** @param options byte order (default `le`) and limits (default {@link DEFAULT_FRAME_LIMITS}) */
  constructor(options: FrameDecoderOptions = {}) {
    this.#policy = options.byteOrder ?? "le";
    this.#limits = options.limits ?? DEFAULT_FRAME_LIMITS;
    this.#order = this.#policy === "auto" ? undefined : this.#policy;
  }

  /** The byte order in use: fixed, or decided by the first frame under `auto`. */
  get byteOrder(): ByteOrder | undefined {
    return this.#order;
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.#end - this.#start;
  }

  /** True while a frame has begun but not completed (its header may already be consumed). */
  get midFrame(): boolean {
    return this.#pendingHeader !== undefined || this.#end > this.#start;
  }

  /** The error that ended the stream, once there was one. */
  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /** Appends a chunk and returns every frame it completes, and the error if the stream went bad. */
  decode(chunk: Uint8Array): DecodeResult {
    const frames: Frame[] = [];
    if (this.#error) return { frames, error: this.#error };
    this.#append(chunk);
    try {
      for (;;) {
        const frame = this.#next();
        if (!frame) break;
        frames.push(frame);
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.#error = e;
      this.#buffer = new Uint8Array(0);
      this.#start = this.#end = 0;
      this.#pendingHeader = undefined;
      return { frames, error: e };
    }
    if (this.#start === this.#end && this.#buffer.byteLength > 4096) {
      // An idle connection should not keep the memory of its largest frame.
      this.#buffer = new Uint8Array(0);
      this.#start = this.#end = 0;
    }
    return { frames, error: undefined };
  }

  /**
   * Like {@link decode}, but throws the {@link ProtocolError} instead of returning it: the frames
   * completed by the same chunk are then not returned. For streams where an error ends everything
   * (tests, tools); a connection that answers requests uses {@link decode}.
   */
  push(chunk: Uint8Array): Frame[] {
    const { frames, error } = this.decode(chunk);
    if (error) throw error;
    return frames;
  }

  #append(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    const used = this.#end - this.#start;
    if (this.#end + chunk.byteLength > this.#buffer.byteLength) {
      const needed = used + chunk.byteLength;
      if (needed <= this.#buffer.byteLength) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(Math.max(needed, this.#buffer.byteLength * 2, 256));
        grown.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = grown;
      }
      this.#start = 0;
      this.#end = used;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.byteLength;
  }

  #next(): Frame | undefined {
    if (!this.#pendingHeader) {
      if (this.#end - this.#start < 4) return undefined;
      const lengthBytes = this.#buffer.subarray(this.#start, this.#start + 4);
      if (!this.#order) {
        this.#order = detectByteOrder(lengthBytes, this.#limits);
        if (!this.#order) {
          throw new ProtocolError(
            "header_length_out_of_range",
            `no byte order gives a header length within ${this.#limits.minHeaderBytes}..${this.#limits.maxHeaderBytes}`,
          );
        }
      }
      const view = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 4);
      const headerLength = view.getInt32(0, this.#order === "le");
      if (
        headerLength < this.#limits.minHeaderBytes || headerLength > this.#limits.maxHeaderBytes
      ) {
        throw new ProtocolError(
          "header_length_out_of_range",
          `header length ${headerLength} outside ${this.#limits.minHeaderBytes}..${this.#limits.maxHeaderBytes}`,
        );
      }
      if (this.#end - this.#start < 4 + headerLength) return undefined;
      const headerBytes = this.#buffer.subarray(this.#start + 4, this.#start + 4 + headerLength);
      this.#pendingHeader = parseHeader(headerBytes, this.#limits);
      this.#start += 4 + headerLength;
    }
    const header = this.#pendingHeader;
    if (this.#end - this.#start < header.length) return undefined;
    const body = this.#buffer.slice(this.#start, this.#start + header.length);
    this.#start += header.length;
    this.#pendingHeader = undefined;
    return { header, body };
  }
}

function parseHeader(bytes: Uint8Array, limits: FrameLimits): FrameHeader {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new ProtocolError("header_not_utf8", "header is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError("header_not_json", `header is not JSON: ${preview(text)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError("header_not_object", `header is not a JSON object: ${preview(text)}`);
  }
  const header = value as Record<string, unknown>;
  if (typeof header.action !== "string" || header.action === "") {
    throw new ProtocolError("missing_action", `header has no action: ${preview(text)}`);
  }
  const length = header.length;
  if (typeof length !== "number" || !Number.isInteger(length) || length < 0) {
    throw new ProtocolError("bad_length", `length is not a non-negative integer: ${preview(text)}`);
  }
  if (length > limits.maxBodyBytes) {
    throw new ProtocolError("body_too_large", `body length ${length} > ${limits.maxBodyBytes}`);
  }
  return header as FrameHeader;
}

function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
