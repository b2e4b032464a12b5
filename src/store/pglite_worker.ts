/**
 * The embedded database's own thread: a Deno `Worker` that owns the PGlite instance, so a long
 * statement (a 5,000-goods UPDATE, initdb) runs beside the event loop that serves every socket
 * instead of on it. The main thread's side is {@link openPglite} in `pglite.ts`; the messages are
 * the `WorkerRequest`/`WorkerReply` types of `pglite_protocol.ts`.
 *
 * A transaction is a handle: `begin` opens it inside PGlite's own `transaction()` (which holds
 * PGlite's transaction lock, so no other caller's statement runs inside it) and only the
 * statements carrying that handle run until `end` commits or rolls it back.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { ErrorFields, OpenRequest, WorkerReply, WorkerRequest } from "./pglite_protocol.ts";
import { extractTemplate, pathExists, readTemplate } from "./pglite_template.ts";

interface OpenTransaction {
  tx: Transaction;
  end(commit: boolean): void;
  settled: Promise<void>;
}

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

/** The worker's state, created by the `open` request. */
class Embedded {
  readonly #pg: PGlite;
  readonly #transactions = new Map<number, OpenTransaction>();
  readonly #unlisten = new Map<number, () => Promise<void>>();
  #nextTx = 1;

  constructor(pg: PGlite) {
    this.#pg = pg;
  }

  #target(tx: number | undefined): PGlite | Transaction {
    if (tx === undefined) return this.#pg;
    const open = this.#transactions.get(tx);
    if (!open) throw new Error(`transaction ${tx} is not open`);
    return open.tx;
  }

  async handle(request: WorkerRequest): Promise<unknown> {
    switch (request.op) {
      case "query": {
        const result = await this.#target(request.tx).query(request.sql, request.params);
        return result.rows;
      }
      case "exec":
        await this.#target(request.tx).exec(request.sql);
        return undefined;
      case "begin":
        return await this.#begin();
      case "end": {
        const open = this.#transactions.get(request.tx);
        if (!open) throw new Error(`transaction ${request.tx} is not open`);
        open.end(request.commit);
        await open.settled;
        return undefined;
      }
      case "listen": {
        const id = request.listenId;
        const channel = request.channel;
        const unlisten = await this.#pg.listen(channel, (payload) => {
          post({ kind: "notify", listenId: id, payload });
        });
        this.#unlisten.set(id, unlisten);
        return undefined;
      }
      case "unlisten": {
        const unlisten = this.#unlisten.get(request.listenId);
        this.#unlisten.delete(request.listenId);
        await unlisten?.();
        return undefined;
      }
      case "dump": {
        // Under the transaction lock: no transaction is half-way through while the files are read.
        const pg = this.#pg as unknown as {
          _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T>;
        };
        const file = await pg._runExclusiveTransaction(() => this.#pg.dumpDataDir("gzip"));
        return new Uint8Array(await file.arrayBuffer());
      }
      case "stats":
        return {
          wasmHeapBytes: wasmMemory(this.#pg)?.buffer.byteLength ?? 0,
          jsHeapBytes: Deno.memoryUsage().heapTotal,
        };
      case "close":
        await this.#pg.close();
        return undefined;
      case "open":
        throw new Error("the embedded database is already open");
    }
  }

  #begin(): Promise<number> {
    const id = this.#nextTx++;
    return new Promise<number>((started, failed) => {
      let end!: (commit: boolean) => void;
      const decided = new Promise<boolean>((resolve) => end = resolve);
      const settled = this.#pg.transaction(async (tx) => {
        this.#transactions.set(id, { tx, end, settled });
        started(id);
        if (!(await decided)) await tx.rollback();
      }).finally(() => this.#transactions.delete(id));
      // A BEGIN that fails rejects `settled` before `started` ran.
      settled.catch(failed);
    });
  }
}

function post(reply: WorkerReply, transfer: Transferable[] = []): void {
  self.postMessage(reply, transfer);
}

async function open(request: OpenRequest): Promise<Embedded> {
  const created = !(await pathExists(`${request.directory}/PG_VERSION`));
  let fromTemplate = false;
  if (created && request.template) {
    const bytes = await readTemplate(request.template);
    if (bytes) fromTemplate = await extractTemplate(bytes, request.directory);
  }
  const pg = await PGlite.create(request.directory, {
    startParams: [...PGlite.defaultStartParams, ...request.settings.flatMap((s) => ["-c", s])],
  });
  post({ kind: "opened", created, fromTemplate });
  return new Embedded(pg);
}

let embedded: Embedded | undefined;
// Requests are handled in arrival order only up to their first await: PGlite's own locks order
// the statements, and a transaction's lock keeps other callers out of it.
self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  if (request.op === "crash") {
    // Stands for a WebAssembly abort: an error nothing in the worker catches, and no reply.
    setTimeout(() => {
      throw new Error("simulated crash of the embedded database worker");
    }, 0);
    return;
  }
  if (request.op === "open") {
    try {
      embedded = await open(request);
    } catch (e) {
      post({ kind: "open-failed", error: errorFields(e) });
    }
    return;
  }
  try {
    if (!embedded) throw new Error("the embedded database is not open");
    const value = await embedded.handle(request);
    post(
      { kind: "reply", id: request.id, ok: true, value },
      value instanceof Uint8Array ? [value.buffer as ArrayBuffer] : [],
    );
  } catch (e) {
    post({ kind: "reply", id: request.id, ok: false, error: errorFields(e) });
  }
};
