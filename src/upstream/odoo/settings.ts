/**
 * The Odoo part of the configuration, checked as a whole: a URL without a database, user or key
 * is a configuration error naming the missing key, not a confusing failure at the first call.
 *
 * @module
 */
import { type Config, ConfigError } from "../../config/config.ts";
import { OdooClient } from "./jsonrpc.ts";

/** Everything the connector reads from the configuration. */
export interface OdooSettings {
  url: string;
  db: string;
  user: string;
  apiKey: string;
  /** Warehouse id or code; "" for the first. */
  warehouse: string;
  /** Pricelist id or name; "" for the products' sale price. */
  pricelist: string;
  pollMs: number;
  fullPassMs: number;
  /** Partner id or name; "" for the default walk-in customer. */
  partner: string;
  originField: string;
  featuresField: string;
  timeoutMs: number;
  pageSize: number;
  outboxTries: number;
  /** Longest Odoo transaction the incremental pull covers (its low-water mark lags this much). */
  transactionBoundMs: number;
  /** Odoo's request time limit: after a timed-out delivery, wait longer than this. */
  requestLimitMs: number;
}

/** Name of the partner the sale orders go to when `odooPartner` is empty. */
export const DEFAULT_PARTNER_NAME = "newretail walk-in";

/**
 * The Odoo settings, or undefined when Odoo is not configured (local mode). Throws
 * {@link ConfigError} when the URL is set but a required key is missing.
 */
export function odooSettings(config: Config): OdooSettings | undefined {
  if (!config.odooUrl) return undefined;
  for (const key of ["odooDb", "odooUser", "odooApiKey"] as const) {
    if (!config[key]) throw new ConfigError(key, "required when odooUrl is set");
  }
  for (const key of ["odooOriginField", "odooFeaturesField"] as const) {
    if (config[key] && !/^[a-z_][a-z0-9_]*$/.test(config[key])) {
      throw new ConfigError(key, `must be an Odoo field name, got ${JSON.stringify(config[key])}`);
    }
  }
  return {
    url: config.odooUrl,
    db: config.odooDb,
    user: config.odooUser,
    apiKey: config.odooApiKey,
    warehouse: config.odooWarehouse,
    pricelist: config.odooPricelist,
    pollMs: config.odooPollS * 1000,
    fullPassMs: config.odooFullPassS * 1000,
    partner: config.odooPartner,
    originField: config.odooOriginField,
    featuresField: config.odooFeaturesField,
    timeoutMs: config.odooTimeoutS * 1000,
    pageSize: config.odooPageSize,
    outboxTries: config.odooOutboxTries,
    transactionBoundMs: config.odooTransactionBoundS * 1000,
    requestLimitMs: config.odooRequestLimitS * 1000,
  };
}

/** A client for the configured Odoo (`onRequest`: told of each request, for metrics). */
export function odooClientFor(
  settings: OdooSettings,
  fetchFn?: typeof fetch,
  onRequest?: (call: string) => void,
): OdooClient {
  return new OdooClient({
    url: settings.url,
    db: settings.db,
    user: settings.user,
    apiKey: settings.apiKey,
    timeoutMs: settings.timeoutMs,
    fetch: fetchFn,
    onRequest,
  });
}
