/**
 * The readings of a store's status message that come from its database and its Odoo connector.
 *
 * @module
 */
import { outboxes } from "../store/money_owed.ts";
import type { Queryable } from "../store/database.ts";
import { deviceCounts } from "../store/devices.ts";
import { labelSummary } from "../store/label_shown.ts";
import { type OdooHealth, odooHealthComponent } from "../upstream/odoo/connector.ts";
import type { StatusReadings } from "./status.ts";

/** Devices online of the enabled ones, stale labels, and what is owed upstream (three queries). */
export async function readStoreState(
  db: Queryable,
): Promise<Pick<StatusReadings, "devices" | "staleLabels" | "outbox">> {
  const devices = await deviceCounts(db);
  const labels = await labelSummary(db);
  const owed = await outboxes(db);
  return {
    devices,
    staleLabels: labels.stale,
    outbox: { payment: owed.payment.depth, odoo: owed.odoo.depth },
  };
}

/**
 * The Odoo part of the status: the connector's state and the time of its last successful pull
 * (kept across failed ones, which the connector's health forgets).
 *
 * @example
 * ```ts
 * const odooStatus = odooSyncReader(() => connector.health());
 * odooStatus(); // { state: "up", lastSync: "2025-01-01T00:00:00.000Z" }
 * ```
 */
export function odooSyncReader(
  health: () => OdooHealth,
): () => NonNullable<StatusReadings["odoo"]> {
  let lastSync: string | null = null;
  return () => {
    const h = health();
    if (h.lastPull?.ok) lastSync = h.lastPull.at;
    return { state: odooHealthComponent(h).state, lastSync };
  };
}
