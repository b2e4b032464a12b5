/**
 * {@link Database} on PostgreSQL through npm:postgres.
 *
 * @module
 */
import postgres from "postgres";
import { type Database, DatabaseUnavailableError, type Queryable, type Row } from "./database.ts";
import { maskSecret } from "../config/config.ts";

/** Options of {@link openPostgres}. */
export interface PostgresOptions {
  /** Pool size. */
  maxConnections?: number;
  /** Seconds to wait for a connection. */
  connectTimeoutS?: number;
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
    return new DatabaseUnavailableError(`database unavailable: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return e;
}

type Sql = postgres.Sql | postgres.TransactionSql;

function queryable(sql: Sql): Queryable {
  return {
    async query<T extends Row = Row>(text: string, params: unknown[] = []): Promise<T[]> {
      try {
        // deno-lint-ignore no-explicit-any
        const rows = await sql.unsafe(text, params as any[], { prepare: params.length > 0 });
        // A plain array, as PGlite returns: postgres.js's Result carries extra fields.
        return Array.from(rows) as unknown as T[];
      } catch (e) {
        throw translate(e);
      }
    },
    async exec(text: string): Promise<void> {
      try {
        await sql.unsafe(text);
      } catch (e) {
        throw translate(e);
      }
    },
  };
}

/**
 * Opens a connection pool. Connections are made lazily: a database that is down at start-up is
 * reported by the first query.
 *
 * @example
 * ```ts
 * const db = openPostgres("postgres://postgres@127.0.0.1:5432/test");
 * await db.query("select 1 as one");
 * await db.close();
 * ```
 */
export function openPostgres(url: string, options: PostgresOptions = {}): Database {
  const sql = postgres(url, {
    max: options.maxConnections ?? 10,
    connect_timeout: options.connectTimeoutS ?? 5,
    onnotice: () => {},
    // Keep dates and numerics as the driver gives them: numeric as text (exact).
    idle_timeout: 60,
  });
  const base = queryable(sql);
  return {
    kind: "postgres",
    description: maskSecret(url),
    query: base.query,
    exec: base.exec,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      try {
        return await sql.begin((tx) => fn(queryable(tx))) as T;
      } catch (e) {
        throw translate(e);
      }
    },
    async listen(channel, onNotify, onListen) {
      try {
        const sub = await sql.listen(channel, (payload) => onNotify(payload), onListen);
        return () => sub.unlisten();
      } catch (e) {
        throw translate(e);
      }
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}
