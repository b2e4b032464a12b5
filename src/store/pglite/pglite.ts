/**
 * {@link Database} on embedded PGlite (Postgres compiled to WebAssembly), in a directory of its
 * own, run in a worker thread of its own (`pglite_worker.ts`) so that a long statement does not
 * hold up the event loop that serves every device.
 *
 * PGlite has no lock between processes, so the directory is locked here (in the main thread: the
 * lock is the process's): a second process gets one clear line instead of two processes silently
 * overwriting each other's pages.
 *
 * A crash of the worker (an error nothing in it caught, such as a WebAssembly abort) fails every
 * pending and later call with {@link DatabaseUnavailableError} and is reported to `onCrash`. It is
 * not restarted in place: the appliance exits and systemd restarts it, which reopens the
 * directory through PostgreSQL's own crash recovery, with nothing in memory left half-done.
 * Except when PostgreSQL stopped itself because its disk is full (a PANIC: no room for a WAL
 * segment): a restart would fail the same way until space is freed (and systemd gives up after
 * five), so the database reopens here, by itself, once there is room; a transaction begun before
 * cannot go on after.
 *
 * @module
 */
import {
  type Database,
  DatabaseLockedError,
  DatabaseUnavailableError,
  DiskFullError,
  type Queryable,
  type Row,
} from "../database.ts";
import type {
  EmbeddedStats,
  ErrorFields,
  OpenRequest,
  WorkerReply,
  WorkerRequest,
} from "./pglite_protocol.ts";
import { templatePath } from "./pglite_template.ts";
import { DISK_FULL_SQLSTATE, readDiskSpace } from "../../disk_space.ts";
import { sleep as abortableDelay } from "../../deadline.ts";

/** An opened embedded database; `created` tells whether this open made it. */
export interface EmbeddedDatabase extends Database {
  readonly created: boolean;
  /** True when this open created it from the shipped template instead of running initdb. */
  readonly fromTemplate: boolean;
  readonly directory: string;
  /**
   * A consistent snapshot of the whole data directory as a gzipped tarball (for backups while
   * running): taken between statements, outside any transaction, so it is a committed state.
   */
  dumpDataDir(): Promise<Uint8Array>;
  /** The WebAssembly heap's size. */
  stats(): Promise<EmbeddedStats>;
  /** Makes the worker fail as a WebAssembly abort would (to test crash handling). */
  simulateCrash(): Promise<void>;
  /**
   * The appliance's time now (src/guarded_clock.ts): PostgreSQL's `now()` runs on from it. It is
   * in-process, and would otherwise follow every step of the machine's clock. Told every second.
   */
  setClock(nowMs: number): void;
}

/** Options of {@link openPglite}. */
export interface PgliteOptions {
  /**
   * The template to start a new database from (default: `pglite-template.tar.gz` beside the main
   * module; `null`: none). A missing file or one from another PGlite version is skipped.
   */
  template?: string | null;
  /** Called once when the worker has crashed (the database is unusable from then on). */
  onCrash?: (error: Error) => void;
  /**
   * Called when PostgreSQL stopped because its disk is full: calls are refused with
   * {@link DiskFullError} until it reopens by itself, once the disk has room
   * ({@link REOPEN_FREE_BYTES}); then `onReopened`. A failed reopening goes to `onReopenFailed`.
   */
  onDiskFull?: (error: DiskFullError) => void;
  onReopened?: () => void;
  onReopenFailed?: (error: Error) => void;
  /** PostgreSQL settings (`name=value`) in place of {@link PGLITE_SETTINGS}. */
  settings?: string[];
}

/**
 * PostgreSQL settings for the embedded database, chosen for memory: PGlite's defaults size the
 * buffer cache for a server (`shared_buffers` 128 MB lives in the WebAssembly heap, which never
 * shrinks). The store's data is a few MB; bench/RESULTS.md ("Memory") has the measurements.
 */
export const PGLITE_SETTINGS = [
  "shared_buffers=16MB",
  "work_mem=2MB",
  "maintenance_work_mem=16MB",
  "temp_buffers=2MB",
  "wal_buffers=1MB",
  // Planning in WebAssembly is slow (the price-parity look-up: 1.9 ms planned per call, 0.5 ms
  // with its kept plan), and the store's tables are small enough for one plan per statement.
  "plan_cache_mode=force_generic_plan",
];

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

function rebuild(fields: ErrorFields): Error {
  const error = new Error(fields.message);
  Object.assign(error, fields);
  return error;
}

/** The worker module: beside this one from source, `pglite_worker.js` beside the bundle. */
function workerUrl(): URL {
  const source = import.meta.url.endsWith(".ts");
  return new URL(source ? "./pglite_worker.ts" : "./pglite_worker.js", import.meta.url);
}

/** Starts a worker and opens the database in it; the worker is gone when this throws. */
function startWorker(
  request: OpenRequest,
): Promise<{ worker: Worker; reply: Extract<WorkerReply, { kind: "opened" }> }> {
  const worker = new Worker(workerUrl(), { type: "module" });
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => {
      worker.terminate();
      reject(error);
    };
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      if (reply.kind === "opened") resolve({ worker, reply });
      else if (reply.kind === "open-failed") {
        failed(
          new Error(
            `cannot open the embedded database in ${request.directory}: ${reply.error.message}`,
          ),
        );
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      failed(
        new DatabaseUnavailableError(
          `cannot open the embedded database in ${request.directory}: ${event.message}`,
        ),
      );
    };
    worker.postMessage(request);
  });
}

/** Closes the database in a worker that has no other callers yet, then ends the worker. */
function closeWorker(worker: Worker): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      if (reply.kind !== "reply") return;
      worker.terminate();
      if (reply.ok) resolve();
      else reject(rebuild(reply.error));
    };
    worker.postMessage({ op: "close", id: 0 } satisfies WorkerRequest);
  });
}

type Pending = { resolve(value: unknown): void; reject(error: Error): void };
type Listener = { channel: string; onNotify(payload: string): void; onListen?: () => void };

/**
 * Free space the embedded database needs to reopen after its disk filled: crash recovery writes
 * a new 16 MB WAL segment and a checkpoint (measured: a database stopped by a full disk does not
 * start with 16 MB free).
 */
export const REOPEN_FREE_BYTES = 48 * 1024 * 1024;
/** The first wait before reopening, growing to five times it. */
const REOPEN_WAIT_MS = 1000;
type CallRequest = WorkerRequest extends infer R ? R extends { id: number } ? Omit<R, "id"> : never
  : never;

/**
 * Whether `stateDir` holds an embedded database: the appliance makes one at its first start, so a
 * command that only reads can say "nothing here" instead of making an empty store.
 */
export async function embeddedDatabaseExists(stateDir: string): Promise<boolean> {
  try {
    await Deno.stat(`${stateDir}/db/PG_VERSION`);
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
export async function openPglite(
  stateDir: string,
  options: PgliteOptions = {},
): Promise<EmbeddedDatabase> {
  const lock = await lockDirectory(stateDir);
  const directory = `${stateDir}/db`;
  const request: OpenRequest = {
    op: "open",
    directory,
    template: options.template === null ? undefined : options.template ?? templatePath(),
    settings: options.settings ?? PGLITE_SETTINGS,
  };
  let worker: Worker;
  let opened: Extract<WorkerReply, { kind: "opened" }>;
  try {
    ({ worker, reply: opened } = await startWorker(request));
    if (opened.created && !opened.fromTemplate) {
      // initdb leaves ~450 MB in the worker that nothing frees (its own WebAssembly memory and
      // compiled module): a fresh worker on the new directory starts at a restart's size.
      await closeWorker(worker);
      ({ worker } = await startWorker(request));
    }
  } catch (e) {
    lock.close();
    throw e;
  }
  const { created, fromTemplate } = opened;
  const pending = new Map<number, Pending>();
  const listeners = new Map<number, Listener>();
  let nextId = 1;
  /** Set while the database is down: every call is refused with it. */
  let crashed: Error | undefined;
  /** Why the worker is failing, as it said just before it ended. */
  let failure: ErrorFields | undefined;
  /** Which worker this is (a transaction begun with an earlier one cannot go on in this one). */
  let generation = 1;
  let closed = false;
  const reopening = new AbortController();

  const fail = (error: Error) => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const attach = (current: Worker) => {
    current.onmessage = (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      if (reply.kind === "notify") {
        listeners.get(reply.listenId)?.onNotify(reply.payload);
      } else if (reply.kind === "reply") {
        const p = pending.get(reply.id);
        pending.delete(reply.id);
        if (reply.ok) p?.resolve(reply.value);
        else p?.reject(rebuild(reply.error));
      } else if (reply.kind === "failed") {
        failure = reply.error;
      }
    };
    current.onerror = (event: ErrorEvent) => {
      // Handled here: unhandled, the worker's error would be thrown again in the main thread.
      event.preventDefault();
      if (crashed || closed || current !== worker) return;
      current.terminate();
      const why = `the embedded database (${directory}) stopped: ${event.message}`;
      if (failure?.code === DISK_FULL_SQLSTATE) {
        // PostgreSQL stops when it cannot write its log (PANIC). Restarting the process would
        // not help while the disk is full (crash recovery needs room for a WAL segment):
        // reopen here when there is room again, and refuse calls with a clear reason meanwhile.
        crashed = new DiskFullError(why);
        fail(crashed);
        options.onDiskFull?.(crashed);
        void reopen();
        return;
      }
      crashed = new DatabaseUnavailableError(why);
      fail(crashed);
      options.onCrash?.(crashed);
    };
  };
  attach(worker);

  /** Starts a fresh worker (PostgreSQL's crash recovery) once the disk has room, and resumes. */
  const reopen = async () => {
    const signal = reopening.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      await abortableDelay(Math.min(attempt, 5) * REOPEN_WAIT_MS, signal);
      if (signal.aborted) return;
      const space = await readDiskSpace(stateDir).catch(() => undefined);
      if (space && space.freeBytes < REOPEN_FREE_BYTES) continue;
      let fresh: Worker;
      try {
        ({ worker: fresh } = await startWorker(request));
      } catch (e) {
        options.onReopenFailed?.(e as Error);
        continue;
      }
      if (signal.aborted) {
        fresh.terminate();
        return;
      }
      worker = fresh;
      failure = undefined;
      generation++;
      attach(fresh);
      crashed = undefined;
      // The subscriptions again, each caught up by its onListen (as after a reconnect).
      for (const [listenId, listener] of listeners) {
        await call({ op: "listen", listenId, channel: listener.channel }).catch(() => {});
        listener.onListen?.();
      }
      options.onReopened?.();
      return;
    }
  };

  const call = <T>(request: CallRequest, from = generation): Promise<T> => {
    if (closed) return Promise.reject(new Error(`the embedded database ${directory} is closed`));
    if (crashed) return Promise.reject(crashed);
    if (from !== generation) {
      return Promise.reject(
        new DatabaseUnavailableError(
          `the embedded database (${directory}) restarted during this transaction`,
        ),
      );
    }
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...request, id } as WorkerRequest);
    });
  };

  // PGlite cannot interrupt a running statement: an aborted signal stops the next one (and so
  // rolls a transaction back). `bound`: the signal of the transaction a statement belongs to.
  // `from`: the worker a transaction began with (its statements go nowhere else).
  const queryable = (
    urgent: boolean,
    tx?: number,
    bound?: AbortSignal,
    from?: number,
  ): Queryable => ({
    query: <T extends Row = Row>(
      sql: string,
      params: unknown[] = [],
      signal: AbortSignal | undefined = bound,
    ) => {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return call<T[]>({ op: "query", sql, params, tx, urgent }, from);
    },
    exec: (sql: string) => {
      if (bound?.aborted) return Promise.reject(bound.reason);
      return call<void>({ op: "exec", sql, tx, urgent }, from);
    },
  });
  let nextListen = 1;
  let nextTx = 1;

  const transaction =
    (urgent: boolean) =>
    async <T>(fn: (tx: Queryable) => Promise<T>, signal?: AbortSignal): Promise<T> => {
      signal?.throwIfAborted();
      // Its first statement opens it in the worker: no round trip for BEGIN.
      const tx = nextTx++;
      const from = generation;
      let result: T;
      try {
        result = await fn(queryable(urgent, tx, signal, from));
      } catch (e) {
        await call({ op: "end", tx, commit: false }, from).catch(() => {});
        throw e;
      }
      await call({ op: "end", tx, commit: true }, from);
      return result;
    };

  let urgentView: EmbeddedDatabase | undefined;
  const embedded: EmbeddedDatabase = {
    kind: "pglite",
    description: directory,
    directory,
    created,
    fromTemplate,
    ...queryable(false),
    transaction: transaction(false),
    // Built once: the device server asks for it at every request.
    urgent: () =>
      urgentView ??= { ...embedded, ...queryable(true), transaction: transaction(true) },
    async listen(channel, onNotify, onListen) {
      const listenId = nextListen++;
      listeners.set(listenId, { channel, onNotify, onListen });
      try {
        await call({ op: "listen", listenId, channel });
      } catch (e) {
        listeners.delete(listenId);
        throw e;
      }
      // Established again (and `onListen` called again) only when the database reopens.
      onListen?.();
      return async () => {
        listeners.delete(listenId);
        if (!crashed && !closed) await call({ op: "unlisten", listenId });
      };
    },
    dumpDataDir: () => call<Uint8Array>({ op: "dump" }),
    stats: () => call<EmbeddedStats>({ op: "stats" }),
    simulateCrash: () => call<void>({ op: "crash" }),
    setClock(nowMs) {
      if (!crashed && !closed) worker.postMessage({ op: "clock", nowMs } satisfies WorkerRequest);
    },
    async close() {
      if (closed) return;
      reopening.abort();
      try {
        if (!crashed) await call({ op: "close" });
      } finally {
        closed = true;
        fail(new Error(`the embedded database ${directory} is closed`));
        worker.terminate();
        lock.close();
      }
    },
  };
  return embedded;
}
