/**
 * Wiring the Odoo connector's parts to an {@link OdooStandin} for tests.
 *
 * @module
 */
import { defaultConfig } from "../../src/config/config.ts";
import {
  odooClientFor,
  type OdooSettings,
  odooSettings,
} from "../../src/upstream/odoo/settings.ts";
import type { OdooClient } from "../../src/upstream/odoo/jsonrpc.ts";
import type { OdooStandin } from "./odoo_standin.ts";
import type { Database } from "../../src/store/database.ts";
import { createMemoryLogger, type LogFields, type Logger } from "../../src/log.ts";
import { discoverSite, type OdooSite } from "../../src/upstream/odoo/site.ts";
import { CataloguePuller } from "../../src/upstream/odoo/catalogue.ts";
import type { DeliveryContext } from "../../src/upstream/odoo/delivery.ts";
import { installationId } from "../../src/store/odoo_catalogue.ts";
import { pricelistOf } from "../../src/upstream/odoo/pricelist.ts";
import { compilePricelists } from "../../src/pricing/pricelist.ts";
import { systemClock } from "../../src/clock.ts";

/** Settings pointing at the stand-in, with overrides (page size 10 unless given). */
export function standinSettings(
  odoo: OdooStandin,
  overrides: Partial<OdooSettings> = {},
): OdooSettings {
  const config = {
    ...defaultConfig(),
    odooUrl: odoo.url,
    odooDb: odoo.db,
    odooUser: odoo.login,
    odooApiKey: odoo.password,
  };
  return { ...odooSettings(config)!, pageSize: 10, timeoutMs: 5000, ...overrides };
}

/** A client for the stand-in. */
export function standinClient(
  odoo: OdooStandin,
  overrides: Partial<OdooSettings> = {},
): OdooClient {
  return odooClientFor(standinSettings(odoo, overrides));
}

/** The connector's parts wired to the stand-in: what a delivery test builds its outbox worker on. */
export interface StandinDelivery {
  settings: OdooSettings;
  client: OdooClient;
  log: Logger & { lines: LogFields[] };
  site: OdooSite;
  /** A catalogue puller on the same client (not run: a test pulls when it needs to). */
  puller: CataloguePuller;
  /** What `deliverReceipt`, `deliverOrder` and `deliverRefill` take. */
  ctx: DeliveryContext;
}

/** Discovers the stand-in's site and builds the delivery context for `db` (shop `shop0001`). */
export async function standinDelivery(
  db: Database,
  odoo: OdooStandin,
  overrides: Partial<OdooSettings> = {},
): Promise<StandinDelivery> {
  const settings = standinSettings(odoo, overrides);
  const client = standinClient(odoo, overrides);
  const log = createMemoryLogger("info");
  const site = await discoverSite(client, settings);
  const pricelist = pricelistOf(site, client, log, compilePricelists);
  const puller = new CataloguePuller({
    clock: systemClock,
    db,
    odoo: client,
    site,
    settings,
    log,
    pricelist,
  });
  const ctx: DeliveryContext = {
    db,
    odoo: client,
    site,
    settings,
    log,
    shopId: "shop0001",
    installationId: await installationId(db),
  };
  return { settings, client, log, site, puller, ctx };
}
