/**
 * What a refill job moves (PROTOCOL.md §6 "Refill quantity"): how much it asks the AGV to bring
 * from the stock room to the shelf, and the move once the AGV says it is done — exactly once per
 * job, in the transaction that closes it.
 *
 * The quantity fills the shelf up to its target: the goods' shelf capacity (`positions set
 * --capacity`), else the configured `refillTarget`, else twice the goods' refill threshold; never
 * more than the stock room holds (whole pieces for goods sold by the piece).
 *
 * @module
 */
import type { Database, Queryable } from "./database.ts";

/** The configuration a refill plan reads. */
export interface RefillStockSettings {
  shelfWarehouse: string;
  stockWarehouse: string;
  /** Default threshold (exact decimal text), as in `RefillSettings`. */
  threshold: string;
  /** Default fill-up target; "0": twice the threshold. */
  target: string;
}

/** What to do with an open job now. */
export type RefillPlan =
  | { action: "send"; quantity: string }
  /** Not sent now (nothing in the stock room, no target known): it stays open, visible. */
  | { action: "wait"; reason: string }
  /** Nothing to do: the shelf is at its target already. */
  | { action: "cancel"; reason: string };

interface PlanRow extends Record<string, unknown> {
  found: boolean;
  weighed: boolean;
  shelf_ok: boolean;
  stock_ok: boolean;
  target: string | null;
  shelf: string;
  room: string;
}

/**
 * Plans an open job: the quantity to send, stored on the job (the AGV is told it in
 * `sendPosition`, and it is what moves when the AGV does not say otherwise).
 */
export async function planRefill(
  db: Queryable,
  jobId: number,
  settings: RefillStockSettings,
): Promise<RefillPlan> {
  const [row] = await db.query<PlanRow>(
    `select g.weighed,
       exists (select 1 from warehouses where code = $2) as shelf_ok,
       exists (select 1 from warehouses where code = $3) as stock_ok,
       coalesce(p.shelf_capacity, nullif($5::numeric, 0),
         nullif(2 * coalesce(p.refill_below, $4::numeric), 0))::text as target,
       coalesce((select s.quantity from stock s join warehouses w on w.id = s.warehouse_id
         where w.code = $2 and s.goods_id = j.goods_id), 0)::text as shelf,
       coalesce((select s.quantity from stock s join warehouses w on w.id = s.warehouse_id
         where w.code = $3 and s.goods_id = j.goods_id), 0)::text as room
     from refill_jobs j join goods g on g.id = j.goods_id
     left join goods_positions p on p.goods_id = j.goods_id
     where j.id = $1 and j.state = 'open'`,
    [jobId, settings.shelfWarehouse, settings.stockWarehouse, settings.threshold, settings.target],
  );
  if (!row) return { action: "cancel", reason: "the job is no longer open" };
  if (!row.shelf_ok) {
    return { action: "wait", reason: `no shelf warehouse ${settings.shelfWarehouse}` };
  }
  if (!row.stock_ok) {
    return { action: "wait", reason: `no stock warehouse ${settings.stockWarehouse}` };
  }
  if (row.target === null) {
    return {
      action: "wait",
      reason: "no refill quantity: set the goods' shelf capacity or refillTarget",
    };
  }
  const [q] = await db.query<{ wanted: string; qty: string }>(
    `select ($1::numeric - $2::numeric)::text as wanted,
       (case when $4 then least($1::numeric - $2::numeric, $3::numeric)
        else floor(least($1::numeric - $2::numeric, $3::numeric)) end)::text as qty`,
    [row.target, row.shelf, row.room, row.weighed],
  );
  if (Number(q.wanted) <= 0) {
    return {
      action: "cancel",
      reason: `the shelf holds ${row.shelf}, its target is ${row.target}`,
    };
  }
  if (Number(q.qty) <= 0) {
    return { action: "wait", reason: `no stock in the stock room ${settings.stockWarehouse}` };
  }
  await db.query("update refill_jobs set quantity = $2::numeric where id = $1", [jobId, q.qty]);
  return { action: "send", quantity: trimDecimal(q.qty) };
}

/** "7.000" → "7", "1.250" → "1.25": quantities as a device writes them. */
export function trimDecimal(value: string): string {
  return value.includes(".") ? value.replace(/\.?0+$/, "") : value;
}

/** The outcome of {@link completeRefill}. */
export interface CompletedRefill {
  /** False when the job was no longer open (a duplicate acknowledgement): nothing moved. */
  closed: boolean;
  /** What moved, exact decimal text ("0" when nothing did). */
  moved: string;
}

/**
 * Closes a job acknowledged by an AGV and moves what it brought (`moved`, default the job's
 * quantity) from the stock warehouse to the shelf warehouse, in one transaction, once.
 */
export function completeRefill(
  db: Database,
  jobId: number,
  equipId: string,
  settings: Pick<RefillStockSettings, "shelfWarehouse" | "stockWarehouse">,
  moved?: string,
): Promise<CompletedRefill> {
  return db.transaction(async (tx) => {
    const [job] = await tx.query<{ goods_id: number; qty: string | null }>(
      `update refill_jobs set state = 'done', equip_id = $2, attempts = attempts + 1,
         last_error = null, moved = coalesce($3::numeric, quantity, 0), updated_at = now()
       where id = $1 and state = 'open' returning goods_id, moved::text as qty`,
      [jobId, equipId, moved ?? null],
    );
    if (!job) return { closed: false, moved: "0" };
    const qty = job.qty ?? "0";
    if (Number(qty) > 0) {
      await tx.query(
        `insert into stock_moves (goods_id, from_warehouse_id, to_warehouse_id, quantity, reason,
           reference, note)
         select $1, f.id, t.id, $2::numeric, 'refill', 'refill:' || $3::text, $4
         from warehouses f, warehouses t where f.code = $5 and t.code = $6
         on conflict (reference, goods_id) where reason in ('sale', 'refill') do nothing`,
        [
          job.goods_id,
          qty,
          jobId,
          `by ${equipId}`,
          settings.stockWarehouse,
          settings.shelfWarehouse,
        ],
      );
    }
    return { closed: true, moved: trimDecimal(qty) };
  });
}

/** An open refill job as the console and the status page show it. */
export interface OpenRefill {
  id: number;
  gid: number;
  name: string;
  reason: string;
  /** What it asks to move (null: not planned yet). */
  quantity: string | null;
  attempts: number;
  /** Why it waits or was not acknowledged. */
  lastError: string | null;
  createdAt: Date;
}

/** The open refill jobs with their goods and why they wait, oldest first. */
export function openRefills(db: Queryable, limit = 100): Promise<OpenRefill[]> {
  return db.query<OpenRefill & Record<string, unknown>>(
    `select j.id, j.goods_id as gid, g.name, j.reason, j.quantity::text as quantity, j.attempts,
       j.last_error as "lastError", j.created_at as "createdAt"
     from refill_jobs j join goods g on g.id = j.goods_id
     where j.state = 'open' order by j.id limit $1`,
    [limit],
  );
}
