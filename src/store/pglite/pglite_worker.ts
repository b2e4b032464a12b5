/**
 * The embedded database's own thread: a Deno `Worker` that owns the PGlite instance, so a long
 * statement (a 5,000-goods UPDATE, initdb) runs beside the event loop that serves every socket
 * instead of on it. The main thread's side is {@link openPglite} in `pglite.ts`; the messages are
 * the `WorkerRequest`/`WorkerReply` types of `pglite_protocol.ts`; statements go through the
 * {@link WireConnection} of `pglite_wire.ts`.
 *
 * Statements run one at a time, each to its end, in the order they arrive. A transaction is a
 * number the main thread picks: its first statement opens it (BEGIN), and until its `end` only
 * statements carrying that number run; everything else waits in {@link Scheduler}, in order.
 * Single statements that wait together share one commit, and so one flush to disk (group commit).
 * Statements a device waits for (`urgent`) go before waiting background work.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { PGlite } from "@electric-sql/pglite";
import type {
  EmbeddedStats,
  ErrorFields,
  OpenRequest,
  WorkerReply,
  WorkerRequest,
} from "./pglite_protocol.ts";
import { extractTemplate, pathExists, readTemplate } from "./pglite_template.ts";
import { EmbeddedFailure, WireConnection } from "./pglite_wire.ts";
import {
  DurableNodeFS,
  durableStartParams,
  fsyncTurnedOff,
  syncPath,
  syncTree,
  UNSAFE_NO_FSYNC_SWITCH,
} from "./pglite_durable_fs.ts";
import { dirname } from "node:path";

function errorFields(e: unknown): ErrorFields {
  const error = e instanceof Error ? e : new Error(String(e));
  const fields: ErrorFields = { name: error.name, message: error.message };
  // PostgreSQL's error fields (code, detail, constraint…): isUniqueViolation reads `code`.
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === "string" || typeof value === "number") fields[key] = value;
  }
  return fields;
}

function wasmMemory(pg: PGlite): WebAssembly.Memory | undefined {
  return (pg.Module as unknown as { wasmMemory?: WebAssembly.Memory }).wasmMemory;
}

/** Thrown when COMMIT rolled back a transaction a failed statement had spoiled (PGlite's code). */
function abortedTransaction(): Error {
  return Object.assign(new Error("Transaction was rolled back instead of committed"), {
    code: "25P02",
  });
}

type Request = Exclude<WorkerRequest, OpenRequest | { op: "clock" }>;
type Statement = Extract<Request, { op: "query" }>;
type Waiting = { request: Request; at: number };

/** Longest time an urgent statement may keep a waiting background one back. */
const MAX_OVERTAKEN_MS = 100;

function isUrgent(request: Request): boolean {
  return (request.op === "query" || request.op === "exec") && request.urgent === true;
}

/** At most this many statements share one commit (each waits for the group's end). */
const MAX_COMMIT_GROUP = 64;

/** Statements that PostgreSQL runs only outside a transaction block, or that end one. */
const OUTSIDE_TRANSACTIONS =
  /^\s*(vacuum|checkpoint|begin|start|commit|end|rollback|abort|savepoint|release|reindex|cluster|alter\s+system|(create|drop)\s+database|create\s+(unique\s+)?index\s+concurrently)\b/i;

/** A statement that changes nothing (a SELECT calling a writing function only misses a group). */
const READS_ONLY = /^\s*select\b/i;

/**
 * Set `on` in the embedded database's one session: the SQL that orders its locks against other
 * sessions (a goods change marking its labels stale, migration 014) skips that work here, where
 * no other session can exist.
 */
const ONE_CONNECTION_SETTING = "newretail.one_connection";

/** The worker's state, created by the `open` request. */
class Scheduler {
  readonly #pg: PGlite;
  readonly #fs: DurableNodeFS;
  readonly #wire: WireConnection;
  /** listenId → channel, and channel → its listenIds (one LISTEN per channel). */
  readonly #listeners = new Map<number, string>();
  readonly #channels = new Map<string, Set<number>>();
  readonly #waiting: Waiting[] = [];
  /** The open transaction's number. */
  #open: number | undefined;
  /** True while a request runs: the next one waits for it. */
  #running = false;

  constructor(pg: PGlite, fs: DurableNodeFS) {
    this.#pg = pg;
    this.#fs = fs;
    this.#wire = new WireConnection(pg, (channel, payload) => {
      for (const listenId of this.#channels.get(channel) ?? []) {
        post({ kind: "notify", listenId, payload });
      }
    });
  }

  /** Takes one request: runs it now, or queues it behind the open transaction. */
  submit(request: Request): void {
    this.#waiting.push({ request, at: performance.now() });
    void this.#drain();
  }

  #runnable(request: Request): boolean {
    if (request.op === "query" || request.op === "exec" || request.op === "end") {
      return request.tx === undefined
        ? this.#open === undefined
        : this.#open === undefined || this.#open === request.tx;
    }
    // crash and stats do not wait for a transaction's end; the rest needs the connection free.
    return request.op === "crash" || request.op === "stats" || this.#open === undefined;
  }

  /** Runs the waiting requests that may run, one at a time. */
  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (;;) {
        const index = this.#next();
        if (index === -1) return;
        const group = this.#commitGroup(index);
        if (group.length > 1) {
          this.#waiting.splice(index, group.length);
          await this.#runGroup(group);
        } else {
          const [{ request }] = this.#waiting.splice(index, 1);
          await this.#run(request);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /**
   * Which waiting request runs next: the oldest urgent one (a device waits for it), else the
   * oldest; but background work that has waited {@link MAX_OVERTAKEN_MS} goes first, so that a
   * stream of device requests never starves pushes and outboxes. -1: none may run now.
   */
  #next(): number {
    let oldest = -1;
    for (let i = 0; i < this.#waiting.length; i++) {
      const { request, at } = this.#waiting[i];
      if (!this.#runnable(request)) continue;
      if (oldest === -1) {
        oldest = i;
        if (performance.now() - at >= MAX_OVERTAKEN_MS) return i;
      }
      if (isUrgent(request)) return i;
    }
    return oldest;
  }

  /**
   * The statements from `index` on that can share one commit: single statements of no
   * transaction, next to each other in the queue, when at least two of them may write.
   */
  #commitGroup(index: number): Statement[] {
    const group: Statement[] = [];
    let writers = 0;
    for (const { request } of this.#waiting.slice(index, index + MAX_COMMIT_GROUP)) {
      if (request.op !== "query" || request.tx !== undefined) break;
      if (OUTSIDE_TRANSACTIONS.test(request.sql)) break;
      group.push(request);
      if (!READS_ONLY.test(request.sql)) writers++;
    }
    return writers > 1 ? group : [];
  }

  /**
   * Group commit: the statements run in one transaction and are answered after its one commit,
   * so they share its flush to disk (the embedded database has one connection; PostgreSQL does
   * the same for concurrent sessions). Each statement sees the ones before it, as when run one by
   * one. When one fails, the transaction is rolled back, the ones before it run again as a group,
   * the failed one is answered its error, and the rest go on as a group of their own.
   */
  async #runGroup(group: Statement[]): Promise<void> {
    if (group.length <= 1) return group.length === 1 ? await this.#run(group[0]) : undefined;
    const rows: unknown[] = [];
    try {
      await this.#wire.control("begin");
      for (const statement of group) {
        try {
          rows.push(await this.#wire.query(statement.sql, statement.params));
        } catch (e) {
          if (e instanceof EmbeddedFailure) throw e;
          await this.#wire.control("rollback");
          const failed = rows.length;
          await this.#runGroup(group.slice(0, failed));
          post({ kind: "reply", id: group[failed].id, ok: false, error: errorFields(e) });
          return await this.#runGroup(group.slice(failed + 1));
        }
      }
      await this.#wire.control("commit");
    } catch (e) {
      if (e instanceof EmbeddedFailure) fail(e);
      for (const statement of group) {
        post({ kind: "reply", id: statement.id, ok: false, error: errorFields(e) });
      }
      return;
    }
    group.forEach((statement, i) =>
      post({ kind: "reply", id: statement.id, ok: true, value: rows[i] })
    );
  }

  async #run(request: Request): Promise<void> {
    if (request.op === "crash") {
      // Stands for a WebAssembly abort: an error nothing in the worker catches, and no reply.
      setTimeout(() => {
        throw new Error("simulated crash of the embedded database worker");
      }, 0);
      return;
    }
    let value: unknown;
    try {
      value = await this.#runNow(request);
    } catch (e) {
      if (e instanceof EmbeddedFailure) fail(e);
      post({ kind: "reply", id: request.id, ok: false, error: errorFields(e) });
      return;
    }
    post(
      { kind: "reply", id: request.id, ok: true, value },
      value instanceof Uint8Array ? [value.buffer as ArrayBuffer] : [],
    );
  }

  async #runNow(request: Exclude<Request, { op: "crash" }>): Promise<unknown> {
    switch (request.op) {
      case "query":
        await this.#enter(request.tx);
        return await this.#wire.query(request.sql, request.params);
      case "exec":
        await this.#enter(request.tx);
        await this.#wire.exec(request.sql);
        return undefined;
      case "end":
        return await this.#end(request.tx, request.commit);
      case "listen":
        return await this.#listen(request.listenId, request.channel);
      case "unlisten":
        return await this.#unlisten(request.listenId);
      case "dump": {
        // Between transactions (the scheduler holds everything else back): a committed state.
        const file = await this.#pg.dumpDataDir("gzip");
        return new Uint8Array(await file.arrayBuffer());
      }
      case "close":
        await this.#pg.close();
        return undefined;
      case "stats":
        return {
          wasmHeapBytes: wasmMemory(this.#pg)?.buffer.byteLength ?? 0,
          jsHeapBytes: Deno.memoryUsage().heapTotal,
          preparedStatements: this.#wire.preparedStatements,
          fsyncs: this.#fs.fsyncs,
        } satisfies EmbeddedStats;
    }
  }

  /** Opens transaction `tx` with its first statement. */
  async #enter(tx: number | undefined): Promise<void> {
    if (tx === undefined || this.#open === tx) return;
    await this.#wire.control("begin");
    this.#open = tx;
  }

  async #end(tx: number, commit: boolean): Promise<void> {
    // A transaction that ran no statement was never opened: nothing to end.
    if (this.#open !== tx) return;
    this.#open = undefined;
    const failed = this.#wire.status === "failed";
    await this.#wire.control(commit && !failed ? "commit" : "rollback");
    if (commit && failed) throw abortedTransaction();
  }

  async #listen(listenId: number, channel: string): Promise<void> {
    const ids = this.#channels.get(channel) ?? new Set<number>();
    if (ids.size === 0) await this.#wire.control(`listen ${quoteIdentifier(channel)}`);
    ids.add(listenId);
    this.#channels.set(channel, ids);
    this.#listeners.set(listenId, channel);
  }

  async #unlisten(listenId: number): Promise<void> {
    const channel = this.#listeners.get(listenId);
    if (channel === undefined) return;
    this.#listeners.delete(listenId);
    const ids = this.#channels.get(channel)!;
    ids.delete(listenId);
    if (ids.size > 0) return;
    this.#channels.delete(channel);
    await this.#wire.control(`unlisten ${quoteIdentifier(channel)}`);
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function post(message: WorkerReply, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

/**
 * The WebAssembly module broke, or PostgreSQL ended itself: end the worker, which the main thread
 * sees as a crash (told first why: a full disk is waited out, not a reason to exit).
 */
function fail(error: EmbeddedFailure): void {
  post({ kind: "failed", error: errorFields(error) });
  setTimeout(() => {
    throw error;
  }, 0);
}

/**
 * A new database is made under a marker beside its directory (`db.creating`), flushed before the
 * first file of the directory is written and removed, flushed, once all of them are on disk. Found
 * at open, it means a creation a power cut interrupted: the directory can hold files whose data
 * never reached the disk (the fault lab's power-cut scenario found `PG_VERSION` and every catalogue
 * file empty after a cut during a new store's first start, and the store never served again), so it
 * is made again. Nothing was ever served from it: its open had not returned.
 */
function creationMarker(directory: string): string {
  return `${directory}.creating`;
}

async function open(request: OpenRequest): Promise<Scheduler> {
  const marker = creationMarker(request.directory);
  if (await pathExists(marker)) {
    console.error(
      `newretail: the creation of ${request.directory} was interrupted (a power cut?): made again`,
    );
    await Deno.remove(request.directory, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  const created = !(await pathExists(`${request.directory}/PG_VERSION`));
  if (created) {
    await Deno.mkdir(dirname(request.directory), { recursive: true });
    await Deno.writeFile(marker, new Uint8Array());
    await syncPath(marker);
    await syncPath(dirname(request.directory));
  }
  let fromTemplate = false;
  if (created && request.template) {
    const bytes = await readTemplate(request.template);
    if (bytes) fromTemplate = await extractTemplate(bytes, request.directory);
  }
  if (fsyncTurnedOff()) {
    console.error(
      `newretail: ${UNSAFE_NO_FSYNC_SWITCH}=1: the embedded database never flushes (fault lab only)`,
    );
  }
  const fs = new DurableNodeFS(request.directory);
  const pg = await PGlite.create(request.directory, {
    fs,
    // One connection: what guards against other sessions (migration 014) can be skipped.
    startParams: [...durableStartParams(request.settings), "-c", `${ONE_CONNECTION_SETTING}=on`],
  });
  if (created) {
    // initdb and the template write the new directory without a flush: flush it once, then end
    // the creation (the marker's removal reaches the disk before the open is answered).
    await syncTree(request.directory);
    await Deno.remove(marker);
    await syncPath(dirname(request.directory));
  }
  post({ kind: "opened", created, fromTemplate });
  return new Scheduler(pg, fs);
}

let scheduler: Scheduler | undefined;
/**
 * The appliance's time (src/guarded_clock.ts: it does not follow a step of the machine's clock),
 * as last told by the main thread (every second), run on by this thread's monotonic clock.
 * PostgreSQL here reads the time through `Date.now()`: its `now()`, the stamps and deadlines
 * written in SQL, is then the appliance's time, as every rule compares; a step of the machine's
 * clock never reaches it, not even for the moment before the main thread notices.
 */
let applianceTime: { nowMs: number; at: number } | undefined;
const wallNow = Date.now;
Date.now = () =>
  applianceTime ? applianceTime.nowMs + (performance.now() - applianceTime.at) : wallNow();

// The main thread sends nothing but `open` (and `clock`) until it has been answered `opened`.
self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  if (request.op === "clock") {
    applianceTime = { nowMs: request.nowMs, at: performance.now() };
    return;
  }
  if (request.op !== "open") {
    if (scheduler) scheduler.submit(request);
    else post({ kind: "reply", id: request.id, ok: false, error: notOpen() });
    return;
  }
  try {
    if (scheduler) throw new Error("the embedded database is already open");
    scheduler = await open(request);
  } catch (e) {
    post({ kind: "open-failed", error: errorFields(e) });
  }
};

function notOpen(): ErrorFields {
  return { name: "Error", message: "the embedded database is not open" };
}
