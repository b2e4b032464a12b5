/**
 * The messages between the main thread ({@link openPglite} in `pglite.ts`) and the embedded
 * database's worker (`pglite_worker.ts`). Everything crosses by structured clone: rows, `Date`s
 * and parameters keep their types; a dump's bytes are transferred, not copied.
 *
 * @module
 */

/** An error's name, message and PostgreSQL fields (`code`, `detail`, `constraint`…). */
export type ErrorFields = { name: string; message: string } & Record<string, string | number>;

/** What the worker is asked to open. */
export interface OpenRequest {
  op: "open";
  directory: string;
  /** A `pglite-template.tar.gz` to start a new database from, when it matches this PGlite. */
  template?: string;
  /** PostgreSQL settings (`name=value`) given at start. */
  settings: string[];
}

/**
 * A request to the worker; every one but `open` (and `crash`) is answered by a `reply` with its
 * `id`. `tx` is a transaction's number, chosen by the main thread: its first statement opens it,
 * `end` commits or rolls it back (and is a no-op when no statement opened it). An `urgent`
 * statement (a device waits for it) runs before waiting background work.
 */
export type WorkerRequest =
  | OpenRequest
  | { op: "query"; id: number; sql: string; params: unknown[]; tx?: number; urgent?: boolean }
  | { op: "exec"; id: number; sql: string; tx?: number; urgent?: boolean }
  | { op: "end"; id: number; tx: number; commit: boolean }
  | { op: "listen"; id: number; listenId: number; channel: string }
  | { op: "unlisten"; id: number; listenId: number }
  | { op: "dump"; id: number }
  | { op: "stats"; id: number }
  | { op: "close"; id: number }
  | { op: "crash"; id: number }
  /** The appliance's time now: PostgreSQL's `now()` runs on from it (not answered). */
  | { op: "clock"; nowMs: number };

/** A message from the worker. */
export type WorkerReply =
  | { kind: "opened"; created: boolean; fromTemplate: boolean }
  | { kind: "open-failed"; error: ErrorFields }
  | { kind: "reply"; id: number; ok: true; value: unknown }
  | { kind: "reply"; id: number; ok: false; error: ErrorFields }
  | { kind: "notify"; listenId: number; payload: string }
  /** The database failed for good (the worker ends next): why, with PostgreSQL's `code`. */
  | { kind: "failed"; error: ErrorFields };

/** The embedded database's own figures. */
export interface EmbeddedStats {
  /** Size of the WebAssembly memory (it only grows). */
  wasmHeapBytes: number;
  /** The worker's JavaScript heap (PGlite's own objects, results before they are sent). */
  jsHeapBytes: number;
  /** Statements prepared on the embedded connection (each distinct SQL text once). */
  preparedStatements: number;
  /** Flushes to disk PostgreSQL has made (commits, checkpoints) since the database opened. */
  fsyncs: number;
}
