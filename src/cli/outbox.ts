/**
 * `outbox list [--failed|--pending]` and `outbox retry ID`: what is owed to Odoo, and putting a
 * parked delivery back in line (delivered at once when Odoo is configured and reachable).
 *
 * @module
 */
import { createLogger } from "../log.ts";
import { odooClientFor, odooSettings } from "../upstream/odoo/settings.ts";
import { discoverSite } from "../upstream/odoo/site.ts";
import { deliverReceipt } from "../upstream/odoo/receipts.ts";
import { deliverOrder } from "../upstream/odoo/orders.ts";
import { deliverRefill } from "../upstream/odoo/refills.ts";
import { installationId } from "../store/odoo_catalogue.ts";
import { OutboxWorker } from "../upstream/odoo/outbox.ts";
import { getOutboxRow, listOutbox, type OutboxRow, retryOutbox } from "../store/odoo_outbox.ts";
import { CliError, CONFIG_FLAGS_HELP, loadCliConfig, parseStoreCommand } from "./_common.ts";
import { withStoreOrApi } from "./_admin_api.ts";
import { systemClock } from "../clock.ts";

const HELP = `newretail outbox list [--failed | --pending] [--limit N]
newretail outbox retry ID

list   deliveries owed to Odoo (stock receipts, paid orders), newest first: state, attempts,
       the Odoo record they became, or the last error.
retry  puts a failed (parked) delivery back in line and, when Odoo is configured, delivers it
       now (while the appliance runs, it delivers the row itself).

${CONFIG_FLAGS_HELP}`;

const FLAGS = {
  failed: { type: "boolean" },
  pending: { type: "boolean" },
  limit: { type: "string" },
} as const;

function iso(d: Date | string | null): string {
  return d instanceof Date ? d.toISOString() : d ?? "-";
}

/** An outbox row as the store reads it, or as the admin API sends it (times as text). */
type ListedRow = Omit<OutboxRow, "created_at"> & { created_at: Date | string };

/** One line of `outbox list`. */
export function outboxLine(r: ListedRow): string {
  const what = r.state === "delivered" ? r.odoo_name : r.last_error.replace(/\s+/g, " ");
  return [r.id, r.kind, r.local_id, r.state, r.attempts, iso(r.created_at), what || "-"].join("\t");
}

/** Runs `outbox`. */
export async function outboxCommand(args: string[]): Promise<number> {
  const { values, positionals, exit } = parseStoreCommand(args, HELP, FLAGS);
  if (exit !== undefined) return exit;
  const [verb, id, ...rest] = positionals;
  if (verb !== "list" && verb !== "retry") {
    throw new CliError(`unknown outbox command: ${verb} (list or retry)`, 2);
  }
  if (verb === "retry" && (!id || !/^\d+$/.test(id) || rest.length > 0)) {
    throw new CliError("outbox retry needs one outbox row ID (a number from outbox list)", 2);
  }
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new CliError("--limit must be a positive integer", 2);
  }
  const { config } = loadCliConfig(values);
  if (verb === "list") {
    const state = values.failed ? "failed" : values.pending ? "pending" : undefined;
    const rows = await withStoreOrApi<ListedRow[]>(
      config,
      (db) => listOutbox(db, { state, limit }),
      async (api) =>
        (await api(
          "GET",
          `/api/outbox?limit=${limit}${state ? `&state=${state}` : ""}`,
        )) as ListedRow[],
      { existing: true },
    );
    console.log(
      ["ID", "KIND", "LOCAL ID", "STATE", "ATTEMPTS", "CREATED", "ODOO / LAST ERROR"].join("\t"),
    );
    for (const r of rows) console.log(outboxLine(r));
    console.log(`${rows.length} row(s)`);
    return 0;
  }
  return await withStoreOrApi(config, async (db) => {
    if (!await retryOutbox(db, Number(id))) {
      throw new CliError(`outbox row ${id} does not exist or is already delivered`);
    }
    const settings = odooSettings(config);
    if (!settings) {
      console.log(`outbox row ${id} is pending again (Odoo is not configured here)`);
      return 0;
    }
    const log = createLogger({ level: "error" });
    const odoo = odooClientFor(settings);
    const worker = new OutboxWorker({
      db,
      log,
      clock: systemClock,
      maxRefusals: settings.outboxTries,
      deliver: async (row) => {
        const ctx = {
          db,
          odoo,
          site: await discoverSite(odoo, settings),
          settings,
          log,
          shopId: config.shopId,
          installationId: await installationId(db),
        };
        const deliver = row.kind === "sale-order"
          ? deliverOrder
          : row.kind === "refill"
          ? deliverRefill
          : deliverReceipt;
        return deliver(ctx, row.local_id);
      },
    });
    await worker.runDue();
    const row = (await getOutboxRow(db, Number(id)))!;
    console.log(outboxLine(row));
    return row.state === "delivered" ? 0 : 1;
  }, async (api) => {
    await api("POST", `/api/outbox/${Number(id)}/retry`);
    console.log(`outbox row ${id} is pending again: the running appliance delivers it`);
    return 0;
  });
}
