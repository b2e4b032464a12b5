/**
 * {@link Database} on PostgreSQL through npm:postgres.
 *
 * @module
 */
import postgres from "postgres";
import { type Database, DatabaseUnavailableError, type Queryable, type Row } from "./database.ts";
import { maskSecret } from "../config/config.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../errors.ts";

/** Options of {@link openPostgres}. */
export interface PostgresOptions {
  /** Pool size. */
  maxConnections?: number;
  /** Seconds a connection's handshake may take (default 15). */
  connectTimeoutS?: number;
  /** Where driver faults that were contained are reported. */
  log?: Logger;
}

// Errors that mean "the server is not there" rather than "the SQL is wrong".
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "08000",
  "08003",
  "08006",
]);

function translate(e: unknown): unknown {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) {
    return new DatabaseUnavailableError(`database unavailable: ${errorMessage(e)}`, {
      cause: e,
    });
  }
  return e;
}

type Sql = postgres.Sql | postgres.TransactionSql;

// `bound`: the signal of the transaction a statement belongs to.
function queryable(sql: Sql, bound?: AbortSignal): Queryable {
  return {
    async query<T extends Row = Row>(
      text: string,
      params: unknown[] = [],
      signal: AbortSignal | undefined = bound,
    ): Promise<T[]> {
      signal?.throwIfAborted();
      // deno-lint-ignore no-explicit-any
      const pending = sql.unsafe(text, params as any[], { prepare: params.length > 0 });
      const cancel = () => pending.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
      try {
        // A plain array, as PGlite returns: postgres.js's Result carries extra fields.
        return Array.from(await pending) as unknown as T[];
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        throw translate(e);
      } finally {
        signal?.removeEventListener("abort", cancel);
      }
    },
    async exec(text: string): Promise<void> {
      bound?.throwIfAborted();
      try {
        await sql.unsafe(text);
      } catch (e) {
        throw translate(e);
      }
    },
  };
}

/**
 * postgres.js 3.4.9 batches small writes behind `setImmediate`; when a connection's socket closes
 * with such a write pending (the server restarted), the deferred write runs on a null socket and
 * throws from a timer, where nothing can catch it: the process would die
 * (porsager/postgres#1066, #1154, #1208). The write's query has already been rejected with
 * CONNECTION_CLOSED by then, so the throw is contained here.
 */
function isDeferredWriteOnClosedSocket(error: unknown): boolean {
  return error instanceof TypeError &&
    error.message === "Cannot read properties of null (reading 'write')" &&
    /postgres[\\/].*connection\.js/.test(error.stack ?? "") &&
    (error.stack ?? "").includes("nextWrite");
}

/**
 * Opens a connection pool. Connections are made lazily: a database that is down at start-up is
 * reported by the first query.
 *
 * When a query finds the server gone, the whole pool is replaced by a fresh one: the driver would
 * otherwise wait out its growing reconnect backoff (up to 20 s) before failing each request, and
 * a connection that died mid-write stays unable to send anything again (its write timer is left
 * set). A fresh pool fails fast while the server is down and works as soon as it is back.
 *
 * @example
 * ```ts
 * const db = openPostgres("postgres://postgres@127.0.0.1:5432/test");
 * await db.query("select 1 as one");
 * await db.close();
 * ```
 */
export function openPostgres(url: string, options: PostgresOptions = {}): Database {
  const newPool = (max: number) =>
    postgres(url, {
      max,
      // Covers the whole handshake, timed on our event loop: during a login storm (thousands of
      // devices after a power cut) 5 s was seen to pass before the handshake was read, and every
      // login failed as "database unavailable". A server that is down refuses at once anyway.
      connect_timeout: options.connectTimeoutS ?? 15,
      onnotice: () => {},
      // Keep dates and numerics as the driver gives them: numeric as text (exact).
      idle_timeout: 60,
    });
  let sql = newPool(options.maxConnections ?? 10);
  // LISTEN has a connection of its own, which the driver re-establishes (and re-listens) itself.
  let listenSql: postgres.Sql | undefined;
  const retired = new Set<Promise<void>>();
  let closed = false;

  const replaceAfterFailure = (failed: postgres.Sql, error: unknown) => {
    if (closed || failed !== sql || !(error instanceof DatabaseUnavailableError)) return;
    sql = newPool(options.maxConnections ?? 10);
    // Queries still running on healthy connections get a few seconds to finish.
    const ending = failed.end({ timeout: 5 }).catch(() => {});
    retired.add(ending);
    ending.finally(() => retired.delete(ending));
  };
  // One query wrapper per pool, not one per query (this is every device request's path).
  const wrappers = new WeakMap<postgres.Sql, Queryable>();
  const wrapped = (pool: postgres.Sql): Queryable => {
    let q = wrappers.get(pool);
    if (!q) wrappers.set(pool, q = queryable(pool));
    return q;
  };
  const guarded = <T>(run: (pool: postgres.Sql) => Promise<T>): Promise<T> => {
    const pool = sql;
    return run(pool).catch((e) => {
      replaceAfterFailure(pool, e);
      throw e;
    });
  };

  const onUncaught = (event: ErrorEvent) => {
    if (!isDeferredWriteOnClosedSocket(event.error)) return;
    event.preventDefault();
    options.log?.warn("database driver wrote to a closed connection; contained", {
      error: event.error.message,
    });
  };
  globalThis.addEventListener("error", onUncaught);

  const database: Database = {
    kind: "postgres",
    description: maskSecret(url),
    // A connection each: nothing to overtake.
    urgent: () => database,
    query: <T extends Row = Row>(text: string, params?: unknown[], signal?: AbortSignal) =>
      guarded((pool) => wrapped(pool).query<T>(text, params, signal)),
    exec: (text: string) => guarded((pool) => wrapped(pool).exec(text)),
    transaction<T>(fn: (tx: Queryable) => Promise<T>, signal?: AbortSignal): Promise<T> {
      return guarded(async (pool) => {
        signal?.throwIfAborted();
        try {
          return await pool.begin((tx) => fn(queryable(tx, signal))) as T;
        } catch (e) {
          if (signal?.aborted) throw signal.reason;
          throw translate(e);
        }
      });
    },
    async listen(channel, onNotify, onListen) {
      listenSql ??= newPool(1);
      try {
        const sub = await listenSql.listen(channel, (payload) => onNotify(payload), onListen);
        return () => sub.unlisten();
      } catch (e) {
        throw translate(e);
      }
    },
    async close() {
      closed = true;
      try {
        await Promise.all([sql.end({ timeout: 5 }), listenSql?.end({ timeout: 5 }), ...retired]);
      } finally {
        globalThis.removeEventListener("error", onUncaught);
      }
    },
  };
  return database;
}
