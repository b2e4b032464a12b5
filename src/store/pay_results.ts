/**
 * Results owed to devices (`sendPayResult`, PROTOCOL.md §4): written when an order settles, kept
 * until the device acknowledges that very result.
 *
 * @module
 */
import { countRows, type Queryable } from "./database.ts";

/** A `sendPayResult` not yet acknowledged by its device. */
export interface OwedResult {
  orderId: number;
  code: string;
  equipId: string;
  terminalOrderId: string;
  amount: string;
  result: "success" | "error";
  reason: string;
  attempts: number;
}

/** Owes the device the result of its order, replacing an earlier one. */
export function owePayResult(
  tx: Queryable,
  r: {
    orderId: number;
    equipId: string;
    result: "success" | "error";
    reason: string;
    at: Date;
  },
) {
  // A later result (paid after expiry) replaces an earlier one, delivered or not: the device is
  // told the latest state.
  return tx.query(
    `insert into pay_results (order_id, equip_id, result, reason, created_at)
     values ($1, $2, $3, $4, $5)
     on conflict (order_id) do update set result = excluded.result, reason = excluded.reason,
       delivered = false, attempts = 0, last_error = '', created_at = excluded.created_at,
       delivered_at = null`,
    [r.orderId, r.equipId, r.result, r.reason, r.at],
  );
}

/** The results owed to one device, oldest first. */
export function owedResults(db: Queryable, equipId: string, limit = 100): Promise<OwedResult[]> {
  return db.query<OwedResult & Record<string, unknown>>(
    `select r.order_id as "orderId", o.code, r.equip_id as "equipId",
       o.terminal_order_id as "terminalOrderId", o.amount::text as amount, r.result, r.reason,
       r.attempts
     from pay_results r join orders o on o.id = r.order_id
     where r.equip_id = $1 and not r.delivered order by r.created_at, r.order_id limit $2`,
    [equipId, limit],
  );
}

/**
 * Which of `equipIds` are owed a result (one statement for many: a login storm asks this for
 * thousands of devices, nearly all owed nothing).
 */
export async function devicesOwedAmong(db: Queryable, equipIds: string[]): Promise<Set<string>> {
  const rows = await db.query<{ equipId: string }>(
    `select distinct equip_id as "equipId" from pay_results
     where not delivered and equip_id = any($1::text[])`,
    [equipIds],
  );
  return new Set(rows.map((r) => r.equipId));
}

/** The devices that are owed results. */
export async function devicesOwedResults(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ equipId: string }>(
    `select distinct equip_id as "equipId" from pay_results where not delivered`,
  );
  return rows.map((r) => r.equipId);
}

/**
 * Records the device's acknowledgement of the result it was sent. Only that result: one that
 * replaced it meanwhile (`result` differs) stays owed.
 */
export async function markResultDelivered(
  db: Queryable,
  orderId: number,
  result: string,
  at: Date,
): Promise<void> {
  await db.query(
    `update pay_results set delivered = true, delivered_at = $3, last_error = ''
     where order_id = $1 and result = $2 and not delivered`,
    [orderId, result, at],
  );
}

/** Records an unacknowledged push of a result. */
export async function markResultAttempt(
  db: Queryable,
  orderId: number,
  error: string,
): Promise<void> {
  await db.query(
    "update pay_results set attempts = attempts + 1, last_error = $2 where order_id = $1",
    [orderId, error],
  );
}

/** Results not yet acknowledged (for metrics). */
export function owedResultCount(db: Queryable): Promise<number> {
  return countRows(db, "pay_results", "not delivered");
}
