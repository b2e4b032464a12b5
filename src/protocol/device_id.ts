/**
 * Device identities (`equipId`): `TYPE_ID`, e.g. `DZBQ_0001`. The type prefix tells what the
 * device is (PROTOCOL.md §1–4).
 *
 * @module
 */

/** Type prefixes the appliance treats specially. */
export const DEVICE_KINDS = {
  DZBQ: "shelf label (电子价签)",
  DZC: "scale (电子秤)",
  AGV: "restocking cart (AGV小车)",
  POS: "self-checkout terminal (收银台)",
  PRN: "receipt printer",
} as const;

const EQUIP_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/**
 * The kind of a device: its identity's prefix before the first `_` (`DZBQ`), or `OTHER` when it
 * has none. Returns `undefined` for an identity that is not acceptable (see {@link equipIdProblem}:
 * empty, longer than 64 characters, characters outside letters, digits and `_ . : -`, or a prefix
 * that is not upper case).
 *
 * @example
 * ```ts
 * deviceKind("DZC_0001"); // "DZC"
 * ```
 */
export function deviceKind(equipId: string): string | undefined {
  if (equipIdProblem(equipId) !== undefined) return undefined;
  const underscore = equipId.indexOf("_");
  return underscore > 0 ? equipId.slice(0, underscore) : "OTHER";
}

/**
 * Why an identity is not acceptable, or `undefined` when it is. A kind prefix must be upper case:
 * `dzc_x1` would otherwise be a second device beside `DZC_x1`, and one whose kind (scale, by its
 * prefix) and behaviour (normal orders, by the exact `DZC_` test) disagree (issue 10).
 *
 * @example
 * ```ts
 * equipIdProblem("pos_x1"); // "the kind prefix must be upper case: POS_x1"
 * ```
 */
export function equipIdProblem(equipId: string): string | undefined {
  if (!EQUIP_ID.test(equipId)) return "use TYPE_ID, e.g. DZBQ_0001";
  const underscore = equipId.indexOf("_");
  const prefix = underscore > 0 ? equipId.slice(0, underscore) : "";
  if (prefix !== prefix.toUpperCase()) {
    return `the kind prefix must be upper case: ${prefix.toUpperCase()}${
      equipId.slice(underscore)
    }`;
  }
  return undefined;
}

/** Whether a device of this identity is a scale (scale orders are weighed, PROTOCOL.md §3). */
export function isScale(equipId: string): boolean {
  return equipId.startsWith("DZC_");
}
