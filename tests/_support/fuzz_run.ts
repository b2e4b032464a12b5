/**
 * Fuzz drivers shared by `tests/fuzz_test.ts` (fixed seeds, seconds) and `bench/fuzz.ts` (the
 * long run): the decoder in-process, and the running appliance over real TCP — fuzzed bodies on a
 * logged-in connection, hostile streams on connections of their own — while a normal device keeps
 * checking that its answers stay right.
 *
 * @module
 */
import { decodeText, encodeBody, type JsonObject } from "../../src/protocol/body.ts";
import { encodeFrame, type Frame, FrameDecoder } from "../../src/protocol/frame.ts";
import { DeviceClient } from "../../src/device/client.ts";
import {
  BODY_ACTIONS,
  type CorpusRequest,
  decoderCase,
  fuzzStream,
  fuzzStreamParts,
  mutateBytes,
  mutateJson,
  Prng,
  randomChunks,
  requestCorpus,
} from "./fuzz.ts";

/** Counts of one decoder run: inputs, and how they ended. */
export interface DecoderFuzzStats {
  inputs: number;
  frames: number;
  /** Protocol error reason (or `none`) → inputs. */
  outcomes: Record<string, number>;
}

/** Runs `inputs` decoder cases from `seed`. Throws on the first broken property, naming the case. */
export function runDecoderFuzz(seed: number, inputs: number): DecoderFuzzStats {
  const corpus = requestCorpus();
  const stats: DecoderFuzzStats = { inputs: 0, frames: 0, outcomes: {} };
  for (let i = 0; i < inputs; i++) {
    // One PRNG per case: a failure is replayed from (seed, i) alone.
    const rng = new Prng(seed ^ Math.imul(i + 1, 0x9e3779b1));
    let outcome;
    try {
      outcome = decoderCase(rng, corpus);
    } catch (e) {
      throw new Error(`decoder fuzz case seed=${seed} i=${i}: ${(e as Error).message}`);
    }
    stats.inputs++;
    stats.frames += outcome.frames.length;
    const key = outcome.error ?? "none";
    stats.outcomes[key] = (stats.outcomes[key] ?? 0) + 1;
  }
  return stats;
}

/** Replies that mean the server itself failed, not that the input was refused. */
const SERVER_FAILURES = new Set(["internal error", "request timed out, try again later"]);

/** Reads a reply body (UTF-8, or GBK for shelf labels) as a JSON object; throws when it is not. */
export function replyObject(frame: Frame): JsonObject {
  if (frame.body.byteLength === 0) return {};
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(frame.body);
  } catch {
    text = decodeText(frame.body, "gbk");
  }
  const value = JSON.parse(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${frame.header.action} body is not an object: ${text.slice(0, 80)}`);
  }
  return value;
}

const SERVER_PUSHES = new Set(["sendGoods", "sendPayResult", "sendPosition"]);

/** Checks a reply the way a device would; throws naming the request when it is wrong. */
function checkReply(request: string, frame: Frame): void {
  const action = frame.header.action;
  if (!action.endsWith("Return") && action !== "health") {
    throw new Error(`reply to ${request} is a ${action}`);
  }
  if (action === "health" || action === "loginReturn" || action === "healthReturn") return;
  const body = replyObject(frame);
  if (typeof body.exception !== "string") {
    throw new Error(`${action} to ${request} has no exception string`);
  }
  if (SERVER_FAILURES.has(body.exception)) {
    throw new Error(`${action} to ${request}: the server failed: ${body.exception}`);
  }
}

/** What a TCP fuzz run did. */
export interface TcpFuzzStats {
  bodies: number;
  bodyExceptions: number;
  streams: number;
  streamReplies: number;
  normalRequests: number;
}

/** Options of {@link runTcpFuzz}. */
export interface TcpFuzzOptions {
  port: number;
  seed: number;
  /** Fuzzed bodies sent on one logged-in connection. */
  bodies: number;
  /** Hostile streams, each on a connection of its own. */
  streams: number;
  /** Streams in flight at once. */
  concurrency?: number;
  /** A stream's connection must be closed by the server within this after the stream is sent. */
  streamTimeoutMs?: number;
  /** Called now and then with the progress so far. */
  onProgress?: (stats: TcpFuzzStats) => void;
}

const encoder = new TextEncoder();

/**
 * Fuzzes a running appliance over TCP while a normal device (`POS_8001`) asks the same questions
 * over and over and checks the answers do not change. Throws on the first wrong reply, hang or
 * crash (a crashed server closes the normal device).
 */
export async function runTcpFuzz(options: TcpFuzzOptions): Promise<TcpFuzzStats> {
  const { port, seed } = options;
  const corpus = requestCorpus();
  const stats: TcpFuzzStats = {
    bodies: 0,
    bodyExceptions: 0,
    streams: 0,
    streamReplies: 0,
    normalRequests: 0,
  };
  const normal = await DeviceClient.login({ host: "127.0.0.1", port, equipId: "POS_8001" });
  const fuzzer = await DeviceClient.login({ host: "127.0.0.1", port, equipId: "DZC_8002" });
  let stop = false;
  let failure: Error | undefined;
  const fail = (e: unknown) => {
    failure ??= e instanceof Error ? e : new Error(String(e));
    stop = true;
  };
  try {
    const expected = await normalAnswers(normal);
    const normalLoop = (async () => {
      let n = 0;
      while (!stop) {
        const got = await normalAnswers(normal, `normal-${seed}-${n++}`);
        if (got.goods !== expected.goods || got.page !== expected.page) {
          throw new Error(
            `the normal device got a different answer while fuzzing: ${JSON.stringify(got)}, ` +
              `expected ${JSON.stringify(expected)}`,
          );
        }
        stats.normalRequests += 3;
      }
    })().catch(fail);

    const bodyLoop = (async () => {
      const rng = new Prng(seed);
      for (let i = 0; i < options.bodies && !stop; i++) {
        const request = rng.pick(corpus.filter((r) => BODY_ACTIONS.includes(r.action as never)));
        const bytes = fuzzedBody(rng, request, i);
        const reply = await fuzzer.request(request.action, bytes, { timeoutMs: 15_000 });
        checkReply(`${request.action} ${preview(bytes)}`, reply);
        if (replyObject(reply).exception !== "") stats.bodyExceptions++;
        stats.bodies++;
        if (stats.bodies % 5000 === 0) options.onProgress?.(stats);
      }
    })().catch(fail);

    const streamLoop = (async () => {
      let next = 0;
      const worker = async () => {
        while (!stop && next < options.streams) {
          const i = next++;
          const rng = new Prng(seed ^ Math.imul(i + 1, 0x27d4eb2d));
          const replies = await hostileStream(
            port,
            rng,
            corpus,
            `DZC_9${String(i % 1000).padStart(3, "0")}`,
            options.streamTimeoutMs ?? 10_000,
          ).catch((e) => {
            throw new Error(`stream seed=${seed} i=${i}: ${(e as Error).message}`);
          });
          stats.streamReplies += replies;
          stats.streams++;
          if (stats.streams % 1000 === 0) options.onProgress?.(stats);
        }
      };
      await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
    })().catch(fail);

    await Promise.all([bodyLoop, streamLoop]);
    stop = true;
    await normalLoop;
    if (failure) throw failure;
    // After the storm, the normal device is still logged in and right.
    const after = await normalAnswers(normal, `normal-${seed}-after`);
    if (after.goods !== expected.goods || after.page !== expected.page) {
      throw new Error("the normal device got a different answer after fuzzing");
    }
    return stats;
  } finally {
    await normal.close();
    await fuzzer.close();
  }
}

/** The normal device's questions: a barcode look-up, a catalogue page and (with `ref`) a receipt. */
async function normalAnswers(
  device: DeviceClient,
  ref?: string,
): Promise<{ goods: string; page: string }> {
  const goods = await device.request("getGoods", { code: requestCorpus()[1].body.code as string });
  const page = await device.request("getAllGoods", { ost: 0, lmt: 5 });
  if (ref) {
    const receipt = await device.request("stockGoods", {
      whid: 2,
      ref,
      goods: [{ gid: 4, qty: 1 }],
    });
    if (receipt.json?.exception !== "" || !/^\d+$/.test(String(receipt.json?.picking_id))) {
      throw new Error(`the normal device's receipt failed: ${JSON.stringify(receipt.json)}`);
    }
  }
  // Stock changes with the receipts (ours and the fuzzer's); compare everything else.
  return {
    goods: JSON.stringify(stripStock(goods.json)),
    page: JSON.stringify(stripStock(page.json)),
  };
}

function stripStock(body: JsonObject | null): unknown {
  const goods = (body?.goods ?? []) as JsonObject[];
  return { ...body, goods: goods.map(({ stock: _, ...rest }) => rest) };
}

function fuzzedBody(rng: Prng, request: CorpusRequest, i: number): Uint8Array {
  let body = request.body;
  // Fresh refs, so that most receipts are booked rather than found again.
  if (request.action === "stockGoods" && rng.chance(0.7)) body = { ...body, ref: `fz-${i}` };
  const roll = rng.int(10);
  if (roll < 6) return encoder.encode(JSON.stringify(mutateJson(rng, body)));
  if (roll < 9) return mutateBytes(rng, encodeBody(body));
  return rng.bytes(rng.int(64));
}

function preview(bytes: Uint8Array): string {
  return JSON.stringify(new TextDecoder().decode(bytes.subarray(0, 120)));
}

/**
 * Sends one hostile stream on a connection of its own, in random pieces, then half-closes and
 * reads until the server closes. Every reply must be well formed. Returns the replies read.
 */
async function hostileStream(
  port: number,
  rng: Prng,
  corpus: readonly CorpusRequest[],
  equipId: string,
  timeoutMs: number,
): Promise<number> {
  const order = rng.chance(0.85) ? "le" : "be";
  // A quarter of the streams go one part at a time with a pause, so that the frames before a bad
  // one are answered before it arrives as well as together with it (both are answered).
  const interactive = rng.chance(0.25);
  const parts = interactive
    ? fuzzStreamParts(rng, corpus, equipId, order)
    : [fuzzStream(rng, corpus, equipId, order)];
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const exchange = (async () => {
      const reading = readReplies(conn, order);
      try {
        for (const part of parts) {
          for (const chunk of randomChunks(rng, part, 64)) await conn.write(chunk);
          if (interactive) await new Promise((r) => setTimeout(r, 20));
        }
        await conn.closeWrite();
      } catch {
        // the server closed on a protocol error while we were still writing
      }
      return await reading;
    })();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the server did not close within ${timeoutMs} ms (hang)`)),
        timeoutMs,
      );
    });
    return await Promise.race([exchange, timeout]);
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}

async function readReplies(conn: Deno.Conn, order: "le" | "be"): Promise<number> {
  const decoder = new FrameDecoder({
    byteOrder: order,
    limits: { minHeaderBytes: 2, maxHeaderBytes: 1 << 20, maxBodyBytes: 16 << 20 },
  });
  const buffer = new Uint8Array(16 * 1024);
  let replies = 0;
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch {
      return replies; // reset by the server: closed
    }
    if (n === null) return replies;
    for (const frame of decoder.push(buffer.subarray(0, n))) {
      // Server pushes (PROTOCOL.md §4) may arrive at any time: a fuzzed stock receipt changes
      // stock, which every scale (these streams log in as DZC_…) is sent as sendGoods.
      if (SERVER_PUSHES.has(frame.header.action)) continue;
      checkReply("a hostile stream", frame);
      replies++;
    }
  }
}

/** Encodes a login frame (for tests that speak raw bytes). */
export function loginFrame(equipId: string, order: "le" | "be" = "le"): Uint8Array {
  return encodeFrame({ action: "login", equipId }, new Uint8Array(), order);
}
