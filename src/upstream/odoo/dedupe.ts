/**
 * Exactly one Odoo record per local record, even when a `create` call timed out.
 *
 * A timed-out call is not a failed call: Odoo goes on running it and may commit it after the
 * appliance gave up. Looking it up at once finds nothing and makes a second record beside the
 * first (a stray draft picking doubles stock when someone validates it). So after a timeout the
 * delivery waits longer than Odoo's own request limit (`odooRequestLimitS`, Odoo's
 * `limit_time_real`), by which time the first call has either committed or been killed, and only
 * then looks up by reference. If a lookup still finds several records (two appliances' bugs, an
 * operator's copy, a crash at the wrong moment), one is kept — a finished one if any — and the
 * extra drafts are cancelled, with a log line; finished extras cannot be cancelled and are
 * logged as errors for an operator.
 *
 * @module
 */
import { OdooError } from "./jsonrpc.ts";
import type { DeliveryContext } from "./delivery.ts";
import { sleep } from "../../deadline.ts";

/** An Odoo record found by reference. */
export interface FoundRecord {
  id: number;
  name: string;
  state: string;
}

/** How long to wait after a timed-out call before looking it up: past Odoo's request limit. */
export function settleWaitMs(requestLimitMs: number): number {
  return requestLimitMs + Math.min(Math.max(requestLimitMs / 10, 1000), 10_000);
}

/**
 * The one record of `model` matching `domain`: with several, keeps a finished one (`done`
 * states) or else the oldest, and cancels the other drafts (`action_cancel`). Undefined if none.
 */
export async function findOne<T extends FoundRecord>(
  ctx: DeliveryContext,
  model: "stock.picking" | "sale.order",
  domain: unknown[],
  fields: string[],
  finished: readonly string[],
  what: Record<string, unknown>,
): Promise<T | undefined> {
  const found = await ctx.odoo.executeKw<T[]>(model, "search_read", [domain], {
    fields,
    order: "id",
  });
  const live = found.filter((r) => r.state !== "cancel");
  if (found.length <= 1 || live.length <= 1) return live[0] ?? found[0];
  const keep = live.find((r) => finished.includes(r.state)) ?? live[0];
  const extra = live.filter((r) => r.id !== keep.id);
  const drafts = extra.filter((r) => !finished.includes(r.state));
  const stuck = extra.filter((r) => finished.includes(r.state));
  if (drafts.length > 0) {
    await ctx.odoo.executeKw(model, "action_cancel", [drafts.map((r) => r.id)], {});
    ctx.log.warn("odoo duplicates cancelled", {
      ...what,
      model,
      kept: keep.name,
      cancelled: drafts.map((r) => r.name).join(", "),
    });
  }
  if (stuck.length > 0) {
    ctx.log.error("odoo duplicates already done: fix in Odoo", {
      ...what,
      model,
      kept: keep.name,
      duplicates: stuck.map((r) => r.name).join(", "),
    });
  }
  return keep;
}

/**
 * Runs `create`; if it timed out, waits past Odoo's request limit and returns what `lookup`
 * finds then (the first call committed), or throws the timeout (it did not: retried later).
 */
export async function createOnce<T>(
  ctx: DeliveryContext,
  create: () => Promise<T>,
  lookup: () => Promise<T | undefined>,
  what: Record<string, unknown>,
): Promise<T> {
  try {
    return await create();
  } catch (e) {
    if (!(e instanceof OdooError) || e.kind !== "timeout") throw e;
    const waitMs = settleWaitMs(ctx.settings.requestLimitMs);
    ctx.log.warn("odoo create timed out: waiting for Odoo to finish it before looking it up", {
      ...what,
      waitMs,
    });
    await sleep(waitMs, ctx.signal);
    if (ctx.signal?.aborted) throw e; // shutting down: the next attempt looks again
    const found = await lookup();
    if (found === undefined) throw e;
    ctx.log.info("odoo create that timed out had committed", what);
    return found;
  }
}
