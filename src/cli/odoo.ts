/**
 * `odoo check` (can the appliance reach and log in to the configured Odoo?) and
 * `odoo pull [--full]` (pull the catalogue now, with a progress line).
 *
 * @module
 */
import { createLogger } from "../log.ts";
import { OdooError } from "../upstream/odoo/jsonrpc.ts";
import { odooClientFor, odooSettings } from "../upstream/odoo/settings.ts";
import { discoverSite } from "../upstream/odoo/site.ts";
import { CataloguePuller, type PullProgress } from "../upstream/odoo/catalogue.ts";
import { pricelistOf } from "../upstream/odoo/pricelist.ts";
import { compilePricelists } from "../pricing/pricelist.ts";
import { pullKind, reconcileIds } from "../upstream/odoo/reconcile.ts";
import { setUpstreamEnabled } from "../store/odoo_catalogue.ts";
import {
  CliError,
  CONFIG_FLAGS_HELP,
  loadCliConfig,
  parseStoreCommand,
  withStore,
} from "./_common.ts";
import type { Config } from "../config/config.ts";
import { systemClock } from "../clock.ts";

const HELP = `newretail odoo check
newretail odoo pull [--full]

check  connects to the configured Odoo (NEWRETAIL_ODOO_URL, _DB, _USER, _API_KEY): prints its
       version, logs in, and shows the warehouse served and how many products it has.
pull   pulls the catalogue now: changes since the last pull, or everything with --full (or when
       nothing was pulled yet), with a progress line. With the embedded database, stop the
       appliance first (one process at a time).

${CONFIG_FLAGS_HELP}`;

const FLAGS = {
  full: { type: "boolean" },
} as const;

function settingsOf(config: Config) {
  const settings = odooSettings(config);
  if (!settings) {
    throw new CliError("Odoo is not configured: set NEWRETAIL_ODOO_URL (and _DB, _USER, _API_KEY)");
  }
  return settings;
}

function odooFailure(e: unknown): never {
  if (e instanceof OdooError) throw new CliError(e.message);
  throw e;
}

/** A progress line on stderr: rewritten in place on a terminal, every 10% otherwise. */
export function progressPrinter(write: (text: string) => void, tty: boolean) {
  let lastDecile = -1;
  return (p: PullProgress) => {
    const percent = p.total ? Math.floor((p.done * 100) / p.total) : 100;
    const line = `pulled ${p.done} of ${p.total} products (${percent}%)`;
    if (tty) write(`\r${line}`);
    else if (Math.floor(percent / 10) !== lastDecile) {
      lastDecile = Math.floor(percent / 10);
      write(`${line}\n`);
    }
  };
}

/** Runs `odoo`. */
export async function odooCommand(args: string[]): Promise<number> {
  const { values, positionals, exit } = parseStoreCommand(args, HELP, FLAGS);
  if (exit !== undefined) return exit;
  const [verb, ...rest] = positionals;
  if ((verb !== "check" && verb !== "pull") || rest.length > 0) {
    throw new CliError(`unknown odoo command: ${positionals.join(" ")} (check or pull)`, 2);
  }
  const { config } = loadCliConfig(values);
  const settings = settingsOf(config);
  const odoo = odooClientFor(settings);

  if (verb === "check") {
    try {
      const info = await odoo.version();
      console.log(`Odoo ${info.server_version} at ${settings.url}`);
      const uid = await odoo.login();
      console.log(`logged in to database "${settings.db}" as "${settings.user}" (uid ${uid})`);
      const site = await discoverSite(odoo, settings);
      const count = await odoo.executeKw<number>("product.product", "search_count", [[]], {});
      console.log(
        `warehouse ${site.warehouse.id} ${site.warehouse.code} (${site.warehouse.name}); ${count} active products`,
      );
      if (!site.productFields.has("to_weight")) {
        console.log("note: Point of Sale is not installed: no product is marked as weighed");
      }
      if (site.major < 16) {
        console.log(`warning: Odoo ${site.major} is older than 16 (not supported)`);
      }
    } catch (e) {
      odooFailure(e);
    }
    return 0;
  }

  const log = createLogger({ level: config.logLevel === "debug" ? "debug" : "warn" });
  return await withStore(config, async (db) => {
    await setUpstreamEnabled(db, true);
    const site = await discoverSite(odoo, settings).catch(odooFailure);
    const pricelist = pricelistOf(site, odoo, log, compilePricelists);
    const puller = new CataloguePuller({
      clock: systemClock,
      db,
      odoo,
      site,
      settings,
      log,
      pricelist,
    });
    const encoder = new TextEncoder();
    const tty = Deno.stderr.isTerminal();
    const print = progressPrinter((t) => Deno.stderr.writeSync(encoder.encode(t)), tty);
    // As the running appliance does: full the first time (or asked), the id comparison when due.
    const kind = await pullKind(puller, values.full === true, true);
    const full = kind === "full";
    const stats = await (full
      ? puller.fullPull(print)
      : kind === "ids"
      ? reconcileIds({ clock: systemClock, db, odoo, log, puller })
      : puller.incrementalPull()).catch(odooFailure);
    if (tty && full) {
      Deno.stderr.writeSync(encoder.encode("\n"));
    }
    console.log(
      `${stats.kind} pull: ${stats.products} products read, ${stats.goodsChanged} goods changed, ` +
        `${stats.goodsDeactivated} deactivated, ${stats.stockChanged} stock changes`,
    );
    return 0;
  });
}
