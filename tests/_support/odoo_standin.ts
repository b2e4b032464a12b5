/**
 * A real local HTTP server that answers `/jsonrpc` like Odoo 16, 17 or 18, for tests of the Odoo
 * connector. It is seeded from the real recorded Odoo 17 exchanges in `tests/fixtures/odoo17/`
 * (products, categories, warehouses, quants, partner) and keeps state: products and templates,
 * quants, sale orders, pickings and moves, wizards. What it answers follows the recordings: the
 * envelope, HTTP 200 for errors, error objects with `data.name`/`data.message`, many2one as
 * `[id, "name"]`, `false` for empty values, floats not rounded, datetimes as whole-second UTC
 * strings while the stored value keeps microseconds (so `write_date > last seen` repeats).
 *
 * Where versions differ (noted at each place):
 * - 16: `stock.move.quantity_done` (no `quantity`/`picked`); validating with nothing done returns
 *   the `stock.immediate.transfer` wizard; a template write does not move its variants'
 *   `write_date`.
 * - 17: `stock.move.quantity` + `picked` (`quantity_done` is an invalid field); a template write
 *   moves its variants' `write_date` (04-price-change-write-date.json).
 * - 18: as 17, but on-hand quantities per warehouse read the context key `warehouse_id`.
 *
 * Like a live Odoo: every call is one transaction whose `write_date`s are its start time
 * (PostgreSQL `now()`), `state.begin()` commits such a transaction late, and the `slow` fault
 * commits a call after the client's timeout; a variant's price includes the `price_extra` of its
 * `product.template.attribute.value`s (whose writes move no product's `write_date`); CHIC1 belongs
 * to a second company, so the admin (company 1) sees it but a receipt into it is refused
 * ("Incompatible companies on records"); `action_cancel` on pickings and sale orders.
 *
 * Four files: `odoo_orm.ts` (tables, read, search), `odoo_models.ts` (models, seed, write),
 * `odoo_rules.ts` (stock and sale rules), this one (HTTP, the RPC methods, fault injection).
 *
 * @module
 */
import versionLogin from "../fixtures/odoo17/01-version-login.json" with { type: "json" };
import type { Exchange } from "./odoo_models.ts";
import { type Domain, OdooFault, type Rec } from "./odoo_orm.ts";
import { OdooState } from "./odoo_rules.ts";
import { type CallCost, callCost } from "./odoo_cost.ts";

/** A fault injected by a test for the next matching call. */
export interface Fault {
  /** Matches `model.method` (e.g. `sale.order.create`) or `common.login`. */
  match: string;
  /**
   * `lose-response`: do the call, then answer HTTP 502 (Odoo did it; the caller never learns).
   * `http-502`: answer 502 without doing it. `error`: answer an Odoo error object. `slow`: do
   * the call as one transaction that takes `delayMs` (its write_date is its start, it commits at
   * the end, whether or not the caller waited: a client timeout does not stop Odoo).
   */
  action: "lose-response" | "http-502" | "error" | "slow";
  /** For `slow`: how long the call runs before it commits and answers. */
  delayMs?: number;
  /** For `error`: the Odoo exception class and message. */
  name?: string;
  message?: string;
  /** How many calls it affects (default 1). */
  times?: number;
}

/** One `execute_kw` (or `common.*`) call the stand-in received. */
export interface RecordedCall {
  service: string;
  method: string;
  model?: string;
  modelMethod?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  /** What it would have cost a live Odoo 17 (odoo_cost.ts), once answered. */
  cost?: CallCost;
}

/** The load a series of calls put on Odoo (modelled per call by odoo_cost.ts). */
export interface OdooLoad {
  /** JSON-RPC requests Odoo answered. */
  requests: number;
  /** SQL statements. */
  queries: number;
  /** Odoo request time, milliseconds. */
  ms: number;
}

/** Options of {@link startOdooStandin}. */
export interface OdooStandinOptions {
  version?: 16 | 17 | 18;
  db?: string;
  login?: string;
  password?: string;
  /** Custom fields on product.product (e.g. `{ x_origin: "char" }`), empty on seeded products. */
  customProductFields?: Record<string, "char">;
  /** The optional add-on `newretail_sync` (ops/odoo) is installed: `newretail.sync.poll`. */
  syncAddon?: boolean;
}

/** The running stand-in. */
export interface OdooStandin {
  /** Base URL (`http://127.0.0.1:PORT`). */
  readonly url: string;
  readonly db: string;
  readonly login: string;
  readonly password: string;
  readonly version: 16 | 17 | 18;
  /** The state, to arrange and to check what the connector did. */
  readonly state: OdooStateView;
  /** Every call received, in order. */
  readonly calls: RecordedCall[];
  /** The modelled load of the calls answered from index `from` on (all by default). */
  load(from?: number): OdooLoad;
  /** Injects a fault for the next matching call(s). */
  fault(f: Fault): void;
  /** `down`: every request is refused at the HTTP level (503 from a proxy). `up`: back. */
  setDown(down: boolean): void;
  /** Stops listening (connections refused), keeping the state; `restart` listens again. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** What tests may do to the stand-in's data, the way an Odoo user would in the web client. */
export interface OdooStateView {
  /** Records of a model, as stored (many2one as ids). */
  all(model: string): Rec[];
  get(model: string, id: number): Rec | undefined;
  /** `write` as an RPC `write` would (moves write_date, cascades by version). */
  write(model: string, ids: number[], vals: Record<string, unknown>): void;
  /** Deletes records (no cascade). */
  unlink(model: string, ids: number[]): void;
  /** Sets a product's on-hand quantity in WH/Stock (an inventory adjustment; quant write_date). */
  setOnHand(productId: number, quantity: number): void;
  /** A new product (template + variant); returns the variant id. */
  createProduct(
    vals: { name: string; list_price: number; barcode?: string; categ_id?: number },
  ): number;
  /** On-hand quantity of a product in a warehouse. */
  onHand(productId: number, warehouseId?: number): number;
  /** `create` as an RPC `create` would; returns the id. */
  create(model: string, vals: Record<string, unknown>): number;
  /**
   * Starts an Odoo transaction now: what it does is invisible until `commit`, and every
   * `write_date` it sets is its start time (PostgreSQL `now()`), however late it commits.
   * `agoMs`: it started that long ago (a long import call now about to commit).
   */
  begin(options?: { agoMs?: number }): OdooTransaction;
}

/** An open Odoo transaction (see {@link OdooStateView.begin}). */
export interface OdooTransaction {
  /** When it started, as Odoo stores it. */
  readonly start: string;
  write(model: string, ids: number[], vals: Record<string, unknown>): void;
  createProduct(vals: { name: string; list_price: number; barcode?: string }): void;
  /** `create` as an RPC `create` would (the id is known once committed). */
  create(model: string, vals: Record<string, unknown>): void;
  /** Applies everything, stamped with the start time. */
  commit(): void;
}

/**
 * Starts the stand-in on a free loopback port.
 *
 * @example
 * ```ts
 * const odoo = await startOdooStandin({ version: 17 });
 * try { ... } finally { await odoo.close(); }
 * ```
 */
export function startOdooStandin(options: OdooStandinOptions = {}): Promise<OdooStandin> {
  const version = options.version ?? 17;
  const db = options.db ?? "odootest";
  const login = options.login ?? "admin";
  const password = options.password ?? "admin";
  const state = new OdooState(version, options.customProductFields ?? {});
  if (options.syncAddon) state.defineSyncAddon();
  const calls: RecordedCall[] = [];
  const faults: (Fault & { left: number })[] = [];
  let down = false;

  const versionInfo = version === 17
    ? (versionLogin as unknown as Exchange[])[0].response.result
    : {
      server_version: `${version}.0`,
      server_version_info: [version, 0, 0, "final", 0, ""],
      server_serie: `${version}.0`,
      protocol_version: 1,
    };

  function takeFault(key: string): Fault | undefined {
    const i = faults.findIndex((f) => f.match === key);
    if (i < 0) return undefined;
    const f = faults[i];
    if (--f.left <= 0) faults.splice(i, 1);
    return f;
  }

  function checkDb(name: unknown) {
    if (name !== db) {
      const msg =
        `connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  database "${name}" does not exist\n`;
      throw new OdooFault("psycopg2.OperationalError", msg);
    }
  }

  function executeKw(args: unknown[]): unknown {
    const [dbName, uid, pwd, model, method, posArgs = [], kwargs = {}] = args as [
      string,
      number,
      string,
      string,
      string,
      unknown[],
      Record<string, unknown>,
    ];
    checkDb(dbName);
    if (pwd !== password || uid !== 2) {
      throw new OdooFault("odoo.exceptions.AccessDenied", "Access Denied");
    }
    if (method.startsWith("_")) {
      throw new OdooFault(
        "odoo.exceptions.AccessError",
        `Private methods (such as ${method}) cannot be called remotely.`,
      );
    }
    state.table(model);
    const ctx = (kwargs.context ?? {}) as Record<string, unknown>;
    switch (method) {
      case "search_read": {
        const fields = kwargs.fields as string[] | undefined;
        for (const f of fields ?? []) state.fieldDef(model, f);
        return state.read(
          model,
          state.search(model, (posArgs[0] ?? []) as Domain, kwargs),
          fields,
          ctx,
        );
      }
      case "search":
        return state.search(model, (posArgs[0] ?? []) as Domain, kwargs).map((r) => r.id);
      case "search_count":
        return state.search(model, (posArgs[0] ?? []) as Domain, {
          ...kwargs,
          limit: undefined,
          offset: 0,
        }).length;
      case "read_group":
        return readGroup(model, (posArgs[0] ?? []) as Domain, posArgs, kwargs);
      case "poll": {
        // ops/odoo/newretail_sync: search_read of the products, and the rules' read_group.
        if (model !== "newretail.sync") break;
        const [domain, fields, limit, pricelistIds] = posArgs as [
          Domain,
          string[],
          number,
          unknown,
        ];
        const products = state.read(
          "product.product",
          state.search("product.product", domain, { ...kwargs, limit, order: "id" }),
          fields,
          ctx,
        );
        if (!Array.isArray(pricelistIds) || pricelistIds.length === 0) return { products };
        const [group] = readGroup(
          "product.pricelist.item",
          [["pricelist_id", "in", pricelistIds]],
          [],
          { fields: ["write_date:max"], context: ctx },
        ) as { __count: number; write_date: unknown }[];
        return { products, rules: { count: group.__count, write_date: group.write_date } };
      }
      case "read": {
        const fields = (kwargs.fields ?? posArgs[1]) as string[] | undefined;
        for (const f of fields ?? []) state.fieldDef(model, f);
        const recs = (posArgs[0] as number[]).map((id) => state.get(model, id)).filter((
          r,
        ): r is Rec => r !== undefined);
        return state.read(model, recs, fields, ctx);
      }
      case "fields_get": {
        const out: Record<string, unknown> = {};
        for (const [name, def] of Object.entries(state.fields.get(model)!)) {
          out[name] = {
            type: def.type,
            string: name,
            ...(def.relation ? { relation: def.relation } : {}),
          };
        }
        return out;
      }
      case "create": {
        const vals = posArgs[0];
        if (Array.isArray(vals)) return vals.map((v) => state.createRecord(model, v, ctx));
        return state.createRecord(model, vals as Record<string, unknown>, ctx);
      }
      case "write":
        state.write(model, posArgs[0] as number[], posArgs[1] as Record<string, unknown>);
        return true;
      case "unlink":
        for (const id of posArgs[0] as number[]) state.table(model).delete(id);
        return true;
      case "action_cancel":
        if (model !== "stock.picking" && model !== "sale.order") break;
        state.cancel(model, posArgs[0] as number[]);
        return true;
      case "action_confirm":
        for (const id of posArgs[0] as number[]) {
          if (model === "sale.order") state.confirmOrder(id);
          else if (model === "stock.picking") state.confirmPicking(id);
          else break;
        }
        return true;
      case "button_validate":
        if (model !== "stock.picking") break;
        return state.validate(posArgs[0] as number[], ctx);
      case "process":
      case "process_cancel_backorder": {
        if (model !== "stock.backorder.confirmation" && model !== "stock.immediate.transfer") break;
        for (const id of posArgs[0] as number[]) {
          const wizard = state.get(model, id)!;
          const picks = wizard.pick_ids as number[];
          if (model === "stock.immediate.transfer") {
            // 16: "Apply" sets every move's done quantity to its demand, then validates.
            for (const p of picks) {
              for (const m of state.movesOf(p)) m.quantity_done = m.product_uom_qty;
            }
            const result = state.validate(picks, ctx);
            if (result !== true) return result;
          } else {
            state.validate(picks, {
              ...ctx,
              skip_backorder: true,
              cancel_backorder: method === "process_cancel_backorder",
            });
          }
        }
        return true;
      }
    }
    throw new OdooFault(
      "builtins.AttributeError",
      `The method '${method}' does not exist on the model '${model}'`,
    );
  }

  /**
   * `read_group` without groups (what the connector asks): one row with `__count` and the asked
   * aggregates (`field:max`, `field:min`, `field:sum`), as Odoo 17 answers it.
   */
  function readGroup(
    model: string,
    domain: Domain,
    posArgs: unknown[],
    kwargs: Record<string, unknown>,
  ): unknown {
    const fields = (kwargs.fields ?? posArgs[1] ?? []) as string[];
    const groupby = (kwargs.groupby ?? posArgs[2] ?? []) as string[];
    if (groupby.length > 0) {
      throw new OdooFault("builtins.NotImplementedError", "the stand-in groups by nothing only");
    }
    const recs = state.search(model, domain, { ...kwargs, limit: undefined, offset: 0 });
    const ctx = (kwargs.context ?? {}) as Record<string, unknown>;
    const row: Record<string, unknown> = { __count: recs.length };
    for (const spec of fields) {
      const m = /^(\w+):(max|min|sum)$/.exec(spec);
      if (!m) throw new OdooFault("builtins.ValueError", `Invalid field specification '${spec}'.`);
      const [, name, agg] = m;
      const def = state.fieldDef(model, name);
      const values = recs.map((r) => state.raw(model, r, name, ctx)).filter((v) => v !== false);
      if (values.length === 0) {
        row[name] = false;
        continue;
      }
      const pick = agg === "sum"
        ? (values as number[]).reduce((a, b) => a + b, 0)
        : values.reduce((a, b) => ((agg === "max" ? a! < b! : a! > b!) ? b : a));
      row[name] = def.type === "datetime" ? String(pick).slice(0, 19) : pick;
    }
    row.__domain = domain;
    return [row];
  }

  function dispatch(params: { service?: string; method?: string; args?: unknown[] }): unknown {
    const { service, method, args = [] } = params;
    if (service === "common") {
      if (method === "version") return versionInfo;
      if (method === "login" || method === "authenticate") {
        checkDb(args[0]);
        return args[1] === login && args[2] === password ? 2 : false;
      }
    }
    if (service === "object" && method === "execute_kw") return executeKw(args);
    throw new OdooFault("builtins.Exception", `No such method ${service}.${method}`);
  }

  async function handle(request: Request): Promise<Response> {
    const json = (body: unknown) =>
      new Response(JSON.stringify(body), {
        headers: {
          "content-type": "application/json; charset=utf-8",
          "x-content-type-options": "nosniff",
        },
      });
    const text = await request.text();
    if (down) {
      return new Response("<html><body>503 Service Unavailable</body></html>", { status: 503 });
    }
    if (new URL(request.url).pathname !== "/jsonrpc" || request.method !== "POST") {
      return new Response("Not Found", { status: 404 });
    }
    let envelope: {
      id?: unknown;
      params?: { service?: string; method?: string; args?: unknown[] };
    };
    try {
      envelope = JSON.parse(text);
    } catch {
      return new Response("Bad Request", { status: 400 });
    }
    const params = envelope.params ?? {};
    const args = params.args ?? [];
    const call: RecordedCall = { service: params.service ?? "", method: params.method ?? "" };
    if (params.service === "object") {
      Object.assign(call, {
        model: args[3],
        modelMethod: args[4],
        args: args[5],
        kwargs: args[6],
      });
    }
    calls.push(call);
    const key = call.model ? `${call.model}.${call.modelMethod}` : `${call.service}.${call.method}`;
    const fault = takeFault(key);
    if (fault?.action === "http-502") return new Response("Bad Gateway", { status: 502 });
    const start = state.now();
    try {
      if (fault?.action === "error") {
        throw new OdooFault(fault.name ?? "odoo.exceptions.UserError", fault.message ?? "injected");
      }
      if (fault?.action === "slow") {
        await new Promise((resolve) => setTimeout(resolve, fault.delayMs ?? 1000));
      }
      const result = state.inTransaction(start, () => dispatch(params));
      call.cost = callCost({
        ...call,
        result,
        fieldTypes: (f) => {
          const model = call.model === "newretail.sync" ? "product.product" : call.model;
          return model ? state.fields.get(model)?.[f]?.type : undefined;
        },
      });
      if (fault?.action === "lose-response") return new Response("Bad Gateway", { status: 502 });
      return json({ jsonrpc: "2.0", id: envelope.id ?? null, result });
    } catch (e) {
      call.cost = callCost({ ...call, result: undefined });
      const name = e instanceof OdooFault ? e.odooName : "builtins.Exception";
      const message = (e as Error).message;
      return json({
        jsonrpc: "2.0",
        id: envelope.id ?? null,
        error: {
          code: 200,
          message: "Odoo Server Error",
          data: { name, debug: "(traceback removed)", message, arguments: [message], context: {} },
        },
      });
    }
  }

  let server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);
  const port = server.addr.port;
  let running = true;

  const view: OdooStateView = {
    all: (model) => [...state.table(model).values()],
    get: (model, id) => state.get(model, id),
    write: (model, ids, vals) => state.write(model, ids, vals),
    unlink: (model, ids) => {
      for (const id of ids) state.table(model).delete(id);
    },
    setOnHand(productId, quantity) {
      const now = state.now();
      const current = state.onHand(productId, { warehouse: 1, warehouse_id: 1 });
      const quant = [...state.table("stock.quant").values()].find((q) =>
        q.product_id === productId && q.location_id === 8
      );
      if (quant) {
        Object.assign(quant, {
          quantity: (quant.quantity as number) + quantity - current,
          write_date: now,
        });
      } else {
        state.insert("stock.quant", {
          product_id: productId,
          location_id: 8,
          quantity: quantity - current,
          write_date: now,
        });
      }
    },
    createProduct(vals) {
      const now = state.now();
      const tmpl = state.insert("product.template", {
        name: vals.name,
        list_price: vals.list_price,
        categ_id: vals.categ_id ?? 1,
        uom_id: 1,
        description_sale: false,
        to_weight: false,
        available_in_pos: true,
        sale_ok: true,
        active: true,
        write_date: now,
      });
      return state.insert("product.product", {
        product_tmpl_id: tmpl.id,
        lst_price: vals.list_price,
        price_extra: 0,
        barcode: vals.barcode ?? false,
        default_code: false,
        standard_price: 0,
        active: true,
        write_date: now,
      }).id;
    },
    create: (model, vals) => state.createRecord(model, vals, {}),
    begin(options = {}) {
      const start = odooStamp(Date.now() - (options.agoMs ?? 0));
      const work: (() => void)[] = [];
      return {
        start,
        write: (model, ids, vals) => work.push(() => state.write(model, ids, vals)),
        createProduct: (vals) => work.push(() => view.createProduct(vals)),
        create: (model, vals) => work.push(() => state.createRecord(model, vals, {})),
        commit: () => state.inTransaction(start, () => work.splice(0).forEach((w) => w())),
      };
    },
    onHand: (productId, warehouseId) =>
      state.onHand(
        productId,
        warehouseId === undefined ? {} : { warehouse: warehouseId, warehouse_id: warehouseId },
      ),
  };

  return Promise.resolve({
    url: `http://127.0.0.1:${port}`,
    db,
    login,
    password,
    version,
    state: view,
    calls,
    load(from = 0) {
      const load = { requests: 0, queries: 0, ms: 0 };
      for (const c of calls.slice(from)) {
        if (!c.cost) continue;
        load.requests++;
        load.queries += c.cost.queries;
        load.ms += c.cost.ms;
      }
      return load;
    },
    fault: (f) => faults.push({ ...f, left: f.times ?? 1 }),
    setDown: (d) => {
      down = d;
    },
    async stop() {
      if (!running) return;
      running = false;
      await server.shutdown();
    },
    restart() {
      if (!running) {
        server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handle);
        running = true;
      }
      return Promise.resolve();
    },
    async close() {
      if (running) {
        running = false;
        await server.shutdown();
      }
    },
  });
}

/** A past instant as Odoo stores a datetime ("YYYY-MM-DD HH:MM:SS.ffffff", UTC). */
function odooStamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}
