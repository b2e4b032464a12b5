/**
 * The rows of the console's Stock and AGVs view: positioned goods with their shelf quantity and
 * refill threshold (under threshold, negative), goods whose shelf stock is negative, and the open
 * refill jobs. One file, so that the stock ledger's fields (moves, refill quantities) are wired
 * here without touching the page.
 *
 * @module
 */
import type { Queryable } from "../../store/database.ts";
import { negativeStockIn, type OpenRefillJob, openRefillJobs } from "../../store/console_reads.ts";
import { listPositions } from "../../store/positions.ts";
import { compareDecimal, trimZeros } from "../../decimal.ts";

/**
 * A quantity as the shelf counts it: pieces for piece goods (`21`, not the column's `21.000`),
 * kilograms with three decimals for weighed goods (`1.250 kg`).
 */
export function quantityText(quantity: string, weighed: boolean): string {
  return weighed ? `${quantity} kg` : trimZeros(quantity);
}

/** A positioned goods on the shelf. */
export interface ShelfRow {
  goodsId: number;
  name: string;
  /** Shelf warehouse quantity ({@link quantityText}), null when there is no shelf warehouse. */
  quantity: string | null;
  /** The goods' own threshold or the configured default ("0": none). */
  threshold: string;
  below: boolean;
  negative: boolean;
  /** Where it is on the shop floor (PROTOCOL.md §3): aisle (x), shelf (y), level (z). */
  place: { aisle: string; shelf: string; level: string };
}

/** An open refill job, its quantity to bring as {@link quantityText} shows it. */
export type RefillRow = Omit<OpenRefillJob, "weighed">;

/** The view: shelf rows needing attention first, negative stock, open jobs. */
export interface StockView {
  shelf: ShelfRow[];
  negative: { goodsId: number; name: string; quantity: string }[];
  refillJobs: RefillRow[];
}

/** Where the shelf is and its default threshold. */
export interface StockViewSettings {
  shelfWarehouse: string;
  refillThreshold: string;
}

/** Goods whose shelf stock is below zero (the `stock_negative` alert), {@link quantityText}. */
export async function negativeShelfStock(
  db: Queryable,
  shelfWarehouse: string,
): Promise<{ goodsId: number; name: string; quantity: string }[]> {
  const rows = await negativeStockIn(db, shelfWarehouse);
  return rows.map((r) => ({
    goodsId: r.goodsId,
    name: r.name,
    quantity: quantityText(r.quantity, r.weighed),
  }));
}

/** Reads the view. */
export async function stockView(db: Queryable, settings: StockViewSettings): Promise<StockView> {
  const positions = await listPositions(db, settings.shelfWarehouse);
  const shelf = positions.map((p): ShelfRow => {
    const threshold = p.refillBelow ?? settings.refillThreshold;
    const q = p.shelfQuantity;
    return {
      goodsId: p.gid,
      name: p.name,
      quantity: q === null ? null : quantityText(q, p.weighed),
      threshold: quantityText(threshold, p.weighed),
      below: q !== null && compareDecimal(threshold, "0") > 0 && compareDecimal(q, threshold) < 0,
      negative: q !== null && compareDecimal(q, "0") < 0,
      place: {
        aisle: p.goodsPosition.posx,
        shelf: p.goodsPosition.posy,
        level: p.goodsPosition.posz,
      },
    };
  }).sort((a, b) =>
    Number(b.negative) - Number(a.negative) || Number(b.below) - Number(a.below) ||
    a.goodsId - b.goodsId
  );
  const jobs = await openRefillJobs(db);
  const refillJobs = jobs.map(({ weighed, ...j }): RefillRow => ({
    ...j,
    quantity: j.quantity === null ? null : quantityText(j.quantity, weighed),
  }));
  return { shelf, negative: await negativeShelfStock(db, settings.shelfWarehouse), refillJobs };
}
