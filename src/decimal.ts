/**
 * Exact decimal numbers for money and quantities: parsed from what a device sends into scaled
 * integers (bigint), computed on, and formatted back. No binary floating point in between.
 *
 * A JSON number from a device arrives as a JS number; its shortest round-trip text (`String(n)`)
 * is the literal the device wrote for any value with up to 15 significant digits, so that text is
 * what gets parsed.
 *
 * @module
 */

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** A value that is not an acceptable decimal; the message is meant for the device. */
export class DecimalError extends Error {
  /** @param message reason */
  constructor(message: string) {
    super(message);
    this.name = "DecimalError";
  }
}

// A number as JSON or JavaScript writes it: an exponent is allowed (`1e-7`, `1.5E+300`).
const NUMBER = /^(-)?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

// Beyond any double (1e308, 5e-324): such a text is not a number a device could mean.
const MAX_EXPONENT = 400;

/**
 * The plain decimal text of a JSON value (number or numeric string), or undefined if it is
 * neither. An exponent is written out: `1e-7` → `"0.0000001"`, `1e21` → `"1000…0"`, so that the
 * caller refuses it for its real reason (too many decimals, too large).
 */
export function decimalText(value: unknown): string | undefined {
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    text = String(value);
  } else if (typeof value === "string") text = value.trim();
  else return undefined;
  const m = NUMBER.exec(text);
  if (!m) return undefined;
  const [, minus = "", whole, fraction = "", exponent] = m;
  if (exponent === undefined) return text;
  const shift = Number(exponent);
  if (Math.abs(shift) > MAX_EXPONENT) return undefined;
  const digits = whole + fraction;
  const point = whole.length + shift;
  const plain = point <= 0
    ? `0.${"0".repeat(-point)}${digits}`
    : point >= digits.length
    ? digits + "0".repeat(point - digits.length)
    : `${digits.slice(0, point)}.${digits.slice(point)}`;
  return minus + plain.replace(/^0+(?=\d)/, "");
}

/**
 * Parses decimal text into an integer of `scale` decimal places: `toScaled("1.5", 2)` is `150n`.
 * More decimals than `scale` is an error unless they are zeros.
 */
export function toScaled(text: string, scale: number): bigint {
  const m = DECIMAL.exec(text.trim());
  if (!m) throw new DecimalError(`not a decimal number: ${JSON.stringify(text)}`);
  const [, minus, whole, fraction = ""] = m;
  const significant = fraction.replace(/0+$/, "");
  if (significant.length > scale) {
    throw new DecimalError(`${text} has more than ${scale} decimal places`);
  }
  const units = BigInt(whole + significant.padEnd(scale, "0"));
  return minus ? -units : units;
}

/** Formats a scaled integer with exactly `scale` decimals: `fromScaled(150n, 2)` is `"1.50"`. */
export function fromScaled(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  const text = scale === 0
    ? digits
    : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  return negative ? `-${text}` : text;
}

/** Divides by 10^`places`, rounding half away from zero (commercial rounding). */
export function roundScaled(units: bigint, places: number): bigint {
  if (places <= 0) return units;
  const divisor = 10n ** BigInt(places);
  const half = divisor / 2n;
  return units >= 0n ? (units + half) / divisor : -((-units + half) / divisor);
}

/** Drops trailing fractional zeros: `"12.000"` → `"12"`, `"1.250"` → `"1.25"`. */
export function trimZeros(text: string): string {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

/** The number of decimal places written in a decimal text (`"5.240"`: 3). */
export function scaleOf(text: string): number {
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

/** Exact comparison of two decimal texts: negative, zero or positive. */
export function compareDecimal(a: string, b: string): number {
  const scale = Math.max(scaleOf(a), scaleOf(b));
  const d = toScaled(a, scale) - toScaled(b, scale);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
