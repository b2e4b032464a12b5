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
