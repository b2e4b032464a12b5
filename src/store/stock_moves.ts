/**
 * The stock ledger (migration 008): every stock change is a move (goods, from, to, quantity,
 * reason, reference), and the `stock` table is the sum of the moves. Sales take goods off the
 * shelf warehouse when an order becomes paid, refills move them from the stock room to the shelf,
 * receipts bring them in, adjustments (inventory counts) and upstream pulls set them.
 *
 * @module
 */
import { countRows, type Database, type Queryable } from "./database.ts";
import { UserError } from "../errors.ts";
import { requireWholePieces } from "../fields.ts";

/** Why stock moved. */
export type MoveReason = "sale" | "receipt" | "refill" | "adjustment" | "upstream";

/** One move as stored. */
export interface StockMove {
  id: number;
  goodsId: number;
  /** Warehouse code the goods left, null: from outside the store. */
  from: string | null;
  /** Warehouse code the goods went to, null: out of the store (a customer, a count). */
  to: string | null;
  /** Exact decimal text, always positive. */
  quantity: string;
  reason: MoveReason;
  reference: string;
  note: string;
  at: Date;
}

/** A move to record: warehouses by id, quantity as exact positive decimal text. */
export interface NewMove {
  goodsId: number;
  fromWarehouseId: number | null;
  toWarehouseId: number | null;
  quantity: string;
  reason: MoveReason;
  reference: string;
  note?: string;
}

/** The warehouses that hold the shelves and the stock room (configuration). */
export interface StockSettings {
  shelfWarehouse: string;
  stockWarehouse: string;
}

const MOVE_FIELDS = `m.id::int as id, m.goods_id as "goodsId", wf.code as "from", wt.code as "to",
  m.quantity::text as quantity, m.reason, m.reference, m.note, m.created_at as at`;
const MOVE_FROM = `stock_moves m left join warehouses wf on wf.id = m.from_warehouse_id
  left join warehouses wt on wt.id = m.to_warehouse_id`;

type MoveRow = StockMove & Record<string, unknown>;

/** Stores which warehouses are the shelf and the stock room (at start-up, from the config). */
export async function configureStock(db: Queryable, settings: StockSettings): Promise<void> {
  await db.query(
    `update stock_settings set shelf_warehouse = $1, stock_warehouse = $2, updated_at = now()
     where (shelf_warehouse, stock_warehouse) is distinct from ($1, $2)`,
    [settings.shelfWarehouse, settings.stockWarehouse],
  );
}

/**
 * Records moves; the database applies each to `stock` in the same statement. A sale or refill
 * move already recorded for the same reference and goods is skipped (exactly once). Returns how
 * many were recorded.
 */
export async function recordMoves(db: Queryable, moves: NewMove[]): Promise<number> {
  if (moves.length === 0) return 0;
  const rows = await db.query(
    `insert into stock_moves (goods_id, from_warehouse_id, to_warehouse_id, quantity, reason,
       reference, note)
     select g, f, t, q::numeric, r, ref, n
     from unnest($1::int[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[])
       as m(g, f, t, q, r, ref, n)
     on conflict (reference, goods_id) where reason in ('sale', 'refill') do nothing
     returning id::int`,
    [
      moves.map((m) => m.goodsId),
      moves.map((m) => m.fromWarehouseId),
      moves.map((m) => m.toWarehouseId),
      moves.map((m) => m.quantity),
      moves.map((m) => m.reason),
      moves.map((m) => m.reference),
      moves.map((m) => m.note ?? ""),
    ],
  );
  return rows.length;
}

/**
 * Names the reason of the direct `stock` writes that follow in this transaction (an upstream
 * pull writes quantities, not moves): the database records each difference as a move with it.
 */
export async function directStockWrites(
  tx: Queryable,
  reason: MoveReason,
  reference: string,
): Promise<void> {
  await tx.query(
    `select set_config('newretail.stock_reason', $1, true),
       set_config('newretail.stock_reference', $2, true)`,
    [reason, reference],
  );
}

/**
 * Takes a paid order's goods off the shelf: one `sale` move per goods of its lines (weighed goods
 * move their weight), from the shelf warehouse, in the caller's transaction (the one that marks
 * the order paid). Stock may go negative: a paid sale is never refused. Exactly once per order;
 * nothing moves when the shelf warehouse does not exist. Returns the goods ids moved.
 */
export async function takeSoldStock(tx: Queryable, orderId: number): Promise<number[]> {
  const rows = await tx.query<{ goods_id: number }>(
    `insert into stock_moves (goods_id, from_warehouse_id, quantity, reason, reference)
     select l.goods_id, w.id, sum(l.quantity), 'sale', 'order:' || o.code
     from orders o join order_lines l on l.order_id = o.id
     join stock_settings s on true join warehouses w on w.code = s.shelf_warehouse
     where o.id = $1
     group by l.goods_id, w.id, o.code
     on conflict (reference, goods_id) where reason in ('sale', 'refill') do nothing
     returning goods_id`,
    [orderId],
  );
  return rows.map((r) => r.goods_id);
}

/** The stock of one goods in one warehouse. */
export interface WarehouseStock {
  warehouse: string;
  name: string;
  quantity: string;
}

/** A goods' stock per warehouse and its last moves (`stock show`). */
export interface GoodsStock {
  gid: number;
  name: string;
  warehouses: WarehouseStock[];
  moves: StockMove[];
}

/** A goods' stock per warehouse (every warehouse, 0 where it has none) and its last moves. */
export async function goodsStock(db: Queryable, gid: number, lastMoves = 10): Promise<GoodsStock> {
  const goods = await db.query<{ name: string }>("select name from goods where id = $1", [gid]);
  if (goods.length === 0) throw new UserError(`unknown goods: gid ${gid}`);
  const warehouses = await db.query<WarehouseStock & Record<string, unknown>>(
    `select w.code as warehouse, w.name, coalesce(s.quantity, 0)::text as quantity
     from warehouses w left join stock s on s.warehouse_id = w.id and s.goods_id = $1
     order by w.id`,
    [gid],
  );
  const moves = await db.query<MoveRow>(
    `select ${MOVE_FIELDS} from ${MOVE_FROM} where m.goods_id = $1 order by m.id desc limit $2`,
    [gid, lastMoves],
  );
  return { gid, name: goods[0].name, warehouses, moves };
}

/** Moves since a time, oldest first (`stock moves --since`). */
export function movesSince(db: Queryable, since: Date, limit = 1000): Promise<StockMove[]> {
  return db.query<MoveRow>(
    `select ${MOVE_FIELDS} from ${MOVE_FROM} where m.created_at >= $1 order by m.id limit $2`,
    [since, limit],
  );
}

/** An inventory count (`stock adjust`): what is really there, and why it is being set. */
export interface Adjustment {
  gid: number;
  warehouse: string;
  /** The counted quantity, exact decimal text (may be 0). */
  quantity: string;
  note: string;
  /** Who counted ('cli', the admin API's actor). */
  by: string;
}

/**
 * Sets a goods' stock in a warehouse to a counted quantity with one `adjustment` move for the
 * difference (none when it already matches). Returns the move, or null when nothing changed.
 * Throws {@link UserError} for unknown goods or warehouses, a malformed quantity, a missing note.
 */
export function adjustStock(db: Database, adjustment: Adjustment): Promise<StockMove | null> {
  if (adjustment.note.trim() === "") throw new UserError("an adjustment needs a reason");
  if (!/^\d{1,11}(\.\d{1,3})?$/.test(adjustment.quantity)) {
    throw new UserError(
      `the counted quantity must be >= 0 with at most 3 decimals, got ${adjustment.quantity}`,
    );
  }
  return db.transaction(async (tx) => {
    // The goods row is locked so that two counts of the same goods do not both apply.
    const [goods] = await tx.query<{ name: string; weighed: boolean }>(
      "select name, weighed from goods where id = $1 for update",
      [adjustment.gid],
    );
    if (!goods) throw new UserError(`unknown goods: gid ${adjustment.gid}`);
    requireWholePieces(goods, adjustment.quantity, "quantity");
    const [wh] = await tx.query<{ id: number }>("select id from warehouses where code = $1", [
      adjustment.warehouse,
    ]);
    if (!wh) throw new UserError(`unknown warehouse: ${adjustment.warehouse}`);
    const [row] = await tx.query<{ diff: string }>(
      `select ($3::numeric - coalesce((select quantity from stock
         where warehouse_id = $1 and goods_id = $2), 0))::text as diff`,
      [wh.id, adjustment.gid, adjustment.quantity],
    );
    const diff = row.diff;
    if (Number(diff) === 0) return null;
    const negative = diff.startsWith("-");
    const inserted = await tx.query<{ id: number }>(
      `insert into stock_moves (goods_id, from_warehouse_id, to_warehouse_id, quantity, reason,
         reference, note)
       values ($1, $2, $3, abs($4::numeric), 'adjustment', $5, $6) returning id::int`,
      [
        adjustment.gid,
        negative ? wh.id : null,
        negative ? null : wh.id,
        diff,
        `count by ${adjustment.by}`,
        adjustment.note,
      ],
    );
    const [move] = await tx.query<MoveRow>(
      `select ${MOVE_FIELDS} from ${MOVE_FROM} where m.id = $1`,
      [inserted[0].id],
    );
    return move;
  });
}

/** A goods whose stock in a warehouse is below zero (the shelf had more than the system knew). */
export interface NegativeStock {
  gid: number;
  name: string;
  warehouse: string;
  quantity: string;
}

/** Every negative stock row (for /metrics, the status page and the console). */
export function negativeStock(db: Queryable, limit = 100): Promise<NegativeStock[]> {
  return db.query<NegativeStock & Record<string, unknown>>(
    `select s.goods_id as gid, g.name, w.code as warehouse, s.quantity::text as quantity
     from stock s join goods g on g.id = s.goods_id join warehouses w on w.id = s.warehouse_id
     where s.quantity < 0 order by s.goods_id, w.id limit $1`,
    [limit],
  );
}

/** How many stock rows are negative (for metrics). */
export function negativeStockCount(db: Queryable): Promise<number> {
  return countRows(db, "stock", "quantity < 0");
}

/**
 * Stock rows that differ from the sum of their moves (a ledger check; empty when the invariant
 * holds). Each row: goods, warehouse id, the stock table's quantity and the moves' sum.
 */
export function ledgerDifferences(
  db: Queryable,
): Promise<{ gid: number; warehouseId: number; stock: string; moves: string }[]> {
  return db.query(
    `with moved as (
       select goods_id, wh, sum(q) as q from (
         select goods_id, to_warehouse_id as wh, quantity as q from stock_moves
           where to_warehouse_id is not null
         union all
         select goods_id, from_warehouse_id, -quantity from stock_moves
           where from_warehouse_id is not null) m
       group by goods_id, wh)
     select coalesce(s.goods_id, m.goods_id) as gid, coalesce(s.warehouse_id, m.wh) as "warehouseId",
       coalesce(s.quantity, 0)::text as stock, coalesce(m.q, 0)::text as moves
     from stock s full join moved m on m.goods_id = s.goods_id and m.wh = s.warehouse_id
     where coalesce(s.quantity, 0) <> coalesce(m.q, 0)
     order by 1, 2`,
  );
}
