/**
 * The `Database` contract: the same SQL runs on PostgreSQL (npm:postgres) and on embedded PGlite.
 * Results are plain row objects; `numeric` comes back as text (exact money), `integer` as number,
 * timestamps as `Date`. Do not select `bigint` columns uncast: the two drivers disagree on them.
 *
 * @module
 */

import type { Listen } from "../listen.ts";

/** One result row. */
export type Row = Record<string, unknown>;

/** Something that runs SQL: the database itself, or a transaction. */
export interface Queryable {
  /**
   * Runs one statement with `$1`… parameters and returns its rows. When `signal` is aborted the
   * statement is not started, or cancelled where the driver can (PostgreSQL), and the call rejects
   * with the signal's reason.
   */
  query<T extends Row = Row>(sql: string, params?: unknown[], signal?: AbortSignal): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** Which implementation is behind a {@link Database}. */
export type DatabaseKind = "postgres" | "pglite";

/**
 * How many batches of one kind of write (label answers, orders) are worth sending at once, by
 * database. PostgreSQL writes each on a connection of its own and flushes their commits together,
 * so a batch need not wait for the one before it; the embedded database runs one statement at a
 * time, where a second batch would only wait in its queue.
 */
export const WRITE_BATCHES_IN_FLIGHT: Readonly<Record<DatabaseKind, number>> = {
  postgres: 2,
  pglite: 1,
};

/** The appliance's local store. */
export interface Database extends Queryable {
  readonly kind: DatabaseKind;
  /** Human description for logs (URL without password, or directory). */
  readonly description: string;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. With
   * `signal`, every statement of `fn` carries it: an abort rolls the transaction back.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Subscribes to `NOTIFY channel` (see {@link Listen}). */
  listen: Listen;
  /** Closes every connection (and for PGlite, releases the directory lock). */
  close(): Promise<void>;
  /**
   * The same database, for statements a device is waiting on: where statements queue (the
   * embedded database has one connection) they run before background work that waits (pushes,
   * outboxes), which is never held back long. PostgreSQL gives each its own connection: for it,
   * this is the same database.
   */
  urgent(): Database;
}

/**
 * `db` with `signal` on every statement made through it (a request's handler gets this view, so
 * every query it makes stops when the request times out). Statements given their own signal keep it.
 */
export function withSignal(db: Database, signal: AbortSignal): Database {
  return {
    urgent: () => withSignal(db.urgent(), signal),
    kind: db.kind,
    description: db.description,
    query: (sql, params, own) => db.query(sql, params, own ?? signal),
    exec: (sql) => {
      if (signal.aborted) return Promise.reject(signal.reason);
      return db.exec(sql);
    },
    transaction: (fn, own) => db.transaction(fn, own ?? signal),
    listen: (channel, onNotify, onListen) => db.listen(channel, onNotify, onListen),
    close: () => db.close(),
  };
}

/**
 * The database could not be reached (connection refused, dropped, timed out): a device gets a
 * clear "database unavailable" answer, and the appliance recovers by itself when it is back.
 */
export class DatabaseUnavailableError extends Error {
  /** @param message what happened */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DatabaseUnavailableError";
  }
}

/**
 * The database's disk is full: it cannot record anything until space is freed (reads go on). The
 * embedded database, stopped by it, reopens by itself once there is room again.
 */
export class DiskFullError extends DatabaseUnavailableError {
  /** @param message what happened */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DiskFullError";
  }
}

/** Another process holds the embedded database. */
export class DatabaseLockedError extends Error {
  /** @param message one line for the operator */
  constructor(message: string) {
    super(message);
    this.name = "DatabaseLockedError";
  }
}

/** True for the unique-violation error of either driver (SQLSTATE 23505). */
export function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: unknown })?.code === "23505";
}

/**
 * The number of rows of `table` matching `where` (constant SQL of the caller, never input), for
 * the backlog gauges.
 *
 * @example
 * ```ts
 * await countRows(db, "refill_jobs", "state = 'open'"); // 3
 * ```
 */
export async function countRows(db: Queryable, table: string, where: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `select count(*)::int as n from ${table} where ${where}`,
  );
  return row.n;
}

/** Resolves once the database answers a trivial query (the health check's ping). */
export async function pingDatabase(db: Queryable): Promise<void> {
  await db.query("select 1 as one");
}

/** The size of the connected PostgreSQL database in bytes (`pg_database_size`). */
export async function databaseSizeBytes(db: Queryable): Promise<number> {
  const [row] = await db.query<{ bytes: string }>(
    "select pg_database_size(current_database())::text as bytes",
  );
  return Number(row.bytes);
}
