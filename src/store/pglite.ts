/**
 * {@link Database} on embedded PGlite (Postgres compiled to WebAssembly), in a directory of its
 * own. PGlite has no lock between processes, so the directory is locked here: a second process
 * gets one clear line instead of two processes silently overwriting each other's pages.
 *
 * @module
 */
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { type Database, DatabaseLockedError, type Queryable, type Row } from "./database.ts";

/** An opened embedded database; `created` tells whether this open made it. */
export interface EmbeddedDatabase extends Database {
  readonly created: boolean;
  readonly directory: string;
  /**
   * A consistent snapshot of the whole database as a gzip-compressed tar (PGlite's data-directory
   * format), taken while it keeps serving: it checkpoints, waits for the open transaction, and
   * copies with no query running.
   */
  dump(): Promise<Blob>;
}

// PGlite cannot interrupt a running statement: an aborted signal stops the next one (and so rolls
// a transaction back). `bound`: the signal of the transaction a statement belongs to.
function queryable(pg: PGlite | Transaction, bound?: AbortSignal): Queryable {
  return {
    async query<T extends Row = Row>(
      sql: string,
      params: unknown[] = [],
      signal: AbortSignal | undefined = bound,
    ): Promise<T[]> {
      signal?.throwIfAborted();
      const result = await pg.query<T>(sql, params);
      return result.rows;
    },
    async exec(sql: string): Promise<void> {
      bound?.throwIfAborted();
      await pg.exec(sql);
    },
  };
}

/**
 * Takes the lock of the embedded database in `directory` (a state directory), throwing
 * {@link DatabaseLockedError} when another process holds it. Close the file to release it.
 */
export async function lockDirectory(directory: string): Promise<Deno.FsFile> {
  await Deno.mkdir(directory, { recursive: true });
  const lockPath = `${directory}/db.lock`;
  const file = await Deno.open(lockPath, { read: true, write: true, create: true });
  if (!(await file.tryLock(true))) {
    const holder = new TextDecoder().decode(await Deno.readFile(lockPath)).trim();
    file.close();
    throw new DatabaseLockedError(
      `the embedded database in ${directory} is in use by another newretail process` +
        (holder ? ` (${holder})` : "") +
        `: stop it first (systemctl stop newretail), or point --state-dir elsewhere`,
    );
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`pid ${Deno.pid}\n`));
  return file;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Opens (creating when absent) the embedded database in `stateDir/db`, holding `stateDir/db.lock`
 * until {@link Database.close}. Throws {@link DatabaseLockedError} when another process has it.
 *
 * @example
 * ```ts
 * const db = await openPglite("./data");
 * console.log(db.created ? "new database" : "existing database");
 * await db.close();
 * ```
 */
export async function openPglite(stateDir: string): Promise<EmbeddedDatabase> {
  const lock = await lockDirectory(stateDir);
  const directory = `${stateDir}/db`;
  let pg: PGlite;
  let created: boolean;
  try {
    created = !(await exists(`${directory}/PG_VERSION`));
    pg = await PGlite.create(directory);
  } catch (e) {
    lock.close();
    throw e;
  }
  const base = queryable(pg);
  let closed = false;
  return {
    kind: "pglite",
    description: directory,
    directory,
    created,
    query: base.query,
    exec: base.exec,
    transaction: <T>(fn: (tx: Queryable) => Promise<T>, signal?: AbortSignal) => {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return pg.transaction((tx) => fn(queryable(tx, signal)));
    },
    async listen(channel, onNotify, onListen) {
      const unlisten = await pg.listen(channel, onNotify);
      // One in-process connection: it cannot drop, so the subscription is established once.
      onListen?.();
      return unlisten;
    },
    async dump() {
      // The checkpoint writes the pages out (less to replay on restore); the copy itself waits
      // for the open transaction and runs with no query in between, so it is one point in time.
      await pg.exec("checkpoint");
      return await pg._runExclusiveTransaction(() => pg.dumpDataDir("gzip"));
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await pg.close();
      } finally {
        lock.close();
      }
    },
  };
}
