/**
 * Configuration keys: the bounds of the store console's alerts (src/admin/alerts.ts). Part of
 * `CONFIG_SPEC` (spec.ts).
 *
 * @module
 */
import { field, integer } from "./parsers.ts";

/** When a condition becomes an alert, in minutes. */
export const ALERT_KEYS = {
  alertDeviceOfflineMinutes: field({
    env: "NEWRETAIL_ALERT_DEVICE_OFFLINE_MINUTES",
    default: 2,
    parse: integer(0, 10080),
    doc:
      "Minutes a device is offline before it is an alert (a base station's alert names the labels it serves).",
  }),
  alertUpstreamDownMinutes: field({
    env: "NEWRETAIL_ALERT_UPSTREAM_DOWN_MINUTES",
    default: 5,
    parse: integer(0, 10080),
    doc: "Minutes the payment server or Odoo is unreachable before it is an alert.",
  }),
  alertOutboxAgeMinutes: field({
    env: "NEWRETAIL_ALERT_OUTBOX_AGE_MINUTES",
    default: 15,
    parse: integer(0, 10080),
    doc:
      "Age in minutes of the oldest undelivered payment call or Odoo delivery that makes an outbox alert.",
  }),
  alertLabelStaleMinutes: field({
    env: "NEWRETAIL_ALERT_LABEL_STALE_MINUTES",
    default: 30,
    parse: integer(0, 10080),
    doc: "Minutes a shelf label may show outdated data before the stale-labels alert.",
  }),
};
