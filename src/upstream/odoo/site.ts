/**
 * What the connector learns once about the Odoo it talks to: the version (logged; 16, 17 and 18
 * differ in places noted where they matter), which product fields exist (`to_weight` comes with
 * Point of Sale; custom fields such as `x_origin` may be mapped), and the warehouse served.
 *
 * @module
 */
import { majorVersion, type Many2one, type OdooClient, OdooError } from "./jsonrpc.ts";
import type { OdooSettings } from "./settings.ts";
import { type OdooPricelistRef, resolvePricelist } from "./pricelist.ts";

/** The served warehouse as Odoo describes it. */
export interface OdooWarehouse {
  id: number;
  code: string;
  name: string;
  /** Root of the warehouse's locations: stock "in the warehouse" is stock under it. */
  viewLocationId: number;
  lotStockId: number;
  /** The warehouse's receipt operation type (stock.picking.type, code incoming). */
  inTypeId: number;
}

/** The Odoo the connector talks to. */
export interface OdooSite {
  /** `server_version`, e.g. "17.0-20240709". */
  version: string;
  /** 16, 17, 18… */
  major: number;
  /** Fields of product.product. */
  productFields: Set<string>;
  warehouse: OdooWarehouse;
  /**
   * The context that makes `qty_available` count only the served warehouse. 16 and 17 read the
   * key `warehouse`; 18 reads `warehouse_id` (both are sent to 18 and later).
   */
  stockContext: Record<string, unknown>;
  /** The version's name for the done quantity of a stock.move (16: quantity_done; 17+: quantity). */
  moveDoneField: "quantity_done" | "quantity";
  /**
   * The configured user's current company (`res.users.company_id`): without
   * `allowed_company_ids` the records it creates are that company's, so it can receive only into
   * that company's warehouses (another's answers "Incompatible companies on records").
   */
  company: { id: number; name: string };
  /** The pricelist the store's prices come from (`odooPricelist`), if one is configured. */
  pricelist?: OdooPricelistRef;
  /**
   * The optional add-on `newretail_sync` (ops/odoo) is installed: a poll is one request even
   * with a pricelist (`newretail.sync.poll`).
   */
  syncAddon: boolean;
}

/** Whether Odoo has the model of the optional add-on (`fields_get` answers; an error if not). */
async function hasSyncAddon(odoo: OdooClient): Promise<boolean> {
  try {
    await odoo.executeKw("newretail.sync", "fields_get", [], { attributes: ["type"] });
    return true;
  } catch (e) {
    if (e instanceof OdooError && /doesn't exist/.test(e.message)) return false;
    throw e;
  }
}

/**
 * Why devices may not receive into warehouse `w` ('' when they may): it belongs to another Odoo
 * company than the configured user's.
 */
export function receiptRefusal(
  site: Pick<OdooSite, "company">,
  w: { company_id?: Many2one },
): string {
  const company = w.company_id ? w.company_id[0] : site.company.id;
  if (company === site.company.id) return "";
  const name = w.company_id ? w.company_id[1] : String(company);
  return `it belongs to the Odoo company "${name}", not to "${site.company.name}" of the configured user`;
}

interface WarehouseRow {
  id: number;
  code: string;
  name: string;
  view_location_id: Many2one;
  lot_stock_id: Many2one;
  in_type_id: Many2one;
}

/** Reads the warehouses and picks the configured one (id or code; the first by id when empty). */
export async function resolveWarehouse(
  odoo: OdooClient,
  wanted: string,
): Promise<{ served: OdooWarehouse; all: WarehouseRow[] }> {
  const all = await odoo.executeKw<WarehouseRow[]>("stock.warehouse", "search_read", [[]], {
    fields: ["id", "name", "code", "view_location_id", "lot_stock_id", "in_type_id"],
    order: "id",
  });
  if (all.length === 0) {
    throw new OdooError("server", "Odoo has no warehouse (is Inventory installed?)");
  }
  const row = wanted === ""
    ? all[0]
    : all.find((w) => String(w.id) === wanted || w.code === wanted);
  if (!row) {
    throw new OdooError(
      "server",
      `Odoo has no warehouse "${wanted}" (known: ${
        all.map((w) => `${w.id} ${w.code}`).join(", ")
      })`,
    );
  }
  const id = (v: Many2one) => (v ? v[0] : 0);
  return {
    served: {
      id: row.id,
      code: row.code,
      name: row.name,
      viewLocationId: id(row.view_location_id),
      lotStockId: id(row.lot_stock_id),
      inTypeId: id(row.in_type_id),
    },
    all,
  };
}

/** Learns version, product fields and warehouse; logs in on the way (bad credentials throw). */
export async function discoverSite(odoo: OdooClient, settings: OdooSettings): Promise<OdooSite> {
  const info = await odoo.version();
  const major = majorVersion(info);
  await odoo.login();
  const fields = await odoo.executeKw<Record<string, unknown>>(
    "product.product",
    "fields_get",
    [],
    {
      attributes: ["type"],
    },
  );
  const productFields = new Set(Object.keys(fields));
  for (const key of ["originField", "featuresField"] as const) {
    const field = settings[key];
    if (field && !productFields.has(field)) {
      throw new OdooError(
        "server",
        `Odoo product.product has no field "${field}" (configured as ${key})`,
      );
    }
  }
  const { served } = await resolveWarehouse(odoo, settings.warehouse);
  const pricelist = settings.pricelist
    ? await resolvePricelist(odoo, settings.pricelist)
    : undefined;
  const syncAddon = major >= 17 && await hasSyncAddon(odoo);
  const [user] = await odoo.executeKw<{ company_id: Many2one }[]>(
    "res.users",
    "read",
    [[await odoo.login()]],
    { fields: ["company_id"] },
  );
  const company = user?.company_id ? { id: user.company_id[0], name: user.company_id[1] } : {
    id: 0,
    name: "",
  };
  return {
    version: info.server_version,
    major,
    productFields,
    warehouse: served,
    stockContext: major >= 18
      ? { warehouse: served.id, warehouse_id: served.id }
      : { warehouse: served.id },
    moveDoneField: major <= 16 ? "quantity_done" : "quantity",
    company,
    ...(pricelist ? { pricelist } : {}),
    syncAddon,
  };
}
