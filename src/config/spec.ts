/**
 * Every configuration key, declared once with its environment name, default, parser and
 * meaning. The file, environment and flags are read by `config.ts`; the table of
 * docs/configuration.md comes from here too (`deno task docs`).
 *
 * @module
 */
import { CORE_KEYS } from "./spec_core.ts";
import { PAYMENT_KEYS } from "./spec_payment.ts";
import { PUSH_KEYS } from "./spec_push.ts";
import { ADMIN_KEYS } from "./spec_admin.ts";
import { ODOO_KEYS } from "./spec_odoo.ts";
import { ALERT_KEYS } from "./spec_alerts.ts";
import { PRICE_KEYS } from "./spec_price.ts";
import { CHAIN_KEYS } from "./spec_chain.ts";

/**
 * Every configuration key. The file uses these names; `env` is the environment variable.
 * Placeholders `{shop}` in topics and client id are replaced by `shopId`. One file per topic.
 */
export const CONFIG_SPEC = {
  ...CORE_KEYS,
  ...PAYMENT_KEYS,
  ...PUSH_KEYS,
  ...ADMIN_KEYS,
  ...ODOO_KEYS,
  ...ALERT_KEYS,
  ...PRICE_KEYS,
  ...CHAIN_KEYS,
};

type Spec = typeof CONFIG_SPEC;

/** The validated configuration. */
export type Config = { -readonly [K in keyof Spec]: Spec[K]["default"] };

/** A configuration key. */
export type ConfigKey = keyof Config;
