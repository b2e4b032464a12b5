/**
 * Payment orders (PROTOCOL.md §3–5): creation with lines and the payment-server call in one
 * transaction, settlement (paid/failed/expired, once), the payment-call outbox, the results owed
 * to devices, and the store's door session. Money and quantities stay exact decimal text.
 *
 * @module
 */
import type { Database, Queryable } from "./database.ts";
import { isUniqueViolation } from "./database.ts";
import { newOrderCode } from "../payment/order_code.ts";

/** Order states. */
export type OrderState = "pending" | "paid" | "failed" | "expired";

/** Order kinds: a scale's orders are weighed goods (kg). */
export type OrderKind = "normal" | "scale";

/** An order as stored. */
export interface OrderRecord {
  id: number;
  code: string;
  equipId: string;
  uniqueId: string;
  terminalOrderId: string;
  kind: OrderKind;
  /** The server's total, two decimals. */
  amount: string;
  deviceTotal: string;
  state: OrderState;
  openId: string;
  payUrl: string;
  settledBy: string | null;
  createdAt: Date;
  expiresAt: Date;
}

/** A priced line of a new order. */
export interface OrderLineDraft {
  goodsId: number;
  name: string;
  unitPrice: string;
  quantity: string;
  amount: string;
}

/** A new order, priced and validated by the caller. */
export interface OrderDraft {
  equipId: string;
  uniqueId: string;
  terminalOrderId: string;
  kind: OrderKind;
  amount: string;
  deviceTotal: string;
  shopId: string;
  lines: OrderLineDraft[];
  createdAt: Date;
  expiresAt: Date;
  /** Builds the payment URL from the order code (known only inside the transaction). */
  payUrl(code: string): string;
}

const ORDER_FIELDS = `o.id, o.code, o.equip_id as "equipId", o.unique_id as "uniqueId",
  o.terminal_order_id as "terminalOrderId", o.kind, o.amount::text as amount,
  o.device_total as "deviceTotal", o.state, o.open_id as "openId", o.pay_url as "payUrl",
  o.settled_by as "settledBy", o.created_at as "createdAt", o.expires_at as "expiresAt"`;

type OrderRow = OrderRecord & Record<string, unknown>;

/** The device's order with this terminal order number, if any. */
export async function findTerminalOrder(
  db: Queryable,
  equipId: string,
  terminalOrderId: string,
): Promise<OrderRecord | undefined> {
  const rows = await db.query<OrderRow>(
    `select ${ORDER_FIELDS} from orders o where o.equip_id = $1 and o.terminal_order_id = $2`,
    [equipId, terminalOrderId],
  );
  return rows[0];
}

/** The order with this code, if any. */
export async function findOrderByCode(
  db: Queryable,
  code: string,
): Promise<OrderRecord | undefined> {
  const rows = await db.query<OrderRow>(`select ${ORDER_FIELDS} from orders o where o.code = $1`, [
    code,
  ]);
  return rows[0];
}

/**
 * An order code: UTC `yyMMddHHmmss` and three digits of a database sequence, 15 digits in all.
 * Fifteen digits survive a cloud that sends the code back as a JSON number; the time part keeps
 * codes distinct from an earlier database's (a reinstalled appliance) at the payment server.
 */
export function orderCode(at: Date, sequence: number): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${p(at.getUTCFullYear() % 100)}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}` +
    `${p(at.getUTCHours())}${p(at.getUTCMinutes())}${p(at.getUTCSeconds())}`;
  return stamp + String(sequence % 1000).padStart(3, "0");
}

/** The outcome of {@link createOrder}: the order, and whether this call created it. */
export interface CreatedOrder {
  order: OrderRecord;
  created: boolean;
}

/**
 * Stores a pending order, its lines and its payment-server call in one transaction; the store's
 * current customer (door session) becomes the order's openId. When the device already has an
 * order with this terminal number, that order is returned instead (`created: false`).
 */
export async function createOrder(db: Database, draft: OrderDraft): Promise<CreatedOrder> {
  for (let attempt = 0;; attempt++) {
    try {
      return await db.transaction((tx) => insertOrder(tx, draft));
    } catch (e) {
      // Another order drew the same random code (one in 10^12 for a thousand orders): draw again.
      if (isUniqueViolation(e) && attempt < 3 && /code/.test(String((e as Error).message))) {
        continue;
      }
      throw e;
    }
  }
}

async function insertOrder(tx: Queryable, draft: OrderDraft): Promise<CreatedOrder> {
  const code = newOrderCode();
  // A concurrent identical request waits on the unique key here, then finds nothing inserted.
  const inserted = await tx.query<{ id: number }>(
    `insert into orders (code, equip_id, unique_id, terminal_order_id, kind, amount, device_total,
       open_id, pay_url, created_at, expires_at)
     values ($1, $2, $3, $4, $5, $6::numeric, $7,
       coalesce((select open_id from door_sessions where shop_id = $8), ''), $9, $10, $11)
     on conflict (equip_id, terminal_order_id) do nothing returning id`,
    [
      code,
      draft.equipId,
      draft.uniqueId,
      draft.terminalOrderId,
      draft.kind,
      draft.amount,
      draft.deviceTotal,
      draft.shopId,
      draft.payUrl(code),
      draft.createdAt,
      draft.expiresAt,
    ],
  );
  if (inserted.length === 0) {
    const order = await findTerminalOrder(tx, draft.equipId, draft.terminalOrderId);
    return { order: order!, created: false };
  }
  const id = inserted[0].id;
  await tx.query(
    `insert into order_lines (order_id, line_no, goods_id, name, unit_price, quantity,
       quantity_text, amount)
     select $1, n, g, nm, p::numeric, q::numeric, q, a::numeric
     from unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[])
       with ordinality as l(g, nm, p, q, a, n)`,
    [
      id,
      draft.lines.map((l) => l.goodsId),
      draft.lines.map((l) => l.name),
      draft.lines.map((l) => l.unitPrice),
      draft.lines.map((l) => l.quantity),
      draft.lines.map((l) => l.amount),
    ],
  );
  await tx.query(
    `insert into payment_calls (order_id, next_attempt_at, updated_at) values ($1, $2, $2)`,
    [id, draft.createdAt],
  );
  const order = await tx.query<OrderRow>(`select ${ORDER_FIELDS} from orders o where o.id = $1`, [
    id,
  ]);
  return { order: order[0], created: true };
}

/** One receipt line (PROTOCOL.md §4 printList). */
export interface ReceiptLine {
  name: string;
  /** The quantity as the device wrote it. */
  count: string;
  /** Unit price, two decimals. */
  price: string;
  /** Line amount, two decimals. */
  total: string;
}

/** The lines of an order, in the device's order. */
export function orderLines(db: Queryable, orderId: number): Promise<ReceiptLine[]> {
  return db.query<ReceiptLine & Record<string, unknown>>(
    `select name, quantity_text as count, unit_price::text as price, amount::text as total
     from order_lines where order_id = $1 order by line_no`,
    [orderId],
  );
}

/** How an order was settled. */
export interface Settlement {
  outcome: "paid" | "failed";
  /** `mqtt` (the payment server's cloud) or `device` (makePayment). */
  by: "mqtt" | "device";
  at: Date;
  /** Free text for the operator (the cloud's result value). */
  detail?: string;
  /** Whether the device that created the order is to be sent `sendPayResult`. */
  notifyDevice: boolean;
}

/** The outcome of {@link settleOrder}. */
export interface SettledOrder {
  order: OrderRecord;
  /** False when the order was already in a final state for this outcome (a duplicate). */
  changed: boolean;
  /** The state before. */
  previous: OrderState;
}

/**
 * Marks an order paid or failed, once. A pending order takes either outcome. A payment that
 * arrives after the order failed or expired is still recorded as paid (the customer's money was
 * taken; the shop must see it); a paid order never changes again. The result owed to the device
 * and the cancellation of a pending payment-server call are written in the same transaction.
 */
export async function settleOrder(
  db: Database,
  orderId: number,
  settlement: Settlement,
): Promise<SettledOrder | undefined> {
  return await db.transaction(async (tx) => {
    const current = await tx.query<OrderRow>(
      `select ${ORDER_FIELDS} from orders o where o.id = $1 for update`,
      [orderId],
    );
    if (current.length === 0) return undefined;
    const before = current[0];
    const allowed = settlement.outcome === "paid"
      ? before.state !== "paid"
      : before.state === "pending";
    if (!allowed) return { order: before, changed: false, previous: before.state };
    await tx.query(
      `update orders set state = $2, settled_by = $3, settled_detail = $4, settled_at = $5
       where id = $1`,
      [orderId, settlement.outcome, settlement.by, settlement.detail ?? "", settlement.at],
    );
    await cancelCall(tx, orderId, settlement.at);
    if (settlement.notifyDevice) {
      await owePayResult(tx, {
        orderId,
        equipId: before.equipId,
        result: settlement.outcome === "paid" ? "success" : "error",
        reason: settlement.outcome === "paid" ? "" : "payment failed",
        at: settlement.at,
      });
    }
    return {
      order: { ...before, state: settlement.outcome, settledBy: settlement.by },
      changed: true,
      previous: before.state,
    };
  });
}

/**
 * Expires the pending orders whose time is up: each becomes `expired`, its payment-server call is
 * cancelled, and an `error` result is owed to its device. Returns the expired orders.
 */
export async function expireDueOrders(
  db: Database,
  at: Date,
  limit = 500,
): Promise<{ id: number; code: string; equipId: string }[]> {
  return await db.transaction(async (tx) => {
    const expired = await tx.query<{ id: number; code: string; equipId: string }>(
      `update orders set state = 'expired', settled_by = 'expiry', settled_at = $1
       where id in (select id from orders where state = 'pending' and expires_at <= $1
         order by expires_at limit $2 for update skip locked)
       returning id, code, equip_id as "equipId"`,
      [at, limit],
    );
    for (const order of expired) {
      await cancelCall(tx, order.id, at);
      await owePayResult(tx, {
        orderId: order.id,
        equipId: order.equipId,
        result: "error",
        reason: "order expired",
        at,
      });
    }
    return expired;
  });
}

/** When the next pending order expires, if any. */
export async function nextExpiry(db: Queryable): Promise<Date | undefined> {
  const rows = await db.query<{ at: Date | null }>(
    "select min(expires_at) as at from orders where state = 'pending'",
  );
  return rows[0]?.at ?? undefined;
}

// ---------------------------------------------------------------------------------------------
// Payment-server calls (outbox)

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
 * takes it up only once that lease is over. Calls of orders that were settled or expired are
 * cancelled on the way.
 */
export async function claimDueCalls(
  db: Database,
  at: Date,
  leaseUntil: Date,
  limit: number,
): Promise<DueCall[]> {
  return await db.transaction(async (tx) => {
    await tx.query(
      `update payment_calls c set state = 'cancelled', updated_at = $1
       from orders o where o.id = c.order_id and c.state = 'pending'
         and (o.state <> 'pending' or o.expires_at <= $1)`,
      [at],
    );
    return await tx.query<DueCall & Record<string, unknown>>(
      `update payment_calls c set attempts = c.attempts + 1, next_attempt_at = $2, updated_at = $1
       from orders o
       where o.id = c.order_id and c.order_id in (
         select order_id from payment_calls where state = 'pending' and next_attempt_at <= $1
         order by next_attempt_at limit $3 for update skip locked)
       returning c.order_id as "orderId", o.code, o.amount::text as amount, o.open_id as "openId",
         o.unique_id as "uniqueId", c.attempts`,
      [at, leaseUntil, limit],
    );
  });
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
export async function pendingCallCount(db: Queryable): Promise<number> {
  const rows = await db.query<{ n: number }>(
    "select count(*)::int as n from payment_calls where state = 'pending'",
  );
  return rows[0].n;
}

function cancelCall(tx: Queryable, orderId: number, at: Date) {
  return tx.query(
    `update payment_calls set state = 'cancelled', updated_at = $2
     where order_id = $1 and state = 'pending'`,
    [orderId, at],
  );
}

// ---------------------------------------------------------------------------------------------
// Results owed to devices (sendPayResult)

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

function owePayResult(
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
export async function owedResultCount(db: Queryable): Promise<number> {
  const rows = await db.query<{ n: number }>(
    "select count(*)::int as n from pay_results where not delivered",
  );
  return rows[0].n;
}

// ---------------------------------------------------------------------------------------------
// Door session

/** Remembers `openId` as the store's current customer (a newer open replaces an older one). */
export async function openDoorSession(
  db: Queryable,
  shopId: string,
  openId: string,
  at: Date,
): Promise<void> {
  await db.query(
    `insert into door_sessions (shop_id, open_id, opened_at) values ($1, $2, $3)
     on conflict (shop_id) do update set open_id = excluded.open_id, opened_at = excluded.opened_at`,
    [shopId, openId, at],
  );
}

/** Ends the store's door session. */
export async function closeDoorSession(db: Queryable, shopId: string): Promise<void> {
  await db.query("delete from door_sessions where shop_id = $1", [shopId]);
}

/** The store's current customer's openId, or "" when the door session is closed. */
export async function currentCustomer(db: Queryable, shopId: string): Promise<string> {
  const rows = await db.query<{ openId: string }>(
    `select open_id as "openId" from door_sessions where shop_id = $1`,
    [shopId],
  );
  return rows[0]?.openId ?? "";
}

// ---------------------------------------------------------------------------------------------
// Catalogue prices

/** What pricing needs of a goods. */
export interface PricedGoods {
  id: number;
  name: string;
  /** Sale price, two decimals. */
  price: string;
  weighed: boolean;
}

/** The active goods among `ids`. */
export function pricedGoods(db: Queryable, ids: number[]): Promise<PricedGoods[]> {
  return db.query<PricedGoods & Record<string, unknown>>(
    "select id, name, price::text as price, weighed from goods where active and id = any($1::int[])",
    [ids],
  );
}
