/**
 * Odoo's value conventions (tests/fixtures/odoo17/README.md): empty char/text/many2one is `false`
 * (never null or ""); many2one is `[id, "display name"]`; floats are not rounded
 * (`5.1000000000000005`), so money is rounded here, exactly, to the currency's two decimals.
 *
 * @module
 */
import { fromScaled, roundScaled, toScaled } from "../../decimal.ts";
import type { CategoryRow } from "../../store/odoo_catalogue.ts";

/** Text of a char/text/selection/many2one value; `false` and anything else empty is "". */
export function odooText(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && typeof value[1] === "string") return value[1];
  if (typeof value === "number") return String(value);
  return "";
}

/** The id of a many2one value, or null when empty. */
export function odooId(value: unknown): number | null {
  if (Array.isArray(value) && typeof value[0] === "number") return value[0];
  return typeof value === "number" ? value : null;
}

const PLACES = 20;

/**
 * A float from Odoo as exact decimal text with `places` decimals, rounded half away from zero
 * after dropping the binary noise (15 significant digits): 6.3500000000000005 → "6.35",
 * 1.005 → "1.01".
 */
export function odooDecimal(value: unknown, places: number): string {
  const n = typeof value === "number" && Number.isFinite(value) ? value : 0;
  let text = n.toPrecision(15);
  if (/e/i.test(text)) text = Math.abs(n) < 1 ? "0" : n.toFixed(places);
  return fromScaled(roundScaled(toScaled(text, PLACES), PLACES - places), places);
}

/** A product name as devices should show it: Odoo's display name without the "[CODE] " prefix. */
export function goodsName(displayName: unknown, name: unknown, defaultCode: unknown): string {
  const display = odooText(displayName);
  const code = odooText(defaultCode);
  if (display && code && display.startsWith(`[${code}] `)) return display.slice(code.length + 3);
  return display || odooText(name);
}

/** A product.category as read from Odoo. */
export interface CategoryRecord {
  id: number;
  name: string;
  complete_name: string | false;
  parent_id: [number, string] | false;
}

/** A category row of the local store from an Odoo product.category. */
export function toCategory(c: CategoryRecord): CategoryRow {
  return {
    id: c.id,
    name: odooText(c.name),
    completeName: odooText(c.complete_name) || odooText(c.name),
    parentId: odooId(c.parent_id),
  };
}
