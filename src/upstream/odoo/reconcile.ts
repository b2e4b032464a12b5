/**
 * The id comparison: the cheap pass that catches what no `write_date` shows — a product deleted
 * in Odoo — and anything the incremental pull could not have seen (a product created by a
 * transaction longer than `odooTransactionBoundS`). One `search` for every product.product id
 * (archived too), compared with the ids the store holds from Odoo: local goods Odoo no longer
 * lists become inactive, Odoo products the store lacks are read. It runs at every start, in the
 * background (devices are served from the local store meanwhile), then every `odooFullPassS`.
 *
 * @module
 */
import { type CataloguePuller, CURSORS, emptyStats, type PullStats } from "./catalogue.ts";
import { deactivateGoodsExcept, odooProductIds, setCursor } from "../../store/odoo_catalogue.ts";
import type { Database } from "../../store/database.ts";
import type { Logger } from "../../log.ts";
import type { OdooClient } from "./jsonrpc.ts";
import type { Clock } from "../../clock.ts";

/** What the comparison needs. */
export interface ReconcileDeps {
  db: Database;
  odoo: OdooClient;
  log: Logger;
  puller: CataloguePuller;
  /** The appliance's clock (only to date the pass). */
  clock: Clock;
}

/** Compares Odoo's product ids with the store's; deactivates the gone, reads the missing. */
export async function reconcileIds(deps: ReconcileDeps): Promise<PullStats> {
  const { db, odoo, log, puller } = deps;
  const stats = emptyStats("ids");
  await puller.pullStructure(stats);
  const ids = await odoo.executeKw<number[]>("product.product", "search", [[]], {
    order: "id",
    context: { active_test: false },
  });
  if (ids.length === 0) {
    // The same guard as the full pass: a user who sees no products must not empty the store.
    log.error("odoo lists no products: local goods left as they are (check the user's rights)");
    return stats;
  }
  const known = await odooProductIds(db);
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length > 0) await puller.storeByIds(missing, stats);
  stats.goodsDeactivated = (await deactivateGoodsExcept(db, ids)).length;
  await setCursor(db, CURSORS.fullPass, new Date(deps.clock.now()).toISOString());
  if (stats.goodsChanged || stats.goodsDeactivated) {
    log.info("odoo id comparison", { ...stats, odooProducts: ids.length });
  }
  return stats;
}

/**
 * Which pull runs now: `full` when asked, never done (an empty store) or the goods were priced
 * by another pricelist than the one configured now (`odooPricelist` changed), `ids` at the first pull
 * of this process (a full pass at every start, the cheap way) and whenever `odooFullPassS` has
 * passed, else `incremental`.
 */
export async function pullKind(
  puller: CataloguePuller,
  askedFull: boolean,
  comparedSinceStart: boolean,
): Promise<PullStats["kind"]> {
  if (askedFull || await puller.needsFullPull()) return "full";
  if (!comparedSinceStart || await puller.fullPassDue()) return "ids";
  return "incremental";
}
