/**
 * Payment orders (PROTOCOL.md §3–5): creation with lines and the payment-server call in one
 * transaction, and settlement (paid/failed/expired, once), which cancels the call and owes the
 * device its result in the same transaction. Money and quantities stay exact decimal text.
 * The call outbox is `payment_calls.ts`, the owed results `pay_results.ts`.
 *
 * @module
 */
import type { Database, Queryable } from "./database.ts";
import { isUniqueViolation } from "./database.ts";
import { cancelCall } from "./payment_calls.ts";
import { owePayResult } from "./pay_results.ts";
import { newOrderCode } from "./order_code.ts";
import { takeSoldStock } from "./stock_moves.ts";
import { errorMessage } from "../errors.ts";

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
  /** Why this unit price was charged: `current`, or `label AC:… shows 3.50`. */
  priceReason?: string;
}

/** A new order, priced and validated by the caller. */
export interface OrderDraft extends
  Pick<
    OrderRecord,
    "equipId" | "uniqueId" | "terminalOrderId" | "kind" | "amount" | "deviceTotal" | "createdAt"
  > {
  shopId: string;
  lines: OrderLineDraft[];
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

/** The outcome of {@link createOrder}: the order, and whether this call created it. */
export interface CreatedOrder {
  order: OrderRecord;
  created: boolean;
}

/**
 * Stores a pending order, its lines and its payment-server call, all or nothing (one statement:
 * on the embedded database every statement is a trip to its thread, and `getPayInfo` is a till's
 * hottest write); the store's current customer (door session) becomes the order's openId. When
 * the device already has an order with this terminal number, that order is returned instead
 * (`created: false`).
 */
export async function createOrder(db: Queryable, draft: OrderDraft): Promise<CreatedOrder> {
  return (await createOrders(db, [draft]))[0];
}

/**
 * {@link createOrder} for many drafts in one statement and one commit (the tills' orders of a
 * rush, src/payment/order_intake.ts), one result per draft in the drafts' order. All or nothing:
 * a statement that fails stores none of them.
 */
export async function createOrders(
  db: Queryable,
  drafts: readonly OrderDraft[],
): Promise<CreatedOrder[]> {
  for (let attempt = 0;; attempt++) {
    try {
      return await insertOrders(db, drafts);
    } catch (e) {
      // Another order drew the same random code (one in 10^12 for a thousand orders): draw again.
      if (isUniqueViolation(e) && attempt < 3 && /code/.test(errorMessage(e))) {
        continue;
      }
      throw e;
    }
  }
}

async function insertOrders(
  db: Queryable,
  drafts: readonly OrderDraft[],
): Promise<CreatedOrder[]> {
  const codes = drafts.map(() => newOrderCode());
  const lines = drafts.flatMap((d, i) => d.lines.map((line, n) => ({ code: codes[i], n, line })));
  // A concurrent identical request waits on the unique key here, then finds nothing inserted; a
  // draft repeated within the batch is inserted once. The keys are taken in one order, so two
  // batches written at once wait for each other instead of deadlocking. Lines and calls join the
  // inserted orders by code: an order that was not inserted gets neither.
  const inserted = await db.query<OrderRow>(
    `with d as (
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]::timestamptz[],
         $11::text[]::timestamptz[])
         as d(code, equip_id, unique_id, terminal_order_id, kind, amount, device_total, shop_id,
           pay_url, created_at, expires_at)),
     o as (
       insert into orders (code, equip_id, unique_id, terminal_order_id, kind, amount,
         device_total, open_id, pay_url, created_at, expires_at)
       select code, equip_id, unique_id, terminal_order_id, kind, amount::numeric, device_total,
         coalesce((select open_id from door_sessions s where s.shop_id = d.shop_id), ''),
         pay_url, created_at, expires_at
       from d order by equip_id, terminal_order_id
       on conflict (equip_id, terminal_order_id) do nothing
       returning *),
     lines as (
       insert into order_lines (order_id, line_no, goods_id, name, unit_price, quantity,
         quantity_text, amount, price_reason)
       select o.id, l.n, l.g, l.nm, l.p::numeric, l.q::numeric, l.q, l.a::numeric, l.r
       from o join unnest($12::text[], $13::int[], $14::int[], $15::text[], $16::text[],
         $17::text[], $18::text[], $19::text[]) as l(code, n, g, nm, p, q, a, r)
         on l.code = o.code),
     call as (
       insert into payment_calls (order_id, next_attempt_at, updated_at)
       select o.id, o.created_at, o.created_at from o)
     select ${ORDER_FIELDS} from o`,
    [
      codes,
      drafts.map((d) => d.equipId),
      drafts.map((d) => d.uniqueId),
      drafts.map((d) => d.terminalOrderId),
      drafts.map((d) => d.kind),
      drafts.map((d) => d.amount),
      drafts.map((d) => d.deviceTotal),
      drafts.map((d) => d.shopId),
      drafts.map((d, i) => d.payUrl(codes[i])),
      // As text: the PostgreSQL driver does not send an array of dates as one.
      drafts.map((d) => d.createdAt.toISOString()),
      drafts.map((d) => d.expiresAt.toISOString()),
      lines.map((l) => l.code),
      lines.map((l) => l.n + 1),
      lines.map((l) => l.line.goodsId),
      lines.map((l) => l.line.name),
      lines.map((l) => l.line.unitPrice),
      lines.map((l) => l.line.quantity),
      lines.map((l) => l.line.amount),
      lines.map((l) => l.line.priceReason ?? "current"),
    ],
  );
  const byCode = new Map(inserted.map((o) => [o.code, o]));
  return await Promise.all(drafts.map(async (draft, i): Promise<CreatedOrder> => {
    const order = byCode.get(codes[i]);
    if (order) return { order, created: true };
    const earlier = await findTerminalOrder(db, draft.equipId, draft.terminalOrderId);
    return { order: earlier!, created: false };
  }));
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
    // The sale takes its goods off the shelf in the transaction that marks it paid (once).
    if (settlement.outcome === "paid") await takeSoldStock(tx, orderId);
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

/**
 * The appliance's time jumped forward by `byMs` (a clock behind at start was set,
 * src/guarded_clock.ts): what it stamped from `since` on counts short by that much. Pending
 * orders made since keep their whole time to pay, and labels gone stale since keep their whole
 * parity window.
 */
export async function moveClockDeadlines(db: Database, since: Date, byMs: number): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(
      `update orders set expires_at = expires_at + $2 * interval '1 millisecond'
       where state = 'pending' and created_at >= $1`,
      [since, byMs],
    );
    await tx.query(
      `update label_shown set stale_since = stale_since + $2 * interval '1 millisecond'
       where stale_since >= $1`,
      [since, byMs],
    );
  });
}
