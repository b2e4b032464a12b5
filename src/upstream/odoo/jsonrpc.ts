import { errorMessage } from "../../errors.ts";
/**
 * Odoo's external JSON-RPC API (`POST /jsonrpc`, services `common` and `object`), with a timeout
 * and errors an operator can act on. The password or API key travels with every call (the
 * endpoint keeps no session) and never appears in an error message.
 *
 * Facts from the recorded Odoo 17 exchanges (tests/fixtures/odoo17): every answer is HTTP 200,
 * errors included; an error is `{"code":200,"message":"Odoo Server Error","data":{"name":
 * "<python class>","message":"<text>","debug":"<traceback>"}}`; a wrong password on
 * `common.login` is the result `false`, on `execute_kw` the error `odoo.exceptions.AccessDenied`;
 * an unknown database is `psycopg2.OperationalError` "… database "x" does not exist".
 *
 * @module
 */

/** What went wrong, for retry decisions and messages. */
export type OdooErrorKind =
  /** Odoo could not be reached (refused, DNS, TLS, proxy error): try again later. */
  | "unreachable"
  /** Odoo did not answer in time: try again later. */
  | "timeout"
  /** Wrong user, password or API key. */
  | "auth"
  /** The configured database does not exist on that Odoo. */
  | "database"
  /** Odoo answered with an error object (`error.data.name` / `error.data.message`). */
  | "server"
  /** The answer was not Odoo's JSON-RPC (wrong URL, not Odoo). */
  | "protocol";

/** A failed Odoo call. The message is one line for the log; never a stack trace or a secret. */
export class OdooError extends Error {
  /** What went wrong. */
  readonly kind: OdooErrorKind;
  /** Odoo's exception class (`odoo.exceptions.UserError`), for `server` errors. */
  readonly odooName: string;

  /** @param kind category @param message one line @param odooName Odoo's exception class */
  constructor(kind: OdooErrorKind, message: string, odooName = "") {
    super(message);
    this.name = "OdooError";
    this.kind = kind;
    this.odooName = odooName;
  }

  /** True when trying again later may work without anyone changing anything. */
  get transient(): boolean {
    return this.kind === "unreachable" || this.kind === "timeout";
  }
}

/** How to reach one Odoo database. */
export interface OdooConnectionOptions {
  /** Base URL of the Odoo server (`https://erp.example.com`); `/jsonrpc` is appended. */
  url: string;
  db: string;
  user: string;
  /** Password or API key (Odoo accepts either in the same place). */
  apiKey: string;
  /** Timeout of one call, in milliseconds. */
  timeoutMs: number;
  /** Injected for tests of odd transports; defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Told of every request sent (`common.login`, `product.product.search_read`), for metrics. */
  onRequest?: (call: string) => void;
}

/** `common.version`, as Odoo answers it. */
export interface OdooVersionInfo {
  server_version: string;
  server_version_info: (number | string)[];
  server_serie: string;
  protocol_version: number;
}

/** A many2one value: `[id, "display name"]`, or `false` when empty. */
export type Many2one = [number, string] | false;

/** The major version (16, 17, 18) from `common.version`. */
export function majorVersion(info: OdooVersionInfo): number {
  const first = info.server_version_info?.[0];
  if (typeof first === "number") return first;
  // "saas~17.2" style series on Odoo Online.
  const m = /(\d+)/.exec(String(info.server_serie ?? info.server_version ?? ""));
  return m ? Number(m[1]) : 0;
}

function endpoint(url: string): string {
  return url.replace(/\/+$/, "") + "/jsonrpc";
}

function oneLine(text: string, max = 300): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? line.slice(0, max - 1) + "…" : line;
}

/** Turns Odoo's error object into an {@link OdooError}. */
export function odooErrorFrom(error: unknown, db: string): OdooError {
  const e = (error ?? {}) as { message?: unknown; data?: { name?: unknown; message?: unknown } };
  const name = typeof e.data?.name === "string" ? e.data.name : "";
  const message = typeof e.data?.message === "string"
    ? e.data.message
    : typeof e.message === "string"
    ? e.message
    : "unknown error";
  if (name === "odoo.exceptions.AccessDenied") {
    return new OdooError("auth", `Odoo refused the credentials: ${oneLine(message)}`, name);
  }
  if (/database "[^"]*" does not exist/.test(message) || /KeyError: .*db/i.test(message)) {
    return new OdooError("database", `Odoo database "${db}" does not exist`, name);
  }
  return new OdooError("server", `Odoo error ${name || "(unnamed)"}: ${oneLine(message)}`, name);
}

/** Odoo's `"YYYY-MM-DD HH:MM:SS"` (UTC) form of a time. */
export function odooDatetime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/**
 * One Odoo database, authenticated lazily. Holds the uid once logged in; nothing else.
 *
 * @example
 * ```ts
 * const odoo = new OdooClient({ url, db, user, apiKey, timeoutMs: 30_000 });
 * const v = await odoo.version();
 * const ids = await odoo.executeKw<number[]>("stock.warehouse", "search", [[]], { order: "id" });
 * ```
 */
export class OdooClient {
  readonly #options: OdooConnectionOptions;
  readonly #fetch: typeof fetch;
  #uid: number | undefined;
  #nextId = 1;
  #serverTimeMs: number | undefined;

  /** @param options where and who */
  constructor(options: OdooConnectionOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
  }

  /** The configured base URL (for messages). */
  get url(): string {
    return this.#options.url;
  }

  /** The configured database name. */
  get db(): string {
    return this.#options.db;
  }

  /**
   * Odoo's clock at the last answer (its HTTP `Date` header, whole seconds), or undefined. The
   * incremental pull starts its next window from it, so the appliance's own clock never matters.
   */
  get serverTimeMs(): number | undefined {
    return this.#serverTimeMs;
  }

  /** Calls `service.method(args)` and returns the result. */
  async call<T>(service: string, method: string, args: unknown[]): Promise<T> {
    const id = this.#nextId++;
    const body = JSON.stringify({
      jsonrpc: "2.0",
      method: "call",
      id,
      params: { service, method, args },
    });
    const url = endpoint(this.#options.url);
    this.#options.onRequest?.(
      service === "object" && method === "execute_kw"
        ? `${args[3]}.${args[4]}`
        : `${service}.${method}`,
    );
    const seconds = this.#options.timeoutMs / 1000;
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body,
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
    } catch (e) {
      if ((e as Error)?.name === "TimeoutError" || (e as Error)?.name === "AbortError") {
        throw new OdooError(
          "timeout",
          `Odoo at ${this.#options.url} did not answer within ${seconds} s`,
        );
      }
      throw new OdooError(
        "unreachable",
        `Odoo unreachable at ${this.#options.url}: ${oneLine(errorMessage(e))}`,
      );
    }
    let text: string;
    try {
      text = await response.text();
    } catch (e) {
      const timedOut = (e as Error)?.name === "TimeoutError" || (e as Error)?.name === "AbortError";
      throw new OdooError(
        timedOut ? "timeout" : "unreachable",
        timedOut
          ? `Odoo at ${this.#options.url} did not answer within ${seconds} s`
          : `Odoo connection dropped at ${this.#options.url}: ${oneLine(errorMessage(e))}`,
      );
    }
    const date = Date.parse(response.headers.get("date") ?? "");
    if (Number.isFinite(date)) this.#serverTimeMs = date;
    if (!response.ok) {
      // A reverse proxy in front of a stopped Odoo answers 502/503/504: that is "down", not "wrong".
      const kind = response.status >= 500 ? "unreachable" : "protocol";
      throw new OdooError(
        kind,
        `Odoo at ${this.#options.url} answered HTTP ${response.status} on /jsonrpc` +
          (response.status === 404 ? " (is this an Odoo server URL?)" : ""),
      );
    }
    let json: { result?: unknown; error?: unknown; id?: unknown };
    try {
      json = JSON.parse(text);
    } catch {
      throw new OdooError(
        "protocol",
        `Odoo at ${this.#options.url} did not answer JSON-RPC (is this an Odoo server URL?)`,
      );
    }
    if (json === null || typeof json !== "object") {
      throw new OdooError("protocol", `Odoo at ${this.#options.url} sent a non-object answer`);
    }
    if (json.error !== undefined) throw odooErrorFrom(json.error, this.#options.db);
    // A method that returns None gets an envelope without `result` (live Odoo 17, e.g.
    // stock.quant.action_apply_inventory): that is a null result, not a broken answer.
    if ("result" in json || (json as { jsonrpc?: unknown }).jsonrpc === "2.0") {
      return (json.result ?? null) as T;
    }
    throw new OdooError("protocol", `Odoo at ${this.#options.url} sent neither result nor error`);
  }

  /** `common.version` (no credentials needed). */
  version(): Promise<OdooVersionInfo> {
    return this.call<OdooVersionInfo>("common", "version", []);
  }

  /**
   * `common.login`: returns the uid. A wrong user or key is an `auth` error, an unknown database a
   * `database` error.
   */
  async login(): Promise<number> {
    const { db, user, apiKey } = this.#options;
    const uid = await this.call<number | false>("common", "login", [db, user, apiKey]);
    if (typeof uid !== "number" || uid <= 0) {
      this.#uid = undefined;
      throw new OdooError(
        "auth",
        `Odoo refused user "${user}" on database "${db}": wrong user, password or API key`,
      );
    }
    this.#uid = uid;
    return uid;
  }

  /**
   * `object.execute_kw(db, uid, key, model, method, args, kwargs)`. Logs in first if needed; an
   * `AccessDenied` (key revoked since) forgets the uid so the next call logs in again.
   */
  async executeKw<T>(
    model: string,
    method: string,
    args: unknown[],
    kwargs: Record<string, unknown> = {},
  ): Promise<T> {
    const uid = this.#uid ?? await this.login();
    const { db, apiKey } = this.#options;
    try {
      return await this.call<T>("object", "execute_kw", [
        db,
        uid,
        apiKey,
        model,
        method,
        args,
        kwargs,
      ]);
    } catch (e) {
      if (e instanceof OdooError && e.kind === "auth") this.#uid = undefined;
      throw e;
    }
  }
}
