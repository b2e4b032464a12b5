/**
 * Reading request fields. Devices in the field send numbers as JSON numbers or as text and lists
 * as comma-separated text or arrays; every reader accepts those forms and throws a
 * {@link UserError} naming the field for anything else.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import { type DecimalError, decimalText, toScaled } from "../decimal.ts";

/** Most items one list field may hold. */
export const MAX_LIST_ITEMS = 1000;

const MAX_INT = 2_147_483_647;

// PostgreSQL text cannot hold U+0000: such a value would fail in the database as "internal error".
function withoutNul(text: string, field: string): string {
  if (text.includes("\u0000")) throw new UserError(`${field} contains a NUL character`);
  return text;
}

/** A list of non-empty texts from `"a,b"`, a single number, or a JSON array of texts/numbers. */
export function textList(value: unknown, field: string): string[] {
  let items: unknown[];
  if (typeof value === "string") items = value.split(",");
  else if (typeof value === "number") items = [value];
  else if (Array.isArray(value)) items = value;
  else throw new UserError(`${field} must be text or a list`);
  const texts = items.map((item) => {
    if (typeof item === "string") return withoutNul(item.trim(), field);
    if (typeof item === "number" && Number.isSafeInteger(item)) return String(item);
    throw new UserError(`${field} has an item that is not text: ${JSON.stringify(item)}`);
  }).filter((s) => s !== "");
  if (texts.length === 0) throw new UserError(`${field} is empty`);
  if (texts.length > MAX_LIST_ITEMS) {
    throw new UserError(`${field} has more than ${MAX_LIST_ITEMS} items`);
  }
  return [...new Set(texts)];
}

/** A positive id (1..2^31-1) from a number or digits. */
export function id(value: unknown, field: string): number {
  const n = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_INT) {
    throw new UserError(`${field} must be a positive integer`);
  }
  return n;
}

/** A list of ids. */
export function idList(value: unknown, field: string): number[] {
  return [...new Set(textList(value, field).map((t) => id(t, field)))];
}

/** An optional integer in `min..max`, `fallback` when absent. */
export function optionalInt(
  value: unknown,
  field: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined || value === null || value === "") return fallback;
  const n = typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new UserError(`${field} must be an integer ${min}..${max}`);
  }
  return n;
}

/** A required text of 1..`maxLength` characters (numbers are accepted as their digits). */
export function requiredText(value: unknown, field: string, maxLength = 200): string {
  const text = typeof value === "number" && Number.isSafeInteger(value)
    ? String(value)
    : typeof value === "string"
    ? value.trim()
    : undefined;
  if (text === undefined) throw new UserError(`${field} must be text`);
  if (text === "") throw new UserError(`${field} is required`);
  withoutNul(text, field);
  if (text.length > maxLength) {
    throw new UserError(`${field} is longer than ${maxLength} characters`);
  }
  return text;
}

/** A positive decimal with at most `scale` decimals, as canonical text (exact). */
export function positiveDecimal(value: unknown, field: string, scale: number): string {
  const text = decimalText(value);
  if (text === undefined) throw new UserError(`${field} must be a number`);
  let units: bigint;
  try {
    units = toScaled(text, scale);
  } catch (e) {
    throw new UserError(`${field}: ${(e as DecimalError).message}`);
  }
  if (units <= 0n) throw new UserError(`${field} must be greater than 0`);
  return text;
}
