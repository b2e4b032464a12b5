/**
 * Reads of the console's views that belong to no other store module: the shelf's negative stock,
 * the open refill jobs with their goods, goods names by id, and labels per base station.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** A goods whose stock in a warehouse is below zero; the quantity as the column holds it. */
export interface NegativeStockRow {
  goodsId: number;
  name: string;
  quantity: string;
  weighed: boolean;
}

/** Goods whose stock in warehouse `warehouseCode` is below zero, by goods id. */
export function negativeStockIn(
  db: Queryable,
  warehouseCode: string,
): Promise<NegativeStockRow[]> {
  return db.query<NegativeStockRow & Record<string, unknown>>(
    `select g.id as "goodsId", g.name, s.quantity::text as quantity, g.weighed
     from stock s join warehouses w on w.id = s.warehouse_id join goods g on g.id = s.goods_id
     where w.code = $1 and s.quantity < 0 order by g.id`,
    [warehouseCode],
  );
}

/** An open refill job with its goods' name; the quantity as the column holds it. */
export interface OpenRefillJob {
  id: number;
  goodsId: number;
  name: string;
  reason: string;
  /** The AGV that took it, null while none has. */
  equipId: string | null;
  attempts: number;
  lastError: string;
  /** Quantity to bring, when known. */
  quantity: string | null;
  weighed: boolean;
}

/** The first 200 open refill jobs, oldest first. */
export function openRefillJobs(db: Queryable): Promise<OpenRefillJob[]> {
  return db.query<OpenRefillJob & Record<string, unknown>>(
    `select j.id, j.goods_id as "goodsId", g.name, j.reason, j.equip_id as "equipId", j.attempts,
       coalesce(j.last_error, '') as "lastError", j.quantity::text as quantity, g.weighed
     from refill_jobs j join goods g on g.id = j.goods_id where j.state = 'open' order by j.id
     limit 200`,
  );
}

/** The names of goods `ids` (unknown ids are left out). */
export async function goodsNames(db: Queryable, ids: number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.query<{ id: number; name: string }>(
    "select id, name from goods where id = any($1::int[])",
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** Labels per serving base station (the Devices view and the base-station alert). */
export async function labelsPerStation(db: Queryable): Promise<Map<string, number>> {
  const rows = await db.query<{ equip_id: string; n: number }>(
    `select d.equip_id, count(*)::int as n from label_devices d
     join label_bindings b on b.mac = d.mac group by d.equip_id`,
  );
  return new Map(rows.map((r) => [r.equip_id, r.n]));
}
