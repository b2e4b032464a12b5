/**
 * The outbox of deliveries owed to Odoo (receipts, paid orders). Rows are written by a database
 * trigger in the transaction that books the receipt or marks the order paid (migration 004), so
 * none is lost to a crash; this worker delivers them one at a time, in order, with backoff.
 *
 * - Odoo unreachable, timing out, refusing the key or missing the database: try again later
 *   (backoff up to a few minutes), never park: the row is fine, Odoo is not.
 * - Odoo refusing the record itself (an error object): counted; after `outboxTries` refusals the
 *   row is parked as `failed` with the reason, until `outbox retry ID`.
 * - A local problem that cannot heal (receipt gone, goods not from Odoo): parked at once.
 *
 * Rows are never deleted. A lease (not a long transaction: PGlite has one connection) keeps two
 * workers from delivering the same row.
 *
 * @module
 */
import { type Next, Worker } from "../../background.ts";
import type { Database, Queryable } from "../../store/database.ts";
import type { Logger } from "../../log.ts";
import { OdooError } from "./jsonrpc.ts";
import { type Delivered, PermanentDeliveryError } from "./delivery.ts";
import { errorMessage } from "../../errors.ts";
import type { Clock } from "../../clock.ts";

/** NOTIFY channel of new outbox rows (migration 004). */
export const OUTBOX_CHANNEL = "newretail_odoo_outbox";

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

/** Records a delivery and the Odoo id and name it became. */
export async function markDelivered(db: Database, row: OutboxRow, delivered: Delivered) {
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

/** How a failed attempt counts. */
export type FailureClass = "wait" | "refused" | "permanent";

/** Classifies a delivery error (see the module notes). */
export function classifyFailure(e: unknown): FailureClass {
  if (e instanceof PermanentDeliveryError) return "permanent";
  if (e instanceof OdooError) {
    return e.kind === "server" || e.kind === "protocol" ? "refused" : "wait";
  }
  return "refused";
}

/** Records a failed attempt: back off, or park as failed. Returns the new state. */
export async function markAttemptFailed(
  db: Queryable,
  row: OutboxRow,
  error: string,
  failure: FailureClass,
  options: { maxRefusals: number; backoffMs: number },
): Promise<"pending" | "failed"> {
  const refusals = row.refusals + (failure === "refused" ? 1 : 0);
  const park = failure === "permanent" || refusals >= options.maxRefusals;
  await db.query(
    `update odoo_outbox set state = $2, refusals = $3, last_error = $4, lease_until = null,
       next_attempt_at = now() + ($5::int * interval '1 millisecond'), updated_at = now()
     where id = $1`,
    [
      row.id,
      park ? "failed" : "pending",
      refusals,
      error.slice(0, 1000),
      Math.round(options.backoffMs),
    ],
  );
  return park ? "failed" : "pending";
}

/** Backoff after the n-th attempt (1-based): 5 s, 10 s, 20 s … capped at 5 minutes. */
export function defaultBackoffMs(attempt: number): number {
  return Math.min(5000 * 2 ** Math.max(0, attempt - 1), 300_000);
}

/** What the worker needs. */
export interface OutboxWorkerOptions {
  db: Database;
  log: Logger;
  clock: Clock;
  /** Delivers one row (by kind); throws to fail the attempt. */
  deliver(row: OutboxRow): Promise<Delivered>;
  maxRefusals: number;
  backoffMs?: (attempt: number) => number;
  /** Longest sleep between looks at the table (a NOTIFY or `wake()` cuts it short). */
  idleMs?: number;
  /** Called after each attempt (metrics, health). */
  onAttempt?: (row: OutboxRow, result: "delivered" | "retry" | "failed", error?: unknown) => void;
}

/** Delivers outbox rows in the background; start once, stop on shutdown. */
export class OutboxWorker {
  readonly #o:
    & Required<Omit<OutboxWorkerOptions, "onAttempt">>
    & Pick<OutboxWorkerOptions, "onAttempt">;
  readonly #worker: Worker;

  /** @param options store, logger, deliver function, limits */
  constructor(options: OutboxWorkerOptions) {
    this.#o = {
      ...options,
      backoffMs: options.backoffMs ?? defaultBackoffMs,
      idleMs: options.idleMs ?? 30_000,
    };
    this.#worker = new Worker((stopping) => this.#loop(stopping), {
      name: "odoo outbox worker",
      log: options.log,
      clock: options.clock,
      idleMs: this.#o.idleMs,
    });
  }

  /** Starts: listens for new rows and works through what is due. */
  async start(): Promise<void> {
    await this.#worker.listen(this.#o.db, OUTBOX_CHANNEL);
    this.#worker.start();
  }

  /** Looks at the table now (new row, Odoo back, operator retry). */
  wake(): void {
    this.#worker.wake();
  }

  /**
   * One pass over the rows due now, oldest first, each tried once; returns how many were tried.
   * For tests and the CLI (`outbox retry` delivers at once).
   */
  async runDue(): Promise<number> {
    let attempts = 0;
    let afterId = 0;
    for (;;) {
      const row = await claimDue(this.#o.db, 5 * 60_000, afterId);
      if (!row) return attempts;
      attempts++;
      afterId = row.id;
      await this.#attempt(row);
    }
  }

  async #attempt(row: OutboxRow): Promise<void> {
    const { db, log } = this.#o;
    try {
      const delivered = await this.#o.deliver(row);
      await markDelivered(db, row, delivered);
      log.info("odoo delivery done", {
        outboxId: row.id,
        kind: row.kind,
        localId: row.local_id,
        odoo: delivered.odooName,
      });
      this.#o.onAttempt?.(row, "delivered");
    } catch (e) {
      const message = errorMessage(e);
      const failure = classifyFailure(e);
      const state = await markAttemptFailed(db, row, message, failure, {
        maxRefusals: this.#o.maxRefusals,
        backoffMs: this.#o.backoffMs(row.attempts),
      });
      const fields = { outboxId: row.id, kind: row.kind, localId: row.local_id, error: message };
      if (state === "failed") log.error("odoo delivery parked as failed", fields);
      else log.warn("odoo delivery failed, will retry", { ...fields, attempt: row.attempts });
      this.#o.onAttempt?.(row, state === "failed" ? "failed" : "retry", e);
    }
  }

  // A store failure (a delivery's own failure is recorded on its row) throws: the worker backs off.
  async #loop(stopping: AbortSignal): Promise<Next> {
    while (!stopping.aborted) {
      const row = await claimDue(this.#o.db, 5 * 60_000);
      if (!row) break;
      await this.#attempt(row);
    }
    if (stopping.aborted) return;
    const due = await nextDueInMs(this.#o.db);
    return due === undefined ? undefined : { afterMs: due + 10 };
  }

  /** Stops after the attempt in progress; releases the LISTEN. */
  stop(): Promise<void> {
    return this.#worker.stop();
  }
}
