/**
 * Goods positions and AGV refill jobs (PROTOCOL.md §3 getPosition, §4 sendPosition).
 *
 * @module
 */
import { countRows, type Queryable } from "./database.ts";
import { UserError } from "../errors.ts";

/** The NOTIFY channel of new refill jobs; the payload is the job id. */
export const REFILL_JOBS_CHANNEL = "refill_jobs";

/** A place in the store as devices see it: aisle (通道), shelf (货架), height (高度). */
export interface Place {
  posx: string;
  posy: string;
  posz: string;
}

/** Where a goods' stock is kept and the shelf place to refill. */
export interface GoodsPosition {
  gid: number;
  stockPosition: Place;
  goodsPosition: Place;
}

/** How to find a goods: by id or by barcode. */
export type GoodsRef = { gid: number } | { code: string };

interface PositionRow extends Record<string, unknown> {
  gid: number;
  has_position: boolean;
  stock_x: string | null;
  stock_y: string | null;
  stock_z: string | null;
  shelf_x: string | null;
  shelf_y: string | null;
  shelf_z: string | null;
}

/**
 * The position of an active goods. Throws {@link UserError} for unknown goods and for goods
 * without a position (both are answered with an `exception`).
 */
export async function positionOf(db: Queryable, ref: GoodsRef): Promise<GoodsPosition> {
  const where = "gid" in ref ? "g.id = $1" : "g.barcode = $1";
  const rows = await db.query<PositionRow>(
    `select g.id as gid, p.goods_id is not null as has_position, p.stock_x, p.stock_y, p.stock_z,
       p.shelf_x, p.shelf_y, p.shelf_z
     from goods g left join goods_positions p on p.goods_id = g.id
     where g.active and ${where}`,
    ["gid" in ref ? ref.gid : ref.code],
  );
  const label = "gid" in ref ? `gid ${ref.gid}` : `code ${ref.code}`;
  if (rows.length === 0) throw new UserError(`unknown goods: ${label}`);
  const row = rows[0];
  if (!row.has_position) throw new UserError(`no position for goods ${row.gid}`);
  return {
    gid: row.gid,
    stockPosition: { posx: row.stock_x ?? "", posy: row.stock_y ?? "", posz: row.stock_z ?? "" },
    goodsPosition: { posx: row.shelf_x ?? "", posy: row.shelf_y ?? "", posz: row.shelf_z ?? "" },
  };
}

/**
 * Sets a goods' positions (and optionally its own refill threshold and shelf capacity, `null` for
 * the configured default). Throws {@link UserError} for unknown goods.
 */
export async function setPosition(
  db: Queryable,
  gid: number,
  stock: Place,
  shelf: Place,
  refillBelow?: string | null,
  capacity?: string | null,
): Promise<void> {
  const goods = await db.query("select 1 from goods where id = $1", [gid]);
  if (goods.length === 0) throw new UserError(`unknown goods: gid ${gid}`);
  await db.query(
    `insert into goods_positions (goods_id, stock_x, stock_y, stock_z, shelf_x, shelf_y, shelf_z,
       refill_below, shelf_capacity)
     values ($1, $2, $3, $4, $5, $6, $7, $8::numeric, $10::numeric)
     on conflict (goods_id) do update set stock_x = excluded.stock_x, stock_y = excluded.stock_y,
       stock_z = excluded.stock_z, shelf_x = excluded.shelf_x, shelf_y = excluded.shelf_y,
       shelf_z = excluded.shelf_z,
       refill_below = case when $9 then excluded.refill_below else goods_positions.refill_below end,
       shelf_capacity = case when $11 then excluded.shelf_capacity
         else goods_positions.shelf_capacity end,
       updated_at = now()`,
    [
      gid,
      stock.posx,
      stock.posy,
      stock.posz,
      shelf.posx,
      shelf.posy,
      shelf.posz,
      refillBelow ?? null,
      refillBelow !== undefined,
      capacity ?? null,
      capacity !== undefined,
    ],
  );
}

/** A goods' new position, as `positions set` and `POST /api/positions/{gid}` give it. */
export interface PositionChange {
  gid: number;
  stock: Place;
  shelf: Place;
  /** The goods' own refill threshold; null: the configured default; undefined: unchanged. */
  below?: string | null;
  /** The shelf place's capacity; null: the configured default; undefined: unchanged. */
  capacity?: string | null;
}

function placeOf(text: unknown, name: string): Place {
  const parts = (typeof text === "string" ? text : "").split(",").map((s) => s.trim());
  if (parts.length !== 3 || parts.some((p) => p === "" || p.length > 32)) {
    throw new UserError(`${name} must be AISLE,SHELF,HEIGHT (e.g. A3,S2,1), got ${text}`);
  }
  return { posx: parts[0], posy: parts[1], posz: parts[2] };
}

const QUANTITY = /^\d{1,11}(\.\d{1,3})?$/;

/**
 * A position change from its texts (the CLI's flags, the API's JSON fields): `stock` and
 * `shelf` as `AISLE,SHELF,HEIGHT`, `refillBelow` and `capacity` a quantity or `"default"`.
 * Throws {@link UserError} naming the flag that is wrong.
 */
export function positionChange(texts: {
  gid: unknown;
  stock: unknown;
  shelf: unknown;
  refillBelow?: unknown;
  capacity?: unknown;
}): PositionChange {
  const gid = Number(texts.gid);
  if (!Number.isInteger(gid) || gid < 1 || gid > 2 ** 31 - 1) {
    throw new UserError("--gid N is needed");
  }
  const { refillBelow: below, capacity } = texts;
  if (below !== undefined && below !== "default" && !QUANTITY.test(String(below))) {
    throw new UserError(`--refill-below must be a quantity or "default", got ${below}`);
  }
  if (
    capacity !== undefined && capacity !== "default" &&
    !(QUANTITY.test(String(capacity)) && Number(capacity) > 0)
  ) {
    throw new UserError(`--capacity must be a quantity > 0 or "default", got ${capacity}`);
  }
  return {
    gid,
    stock: placeOf(texts.stock, "--stock"),
    shelf: placeOf(texts.shelf, "--shelf"),
    below: below === undefined ? undefined : below === "default" ? null : String(below),
    capacity: capacity === undefined ? undefined : capacity === "default" ? null : String(capacity),
  };
}

/** A position as `positions list` shows it. */
export interface PositionListing extends GoodsPosition {
  name: string;
  /** The goods' own threshold, or null for the configured default. */
  refillBelow: string | null;
  /** Quantity in the shelf warehouse, null when there is no such warehouse. */
  shelfQuantity: string | null;
  /** Sold by weight (quantities in kg) rather than by the piece. */
  weighed: boolean;
}

/** Every goods position, by goods id, with its threshold and shelf quantity. */
export async function listPositions(
  db: Queryable,
  shelfWarehouse: string,
): Promise<PositionListing[]> {
  const rows = await db.query<
    PositionRow & { name: string; below: string | null; qty: string | null; weighed: boolean }
  >(
    `select g.id as gid, g.name, g.weighed, p.stock_x, p.stock_y, p.stock_z, p.shelf_x, p.shelf_y, p.shelf_z,
       p.refill_below::text as below,
       case when exists (select 1 from warehouses where code = $1) then
         coalesce((select s.quantity from stock s join warehouses w on w.id = s.warehouse_id
           where w.code = $1 and s.goods_id = g.id), 0)::text end as qty
     from goods_positions p join goods g on g.id = p.goods_id order by g.id`,
    [shelfWarehouse],
  );
  return rows.map((r) => ({
    gid: r.gid,
    name: r.name,
    stockPosition: { posx: r.stock_x ?? "", posy: r.stock_y ?? "", posz: r.stock_z ?? "" },
    goodsPosition: { posx: r.shelf_x ?? "", posy: r.shelf_y ?? "", posz: r.shelf_z ?? "" },
    refillBelow: r.below,
    shelfQuantity: r.qty,
    weighed: r.weighed,
  }));
}

/** Where shelf stock is and the default threshold (from the configuration). */
export interface RefillSettings {
  /** Code of the shelf warehouse. */
  shelfWarehouse: string;
  /** Default threshold as exact decimal text; "0" means only goods with their own threshold. */
  threshold: string;
}

/**
 * After stock changes: the refill-threshold check of the goods in the CTE named `goods` (a
 * `goods_id` column), as CTEs of the caller's statement. Opens a threshold refill job for each
 * positioned goods whose shelf quantity fell below its threshold (once per fall: the goods is
 * re-armed when the shelf is seen at or above the threshold again); `refill_jobs_opened` returns
 * the new jobs' ids. `warehouse` and `threshold` are the statement's parameters (e.g. `$3`)
 * holding {@link RefillSettings}. Nothing happens when the shelf warehouse does not exist (a
 * catalogue without one must not get a job for every goods). Arming and falling exclude each
 * other (at or above, below), so one statement does both.
 */
export function refillThresholdCtes(goods: string, warehouse: string, threshold: string): string {
  return `shelf as (
       select p.goods_id, coalesce(p.refill_below, ${threshold}::numeric) as threshold,
         coalesce((select s.quantity from stock s where s.goods_id = p.goods_id
           and s.warehouse_id = w.id), 0) as qty
       from goods_positions p join goods g on g.id = p.goods_id and g.active
       join warehouses w on w.code = ${warehouse}
       where p.goods_id in (select goods_id from ${goods})),
     refill_armed as (
       update goods_positions p set refill_armed = true from shelf s
       where p.goods_id = s.goods_id and not p.refill_armed and s.qty >= s.threshold),
     refill_low as (
       update goods_positions p set refill_armed = false from shelf s
       where p.goods_id = s.goods_id and p.refill_armed and s.threshold > 0
         and s.qty < s.threshold
       returning p.goods_id),
     refill_jobs_opened as (
       insert into refill_jobs (goods_id, reason) select goods_id, 'threshold' from refill_low
       on conflict (goods_id) where state = 'open' do nothing
       returning id)`;
}

/**
 * {@link refillThresholdCtes} of the given goods on its own; returns the new jobs' ids. (The push
 * worker's fan-out runs the same check in its own statement.)
 */
export async function checkRefillThresholds(
  db: Queryable,
  goodsIds: number[],
  settings: RefillSettings,
): Promise<number[]> {
  if (goodsIds.length === 0) return [];
  const rows = await db.query<{ id: number }>(
    `with checked as (select unnest($1::int[]) as goods_id),
     ${refillThresholdCtes("checked", "$2", "$3")}
     select id from refill_jobs_opened order by id`,
    [goodsIds, settings.shelfWarehouse, settings.threshold],
  );
  return rows.map((r) => r.id);
}

/** A refill job. */
export interface RefillJob {
  id: number;
  goodsId: number;
  reason: "manual" | "threshold";
  state: "open" | "done" | "cancelled";
  /** The AGV that acknowledged it. */
  equipId: string | null;
  attempts: number;
  lastError: string | null;
}

const JOB_FIELDS = `id, goods_id as "goodsId", reason, state, equip_id as "equipId", attempts,
  last_error as "lastError"`;

/**
 * Opens a manual refill job for a goods (`refill --gid N`), or returns the goods' open job.
 * Throws {@link UserError} for unknown goods and goods without a position.
 */
export async function createRefillJob(
  db: Queryable,
  gid: number,
): Promise<{ job: RefillJob; created: boolean }> {
  await positionOf(db, { gid });
  const inserted = await db.query<RefillJob & Record<string, unknown>>(
    `insert into refill_jobs (goods_id, reason) values ($1, 'manual')
     on conflict (goods_id) where state = 'open' do nothing returning ${JOB_FIELDS}`,
    [gid],
  );
  if (inserted.length > 0) return { job: inserted[0], created: true };
  const open = await db.query<RefillJob & Record<string, unknown>>(
    `select ${JOB_FIELDS} from refill_jobs where goods_id = $1 and state = 'open'`,
    [gid],
  );
  return { job: open[0], created: false };
}

/** One job, or undefined. */
export async function refillJob(db: Queryable, id: number): Promise<RefillJob | undefined> {
  const rows = await db.query<RefillJob & Record<string, unknown>>(
    `select ${JOB_FIELDS} from refill_jobs where id = $1`,
    [id],
  );
  return rows[0];
}

/** How many refill jobs are open (for metrics). */
export function openRefillJobCount(db: Queryable): Promise<number> {
  return countRows(db, "refill_jobs", "state = 'open'");
}

/** Open jobs, oldest first. */
export function openRefillJobs(db: Queryable, limit: number): Promise<RefillJob[]> {
  return db.query<RefillJob & Record<string, unknown>>(
    `select ${JOB_FIELDS} from refill_jobs where state = 'open' order by id limit $1`,
    [limit],
  );
}

/** Records an unacknowledged offer of a job to an AGV. */
export async function recordRefillAttempt(
  db: Queryable,
  id: number,
  error: string,
): Promise<void> {
  await db.query(
    `update refill_jobs set attempts = attempts + 1, last_error = $2, updated_at = now()
     where id = $1`,
    [id, error],
  );
}

/**
 * Records why an open job is not sent now (it waits: no stock in the stock room, …). Returns
 * false when that was already the recorded reason.
 */
export async function noteRefillWait(db: Queryable, id: number, reason: string): Promise<boolean> {
  const rows = await db.query(
    `update refill_jobs set last_error = $2, updated_at = now()
     where id = $1 and state = 'open' and last_error is distinct from $2 returning id`,
    [id, reason],
  );
  return rows.length > 0;
}

/** Cancels an open job (its goods lost its position). */
export async function cancelRefillJob(db: Queryable, id: number, reason: string): Promise<void> {
  await db.query(
    `update refill_jobs set state = 'cancelled', last_error = $2, updated_at = now()
     where id = $1 and state = 'open'`,
    [id, reason],
  );
}
