/**
 * Reading request fields, one way for every action and for pricing. Devices in the field send
 * numbers as JSON numbers or as text and lists as comma-separated text or arrays; every reader
 * accepts those forms and throws a {@link UserError} naming the field for anything else.
 *
 * A field is absent when it is missing, `null` or `""`: {@link required} answers
 * `"<field> is required"`, {@link optional} gives the fallback.
 *
 * @example
 * ```ts
 * const body = { whid: "2", lmt: 50 };
 * required(body, "whid", id); // 2
 * optional(body, "lmt", int(1, 1000), 150); // 50
 * optional(body, "ost", int(0, MAX_INT), 0); // 0
 * ```
 *
 * @module
 */
import { UserError } from "./errors.ts";
import { type DecimalError, decimalText, toScaled } from "./decimal.ts";

/** Reads one field's value; `field` is the name to put in the answer. */
export type Reader<T> = (value: unknown, field: string) => T;

/** A request body, or one object inside it. */
export type Fields = Readonly<Record<string, unknown>>;

/** The largest integer a database `int` column holds (ids, offsets). */
export const MAX_INT = 2_147_483_647;

/** Most items one list field may hold. */
export const MAX_LIST_ITEMS = 1000;

/** Decimal places of a quantity (grams of weighed goods). */
export const QUANTITY_SCALE = 3;

/** Decimal places of money. */
export const MONEY_SCALE = 2;

/** Largest quantity of one line: far above any delivery, far below the quantity column's range. */
export const MAX_QUANTITY = 1_000_000_000;

/** Largest amount of money (a total): below the money column's range (10 integer digits). */
export const MAX_AMOUNT = 1_000_000_000;

/** Whether a field was given: not missing, `null` or `""`. */
export function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

/** The field read by `read`; `"<name> is required"` when absent. `name` defaults to `field`. */
export function required<T>(body: Fields, field: string, read: Reader<T>, name = field): T {
  const value = body[field];
  if (!present(value)) throw new UserError(`${name} is required`);
  return read(value, name);
}

/** The field read by `read`, or `fallback` when absent. */
export function optional<T>(body: Fields, field: string, read: Reader<T>, fallback: T): T;
/** The field read by `read`, or undefined when absent. */
export function optional<T>(body: Fields, field: string, read: Reader<T>): T | undefined;
export function optional<T>(
  body: Fields,
  field: string,
  read: Reader<T>,
  fallback?: T,
): T | undefined {
  const value = body[field];
  return present(value) ? read(value, field) : fallback;
}

// PostgreSQL text cannot hold U+0000: such a value would fail in the database as "internal error".
function withoutNul(text: string, field: string): string {
  if (text.includes("\u0000")) throw new UserError(`${field} contains a NUL character`);
  return text;
}

/** A positive id (1..2^31-1) from a number or digits. */
export const id: Reader<number> = (value, field) => {
  const n = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_INT) {
    throw new UserError(`${field} must be a positive integer`);
  }
  return n;
};

/** An integer in `min..max` from a number or digits. */
export function int(min: number, max: number): Reader<number> {
  return (value, field) => {
    const n = typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      throw new UserError(`${field} must be an integer ${min}..${max}`);
    }
    return n;
  };
}

/** A text of 1..`maxLength` characters, trimmed (numbers are accepted as their digits). */
export function text(maxLength = 200): Reader<string> {
  return (value, field) => {
    const t = typeof value === "number" && Number.isSafeInteger(value)
      ? String(value)
      : typeof value === "string"
      ? value.trim()
      : undefined;
    if (t === undefined) throw new UserError(`${field} must be text`);
    if (t === "") throw new UserError(`${field} is required`);
    withoutNul(t, field);
    if (t.length > maxLength) {
      throw new UserError(`${field} is longer than ${maxLength} characters`);
    }
    return t;
  };
}

/** A list of distinct non-empty texts from `"a,b"`, a single number, or an array. */
export const textList: Reader<string[]> = (value, field) => {
  if (typeof value === "string" && !value.includes(",")) {
    // One text (a till's scan): the list below without its arrays.
    const one = withoutNul(value.trim(), field);
    if (one === "") throw new UserError(`${field} is empty`);
    return [one];
  }
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
};

/** A list of distinct ids. */
export const idList: Reader<number[]> = (value, field) => [
  ...new Set(textList(value, field).map((t) => id(t, field))),
];

/** A non-empty JSON array of at most {@link MAX_LIST_ITEMS} lines (items are read by the caller). */
export const lineList: Reader<unknown[]> = (value, field) => {
  if (!Array.isArray(value) || value.length === 0) {
    throw new UserError(`${field} must be a non-empty list`);
  }
  if (value.length > MAX_LIST_ITEMS) {
    throw new UserError(`${field} has more than ${MAX_LIST_ITEMS} lines`);
  }
  return value;
};

function decimalOf(value: unknown, field: string): string {
  const t = decimalText(value);
  if (t === undefined) throw new UserError(`${field} must be a number`);
  return t;
}

/**
 * A positive decimal of at most `scale` decimals and at most `max`, as canonical text (exact).
 * Exponent forms (`1e-7`, `1e300`) are numbers too, refused for their real reason.
 */
export function positiveDecimal(scale: number, max: number): Reader<string> {
  return (value, field) => {
    const t = decimalOf(value, field);
    let units: bigint;
    try {
      units = toScaled(t, scale);
    } catch (e) {
      throw new UserError(`${field}: ${(e as DecimalError).message}`);
    }
    if (units <= 0n) throw new UserError(`${field} must be greater than 0`);
    if (units > BigInt(max) * 10n ** BigInt(scale)) {
      throw new UserError(`${field} is larger than ${max}`);
    }
    return t;
  };
}

/** A quantity: positive, at most {@link QUANTITY_SCALE} decimals, at most {@link MAX_QUANTITY}. */
export const quantity: Reader<string> = positiveDecimal(QUANTITY_SCALE, MAX_QUANTITY);

/** Most decimals of an amount a device computed (a float sum such as `5.239999999999999`). */
export const MAX_AMOUNT_DECIMALS = 30;

/**
 * An amount of money as the device computed it: any sign, any size and up to
 * {@link MAX_AMOUNT_DECIMALS} decimals (compared with the server's total, never stored). Its size
 * is not bounded here: a total far beyond {@link MAX_AMOUNT} still differs from the server's, and
 * is answered as a total that differs (PROTOCOL.md §3 `errorPrice`).
 */
export const amount: Reader<string> = (value, field) => {
  const t = decimalOf(value, field);
  const [, fraction = ""] = t.split(".");
  if (fraction.length > MAX_AMOUNT_DECIMALS) {
    throw new UserError(`${field} has more than ${MAX_AMOUNT_DECIMALS} decimal places`);
  }
  return t;
};

/**
 * Refuses a quantity that is not whole for goods sold by the piece (a bottle), with the reason
 * every action gives: `"<where>: <name> is sold by the piece, its quantity must be whole"`.
 */
export function requireWholePieces(
  goods: { name: string; weighed: boolean },
  quantityText: string,
  where: string,
): void {
  if (goods.weighed) return;
  if (toScaled(quantityText, QUANTITY_SCALE) % 10n ** BigInt(QUANTITY_SCALE) !== 0n) {
    throw new UserError(`${where}: ${goods.name} is sold by the piece, its quantity must be whole`);
  }
}
