/**
 * Variable-measure EAN-13 codes printed by scales (PROTOCOL.md §6 "Scale barcodes"): a prefix,
 * the goods' PLU, the total in fen or the weight in grams, and the check digit. Pure.
 *
 * @module
 */

/** What the embedded value is: a total in fen (`amount`) or a weight in grams (`weight`). */
export type ScaleValueKind = "amount" | "weight";

/** One rule: codes starting with `prefix`, then `pluDigits` digits of PLU, then the value. */
export interface ScaleBarcodeRule {
  prefix: string;
  pluDigits: number;
  kind: ScaleValueKind;
}

/** The default rules: `21` + PLU + total in fen, `22` + PLU + weight in grams. */
export const DEFAULT_SCALE_RULES: readonly ScaleBarcodeRule[] = [
  { prefix: "21", pluDigits: 5, kind: "amount" },
  { prefix: "22", pluDigits: 5, kind: "weight" },
];

/** A scanned scale code. */
export interface ScaleReading {
  code: string;
  plu: number;
  kind: ScaleValueKind;
  /** Two decimals (`amount`, yuan) or three (`weight`, kg), as exact text. */
  value: string;
}

/**
 * The EAN-13 check digit of 12 digits.
 *
 * @example
 * ```ts
 * ean13CheckDigit("210000101280"); // 9
 * ```
 */
export function ean13CheckDigit(first12: string): number {
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(first12[i]) * (i % 2 ? 3 : 1);
  return (10 - (sum % 10)) % 10;
}

/** Why a rule cannot work (lengths that do not leave room for a value), or undefined. */
export function ruleProblem(rule: ScaleBarcodeRule): string | undefined {
  if (!/^\d{1,4}$/.test(rule.prefix)) return "prefix must be 1 to 4 digits";
  if (!Number.isInteger(rule.pluDigits) || rule.pluDigits < 1) {
    return "pluDigits must be a whole number >= 1";
  }
  const valueDigits = 12 - rule.prefix.length - rule.pluDigits;
  if (valueDigits < 3 || valueDigits > 7) {
    return "prefix + pluDigits must leave 3 to 7 value digits";
  }
  if (rule.kind !== "amount" && rule.kind !== "weight") return 'kind must be "amount" or "weight"';
  return undefined;
}

function decimal(digits: string, scale: number): string {
  const n = digits.replace(/^0+(?=\d)/, "").padStart(scale + 1, "0");
  return `${n.slice(0, -scale)}.${n.slice(-scale)}`;
}

/**
 * Reads `code` by the first rule whose prefix it has; undefined when it is not 13 digits, no rule
 * matches, or the check digit is wrong (a misread is not a sale).
 *
 * @example
 * ```ts
 * parseScaleBarcode("2100001012809", DEFAULT_SCALE_RULES);
 * // { code: "2100001012809", plu: 1, kind: "amount", value: "12.80" }
 * parseScaleBarcode("2200001005006", DEFAULT_SCALE_RULES);
 * // { code: "2200001005006", plu: 1, kind: "weight", value: "0.500" }
 * ```
 */
export function parseScaleBarcode(
  code: string,
  rules: readonly ScaleBarcodeRule[],
): ScaleReading | undefined {
  if (!/^\d{13}$/.test(code)) return undefined;
  const rule = rules.find((r) => code.startsWith(r.prefix));
  if (!rule) return undefined;
  if (ean13CheckDigit(code.slice(0, 12)) !== Number(code[12])) return undefined;
  const pluStart = rule.prefix.length;
  const valueStart = pluStart + rule.pluDigits;
  const plu = Number(code.slice(pluStart, valueStart));
  const digits = code.slice(valueStart, 12);
  const value = decimal(digits, rule.kind === "amount" ? 2 : 3);
  return { code, plu, kind: rule.kind, value };
}

/**
 * Builds a code (the examples of docs/try-it.md, tests).
 *
 * @example
 * ```ts
 * scaleBarcode({ prefix: "22", pluDigits: 5, kind: "weight" }, 1, 500); // "2200001005006"
 * ```
 */
export function scaleBarcode(rule: ScaleBarcodeRule, plu: number, units: number): string {
  const valueDigits = 12 - rule.prefix.length - rule.pluDigits;
  const first12 = rule.prefix + String(plu).padStart(rule.pluDigits, "0") +
    String(units).padStart(valueDigits, "0");
  if (first12.length !== 12) throw new RangeError(`PLU ${plu} or value ${units} too long`);
  return first12 + ean13CheckDigit(first12);
}
