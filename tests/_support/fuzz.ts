/**
 * Fuzzing parts shared by the fuzz test (a small fixed-seed share) and the long run
 * (`bench/fuzz.ts`): a seeded PRNG, a corpus of valid requests, mutators of JSON values, bytes and
 * whole frame streams, random chunking, and the properties every decoded input must keep.
 *
 * Everything is a pure function of the PRNG, so a failing input is reproduced from its seed.
 *
 * @module
 */
import { concatBytes } from "../../src/bytes.ts";
import {
  type ByteOrder,
  type DecodeResult,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FrameLimits,
  ProtocolError,
} from "../../src/protocol/frame.ts";
import type { JsonObject } from "../../src/protocol/body.ts";
import { DEMO_GOODS, DEMO_LABELS, DEMO_RFID_TAGS } from "../../src/store/demo.ts";

/**
 * A small seeded PRNG (sfc32 seeded through splitmix32): fast, 32-bit, reproducible. Tests never
 * use `Math.random`.
 */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** @param seed any 32-bit integer */
  constructor(seed: number) {
    let s = seed >>> 0;
    const split = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = split();
    this.#b = split();
    this.#c = split();
    this.#d = split();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** The next unsigned 32-bit value. */
  next(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** An integer in `0..n-1`. */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  /** One element. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

/** A request a device may send: action and body. */
export interface CorpusRequest {
  action: string;
  body: JsonObject;
}

/** The actions that take a body and keep the session open (fuzzed on a logged-in connection). */
export const BODY_ACTIONS = [
  "getGoods",
  "getAllGoods",
  "getWarehouseGoods",
  "stockGoods",
  "health",
] as const;

/** Valid requests of every body action, built from the demo catalogue. */
export function requestCorpus(): CorpusRequest[] {
  const codes = DEMO_GOODS.map((g) => g.barcode);
  const macs = DEMO_LABELS.map((l) => l.mac);
  const epcs = DEMO_RFID_TAGS.map((t) => t.epc);
  return [
    { action: "getGoods", body: { code: codes[0] } },
    { action: "getGoods", body: { code: codes.slice(0, 4).join(",") } },
    { action: "getGoods", body: { mac_id: macs[0] } },
    { action: "getGoods", body: { mac_id: macs.slice(0, 3).join(",") } },
    { action: "getGoods", body: { gid: 1 } },
    { action: "getGoods", body: { gid: "1,2,3" } },
    { action: "getGoods", body: { gname: "苹果" } },
    { action: "getGoods", body: { rfids: epcs.slice(0, 2) } },
    { action: "getGoods", body: { rfids: epcs.join(",") } },
    { action: "getAllGoods", body: {} },
    { action: "getAllGoods", body: { ost: 2, lmt: 3 } },
    { action: "getAllGoods", body: { ost: "0", lmt: "5" } },
    { action: "getWarehouseGoods", body: { whid: 1 } },
    { action: "getWarehouseGoods", body: { whid: "2" } },
    {
      action: "stockGoods",
      body: { whid: 1, ref: "fuzz-1", goods: [{ gid: 1, qty: 5 }, { code: codes[1], qty: "2.5" }] },
    },
    { action: "stockGoods", body: { whid: 2, ref: "fuzz-2", goods: [{ gid: 3, qty: "0.125" }] } },
    { action: "health", body: {} },
  ];
}

const KEYS = [
  "code",
  "mac_id",
  "gid",
  "gname",
  "rfids",
  "ost",
  "lmt",
  "whid",
  "ref",
  "goods",
  "qty",
  "exception",
  "__proto__",
  "constructor",
  "toString",
  "",
];

// Values that have broken JSON handlers before: limits, types, encodings, SQL metacharacters.
const INTERESTING: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -0,
  -1,
  1,
  1.5,
  0.0001,
  1e-7,
  1e21,
  1e308,
  -1e308,
  2147483647,
  2147483648,
  -2147483648,
  4294967296,
  9007199254740991,
  9007199254740993,
  "",
  " ",
  "0",
  "-1",
  "1e9",
  "1.0000000001",
  "NaN",
  "Infinity",
  "0x10",
  "abc",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff\ud800",
  "\u202e",
  "💥",
  "红富士苹果",
  ",,,",
  " , ,",
  "1,,2",
  "%",
  "_%\\",
  "' or 1=1 --",
  "$1",
  "a".repeat(101),
  "9".repeat(400),
  "1,".repeat(1500),
  [],
  {},
  [1, 2],
  [null],
  [[]],
  [{}],
  ["1", 2, "x"],
  { gid: 1, qty: 1 },
  { code: "x", qty: -1 },
];

/** A structurally mutated copy of a JSON value (types swapped, keys added/removed, nesting). */
export function mutateJson(rng: Prng, value: unknown, depth = 0): unknown {
  const roll = rng.int(10);
  if (depth > 4 || roll === 0) return rng.pick(INTERESTING);
  if (Array.isArray(value)) {
    const out = value.map((v) => rng.chance(0.3) ? mutateJson(rng, v, depth + 1) : v);
    if (rng.chance(0.2)) out.push(mutateJson(rng, rng.pick(INTERESTING), depth + 1));
    if (rng.chance(0.1) && out.length > 0) out.splice(rng.int(out.length), 1);
    // A long array, at the top of a body only: nested, the copies multiplied (2,000 of 2,000 of
    // …) into bodies of hundreds of megabytes, which only ever tested body_too_large and made the
    // long run's memory jump by as much.
    if (depth <= 1 && rng.chance(0.05)) {
      return Array.from({ length: rng.int(2000) }, () => out[0] ?? 1);
    }
    return out;
  }
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (rng.chance(0.1)) continue;
      out[k] = rng.chance(0.4) ? mutateJson(rng, v, depth + 1) : v;
    }
    if (rng.chance(0.3)) {
      Object.defineProperty(out, rng.pick(KEYS), {
        value: mutateJson(rng, rng.pick(INTERESTING), depth + 1),
        enumerable: true,
        configurable: true,
        writable: true,
      });
    }
    return out;
  }
  if (typeof value === "string" && rng.chance(0.5)) {
    const s = value;
    const at = rng.int(s.length + 1);
    return s.slice(0, at) + String(rng.pick(INTERESTING)) + s.slice(at + rng.int(3));
  }
  if (typeof value === "number" && rng.chance(0.5)) {
    return rng.pick([value + 1, value - 1, -value, value * 1e6, value / 3, String(value)]);
  }
  return rng.pick(INTERESTING);
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x22, 0x2c, 0x3a, 0x5b, 0x7b, 0x7d, 0xc0];
const INTERESTING_INT32 = [
  0,
  1,
  2,
  -1,
  255,
  256,
  65535,
  65536,
  65537,
  1 << 20,
  0x7fffffff,
  -0x80000000,
];

/** A byte-level mutation (flip, set, insert, delete, duplicate, truncate, int32 overwrite). */
export function mutateBytes(rng: Prng, input: Uint8Array): Uint8Array {
  let bytes: Uint8Array = input.slice();
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const n = bytes.byteLength;
    switch (rng.int(8)) {
      case 0:
        if (n > 0) bytes[rng.int(n)] ^= 1 << rng.int(8);
        break;
      case 1:
        if (n > 0) bytes[rng.int(n)] = rng.pick(INTERESTING_BYTES);
        break;
      case 2: {
        const at = rng.int(n + 1);
        bytes = concat([bytes.subarray(0, at), rng.bytes(1 + rng.int(16)), bytes.subarray(at)]);
        break;
      }
      case 3: {
        const at = rng.int(n + 1);
        bytes = concat([bytes.subarray(0, at), bytes.subarray(at + 1 + rng.int(16))]);
        break;
      }
      case 4: {
        const at = rng.int(n + 1);
        const len = rng.int(64);
        bytes = concat([
          bytes.subarray(0, at + len),
          bytes.subarray(at, at + len),
          bytes.subarray(at + len),
        ]);
        break;
      }
      case 5:
        bytes = bytes.slice(0, rng.int(n + 1));
        break;
      case 6:
        if (n >= 4) {
          const at = rng.int(n - 3);
          new DataView(bytes.buffer, bytes.byteOffset).setInt32(
            at,
            rng.pick(INTERESTING_INT32),
            rng.chance(0.5),
          );
        }
        break;
      default:
        if (n > 0) bytes[rng.int(n)] = rng.next() & 0xff;
    }
  }
  return bytes;
}

const encoder = new TextEncoder();

/** The header field values a frame-level mutation may use. */
const HEADER_VALUES: readonly unknown[] = [
  ...INTERESTING,
  "getGoods",
  "login",
  "logout",
  "healthReturn",
  "sendGoodsReturn",
  "getGoodsReturn",
  "Return",
  "__proto__",
  "hasOwnProperty",
];

/** One raw frame with a hand-built header: wrong lengths, odd actions, headers that are not objects. */
export function mutatedFrame(
  rng: Prng,
  request: CorpusRequest,
  uniqueId: string,
  order: ByteOrder,
): Uint8Array {
  const body = rng.chance(0.5)
    ? encoder.encode(JSON.stringify(mutateJson(rng, request.body)))
    : encoder.encode(JSON.stringify(request.body));
  const header: Record<string, unknown> = {
    action: request.action,
    uniqueId,
    equipId: uniqueId,
    length: body.byteLength,
  };
  let headerText: string;
  switch (rng.int(8)) {
    case 0:
      header.length = rng.pick([
        ...INTERESTING_INT32,
        -5,
        1.5,
        "3",
        1e400,
        null,
        body.byteLength + 1,
        body.byteLength - 1,
      ]);
      headerText = JSON.stringify(header);
      break;
    case 1:
      header.action = rng.pick(HEADER_VALUES);
      headerText = JSON.stringify(header);
      break;
    case 2:
      header.uniqueId = rng.pick(HEADER_VALUES);
      headerText = JSON.stringify(header);
      break;
    case 3:
      headerText = rng.pick(["[]", "null", "1", '"x"', "{", "", "{}", '{"action":""}']);
      break;
    case 4:
      delete header[rng.pick(["action", "length", "uniqueId"])];
      headerText = JSON.stringify(header);
      break;
    default:
      headerText = JSON.stringify(mutateJson(rng, header));
  }
  const headerBytes = encoder.encode(headerText);
  const out = new Uint8Array(4 + headerBytes.byteLength + body.byteLength);
  new DataView(out.buffer).setInt32(0, headerBytes.byteLength, order === "le");
  out.set(headerBytes, 4);
  out.set(body, 4 + headerBytes.byteLength);
  return out;
}

/** A valid frame of a corpus request. */
export function validFrame(request: CorpusRequest, uniqueId: string, order: ByteOrder): Uint8Array {
  return encodeFrame(
    { action: request.action, uniqueId },
    encoder.encode(JSON.stringify(request.body)),
    order,
  );
}

/**
 * A hostile byte stream: a login, then valid, body-mutated, header-mutated and byte-mutated frames
 * and sometimes pure noise. Most streams break the framing somewhere; some are entirely valid.
 */
export function fuzzStream(
  rng: Prng,
  corpus: readonly CorpusRequest[],
  equipId: string,
  order: ByteOrder,
): Uint8Array {
  const stream = concat(fuzzStreamParts(rng, corpus, equipId, order));
  return rng.chance(0.2) ? mutateBytes(rng, stream) : stream;
}

/** The parts of a hostile stream (see {@link fuzzStream}), one frame or noise each. */
export function fuzzStreamParts(
  rng: Prng,
  corpus: readonly CorpusRequest[],
  equipId: string,
  order: ByteOrder,
): Uint8Array[] {
  const parts: Uint8Array[] = [];
  if (rng.chance(0.8)) {
    parts.push(encodeFrame({ action: "login", equipId }, new Uint8Array(), order));
  }
  const frames = 1 + rng.int(6);
  for (let i = 0; i < frames; i++) {
    const request = rng.pick(corpus);
    switch (rng.int(6)) {
      case 0:
        parts.push(validFrame(request, equipId, order));
        break;
      case 1:
        parts.push(
          validFrame(
            { action: request.action, body: mutateJson(rng, request.body) as JsonObject },
            equipId,
            order,
          ),
        );
        break;
      case 2:
      case 3:
        parts.push(mutatedFrame(rng, request, equipId, order));
        break;
      case 4:
        parts.push(mutateBytes(rng, validFrame(request, equipId, order)));
        break;
      default:
        parts.push(rng.bytes(rng.int(64)));
    }
  }
  return parts;
}

/**
 * Splits bytes at random points: single bytes, small pieces, or all at once. The pieces are made
 * as they are taken: a 5 MB stream in single bytes is 5 million views, which held at once were
 * ~500 MB of heap (the long fuzz run ran out of memory on them).
 */
export function* randomChunks(
  rng: Prng,
  bytes: Uint8Array,
  maxChunk = 512,
): Generator<Uint8Array, void, undefined> {
  const style = rng.int(4);
  if (style === 0 || bytes.byteLength === 0) {
    yield bytes;
    return;
  }
  let at = 0;
  while (at < bytes.byteLength) {
    const size = style === 1 ? 1 : 1 + rng.int(style === 2 ? 8 : maxChunk);
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

/**
 * What decoding a stream gave: the frames (those before a bad one included), and the protocol
 * error that ended it, if any.
 */
export interface DecodeOutcome {
  frames: Frame[];
  error: ProtocolError["reason"] | undefined;
}

/**
 * Decodes `chunks` as a session does and checks the decoder's contract on the way: only
 * {@link ProtocolError} is thrown; every frame has a non-empty action, an integer length within the
 * limits and a body of exactly that length; the buffer never holds more than one frame plus one
 * chunk. Throws an `Error` naming the broken property.
 */
export function decodeChecked(
  chunks: Iterable<Uint8Array>,
  options: { byteOrder: ByteOrder | "auto"; limits: FrameLimits },
): DecodeOutcome {
  const decoder = new FrameDecoder(options);
  const { limits } = options;
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    let got: DecodeResult;
    try {
      got = decoder.decode(chunk);
    } catch (e) {
      throw new Error(`decoder threw: ${(e as Error)?.message ?? e}`);
    }
    if (got.error && !(got.error instanceof ProtocolError)) throw new Error("non-protocol error");
    for (const frame of got.frames) {
      const { action, length } = frame.header;
      if (typeof action !== "string" || action === "") throw new Error("frame without action");
      if (!Number.isInteger(length) || length < 0 || length > limits.maxBodyBytes) {
        throw new Error(`frame with bad length ${length}`);
      }
      if (frame.body.byteLength !== length) {
        throw new Error(`body of ${frame.body.byteLength} bytes, header says ${length}`);
      }
      frames.push(frame);
    }
    if (got.error) return { frames, error: got.error.reason };
    const bound = 4 + limits.maxHeaderBytes + limits.maxBodyBytes + chunk.byteLength;
    if (decoder.bufferedBytes > bound) {
      throw new Error(`decoder buffers ${decoder.bufferedBytes} bytes (bound ${bound})`);
    }
  }
  return { frames, error: undefined };
}

/**
 * True when two decodings of one stream agree: the same error (or none) and the same frames, also
 * with an error (every frame completed before the bad bytes is returned, however the stream was
 * cut).
 */
export function sameOutcome(a: DecodeOutcome, b: DecodeOutcome): boolean {
  if (a.error !== b.error || a.frames.length !== b.frames.length) return false;
  for (let i = 0; i < a.frames.length; i++) {
    const f = a.frames[i];
    const g = b.frames[i];
    if (JSON.stringify(f.header) !== JSON.stringify(g.header) || !equalBytes(f.body, g.body)) {
      return false;
    }
  }
  return true;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Concatenates byte arrays. */
export const concat = concatBytes;

/**
 * One decoder fuzz case: a stream from the corpus (mutated or not), decoded once whole and once
 * in random chunks under random limits and byte order; both must agree and keep the contract.
 * Returns the chunked outcome, for statistics.
 */
export function decoderCase(rng: Prng, corpus: readonly CorpusRequest[]): DecodeOutcome {
  const order: ByteOrder = rng.chance(0.8) ? "le" : "be";
  const policy = rng.chance(0.3) ? "auto" : order;
  const limits: FrameLimits = rng.chance(0.5)
    ? { minHeaderBytes: 2, maxHeaderBytes: 64 * 1024, maxBodyBytes: 1024 * 1024 }
    : { minHeaderBytes: 2, maxHeaderBytes: 16 + rng.int(200), maxBodyBytes: rng.int(300) };
  const stream = rng.chance(0.05)
    ? rng.bytes(rng.int(256))
    : fuzzStream(rng, corpus, "DZC_9001", order);
  const options = { byteOrder: policy, limits } as const;
  const whole = decodeChecked([stream], options);
  const pieces = decodeChecked(randomChunks(rng, stream), options);
  if (!sameOutcome(whole, pieces)) {
    throw new Error(
      `chunked decoding differs: whole ${whole.frames.length} frames/${whole.error}, ` +
        `chunked ${pieces.frames.length} frames/${pieces.error}`,
    );
  }
  return pieces;
}
