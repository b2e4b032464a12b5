/**
 * The payment-server call outbox: one call per order, written with the order, claimed under a
 * lease by the caller (src/integrations/payment_server.ts), cancelled when the order settles.
 *
 * @module
 */
import { countRows, type Queryable } from "./database.ts";

/** A payment-server call to make now. */
export interface DueCall {
  orderId: number;
  code: string;
  amount: string;
  openId: string;
  uniqueId: string;
  attempts: number;
}

/**
 * Claims up to `limit` due calls of pending, unexpired orders: each gets its attempt counted and
 * its next attempt pushed to `leaseUntil`, so that another worker (or this one after a crash)
 * takes it up only once that lease is over. A due call whose order was settled or expired
 * meanwhile is cancelled instead. One statement that reads only the calls it takes: a backlog
 * of thousands (the payment server away for an hour) costs a claim no more than an empty one.
 */
export async function claimDueCalls(
  db: Queryable,
  at: Date,
  leaseUntil: Date,
  limit: number,
): Promise<DueCall[]> {
  return await db.query<DueCall & Record<string, unknown>>(
    `with due as (
       select c.order_id, (o.state = 'pending' and o.expires_at > $1) as live
       from payment_calls c join orders o on o.id = c.order_id
       where c.state = 'pending' and c.next_attempt_at <= $1
       order by c.next_attempt_at limit $3
       for update of c skip locked),
     cancelled as (
       update payment_calls c set state = 'cancelled', updated_at = $1
       from due where c.order_id = due.order_id and not due.live)
     update payment_calls c set attempts = c.attempts + 1, next_attempt_at = $2, updated_at = $1
     from due, orders o
     where c.order_id = due.order_id and due.live and o.id = c.order_id
     returning c.order_id as "orderId", o.code, o.amount::text as amount, o.open_id as "openId",
       o.unique_id as "uniqueId", c.attempts`,
    [at, leaseUntil, limit],
  );
}

/** Records that the payment server accepted the call: it is never made again. */
export async function markCallSent(db: Queryable, orderId: number, at: Date): Promise<void> {
  await db.query(
    `update payment_calls set state = 'sent', last_error = '', updated_at = $2
     where order_id = $1 and state = 'pending'`,
    [orderId, at],
  );
}

/** Records a failed attempt and when to try again. */
export async function markCallFailed(
  db: Queryable,
  orderId: number,
  error: string,
  at: Date,
  retryAt: Date,
): Promise<void> {
  await db.query(
    `update payment_calls set last_error = $2, next_attempt_at = $4, updated_at = $3
     where order_id = $1 and state = 'pending'`,
    [orderId, error.slice(0, 500), at, retryAt],
  );
}

/** When the next pending call is due, if any. */
export async function nextCallDue(db: Queryable): Promise<Date | undefined> {
  const rows = await db.query<{ at: Date | null }>(
    "select min(next_attempt_at) as at from payment_calls where state = 'pending'",
  );
  return rows[0]?.at ?? undefined;
}

/** The state of an order's payment-server call (for tests and the admin view). */
export async function callState(
  db: Queryable,
  orderId: number,
): Promise<{ state: string; attempts: number; lastError: string } | undefined> {
  const rows = await db.query<{ state: string; attempts: number; lastError: string }>(
    `select state, attempts, last_error as "lastError" from payment_calls where order_id = $1`,
    [orderId],
  );
  return rows[0];
}

/** Pending payment-server calls (outbox depth, for metrics). */
export function pendingCallCount(db: Queryable): Promise<number> {
  return countRows(db, "payment_calls", "state = 'pending'");
}

/** Cancels the order's pending call (the order settled or expired). */
export function cancelCall(tx: Queryable, orderId: number, at: Date) {
  return tx.query(
    `update payment_calls set state = 'cancelled', updated_at = $2
     where order_id = $1 and state = 'pending'`,
    [orderId, at],
  );
}
