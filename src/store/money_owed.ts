/**
 * What the appliance still owes the payment server, the devices (pay results) and Odoo, as the
 * console's Money and upstream view, its alerts and the fleet readings show it, and today's sales
 * of the Overview.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** What is still owed to one upstream. */
export interface OutboxSnapshot {
  depth: number;
  oldestAt: Date | null;
}

/** A payment-server call not yet made. */
export interface PendingCall {
  orderId: number;
  code: string;
  amount: string;
  attempts: number;
  lastError: string;
  createdAt: Date;
}

/** A pay result not yet acknowledged by its device. */
export interface OwedResult {
  orderId: number;
  code: string;
  equipId: string;
  result: string;
  attempts: number;
  lastError: string;
  createdAt: Date;
}

/** An Odoo delivery not yet made (pending, or parked as failed until retried). */
export interface UpstreamDelivery {
  id: number;
  kind: string;
  localId: number;
  state: string;
  attempts: number;
  lastError: string;
  createdAt: Date;
}

/** A paid order whose sale order has not reached Odoo. */
export interface UndeliveredOrder {
  orderId: number;
  code: string;
  amount: string;
  settledAt: Date | null;
  /** The outbox row's state, or null when none was queued. */
  outboxState: string | null;
  lastError: string;
}

/** The Money and upstream view. */
export interface MoneyView {
  paymentCalls: PendingCall[];
  paymentCallCount: number;
  payResults: OwedResult[];
  payResultCount: number;
  deliveries: UpstreamDelivery[];
  deliveryCounts: { pending: number; failed: number };
  /** Only in Odoo mode (null otherwise: nothing is owed upstream). */
  undeliveredOrders: UndeliveredOrder[] | null;
}

/** The paid orders of one hour of the day. */
export interface HourSales {
  /** Hours since the start of the day (0..23; 24 on the day the clocks go back). */
  hour: number;
  orders: number;
  /** Two decimals. */
  amount: string;
}

/** Today's orders by state, the amount paid, and the paid orders per hour (hours without any left out). */
export interface Sales {
  byState: Record<string, { orders: number; amount: string }>;
  paid: string;
  paidByHour: HourSales[];
}

const LIMIT = 50;

/** Reads the view (up to 50 rows of each list, the counts in full). */
export async function moneyView(db: Queryable): Promise<MoneyView> {
  const paymentCalls = await db.query<PendingCall & Record<string, unknown>>(
    `select c.order_id as "orderId", o.code, o.amount::text as amount, c.attempts,
       c.last_error as "lastError", o.created_at as "createdAt"
     from payment_calls c join orders o on o.id = c.order_id where c.state = 'pending'
     order by o.created_at limit $1`,
    [LIMIT],
  );
  const payResults = await db.query<OwedResult & Record<string, unknown>>(
    `select r.order_id as "orderId", o.code, r.equip_id as "equipId", r.result, r.attempts,
       r.last_error as "lastError", r.created_at as "createdAt"
     from pay_results r join orders o on o.id = r.order_id where not r.delivered
     order by r.created_at limit $1`,
    [LIMIT],
  );
  const counts = (await db.query<{ calls: number; results: number }>(
    `select (select count(*)::int from payment_calls where state = 'pending') as calls,
       (select count(*)::int from pay_results where not delivered) as results`,
  ))[0];
  const deliveries = await db.query<UpstreamDelivery & Record<string, unknown>>(
    `select id, kind, local_id as "localId", state, attempts, last_error as "lastError",
       created_at as "createdAt"
     from odoo_outbox where state <> 'delivered' order by (state = 'failed') desc, id limit $1`,
    [LIMIT],
  );
  const deliveryCounts = (await db.query<{ pending: number; failed: number }>(
    `select count(*) filter (where state = 'pending')::int as pending,
       count(*) filter (where state = 'failed')::int as failed from odoo_outbox`,
  ))[0];
  const upstream = (await db.query<{ enabled: boolean }>("select enabled from odoo_upstream"))[0];
  const undeliveredOrders = upstream?.enabled
    ? await db.query<UndeliveredOrder & Record<string, unknown>>(
      `select o.id as "orderId", o.code, o.amount::text as amount, o.settled_at as "settledAt",
         x.state as "outboxState", coalesce(x.last_error, '') as "lastError"
       from orders o left join odoo_outbox x on x.kind = 'sale-order' and x.local_id = o.id
       where o.state = 'paid' and x.state is distinct from 'delivered'
       order by o.settled_at limit $1`,
      [LIMIT],
    )
    : null;
  return {
    paymentCalls,
    paymentCallCount: counts.calls,
    payResults,
    payResultCount: counts.results,
    deliveries,
    deliveryCounts,
    undeliveredOrders,
  };
}

/** Orders created since `since` (the start of the local day), by state, and the amount paid. */
export async function salesSince(db: Queryable, since: Date): Promise<Sales> {
  const rows = await db.query<{ state: string; n: number; amount: string }>(
    `select state, count(*)::int as n, coalesce(sum(amount), 0)::numeric(14, 2)::text as amount from orders
     where created_at >= $1 group by state order by state`,
    [since],
  );
  const byState: Sales["byState"] = {};
  for (const r of rows) byState[r.state] = { orders: r.n, amount: r.amount };
  // Hours counted from `since` itself, not by the database's time zone: the day is the store's.
  const paidByHour = await db.query<HourSales & Record<string, unknown>>(
    `select floor(extract(epoch from (created_at - $1::timestamptz)) / 3600)::int as hour,
       count(*)::int as orders, sum(amount)::numeric(14, 2)::text as amount
     from orders where created_at >= $1 and state = 'paid' group by 1 order by 1`,
    [since],
  );
  return { byState, paid: byState.paid?.amount ?? "0.00", paidByHour };
}

/** The oldest undelivered payment call and Odoo delivery, with the depths (alerts). */
export async function outboxes(
  db: Queryable,
): Promise<{ payment: OutboxSnapshot; odoo: OutboxSnapshot }> {
  const r = (await db.query<{ pn: number; po: Date | null; odn: number; odo: Date | null }>(
    `select (select count(*)::int from payment_calls where state = 'pending') as pn,
       (select min(o.created_at) from payment_calls c join orders o on o.id = c.order_id
         where c.state = 'pending') as po,
       (select count(*)::int from odoo_outbox where state <> 'delivered') as odn,
       (select min(created_at) from odoo_outbox where state <> 'delivered') as odo`,
  ))[0];
  return {
    payment: { depth: r.pn, oldestAt: r.po ? new Date(r.po) : null },
    odoo: { depth: r.odn, oldestAt: r.odo ? new Date(r.odo) : null },
  };
}

/** The payment server as the outbox sees it: failing while pending calls carry an error. */
export async function paymentFailure(db: Queryable): Promise<string | undefined> {
  const rows = await db.query<{ last_error: string }>(
    `select last_error from payment_calls where state = 'pending' and attempts > 0
       and last_error <> '' order by updated_at desc limit 1`,
  );
  return rows[0]?.last_error;
}
