/**
 * Configuration keys: the Odoo upstream. Part of `CONFIG_SPEC` (spec.ts).
 *
 * @module
 */
import { field, integer, seconds, text, url } from "./parsers.ts";

/** The Odoo upstream. */
export const ODOO_KEYS = {
  // Odoo upstream (DESIGN.md "upstream (Odoo)"; docs/odoo.md)
  odooUrl: field({
    env: "NEWRETAIL_ODOO_URL",
    default: "",
    parse: url("http", "https"),
    doc: "Odoo server URL (e.g. https://erp.example.com); empty: no Odoo, the local store rules.",
  }),
  odooDb: field({
    env: "NEWRETAIL_ODOO_DB",
    default: "",
    parse: text,
    doc: "Odoo database name.",
  }),
  odooUser: field({
    env: "NEWRETAIL_ODOO_USER",
    default: "",
    parse: text,
    doc: "Odoo login of the user the appliance acts as.",
  }),
  odooApiKey: field({
    env: "NEWRETAIL_ODOO_API_KEY",
    default: "",
    parse: text,
    secret: true,
    doc: "That user's API key (or password).",
  }),
  odooWarehouse: field({
    env: "NEWRETAIL_ODOO_WAREHOUSE",
    default: "",
    parse: text,
    doc: "Odoo warehouse served (id or code, e.g. WH); empty: the first one.",
  }),
  odooPollS: field({
    env: "NEWRETAIL_ODOO_POLL_S",
    default: 12,
    parse: seconds(0.05),
    doc:
      "Seconds between polls of Odoo (±10 %): a change made in Odoo reaches the store within it. An idle poll is one request (docs/odoo.md).",
  }),
  odooFullPassS: field({
    env: "NEWRETAIL_ODOO_FULL_PASS_S",
    default: 1800,
    parse: seconds(1),
    doc:
      "Seconds between id comparisons with Odoo (one search of product ids: deleted products go); one also runs at every start.",
  }),
  odooPricelist: field({
    env: "NEWRETAIL_ODOO_PRICELIST",
    default: "",
    parse: text,
    doc:
      "Odoo pricelist the store's prices come from (id or exact name); its dated rules become price schedules. Empty: the products' sale price.",
  }),
  odooPartner: field({
    env: "NEWRETAIL_ODOO_PARTNER",
    default: "",
    parse: text,
    doc:
      'Customer of the sale orders sent to Odoo (partner id or name); empty: "newretail walk-in", created if missing.',
  }),
  odooOriginField: field({
    env: "NEWRETAIL_ODOO_ORIGIN_FIELD",
    default: "",
    parse: text,
    doc:
      "product.product field read as the goods origin (e.g. x_origin); empty: origin stays local.",
  }),
  odooFeaturesField: field({
    env: "NEWRETAIL_ODOO_FEATURES_FIELD",
    default: "",
    parse: text,
    doc: "product.product field read as the goods features; empty: features stay local.",
  }),
  odooTimeoutS: field({
    env: "NEWRETAIL_ODOO_TIMEOUT_S",
    default: 30,
    parse: seconds(0.01),
    doc: "Timeout of one call to Odoo.",
  }),
  odooPageSize: field({
    env: "NEWRETAIL_ODOO_PAGE_SIZE",
    default: 500,
    parse: integer(1, 10000),
    doc: "Products per page in a pull (a large catalogue is never read at once).",
  }),
  odooOutboxTries: field({
    env: "NEWRETAIL_ODOO_OUTBOX_TRIES",
    default: 8,
    parse: integer(1, 1000),
    doc: "Refusals by Odoo after which a delivery is parked as failed (Odoo down never parks).",
  }),
  odooTransactionBoundS: field({
    env: "NEWRETAIL_ODOO_TRANSACTION_BOUND_S",
    default: 600,
    parse: seconds(1),
    doc:
      "Longest Odoo transaction whose changes the incremental pull is sure to see (Odoo stamps write_date with the transaction start); each poll re-reads this much.",
  }),
  odooRequestLimitS: field({
    env: "NEWRETAIL_ODOO_REQUEST_LIMIT_S",
    default: 120,
    parse: seconds(1),
    doc:
      "Odoo's own request time limit (limit_time_real); after a timed-out delivery call the appliance waits longer than this before looking it up.",
  }),
};
