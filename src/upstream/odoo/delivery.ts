/**
 * What a delivery to Odoo needs and returns, shared by the receipt and order deliveries and the
 * outbox worker.
 *
 * @module
 */
import type { Database } from "../../store/database.ts";
import type { Logger } from "../../log.ts";
import type { OdooClient } from "./jsonrpc.ts";
import type { OdooSite } from "./site.ts";
import type { OdooSettings } from "./settings.ts";

/** Everything a delivery may use. */
export interface DeliveryContext {
  db: Database;
  odoo: OdooClient;
  site: OdooSite;
  settings: OdooSettings;
  log: Logger;
  /** The store id (`shopId`), part of the references Odoo stores. */
  shopId: string;
  /** This installation's id (migration 007), part of the references too: unique per database. */
  installationId: string;
  /** Aborted on shutdown: a delivery waiting for a timed-out call gives up (retried later). */
  signal?: AbortSignal;
}

/** The Odoo record a local receipt or order became. */
export interface Delivered {
  /** Odoo model (`stock.picking`, `sale.order`). */
  model: string;
  odooId: number;
  /** Odoo's name for it (`WH/IN/00007`, `S00026`). */
  odooName: string;
}

/**
 * A delivery that can never succeed as it is (the local row is gone, a goods is not an Odoo
 * product): the outbox parks it at once with this reason instead of trying N times.
 */
export class PermanentDeliveryError extends Error {
  /** @param message the reason shown in `outbox list` */
  constructor(message: string) {
    super(message);
    this.name = "PermanentDeliveryError";
  }
}

/** Delivers one local record (by its local id) to Odoo; idempotent (looks up before creating). */
export type Deliverer = (ctx: DeliveryContext, localId: number) => Promise<Delivered>;
