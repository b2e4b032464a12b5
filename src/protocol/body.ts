/**
 * Frame bodies: JSON objects as UTF-8 text, or as GBK for the shelf labels' displays
 * (PROTOCOL.md §1). Pure.
 *
 * @module
 */
import iconv from "iconv-lite";

/** Text encoding of a body on the wire. */
export type BodyEncoding = "utf8" | "gbk";

/** A JSON object body. */
export type JsonObject = Record<string, unknown>;

/** A body that could not be read as a JSON object; answered with an `exception`, never fatal. */
export class BodyError extends Error {
  /** @param message the reason, sent to the device */
  constructor(message: string) {
    super(message);
    this.name = "BodyError";
  }
}

const utf8Encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Serialises a body. `null` is the empty body (0 bytes), which some replies must be.
 *
 * @example
 * ```ts
 * encodeBody({ exception: "", goods: [{ name: "红富士苹果" }] }, "gbk"); // GBK bytes
 * ```
 */
export function encodeBody(body: JsonObject | null, encoding: BodyEncoding = "utf8"): Uint8Array {
  if (body === null) return new Uint8Array(0);
  const text = JSON.stringify(body);
  if (encoding === "gbk") {
    const buf = iconv.encode(text, "gbk");
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return utf8Encoder.encode(text);
}

/**
 * Reads a request body: empty (or only whitespace) is `{}`; otherwise strict UTF-8 holding a JSON
 * object. Throws {@link BodyError} with a reason a device operator can act on.
 */
export function decodeBody(bytes: Uint8Array): JsonObject {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new BodyError("body is not valid UTF-8");
  }
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BodyError("body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BodyError("body is not a JSON object");
  }
  return value as JsonObject;
}

/** Decodes body text in the given encoding (for clients and tests reading replies). */
export function decodeText(bytes: Uint8Array, encoding: BodyEncoding = "utf8"): string {
  return encoding === "gbk" ? iconv.decode(bytes, "gbk") : new TextDecoder().decode(bytes);
}
