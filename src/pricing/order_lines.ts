/**
 * Reading and pricing the lines of a `getPayInfo` request (PROTOCOL.md §3). Pure: exact decimal
 * arithmetic on scaled integers, no binary floating point between the device's numbers and the
 * stored amounts.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import { fromScaled, roundScaled, scaleOf, toScaled } from "../decimal.ts";
import {
  type Fields,
  id,
  MAX_AMOUNT,
  MAX_LIST_ITEMS,
  MONEY_SCALE,
  present,
  quantity,
  QUANTITY_SCALE,
  required,
  requireWholePieces,
} from "../fields.ts";
import type { OrderKind, OrderLineDraft } from "../store/orders.ts";
import type { PricedGoods } from "../store/priced_goods.ts";
import { parseScaleBarcode, type ScaleBarcodeRule, type ScaleReading } from "../scale_barcode.ts";

/** The largest difference between the device's total and the server's, in cents. */
export const PRICE_TOLERANCE_CENTS = 1n;

/** The `exception` of a total that does not match (devices look for this exact text). */
export const ERROR_PRICE = "errorPrice";

/** A line as the device asked for it. */
export interface RequestedLine {
  /** 0 for a scale-barcode line until its PLU is resolved ({@link resolveScaleLines}). */
  gid: number;
  /** Positive decimal text as the device wrote it (kg for weighed goods); "" for a total code. */
  quantity: string;
  /** A `{"code": "<13 digits>"}` line: what the scale printed into the code. */
  scale?: ScaleReading;
}

// A scale weighs (kg); a POS counts. Each accepts the other's field when its own is absent.
function quantityFields(kind: OrderKind): ["weight", "qty"] | ["qty", "weight"] {
  return kind === "scale" ? ["weight", "qty"] : ["qty", "weight"];
}

function scaleLine(
  code: unknown,
  where: string,
  rules: readonly ScaleBarcodeRule[],
): RequestedLine {
  const text = typeof code === "string" ? code.trim() : "";
  const scale = parseScaleBarcode(text, rules);
  if (!scale) {
    throw new UserError(
      `${where}.code ${
        JSON.stringify(code)
      } is not a scale barcode (13 digits, a configured prefix, a valid check digit)`,
    );
  }
  if (toScaled(scale.value, QUANTITY_SCALE) <= 0n) throw new UserError(`${where}.code carries 0`);
  return { gid: 0, quantity: scale.kind === "weight" ? scale.value : "", scale };
}

function objectLines(
  items: unknown[],
  kind: OrderKind,
  rules: readonly ScaleBarcodeRule[],
): RequestedLine[] {
  const [first, second] = quantityFields(kind);
  return items.map((item, i) => {
    const where = `goods[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw new UserError(`${where} must be an object with gid and ${first}`);
    }
    const line = item as Fields;
    if (!present(line.gid) && present(line.code)) return scaleLine(line.code, where, rules);
    const gid = required(line, "gid", id, `${where}.gid`);
    const field = present(line[first]) || !present(line[second]) ? first : second;
    return { gid, quantity: required(line, field, quantity, `${where}.${field}`) };
  });
}

function splitList(value: unknown, field: string): string[] {
  if (typeof value === "number") return [String(value)];
  if (Array.isArray(value)) return value.map((v) => typeof v === "string" ? v.trim() : String(v));
  if (typeof value !== "string") throw new UserError(`${field} must be a list`);
  // Lines may repeat a goods id: unlike look-up lists, these are not de-duplicated.
  return value.split(",").map((s) => s.trim());
}

// The old form: parallel comma-separated lists, {"gid":"1,2","standardPrice":"3.5,2","weight":"0.5,1"}.
function listLines(lists: Fields, kind: OrderKind): RequestedLine[] {
  const gids = required(lists, "gid", splitList, "goods.gid");
  const [first, second] = quantityFields(kind);
  const field = present(lists[first]) || !present(lists[second]) ? first : second;
  const quantities = required(lists, field, splitList, `goods.${field}`);
  if (gids.length !== quantities.length) {
    throw new UserError(
      `goods.gid has ${gids.length} items but goods.${field} has ${quantities.length}`,
    );
  }
  return gids.map((gid, i) => ({
    gid: id(gid, `goods.gid[${i}]`),
    quantity: quantity(quantities[i], `goods.${field}[${i}]`),
  }));
}

/**
 * Reads the `goods` of a `getPayInfo`: an array of `{"gid", "weight"|"qty", …}` objects, the old
 * form of parallel comma-separated lists, or either of those as JSON text. The device's own line
 * prices are not read: the server prices from its catalogue.
 */
export function requestedLines(
  value: unknown,
  kind: OrderKind,
  rules: readonly ScaleBarcodeRule[] = [],
): RequestedLine[] {
  let goods = value;
  if (typeof goods === "string" && /^\s*[[{]/.test(goods)) {
    try {
      goods = JSON.parse(goods);
    } catch {
      throw new UserError("goods is not valid JSON");
    }
  }
  let lines: RequestedLine[];
  if (Array.isArray(goods)) lines = objectLines(goods, kind, rules);
  else if (typeof goods === "object" && goods !== null) {
    lines = listLines(goods as Fields, kind);
  } else throw new UserError("goods must be a list of lines");
  if (lines.length === 0) throw new UserError("goods is empty");
  if (lines.length > MAX_LIST_ITEMS) {
    throw new UserError(`goods has more than ${MAX_LIST_ITEMS} lines`);
  }
  return lines;
}

/**
 * Gives each scale-barcode line the goods of its PLU (`byPlu`: PLU → goods id of the active
 * goods); an unknown PLU is refused.
 */
export function resolveScaleLines(
  lines: RequestedLine[],
  byPlu: Map<number, number>,
): RequestedLine[] {
  return lines.map((line, i) => {
    if (!line.scale) return line;
    const gid = byPlu.get(line.scale.plu);
    if (gid === undefined) {
      throw new UserError(
        `goods[${i}].code ${line.scale.code}: no goods has PLU ${line.scale.plu}`,
      );
    }
    return { ...line, gid };
  });
}

/**
 * A scale code that carries the total: the weight is that total at the current price (what the
 * scale computed, kg to the gram); under price parity (`charged` below `list`) the total is the
 * charged price × that weight, never more than the code says. Amounts in two decimals.
 *
 * @example
 * ```ts
 * embeddedTotal("8.00", "16.00", "12.80"); // { quantity: "0.500", amount: "6.40" }
 * ```
 */
export function embeddedTotal(
  total: string,
  list: string,
  charged: string,
): { quantity: string; amount: string } {
  const embedded = toScaled(total, MONEY_SCALE);
  const listUnits = toScaled(list, MONEY_SCALE);
  if (listUnits <= 0n) return { quantity: "1", amount: fromScaled(embedded, MONEY_SCALE) };
  // grams = total / unit price × 1000, rounded half up; at least one gram.
  const grams = (embedded * 1000n * 2n + listUnits) / (listUnits * 2n);
  const weight = grams > 0n ? grams : 1n;
  const held = roundScaled(toScaled(charged, MONEY_SCALE) * weight, QUANTITY_SCALE);
  return {
    quantity: fromScaled(weight, QUANTITY_SCALE),
    amount: fromScaled(held < embedded ? held : embedded, MONEY_SCALE),
  };
}

/** The server's pricing of an order. */
export interface PricedOrder {
  lines: OrderLineDraft[];
  /** Two decimals. */
  amount: string;
}

/**
 * Prices every line from the catalogue: unit price × quantity, rounded half away from zero to
 * the cent per line; the total is the sum of the lines. Unknown goods or a piece count that is not
 * whole are refused; the total's bounds are {@link requireChargeableTotal}'s.
 */
export function priceLines(requested: RequestedLine[], catalogue: PricedGoods[]): PricedOrder {
  const byId = new Map(catalogue.map((g) => [g.id, g]));
  const unknown = [...new Set(requested.filter((l) => !byId.has(l.gid)).map((l) => l.gid))];
  if (unknown.length > 0) throw new UserError(`unknown goods: gid ${unknown.join(", ")}`);
  let total = 0n;
  const lines = requested.map((line, i) => {
    const goods = byId.get(line.gid)!;
    let quantity = line.quantity;
    let amount: bigint;
    if (line.scale?.kind === "amount") {
      const charged = embeddedTotal(line.scale.value, goods.listPrice ?? goods.price, goods.price);
      quantity = charged.quantity;
      amount = toScaled(charged.amount, MONEY_SCALE);
    } else {
      requireWholePieces(goods, quantity, `goods[${i}]`);
      const units = toScaled(quantity, QUANTITY_SCALE);
      amount = roundScaled(toScaled(goods.price, MONEY_SCALE) * units, QUANTITY_SCALE);
    }
    total += amount;
    return {
      goodsId: goods.id,
      name: goods.name,
      unitPrice: fromScaled(toScaled(goods.price, MONEY_SCALE), MONEY_SCALE),
      quantity,
      amount: fromScaled(amount, MONEY_SCALE),
      priceReason: goods.reason ?? "current",
    };
  });
  return { lines, amount: fromScaled(total, MONEY_SCALE) };
}

/**
 * Refuses an order total (two decimals) that is zero or beyond {@link MAX_AMOUNT}. Checked after
 * the device's total was compared with it: a total that differs is `errorPrice` whatever its size.
 */
export function requireChargeableTotal(total: string): void {
  const units = toScaled(total, MONEY_SCALE);
  if (units <= 0n) throw new UserError("the order total must be greater than 0");
  if (units > BigInt(MAX_AMOUNT) * 10n ** BigInt(MONEY_SCALE)) {
    throw new UserError(`the order total is larger than ${MAX_AMOUNT}`);
  }
}

/**
 * Whether the device's total is within one cent of the server's, compared exactly (a device that
 * sums in floating point may send `5.239999999999999`).
 */
export function totalMatches(device: string, server: string): boolean {
  const scale = Math.max(MONEY_SCALE, scaleOf(device));
  const diff = toScaled(device, scale) - toScaled(server, scale);
  const tolerance = PRICE_TOLERANCE_CENTS * 10n ** BigInt(scale - MONEY_SCALE);
  return (diff < 0n ? -diff : diff) <= tolerance;
}
