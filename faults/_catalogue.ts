/**
 * The demo catalogue as the lab's devices sell it (prices in cents, as the appliance's demo data
 * has them), and the random orders they make: lines and the total a device computes.
 *
 * @module
 */
import type { LabLine } from "./_history.ts";

/** A random number in [min, max). */
export const between = (min: number, max: number): number => min + Math.random() * (max - min);
/** One of `items`, at random. */
export const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)];

/** Goods sold by the piece with no shelf label (price parity leaves their price alone). */
export const PIECE_GOODS: Record<number, number> = {
  11: 300,
  12: 380,
  14: 6990,
  15: 1890,
  16: 990,
  17: 1290,
  18: 1150,
  19: 2990,
  20: 590,
};
/** Weighed goods with no label, and weights whose amounts are whole cents. */
export const WEIGHED_GOODS: { gid: number; cents: number; weights: string[] }[] = [
  { gid: 3, cents: 990, weights: ["0.5", "1", "1.5"] },
  { gid: 4, cents: 1580, weights: ["0.25", "0.5", "1"] },
  { gid: 6, cents: 250, weights: ["1.2", "0.4", "2"] },
  { gid: 7, cents: 320, weights: ["0.75", "1.25", "0.5"] },
  { gid: 8, cents: 480, weights: ["0.5", "0.25", "1"] },
];
/** Whole cents as decimal text. */
export function cents(total: number): string {
  return `${Math.floor(total / 100)}.${String(total % 100).padStart(2, "0")}`;
}

/** A random order: lines and the total the device computes (in whole cents). */
export function randomOrder(scale: boolean): { lines: LabLine[]; totalPrice: string } {
  const lines: LabLine[] = [];
  let total = 0;
  const count = 1 + Math.floor(Math.random() * 3);
  for (let i = 0; i < count; i++) {
    if (scale) {
      const goods = pick(WEIGHED_GOODS);
      const weight = pick(goods.weights);
      lines.push({ gid: goods.gid, qty: weight });
      total += Math.round(goods.cents * Number(weight));
    } else {
      const gid = Number(pick(Object.keys(PIECE_GOODS)));
      const qty = 1 + Math.floor(Math.random() * 3);
      lines.push({ gid, qty: String(qty) });
      total += PIECE_GOODS[gid] * qty;
    }
  }
  return { lines, totalPrice: cents(total) };
}
