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
 * Rows are never deleted; their SQL, and the lease that keeps two workers from delivering the same
 * row, are in `src/store/odoo_outbox.ts`.
 *
 * @module
 */
import { type Next, Worker } from "../../background.ts";
import type { Database, Queryable } from "../../store/database.ts";
import {
  claimDue,
  markDelivered,
  nextDueInMs,
  OUTBOX_CHANNEL,
  type OutboxRow,
  recordFailedAttempt,
} from "../../store/odoo_outbox.ts";
import type { Logger } from "../../log.ts";
import { OdooError } from "./jsonrpc.ts";
import { type Delivered, PermanentDeliveryError } from "./delivery.ts";
import { errorMessage } from "../../errors.ts";
import type { Clock } from "../../clock.ts";

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
  const state = park ? "failed" : "pending";
  await recordFailedAttempt(db, row.id, { state, refusals, error, backoffMs: options.backoffMs });
  return state;
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
