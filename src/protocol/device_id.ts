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
 * The kind of a device: its identity's prefix before the first `_`, upper-cased (`DZBQ`), or
 * `OTHER` when it has none. Returns `undefined` for an identity that is not acceptable (empty,
 * longer than 64 characters, or with characters outside letters, digits and `_ . : -`).
 *
 * @example
 * ```ts
 * deviceKind("DZC_0001"); // "DZC"
 * ```
 */
export function deviceKind(equipId: string): string | undefined {
  if (!EQUIP_ID.test(equipId)) return undefined;
  const underscore = equipId.indexOf("_");
  return underscore > 0 ? equipId.slice(0, underscore).toUpperCase() : "OTHER";
}

/** Whether a device of this identity is a scale (scale orders are weighed, PROTOCOL.md §3). */
export function isScale(equipId: string): boolean {
  return equipId.startsWith("DZC_");
}
