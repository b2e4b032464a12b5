/**
 * What a call would cost a live Odoo 17, modelled, so that tests can state the load the connector
 * puts on Odoo: SQL statements and request time per JSON-RPC request.
 *
 * The model follows how Odoo 17 serves `/jsonrpc` (`odoo/service/model.py`): every `execute_kw`
 * checks the registry signalling sequences and builds an environment (user, companies), then runs
 * the method: one statement per search (however many `any` subqueries its domain holds), one more
 * per distinct `child_of`/`parent_of` root (its `parent_path` is read first), one for the
 * multi-company `parent_of` record rule of products, and for records read: one per table (a
 * variant's template fields come from a second table), one per many2one target named, and the
 * computed fields' own queries (`qty_available`: quants and incoming and outgoing moves).
 *
 * The constants are calibrated on the live Odoo 17 measurement of issue 27: one idle appliance
 * polling every 5 s with five empty reads cost 60 requests, 288 SQL queries and 1.09 s of Odoo
 * request time per minute. In this model those five reads cost 24 queries and 90 ms per poll
 * (12 polls: 288 queries, 1.08 s). docs/odoo.md compares the model with a live Odoo 17.
 *
 * @module
 */
import type { Domain } from "./odoo_orm.ts";

/** The modelled cost of one request. */
export interface CallCost {
  /** SQL statements Odoo would run. */
  queries: number;
  /** Odoo request time (its log line's query time plus the rest), in milliseconds. */
  ms: number;
}

/** The model's constants (see the module comment for their calibration). */
export const COST_MODEL = {
  /** Statements every `execute_kw` runs before its method (signalling, user, companies). */
  baseQueries: 3,
  /** Time every `/jsonrpc` request takes before its statements (HTTP, JSON, environment). */
  baseMs: 12,
  perQueryMs: 1.25,
  perRecordMs: 0.2,
} as const;

// Models with Odoo 17's multi-company rule `company_id parent_of company_ids` (one more read).
const PARENT_OF_RULE = new Set(["product.product", "product.template"]);
// Models whose records are read from two tables (`_inherits`).
const INHERITS = new Set(["product.product"]);
// Computed fields and the statements computing them costs.
const COMPUTED: Record<string, number> = {
  qty_available: 3,
  virtual_available: 3,
  display_name: 0,
  lst_price: 1,
  price_extra: 1,
};
// Methods that write, with a rough statement count (not idle traffic; order of magnitude only).
const WRITES: Record<string, number> = {
  create: 8,
  write: 4,
  unlink: 5,
  action_cancel: 10,
  action_confirm: 25,
  button_validate: 40,
  process: 40,
  process_cancel_backorder: 40,
};

/** What the stand-in knows about a call when it has answered it. */
export interface CostedCall {
  service: string;
  method: string;
  model?: string;
  modelMethod?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  /** Field types of the model, to tell many2one fields from others. */
  fieldTypes?: (field: string) => string | undefined;
  result?: unknown;
}

/** Distinct `child_of`/`parent_of` roots in a domain, `any` subdomains included. */
function hierarchyRoots(domain: Domain, roots = new Set<string>()): Set<string> {
  for (const leaf of domain) {
    if (!Array.isArray(leaf)) continue;
    const [, op, value] = leaf as [string, string, unknown];
    if (op === "child_of" || op === "parent_of") roots.add(JSON.stringify(value));
    if ((op === "any" || op === "not any") && Array.isArray(value)) hierarchyRoots(value, roots);
  }
  return roots;
}

/** The modelled cost of one call. */
export function callCost(call: CostedCall): CallCost {
  if (call.service === "common") {
    const queries = call.method === "version" ? 0 : 3;
    return { queries, ms: 2 + queries * COST_MODEL.perQueryMs };
  }
  const model = call.model ?? "";
  const method = call.modelMethod ?? "";
  let queries = COST_MODEL.baseQueries;
  let records = 0;
  const searches = ["search", "search_read", "search_count", "read_group"];
  if (searches.includes(method)) {
    queries += 1 + hierarchyRoots((call.args?.[0] ?? []) as Domain).size;
    if (PARENT_OF_RULE.has(model)) queries += 1;
  } else if (model === "newretail.sync" && method === "poll") {
    // The add-on: a product search_read, and a read_group of the rules when asked.
    queries += 2 + hierarchyRoots((call.args?.[0] ?? []) as Domain).size +
      (Array.isArray(call.args?.[3]) && call.args[3].length > 0 ? 1 : 0);
  } else if (method === "fields_get") queries += 1;
  else if (method !== "read") queries += WRITES[method] ?? 5;
  const read = model === "newretail.sync"
    ? (call.result as { products?: unknown[] } | undefined)?.products
    : (method === "read" || method === "search_read") && Array.isArray(call.result)
    ? call.result
    : undefined;
  if (read) {
    records = read.length;
    if (records > 0) {
      const fields = (call.kwargs?.fields ?? call.args?.[1] ?? []) as string[];
      queries += INHERITS.has(model) || model === "newretail.sync" ? 2 : 1;
      const targets = new Set<string>();
      for (const f of fields) {
        queries += COMPUTED[f] ?? 0;
        if (call.fieldTypes?.(f) === "many2one") targets.add(f);
      }
      queries += targets.size;
    }
  }
  return {
    queries,
    ms: COST_MODEL.baseMs + queries * COST_MODEL.perQueryMs + records * COST_MODEL.perRecordMs,
  };
}
