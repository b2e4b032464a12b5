/**
 * Configuration keys: price integrity (price parity with the shelf labels, scale barcodes). Part
 * of `CONFIG_SPEC` (spec.ts).
 *
 * @module
 */
import { describe, fail, field, oneOf, seconds } from "./parsers.ts";
import { DEFAULT_SCALE_RULES, ruleProblem, type ScaleBarcodeRule } from "../scale_barcode.ts";

/** Reads `scaleBarcodes`: a JSON array of `{"prefix", "pluDigits", "kind"}` (also as text). */
function scaleRules(v: unknown): ScaleBarcodeRule[] {
  let value = v;
  if (typeof v === "string") {
    try {
      value = JSON.parse(v);
    } catch {
      fail(`must be a JSON array of rules, got ${describe(v)}`);
    }
  }
  if (!Array.isArray(value)) return fail(`must be an array of rules, got ${describe(v)}`);
  return value.map((item, i) => {
    if (typeof item !== "object" || item === null) fail(`rule ${i} must be an object`);
    const { prefix, pluDigits, kind } = item as Record<string, unknown>;
    const rule = { prefix, pluDigits, kind } as ScaleBarcodeRule;
    const problem = typeof prefix === "string" ? ruleProblem(rule) : "prefix must be text";
    if (problem) fail(`rule ${i}: ${problem}`);
    return rule;
  });
}

/** Price parity and scale barcodes. */
export const PRICE_KEYS = {
  priceParity: field({
    env: "NEWRETAIL_PRICE_PARITY",
    default: "lowest" as "lowest" | "current",
    parse: oneOf("lowest", "current"),
    doc:
      "lowest: while a shelf label still shows a lower, older price, tills are told and charged that price; current: always the current price.",
  }),
  priceParityMaxS: field({
    env: "NEWRETAIL_PRICE_PARITY_MAX_S",
    default: 86400,
    parse: seconds(1),
    doc:
      "Seconds after a price change during which a label that has not confirmed it holds the price down; after that it is reported (log, metrics) and no longer does.",
  }),
  scaleBarcodes: field({
    env: "NEWRETAIL_SCALE_BARCODES",
    default: DEFAULT_SCALE_RULES.map((r) => ({ ...r })) as ScaleBarcodeRule[],
    parse: scaleRules,
    doc:
      'Variable-measure EAN-13 rules, e.g. [{"prefix":"21","pluDigits":5,"kind":"amount"}] (total in fen) and kind "weight" (grams); [] for none.',
  }),
};
