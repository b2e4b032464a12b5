/**
 * The embedded database's one connection, spoken in PostgreSQL's wire protocol straight into
 * PGlite (`execProtocolRawStream`), in the worker thread that owns it (`pglite_worker.ts`).
 *
 * Why not PGlite's own `query()`: it parses and plans every statement anew and calls into the
 * WebAssembly module six times per statement (parse, describe, bind, describe, execute, sync).
 * Here each distinct SQL text is prepared once as a named statement (PostgreSQL then keeps its
 * plan) and a statement is one call: Bind, Execute, Sync. Measured on the login statement:
 * 0.77 ms with `query()`, 0.29 ms here (bench/RESULTS.md, "Embedded database").
 *
 * Results are the same as PGlite's `query()` gives: rows as objects, values through PGlite's own
 * type parsers, parameters through its serializers.
 *
 * @module
 */
import { type PGlite, protocol, types } from "@electric-sql/pglite";
import { concatBytes } from "../../bytes.ts";
import type { Row } from "../database.ts";

type Field = { name: string; dataTypeID: number };

interface Statement {
  name: string;
  paramTypes: number[];
  /** Undefined for a statement that returns no rows. */
  fields: Field[] | undefined;
}

/** What PostgreSQL said about the transaction after the last statement. */
export type TransactionStatus = "idle" | "in transaction" | "failed";

/** A backend message as PGlite's protocol parser gives it (only the fields read here). */
interface Message {
  name: string;
  // deno-lint-ignore no-explicit-any
  [field: string]: any;
}

/** What this module uses of PGlite (`serializers` and `parsers` are public but undeclared). */
interface RawPglite {
  execProtocolRawStream(
    message: Uint8Array,
    options: { syncToFs: boolean; onRawData: (bytes: Uint8Array) => void },
  ): Promise<void>;
  serializers: Record<number, (value: unknown) => string>;
  parsers: Record<number, (value: string, typeId?: number) => unknown>;
}

/**
 * The WebAssembly module itself failed (an abort, a trap): every later statement would run on a
 * broken heap, so the owner treats this as the end of the embedded database.
 */
export class EmbeddedFailure extends Error {
  /** PostgreSQL's SQLSTATE when it ended itself (`53100`: its disk is full). */
  readonly code?: string;

  /** @param cause what PGlite threw, or PostgreSQL's PANIC or FATAL error */
  constructor(cause: unknown) {
    // Not errors.ts's errorMessage: this module runs in the worker thread, which may read only the
    // files its permission set lists (deno.json "appliance").
    const message = (cause as Error)?.message ?? String(cause);
    super(`the embedded database failed: ${message}`, {
      cause,
    });
    this.name = "EmbeddedFailure";
    const code = (cause as { code?: unknown })?.code;
    if (typeof code === "string") this.code = code;
  }
}

const READY_STATUS: Record<string, TransactionStatus> = {
  I: "idle",
  T: "in transaction",
  E: "failed",
};

/** SQLSTATE of "cached plan must not change result type" (a table changed under a statement). */
const FEATURE_NOT_SUPPORTED = "0A000";

/**
 * A client of one PGlite instance: one call at a time (the worker's scheduler sees to it).
 */
export class WireConnection {
  readonly #pg: RawPglite;
  readonly #statements = new Map<string, Statement>();
  readonly #maxStatements: number;
  readonly #onNotification: (channel: string, payload: string) => void;
  #nextName = 1;
  #status: TransactionStatus = "idle";
  #forgetWhenIdle = false;

  /**
   * @param pg an open PGlite instance nothing else uses
   * @param onNotification called for each NOTIFY this connection receives (it LISTENs)
   * @param maxStatements how many prepared statements to keep (the least recently used go)
   */
  constructor(
    pg: PGlite,
    onNotification: (channel: string, payload: string) => void,
    maxStatements = 500,
  ) {
    this.#pg = pg as unknown as RawPglite;
    this.#onNotification = onNotification;
    this.#maxStatements = maxStatements;
  }

  /** The transaction state after the last call. */
  get status(): TransactionStatus {
    return this.#status;
  }

  /** How many statements are prepared now. */
  get preparedStatements(): number {
    return this.#statements.size;
  }

  /** Runs one statement with `$1`… parameters; throws PostgreSQL's error as PGlite does. */
  async query(sql: string, params: unknown[] = []): Promise<Row[]> {
    await this.#forgetIfDue();
    const statement = await this.#prepare(sql);
    try {
      return await this.#execute(statement, params);
    } catch (e) {
      // A table changed shape under a kept statement (migrations): prepare it again, once, when
      // no transaction was spoiled by the failure.
      if ((e as { code?: string }).code !== FEATURE_NOT_SUPPORTED || this.#status !== "idle") {
        throw e;
      }
      await this.#forget(sql);
      return await this.#execute(await this.#prepare(sql), params);
    }
  }

  /**
   * Runs a script of statements without parameters (simple query protocol). A script may change
   * tables (migrations): the kept statements are prepared afresh after it, once no transaction is
   * open.
   */
  async exec(sql: string): Promise<void> {
    await this.control(sql);
    this.#forgetWhenIdle = true;
    await this.#forgetIfDue();
  }

  /** Runs a statement that changes no table (BEGIN, COMMIT, LISTEN…): kept statements stay. */
  async control(sql: string): Promise<void> {
    this.#throwError(await this.#run(protocol.serialize.query(sql)));
  }

  async #forgetIfDue(): Promise<void> {
    if (!this.#forgetWhenIdle || this.#status !== "idle") return;
    this.#forgetWhenIdle = false;
    await this.#forgetAll();
  }

  async #prepare(sql: string): Promise<Statement> {
    const kept = this.#statements.get(sql);
    if (kept) {
      // Most recently used last: the first entry is the one to drop when full.
      this.#statements.delete(sql);
      this.#statements.set(sql, kept);
      return kept;
    }
    if (this.#statements.size >= this.#maxStatements && this.#status === "idle") {
      await this.#forget(this.#statements.keys().next().value!);
    }
    const name = `nr${this.#nextName++}`;
    const ser = protocol.serialize;
    const messages = await this.#run(concatBytes([
      ser.parse({ name, text: sql }),
      ser.describe({ type: "S", name }),
      ser.sync(),
    ]));
    this.#throwError(messages);
    const params = messages.find((m) => m.name === "parameterDescription");
    const row = messages.find((m) => m.name === "rowDescription");
    const statement: Statement = {
      name,
      paramTypes: params?.dataTypeIDs ?? [],
      fields: row?.fields.map((f: Field) => ({ name: f.name, dataTypeID: f.dataTypeID })),
    };
    this.#statements.set(sql, statement);
    return statement;
  }

  async #execute(statement: Statement, params: unknown[]): Promise<Row[]> {
    const serializers = this.#pg.serializers;
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serialize = serializers[statement.paramTypes[i]];
      return serialize ? serialize(value) : String(value);
    });
    const ser = protocol.serialize;
    const messages = await this.#run(concatBytes([
      ser.bind({ statement: statement.name, values }),
      ser.execute({}),
      ser.sync(),
    ]));
    this.#throwError(messages);
    const fields = statement.fields;
    if (!fields) return [];
    const parsers = this.#pg.parsers;
    const rows: Row[] = [];
    for (const message of messages) {
      if (message.name !== "dataRow") continue;
      const row: Row = {};
      const values = message.fields as (string | null)[];
      for (let i = 0; i < fields.length; i++) {
        row[fields[i].name] = types.parseType(values[i], fields[i].dataTypeID, parsers);
      }
      rows.push(row);
    }
    return rows;
  }

  async #forget(sql: string): Promise<void> {
    const statement = this.#statements.get(sql);
    if (!statement) return;
    this.#statements.delete(sql);
    await this.#run(concatBytes([
      protocol.serialize.close({ type: "S", name: statement.name }),
      protocol.serialize.sync(),
    ]));
  }

  async #forgetAll(): Promise<void> {
    if (this.#statements.size === 0) return;
    const ser = protocol.serialize;
    const closes = [...this.#statements.values()].map((s) =>
      ser.close({ type: "S", name: s.name })
    );
    this.#statements.clear();
    await this.#run(concatBytes([...closes, ser.sync()]));
  }

  /** Sends `message`, returns PostgreSQL's answer, and hands out the notifications in it. */
  async #run(message: Uint8Array): Promise<Message[]> {
    const messages: Message[] = [];
    const parser = new protocol.Parser();
    try {
      // The stream form: PGlite neither parses the answer again nor keeps its messages (its
      // other raw form collects them for a caller that never comes). The parser copies the
      // bytes out of the WebAssembly memory they are lent from.
      await this.#pg.execProtocolRawStream(message, {
        syncToFs: false,
        onRawData: (bytes) => parser.parse(bytes, (m: Message) => messages.push(m)),
      });
    } catch (e) {
      // PostgreSQL's own errors come back as messages; a throw is the WebAssembly module failing.
      throw new EmbeddedFailure(e);
    }
    for (const m of messages) {
      if (m.name === "notification") this.#onNotification(m.channel, m.payload);
      else if (m.name === "readyForQuery") this.#status = READY_STATUS[m.status] ?? "failed";
    }
    return messages;
  }

  #throwError(messages: Message[]): void {
    const error = messages.find((m) => m.name === "error");
    if (!error) return;
    // PostgreSQL ends its backend after a PANIC (a full disk: it could not create a WAL segment)
    // or a FATAL. PGlite's backend then never answers again: every later statement would hang.
    if (error.severity === "PANIC" || error.severity === "FATAL") throw new EmbeddedFailure(error);
    throw error;
  }
}
