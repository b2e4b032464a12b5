/**
 * The Odoo stand-in's ORM: in-memory tables of records, field definitions, reading as Odoo sends
 * values (many2one `[id, name]`, `false` for empty, datetimes to the second), domains and search.
 * Models, seed data and business rules live in `odoo_models.ts` and `odoo_rules.ts`.
 *
 * @module
 */

/** A record as stored: field name → value (many2one as an id or false). */
export type Rec = Record<string, unknown> & { id: number };

export type FieldType =
  | "integer"
  | "char"
  | "text"
  | "float"
  | "boolean"
  | "datetime"
  | "selection"
  | "many2one"
  | "one2many"
  | "many2many";

export interface FieldDef {
  type: FieldType;
  relation?: string;
  /** Computed when read; never stored. */
  compute?: (rec: Rec, ctx: Record<string, unknown>) => unknown;
}

export type Domain = unknown[];

/** An error object exactly as Odoo sends it. */
export class OdooFault extends Error {
  constructor(readonly odooName: string, message: string) {
    super(message);
  }
}

/** The next double above `x`: Odoo 17 read variant prices as 5.1000000000000005 for 5.1. */
export function nextUp(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0);
}

/** A many2one value (`[id, name]`, an id or `false`) as an id or `false`. */
export function m2oId(value: unknown): number | false {
  if (Array.isArray(value)) return value[0] as number;
  return typeof value === "number" ? value : false;
}

/** A tiny Odoo ORM over in-memory tables; subclasses define the models and their rules. */
export abstract class OdooOrm {
  readonly version: 16 | 17 | 18;
  readonly tables = new Map<string, Map<number, Rec>>();
  readonly fields = new Map<string, Record<string, FieldDef>>();
  protected readonly nextId = new Map<string, number>();
  #lastMicros = 0;
  #stamp: string | undefined;
  protected readonly sequences = new Map<string, number>();

  constructor(version: 16 | 17 | 18) {
    this.version = version;
  }

  /** A record's `display_name`, per model. */
  abstract displayName(model: string, r: Rec): string;

  /** Now with microseconds, strictly increasing ("YYYY-MM-DD HH:MM:SS.ffffff"). */
  now(): string {
    if (this.#stamp !== undefined) return this.#stamp;
    const micros = Math.max(Date.now() * 1000, this.#lastMicros + 1);
    this.#lastMicros = micros;
    const iso = new Date(Math.floor(micros / 1000)).toISOString();
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${
      String(micros % 1_000_000).padStart(6, "0")
    }`;
  }

  table(model: string): Map<number, Rec> {
    const t = this.tables.get(model);
    if (!t) throw new OdooFault("odoo.exceptions.UserError", `Object ${model} doesn't exist`);
    return t;
  }

  insert(model: string, values: Record<string, unknown>): Rec {
    const table = this.table(model);
    const id = (values.id as number | undefined) ?? (this.nextId.get(model) ?? 1);
    const rec = { ...values, id } as Rec;
    table.set(id, rec);
    this.nextId.set(model, Math.max(this.nextId.get(model) ?? 1, id + 1));
    return rec;
  }

  /**
   * Runs `fn` as one Odoo transaction that started at `start`: every `write_date` it sets is
   * `start`, as PostgreSQL's `now()` is the transaction's start time (Odoo stamps with it).
   */
  inTransaction<T>(start: string, fn: () => T): T {
    const outer = this.#stamp;
    this.#stamp = start;
    try {
      return fn();
    } finally {
      this.#stamp = outer;
    }
  }

  /** Declares a model and its fields (id, display_name, write_date, create_date added). */
  protected define(model: string, fields: Record<string, FieldDef>) {
    this.tables.set(model, new Map());
    this.fields.set(model, {
      id: { type: "integer" },
      display_name: { type: "char", compute: (r) => this.displayName(model, r) },
      write_date: { type: "datetime" },
      create_date: { type: "datetime" },
      ...fields,
    });
  }

  get(model: string, id: number): Rec | undefined {
    return this.table(model).get(id);
  }
  isChildOf(locationId: number, root: number): boolean {
    for (let id: number | false = locationId; id;) {
      if (id === root) return true;
      id = (this.get("stock.location", id)?.location_id ?? false) as number | false;
    }
    return false;
  }

  nextName(key: string, format: (n: number) => string): string {
    const n = (this.sequences.get(key) ?? 0) + 1;
    this.sequences.set(key, n);
    return format(n);
  }
  // --- reading ---------------------------------------------------------------------------

  fieldDef(model: string, field: string): FieldDef {
    const def = this.fields.get(model)?.[field];
    if (!def) {
      throw new OdooFault("builtins.ValueError", `Invalid field '${field}' on model '${model}'`);
    }
    return def;
  }

  raw(model: string, rec: Rec, field: string, ctx: Record<string, unknown>): unknown {
    const def = this.fieldDef(model, field);
    if (def.compute) return def.compute(rec, ctx);
    return rec[field] ?? (def.type === "boolean" ? false : def.type === "float" ? 0 : false);
  }

  /** A field as Odoo sends it: many2one `[id, name]`, empty `false`, datetimes to the second. */
  format(model: string, rec: Rec, field: string, ctx: Record<string, unknown>): unknown {
    const def = this.fieldDef(model, field);
    const value = this.raw(model, rec, field, ctx);
    switch (def.type) {
      case "many2one": {
        if (!value) return false;
        const target = this.get(def.relation!, value as number);
        return target ? [target.id, this.displayName(def.relation!, target)] : false;
      }
      case "datetime":
        return typeof value === "string" ? value.slice(0, 19) : false;
      case "one2many":
      case "many2many":
        return Array.isArray(value) ? value : [];
      case "char":
      case "text":
      case "selection":
        return value === "" || value === null || value === undefined ? false : value;
      default:
        return value;
    }
  }

  read(model: string, recs: Rec[], fields: string[] | undefined, ctx: Record<string, unknown>) {
    const names = fields && fields.length ? fields : Object.keys(this.fields.get(model)!);
    return recs.map((r) => {
      const out: Record<string, unknown> = { id: r.id };
      for (const f of names) out[f] = this.format(model, r, f, ctx);
      return out;
    });
  }

  #path(model: string, rec: Rec, path: string, ctx: Record<string, unknown>): unknown {
    const [head, ...rest] = path.split(".");
    const value = this.raw(model, rec, head, ctx);
    if (rest.length === 0) return value;
    const def = this.fieldDef(model, head);
    const target = value ? this.get(def.relation!, value as number) : undefined;
    return target ? this.#path(def.relation!, target, rest.join("."), ctx) : false;
  }

  /** Records a relational field points at (many2one: one or none; x2many: each). */
  #related(model: string, rec: Rec, field: string, ctx: Record<string, unknown>): Rec[] {
    const def = this.fieldDef(model, field);
    if (!def.relation) {
      throw new OdooFault("builtins.ValueError", `Invalid field '${field}' in an 'any' leaf`);
    }
    const value = this.raw(model, rec, field, ctx);
    const ids = Array.isArray(value) ? value as number[] : value ? [value as number] : [];
    return ids.map((id) => this.get(def.relation!, id)).filter((r): r is Rec => r !== undefined);
  }

  #term(model: string, rec: Rec, term: unknown[], ctx: Record<string, unknown>): boolean {
    const [field, op, value] = term as [string, string, unknown];
    if (op === "any" || op === "not any") {
      if (this.version < 17) {
        throw new OdooFault("builtins.ValueError", `Invalid leaf ${JSON.stringify(term)}`);
      }
      // Odoo 17: a subdomain on the related records (many2one, one2many, many2many).
      const [head, ...rest] = field.split(".");
      const sub = rest.length ? [[rest.join("."), op, value]] : value as Domain;
      const relation = this.fieldDef(model, head).relation!;
      const found = this.#related(model, rec, head, ctx).some((r) =>
        this.#matches(relation, r, sub, ctx)
      );
      return op === "any" ? found : !found;
    }
    const head = field.split(".")[0];
    const headDef = this.fields.get(model)?.[head];
    if (field.includes(".") && (headDef?.type === "one2many" || headDef?.type === "many2many")) {
      // A path through an x2many: true when one of the related records matches (16 and 17).
      const rest = field.slice(head.length + 1);
      return this.#related(model, rec, head, ctx).some((r) =>
        this.#term(headDef.relation!, r, [rest, op, value], ctx)
      );
    }
    const v = this.#path(model, rec, field, ctx);
    const norm = (x: unknown) => (x === "" || x === null || x === undefined ? false : x);
    switch (op) {
      case "=":
        return norm(v) === norm(value);
      case "!=":
        return norm(v) !== norm(value);
      case ">":
        return v !== false && (v as number | string) > (value as number | string);
      case ">=":
        return v !== false && (v as number | string) >= (value as number | string);
      case "<":
        return v !== false && (v as number | string) < (value as number | string);
      case "<=":
        return v !== false && (v as number | string) <= (value as number | string);
      case "in":
        return (value as unknown[]).some((x) =>
          Array.isArray(v) ? (v as unknown[]).includes(x) : norm(x) === norm(v)
        );
      case "not in":
        return !(value as unknown[]).some((x) => norm(x) === norm(v));
      case "ilike":
        return String(v || "").toLowerCase().includes(String(value).toLowerCase());
      case "child_of": {
        const def = this.fieldDef(model, field.split(".")[0]);
        if (def.relation !== "stock.location") return v === value;
        const roots = Array.isArray(value) ? value : [value];
        return typeof v === "number" && roots.some((r) => this.isChildOf(v, r as number));
      }
      default:
        throw new OdooFault("builtins.ValueError", `Invalid leaf ${JSON.stringify(term)}`);
    }
  }

  #matches(model: string, rec: Rec, domain: Domain, ctx: Record<string, unknown>): boolean {
    let pos = 0;
    const next = (): boolean => {
      const item = domain[pos++];
      if (item === "&") return next() && next() || false;
      if (item === "|") {
        const a = next();
        const b = next();
        return a || b;
      }
      if (item === "!") return !next();
      return this.#term(model, rec, item as unknown[], ctx);
    };
    let result = true;
    while (pos < domain.length) result = next() && result;
    return result;
  }

  search(model: string, domain: Domain, kwargs: Record<string, unknown>): Rec[] {
    const ctx = (kwargs.context ?? {}) as Record<string, unknown>;
    const hasActive = "active" in this.fields.get(model)!;
    const mentionsActive = JSON.stringify(domain).includes('"active"');
    let recs = [...this.table(model).values()].filter((r) =>
      (!hasActive || mentionsActive || ctx.active_test === false || r.active !== false) &&
      this.#matches(model, r, domain, ctx)
    );
    const order = String(kwargs.order ?? "id").split(",").map((s) => s.trim().split(/\s+/));
    recs.sort((a, b) => {
      for (const [f, dir] of order) {
        const x = this.raw(model, a, f, ctx) as number | string;
        const y = this.raw(model, b, f, ctx) as number | string;
        if (x !== y) return (x < y ? -1 : 1) * (dir?.toLowerCase() === "desc" ? -1 : 1);
      }
      return 0;
    });
    const offset = Number(kwargs.offset ?? 0);
    recs = recs.slice(offset, kwargs.limit ? offset + Number(kwargs.limit) : undefined);
    return recs;
  }

  // --- writing ---------------------------------------------------------------------------

  checkFields(model: string, vals: Record<string, unknown>) {
    for (const f of Object.keys(vals)) {
      const def = this.fieldDef(model, f);
      if (
        def.compute && !(model === "product.product" && f in this.fields.get("product.template")!)
      ) {
        throw new OdooFault("builtins.ValueError", `Invalid field '${f}' on model '${model}'`);
      }
    }
  }
}
