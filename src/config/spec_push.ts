/**
 * Configuration keys: pushes to devices, AGV refill jobs and discovery. Part of `CONFIG_SPEC` (spec.ts).
 *
 * @module
 */
import { boolean, describe, fail, field, host, integer, port, seconds, text } from "./parsers.ts";

/** A quantity >= 0 as exact decimal text (three decimals at most). */
function quantity(v: unknown): string {
  const s = typeof v === "number" ? String(v) : text(v);
  return /^\d{1,11}(\.\d{1,3})?$/.test(s) ? s : fail(`must be a quantity >= 0, got ${describe(v)}`);
}

/** Pushes to devices, AGV refill jobs and discovery. */
export const PUSH_KEYS = {
  // Pushes (PROTOCOL.md §4)
  pushTimeoutS: field({
    env: "NEWRETAIL_PUSH_TIMEOUT_S",
    default: 10,
    parse: seconds(0.01),
    doc: "Wait for a push's …Return before trying again.",
  }),
  pushTries: field({
    env: "NEWRETAIL_PUSH_TRIES",
    default: 3,
    parse: integer(1, 100),
    doc: "Tries of a push before it is kept for the device's next login.",
  }),
  pushInFlight: field({
    env: "NEWRETAIL_PUSH_IN_FLIGHT",
    default: 2,
    parse: integer(1, 64),
    doc: "sendGoods pushes awaiting their …Return at once, per device.",
  }),
  pushBatchGoods: field({
    env: "NEWRETAIL_PUSH_BATCH_GOODS",
    default: 20,
    parse: integer(1, 1000),
    doc: "Most goods in one sendGoods push (a base station serving many labels, a scale).",
  }),

  // AGV refill jobs (PROTOCOL.md §3–4)
  shelfWarehouse: field({
    env: "NEWRETAIL_SHELF_WAREHOUSE",
    default: "MD",
    parse: text,
    doc: "Code of the warehouse whose stock is what is on the shelves (refill thresholds).",
  }),
  refillThreshold: field({
    env: "NEWRETAIL_REFILL_THRESHOLD",
    default: "0",
    parse: quantity,
    doc:
      "Shelf quantity under which a positioned goods gets a refill job, unless it has its own; 0: only goods with their own threshold.",
  }),
  stockWarehouse: field({
    env: "NEWRETAIL_STOCK_WAREHOUSE",
    default: "HC",
    parse: text,
    doc: "Code of the stock-room warehouse that refills take goods from to the shelf warehouse.",
  }),
  refillTarget: field({
    env: "NEWRETAIL_REFILL_TARGET",
    default: "0",
    parse: quantity,
    doc:
      "Shelf quantity a refill fills up to, for goods without their own shelf capacity; 0: twice the goods' threshold.",
  }),
  refillRetryS: field({
    env: "NEWRETAIL_REFILL_RETRY_S",
    default: 30,
    parse: seconds(0.01),
    doc: "Seconds before an open refill job that no AGV acknowledged is offered again.",
  }),

  // Discovery (PROTOCOL.md §5)
  discoveryEnabled: field({
    env: "NEWRETAIL_DISCOVERY",
    default: true,
    parse: boolean,
    doc: "Answer UDP discovery probes.",
  }),
  discoveryPort: field({
    env: "NEWRETAIL_DISCOVERY_PORT",
    default: 8686,
    parse: port,
    doc: "UDP port of discovery probes.",
  }),
  advertiseHost: field({
    env: "NEWRETAIL_ADVERTISE_HOST",
    default: "",
    parse: (v) => text(v) === "" ? "" : host(v),
    doc:
      "Address told to devices in discovery answers; empty: the local address facing the sender.",
  }),
  discoveryRatePerMinute: field({
    env: "NEWRETAIL_DISCOVERY_RATE",
    default: 12,
    parse: integer(1, 10000),
    doc: "Discovery answers per sender address per minute; further probes are ignored.",
  }),
};
