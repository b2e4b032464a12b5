/**
 * The rows of the outbox of deliveries owed to Odoo (receipts, paid orders, refills; migration
 * 004): listing, counting, claiming under a lease, and recording what an attempt came to. Rows
 * are written by a database trigger in the transaction that books the receipt or marks the order
 * paid, so none is lost to a crash; `src/upstream/odoo/outbox.ts` decides when and how to deliver
 * them.
 *
 * Rows are never deleted. A lease (not a long transaction: PGlite has one connection) keeps two
 * workers from delivering the same row.
 *
 * @module
 */
import type { Database, Queryable } from "./database.ts";

/** Outbox kinds. */
export type OutboxKind = "stock-receipt" | "sale-order" | "refill";

/** One outbox row. */
export interface OutboxRow {
  id: number;
  kind: OutboxKind;
  local_id: number;
  state: "pending" | "delivered" | "failed";
  attempts: number;
  refusals: number;
  next_attempt_at: Date;
  last_error: string;
  odoo_id: number | null;
  odoo_name: string;
  created_at: Date;
  delivered_at: Date | null;
}

const COLUMNS = `id, kind, local_id, state, attempts, refusals, next_attempt_at, last_error,
  odoo_id, odoo_name, created_at, delivered_at`;

/** NOTIFY channel of new outbox rows (migration 004). */
export const OUTBOX_CHANNEL = "newretail_odoo_outbox";

/** Rows for `outbox list`, newest first; all states unless one is given. */
export function listOutbox(
  db: Queryable,
  options: { state?: OutboxRow["state"]; limit?: number } = {},
): Promise<OutboxRow[]> {
  return db.query<OutboxRow & Record<string, unknown>>(
    `select ${COLUMNS} from odoo_outbox where ($1::text is null or state = $1)
     order by id desc limit $2`,
    [options.state ?? null, options.limit ?? 100],
  );
}

/** One row by id. */
export async function getOutboxRow(db: Queryable, id: number): Promise<OutboxRow | undefined> {
  const rows = await db.query<OutboxRow & Record<string, unknown>>(
    `select ${COLUMNS} from odoo_outbox where id = $1`,
    [id],
  );
  return rows[0];
}

/** How many rows are in each state. */
export async function outboxCounts(
  db: Queryable,
): Promise<{ pending: number; failed: number; delivered: number }> {
  const rows = await db.query<{ state: string; n: number }>(
    "select state, count(*)::int as n from odoo_outbox group by state",
  );
  const counts = { pending: 0, failed: 0, delivered: 0 };
  for (const r of rows) counts[r.state as keyof typeof counts] = r.n;
  return counts;
}

/**
 * Puts a parked (or pending) row back in line to be tried now. Returns false for an unknown or
 * already delivered row.
 */
export async function retryOutbox(db: Queryable, id: number): Promise<boolean> {
  const rows = await db.query(
    `update odoo_outbox set state = 'pending', refusals = 0, next_attempt_at = now(),
       lease_until = null, updated_at = now()
     where id = $1 and state <> 'delivered' returning id`,
    [id],
  );
  if (rows.length > 0) await db.query("select pg_notify($1, $2)", [OUTBOX_CHANNEL, `retry:${id}`]);
  return rows.length > 0;
}

/**
 * Makes every pending row due now (Odoo is reachable again: what waited for it goes at once,
 * not after its backoff). Returns how many.
 */
export async function expediteWaiting(db: Queryable): Promise<number> {
  const rows = await db.query(
    `update odoo_outbox set next_attempt_at = now(), updated_at = now()
     where state = 'pending' and next_attempt_at > now() returning id`,
  );
  return rows.length;
}

/** Claims the oldest due row for `leaseMs`, or undefined when none is due. */
export async function claimDue(
  db: Queryable,
  leaseMs: number,
  afterId = 0,
): Promise<OutboxRow | undefined> {
  const rows = await db.query<OutboxRow & Record<string, unknown>>(
    `update odoo_outbox set lease_until = now() + ($1::int * interval '1 millisecond'),
       attempts = attempts + 1, updated_at = now()
     where id = (select id from odoo_outbox
                 where state = 'pending' and next_attempt_at <= now() and id > $2
                   and (lease_until is null or lease_until < now())
                 order by id limit 1 for update skip locked)
     returning ${COLUMNS}`,
    [Math.round(leaseMs), afterId],
  );
  return rows[0];
}

/** Milliseconds until the next pending row is due (undefined: none pending). */
export async function nextDueInMs(db: Queryable): Promise<number | undefined> {
  const rows = await db.query<{ ms: number | null }>(
    `select (extract(epoch from (min(greatest(next_attempt_at, coalesce(lease_until, next_attempt_at)))
       - now())) * 1000)::int as ms
     from odoo_outbox where state = 'pending'`,
  );
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? undefined : Math.max(0, ms);
}

/** The Odoo record a delivered row became. */
export interface DeliveredRecord {
  /** Odoo model (`stock.picking`, `sale.order`). */
  model: string;
  odooId: number;
  /** Odoo's name for it (`WH/IN/00007`, `S00026`). */
  odooName: string;
}

/** Records a delivery and the Odoo id and name it became. */
export async function markDelivered(db: Database, row: OutboxRow, delivered: DeliveredRecord) {
  await db.transaction(async (tx) => {
    await tx.query(
      `update odoo_outbox set state = 'delivered', odoo_id = $2, odoo_name = $3, last_error = '',
         lease_until = null, delivered_at = now(), updated_at = now()
       where id = $1`,
      [row.id, delivered.odooId, delivered.odooName],
    );
    await tx.query(
      `insert into odoo_ids (model, local_id, odoo_id, odoo_name) values ($1, $2, $3, $4)
       on conflict (model, local_id) do update set odoo_id = excluded.odoo_id,
         odoo_name = excluded.odoo_name, updated_at = now()`,
      [delivered.model, row.local_id, delivered.odooId, delivered.odooName],
    );
  });
}

/** What a failed attempt leaves on its row. */
export interface FailedAttempt {
  /** `failed` parks the row until an operator retries it. */
  state: "pending" | "failed";
  refusals: number;
  /** The reason (its first 1000 characters are kept). */
  error: string;
  /** When the row is due again, from now. */
  backoffMs: number;
}

/** Records a failed attempt on row `id`: its reason, refusals, state and next due time. */
export async function recordFailedAttempt(
  db: Queryable,
  id: number,
  attempt: FailedAttempt,
): Promise<void> {
  await db.query(
    `update odoo_outbox set state = $2, refusals = $3, last_error = $4, lease_until = null,
       next_attempt_at = now() + ($5::int * interval '1 millisecond'), updated_at = now()
     where id = $1`,
    [
      id,
      attempt.state,
      attempt.refusals,
      attempt.error.slice(0, 1000),
      Math.round(attempt.backoffMs),
    ],
  );
}

/**
 * Enqueues a delivery for every paid order that has none and was settled while Odoo mode was on
 * (the trigger of migration 004 does it in the order's own transaction; this catches a store
 * whose orders table came after that migration). Returns how many rows it added; 0 without an
 * orders table.
 */
export async function enqueueMissedOrders(db: Queryable): Promise<number> {
  const [exists] = await db.query<{ ok: boolean }>(
    "select to_regclass('orders') is not null as ok",
  );
  if (!exists?.ok) return 0;
  const rows = await db.query(
    `insert into odoo_outbox (kind, local_id)
     select 'sale-order', o.id from orders o, odoo_upstream u
     where u.enabled and o.state = 'paid' and coalesce(o.settled_at, o.created_at) >= u.updated_at
       and not exists (select 1 from odoo_outbox x where x.kind = 'sale-order' and x.local_id = o.id)
     on conflict (kind, local_id) do nothing
     returning id`,
  );
  return rows.length;
}
