/**
 * `GET /api/backup` on the admin HTTP server: a consistent snapshot of the embedded database while
 * the appliance keeps serving (what `newretail backup FILE` fetches when the service runs). On
 * PostgreSQL the answer says to use `pg_dump`: the database is not the appliance's to copy.
 *
 * @module
 */
import type { Database } from "../store/database.ts";
import type { Logger } from "../log.ts";
import type { Clock } from "../clock.ts";

/** The path of the backup route. */
export const BACKUP_PATH = "/api/backup";

/** A database that can snapshot itself (the embedded one). */
export interface DumpableDatabase extends Database {
  dumpDataDir(): Promise<Uint8Array>;
}

/** True when `db` can produce a snapshot through {@link DumpableDatabase.dumpDataDir}. */
export function isDumpable(db: Database): db is DumpableDatabase {
  return typeof (db as Partial<DumpableDatabase>).dumpDataDir === "function";
}

/**
 * The handler of {@link BACKUP_PATH}. `clock` names the file offered for download.
 *
 * @example
 * ```ts
 * const handle = backupRoute(db, log, systemClock); // GET /api/backup (admin/api.ts)
 * ```
 */
export function backupRoute(
  db: Database,
  log: Logger,
  clock: Clock,
): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== "GET") {
      return new Response("method not allowed: GET /api/backup\n", {
        status: 405,
        headers: { allow: "GET" },
      });
    }
    if (!isDumpable(db)) {
      return new Response(
        "the store is on PostgreSQL: back it up with pg_dump (newretail backup FILE runs it)\n",
        { status: 409, headers: { "content-type": "text/plain; charset=utf-8" } },
      );
    }
    const started = performance.now();
    const snapshot = new Blob([(await db.dumpDataDir()).slice()]);
    log.info("backup taken", {
      bytes: snapshot.size,
      ms: Math.round(performance.now() - started),
    });
    const stamp = new Date(clock.now()).toISOString().replace(/[:.]/g, "-");
    return new Response(snapshot.stream(), {
      headers: {
        "content-type": "application/gzip",
        "content-length": String(snapshot.size),
        "content-disposition": `attachment; filename="newretail-${stamp}.tar.gz"`,
        "cache-control": "no-store",
      },
    });
  };
}
