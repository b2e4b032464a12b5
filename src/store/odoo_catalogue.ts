/**
 * The local side of the Odoo catalogue pull: batched upserts of categories, warehouses, goods and
 * stock that touch a row only when something a device sees changed (an unchanged row is not
 * rewritten, so a full pass over 100,000 products does not push 100,000 `sendGoods`), the pricing
 * inputs a pricelist prices from, and the sync cursors.
 *
 * In Odoo mode local ids are Odoo ids (goods = product.product, categories = product.category,
 * warehouses = stock.warehouse).
 *
 * @module
 */
import type { Database, Queryable } from "./database.ts";
import { type PricelistPeriod, replacePricelistSchedules } from "./price_schedules.ts";

/** A category from Odoo. */
export interface CategoryRow {
  id: number;
  name: string;
  completeName: string;
  parentId: number | null;
}

/** A goods row as pulled; money and quantities are exact decimal text. */
export interface GoodsRow {
  id: number;
  barcode: string | null;
  name: string;
  price: string;
  cost: string;
  description: string;
  categoryId: number | null;
  unit: string;
  weighed: boolean;
  active: boolean;
  /** Only when a mapping reads it from Odoo; otherwise the local value stays. */
  origin?: string;
  features?: string;
  writeDate: string;
}

/** Upserts categories (parents first, whatever their ids). Returns how many changed. */
export async function upsertCategories(db: Queryable, rows: CategoryRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const changed = await db.query(
    `insert into categories (id, name, complete_name)
     select * from unnest($1::int[], $2::text[], $3::text[])
     on conflict (id) do update set name = excluded.name, complete_name = excluded.complete_name
     where (categories.name, categories.complete_name)
       is distinct from (excluded.name, excluded.complete_name)
     returning id`,
    [rows.map((r) => r.id), rows.map((r) => r.name), rows.map((r) => r.completeName)],
  );
  // A parent may have a higher id than its child: link once every row exists.
  const linked = await db.query(
    `update categories c set parent_id = p.parent
     from unnest($1::int[], $2::int[]) as p(id, parent)
     where c.id = p.id and c.parent_id is distinct from p.parent
       and (p.parent is null or exists (select 1 from categories x where x.id = p.parent))
     returning c.id`,
    [rows.map((r) => r.id), rows.map((r) => r.parentId)],
  );
  await bumpIdentity(db, "categories");
  return new Set([...changed, ...linked].map((r) => r.id)).size;
}

/** Upserts warehouses by Odoo id; a local warehouse holding the same code is renamed aside. */
export async function upsertWarehouses(
  db: Queryable,
  rows: { id: number; code: string; name: string; receiptsRefused?: string }[],
): Promise<void> {
  for (const w of rows) {
    await db.query(
      `update warehouses set code = code || '#' || id::text where code = $1 and id <> $2`,
      [w.code, w.id],
    );
    await db.query(
      `insert into warehouses (id, code, name, receipts_refused) values ($1, $2, $3, $4)
       on conflict (id) do update set code = excluded.code, name = excluded.name,
         receipts_refused = excluded.receipts_refused
       where (warehouses.code, warehouses.name, warehouses.receipts_refused)
         is distinct from (excluded.code, excluded.name, excluded.receipts_refused)`,
      [w.id, w.code, w.name, w.receiptsRefused ?? ""],
    );
  }
  await bumpIdentity(db, "warehouses");
}

/** Ids of categories the store does not have. */
export async function missingCategories(db: Queryable, ids: number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await db.query<{ id: number }>(
    `select i as id from unnest($1::int[]) as i
     where not exists (select 1 from categories c where c.id = i)`,
    [[...new Set(ids)]],
  );
  return rows.map((r) => r.id);
}

/**
 * Upserts goods; returns the ids of rows inserted or changed. A barcode now carried by another
 * active product is taken from the row that had it (Odoo moved it; that row's own change, if
 * any, comes in the same or a later page).
 */
export async function upsertGoods(db: Queryable, rows: GoodsRow[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const seen = new Set<string>();
  const barcodes = rows.map((r) => {
    if (!r.barcode || !r.active) return r.barcode;
    if (seen.has(r.barcode)) return null; // two Odoo products, one barcode: first id keeps it
    seen.add(r.barcode);
    return r.barcode;
  });
  const ids = rows.map((r) => r.id);
  await db.query(
    `update goods g set barcode = null
     from unnest($1::int[], $2::text[], $3::text[]::bool[]) as p(id, barcode, active)
     where g.barcode = p.barcode and g.id <> p.id and g.active and p.active`,
    [ids, barcodes, rows.map((r) => String(r.active))],
  );
  const withOrigin = rows.some((r) => r.origin !== undefined);
  const withFeatures = rows.some((r) => r.features !== undefined);
  // Each column with its SQL type and values, kept together so they cannot drift apart.
  // Booleans travel as text: npm:postgres cannot send a boolean[] parameter.
  const fields: [column: string, type: string, values: unknown[]][] = [
    ["id", "int", ids],
    ["barcode", "text", barcodes],
    ["name", "text", rows.map((r) => r.name)],
    ["price", "numeric", rows.map((r) => r.price)],
    ["cost", "numeric", rows.map((r) => r.cost)],
    ["description", "text", rows.map((r) => r.description)],
    ["category_id", "int", rows.map((r) => r.categoryId)],
    ["unit", "text", rows.map((r) => r.unit)],
    ["weighed", "text[]::bool", rows.map((r) => String(r.weighed))],
    ["active", "text[]::bool", rows.map((r) => String(r.active))],
  ];
  if (withOrigin) fields.push(["origin", "text", rows.map((r) => r.origin ?? "")]);
  if (withFeatures) fields.push(["features", "text", rows.map((r) => r.features ?? "")]);
  const columns = fields.map(([column]) => column);
  const types = fields.map(([, type]) => type);
  const params = fields.map(([, , values]) => values);
  const updatable = columns.filter((c) => c !== "id");
  // While a schedule applies, Odoo's price is the regular price (migration 009): compared with
  // that, an unchanged product is not rewritten at every poll of the window.
  const current = (c: string) =>
    c === "price" ? "coalesce(goods.regular_price, goods.price)" : `goods.${c}`;
  const changed = await db.query<{ id: number }>(
    `insert into goods (${columns.join(", ")})
     select * from unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(", ")})
     on conflict (id) do update set
       ${updatable.map((c) => `${c} = excluded.${c}`).join(", ")}, updated_at = now()
     where (${updatable.map(current).join(", ")})
       is distinct from (${updatable.map((c) => `excluded.${c}`).join(", ")})
     returning id`,
    params,
  );
  await db.query(
    `insert into odoo_ids (model, local_id, odoo_id, write_date)
     select 'product.product', i, i, w from unnest($1::int[], $2::text[]) as p(i, w)
     on conflict (model, local_id) do update set write_date = excluded.write_date, updated_at = now()
     where odoo_ids.write_date <> excluded.write_date`,
    [ids, rows.map((r) => r.writeDate)],
  );
  return changed.map((r) => r.id);
}

/**
 * Sets on-hand quantities in one warehouse (known goods only) as Odoo reports them; returns the
 * goods ids changed. Each difference is an `upstream` stock move (Odoo wins), except for goods
 * in an open local move: a receipt, paid order or refill not yet delivered to Odoo, which Odoo's figure
 * does not count yet (the pull after its delivery converges them).
 */
export async function setStock(
  db: Queryable,
  warehouseId: number,
  rows: { goodsId: number; quantity: string }[],
): Promise<number[]> {
  if (rows.length === 0) return [];
  const changed = await db.query<{ goods_id: number }>(
    `with odoo as (
       select s.g, s.q from unnest($2::int[], $3::numeric[]) as s(g, q)
       where exists (select 1 from goods where goods.id = s.g)
         and not exists (select 1 from odoo_outbox o join order_lines l on l.order_id = o.local_id
           where o.kind = 'sale-order' and o.state <> 'delivered' and l.goods_id = s.g)
         and not exists (select 1 from odoo_outbox o
           join stock_receipt_lines l on l.receipt_id = o.local_id
           where o.kind = 'stock-receipt' and o.state <> 'delivered' and l.goods_id = s.g)
         and not exists (select 1 from odoo_outbox o join refill_jobs j on j.id = o.local_id
           where o.kind = 'refill' and o.state <> 'delivered' and j.goods_id = s.g)),
     diff as (
       select o.g, o.q - coalesce(st.quantity, 0) as d from odoo o
       left join stock st on st.warehouse_id = $1 and st.goods_id = o.g)
     insert into stock_moves (goods_id, from_warehouse_id, to_warehouse_id, quantity, reason,
       reference)
     select g, case when d < 0 then $1::int end, case when d > 0 then $1::int end, abs(d),
       'upstream', 'odoo on-hand'
     from diff where d <> 0
     returning goods_id`,
    [warehouseId, rows.map((r) => r.goodsId), rows.map((r) => r.quantity)],
  );
  return changed.map((r) => r.goods_id);
}

/**
 * After a full pass: every active goods Odoo did not list (deleted there, or a local row from
 * before Odoo mode) becomes inactive. Returns the ids deactivated.
 */
export async function deactivateGoodsExcept(db: Queryable, keep: number[]): Promise<number[]> {
  const rows = await db.query<{ id: number }>(
    `update goods set active = false, updated_at = now()
     where active and id <> all($1::int[]) returning id`,
    [keep],
  );
  await db.query(
    `delete from odoo_ids where model = 'product.product' and local_id <> all($1::int[])`,
    [keep],
  );
  await bumpIdentity(db, "goods");
  return rows.map((r) => r.id);
}

// Rows were inserted with Odoo's ids: keep the identity sequence ahead so that a row added
// locally (seed, import) never collides with them.
async function bumpIdentity(db: Queryable, table: "goods" | "categories" | "warehouses") {
  await db.query(
    `select setval(pg_get_serial_sequence('${table}', 'id'),
       greatest((select coalesce(max(id), 0) from ${table}), 1))`,
  );
}

/** A sync cursor's value, or undefined. */
export async function getCursor(db: Queryable, name: string): Promise<string | undefined> {
  const rows = await db.query<{ value: string }>(
    "select value from odoo_sync_cursors where name = $1",
    [name],
  );
  return rows[0]?.value;
}

/** Sets a sync cursor. */
export async function setCursor(db: Queryable, name: string, value: string): Promise<void> {
  await db.query(
    `insert into odoo_sync_cursors (name, value) values ($1, $2)
     on conflict (name) do update set value = excluded.value, updated_at = now()`,
    [name, value],
  );
}

/** Turns the delivery of receipts and paid orders to Odoo on or off (set at start-up). */
export async function setUpstreamEnabled(db: Queryable, enabled: boolean): Promise<void> {
  await db.query(
    `update odoo_upstream set enabled = $1, updated_at = now() where enabled <> $1`,
    [enabled],
  );
}

/**
 * This installation's id (migration 007): generated once per database, so references left in
 * Odoo are unique across reinstalls and across two appliances of one shop. A database made from
 * the shipped template (scripts/pglite_template.ts) has none until its first use here.
 */
export async function installationId(db: Queryable): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `with made as (insert into installation default values on conflict do nothing returning id)
     select id from made union all select id from installation`,
  );
  if (row) return row.id;
  // Another connection made it after this statement's snapshot was taken.
  const [made] = await db.query<{ id: string }>("select id from installation");
  return made.id;
}

/** The local ids of the goods pulled from Odoo (their Odoo ids, `odoo_ids`). */
export async function odooProductIds(db: Queryable): Promise<Set<number>> {
  return new Set(
    (await db.query<{ id: number }>(
      "select local_id as id from odoo_ids where model = 'product.product'",
    )).map((r) => r.id),
  );
}

/** A product's pricing inputs as pulled, kept in `odoo_price_inputs`. */
export interface PriceInput {
  goodsId: number;
  templateId: number;
  categoryId: number | null;
  /** `lst_price`, exact decimal text. */
  listPrice: string;
  cost: string;
}

/** Every local category's parent. */
export async function categoryParents(db: Queryable): Promise<Map<number, number | null>> {
  const rows = await db.query<{ id: number; parent_id: number | null }>(
    "select id, parent_id from categories",
  );
  return new Map(rows.map((r) => [r.id, r.parent_id]));
}

/** Keeps the pricing inputs of pulled goods. */
export async function upsertPriceInputs(db: Queryable, inputs: PriceInput[]): Promise<void> {
  if (inputs.length === 0) return;
  await db.query(
    `insert into odoo_price_inputs (goods_id, template_id, list_price, cost)
     select * from unnest($1::int[], $2::int[], $3::numeric[], $4::numeric[])
     on conflict (goods_id) do update set template_id = excluded.template_id,
       list_price = excluded.list_price, cost = excluded.cost
     where (odoo_price_inputs.template_id, odoo_price_inputs.list_price, odoo_price_inputs.cost)
       is distinct from (excluded.template_id, excluded.list_price, excluded.cost)`,
    [
      inputs.map((i) => i.goodsId),
      inputs.map((i) => i.templateId),
      inputs.map((i) => i.listPrice),
      inputs.map((i) => i.cost),
    ],
  );
}

/** The pricing inputs kept for every goods, by goods id, with the goods' category now. */
export async function priceInputs(db: Queryable): Promise<PriceInput[]> {
  const rows = await db.query<
    { id: number; template: number; list: string; cost: string; category: number | null }
  >(
    `select i.goods_id as id, i.template_id as template, i.list_price::text as list,
       i.cost::text as cost, g.category_id as category
     from odoo_price_inputs i join goods g on g.id = i.goods_id order by i.goods_id`,
  );
  return rows.map((r) => ({
    goodsId: r.id,
    templateId: r.template,
    categoryId: r.category,
    listPrice: r.list,
    cost: r.cost,
  }));
}

/** A pricelist's prices of some goods: regular prices and dated spans, by goods id. */
export interface PricelistPrices {
  regular: ReadonlyMap<number, string>;
  periods: ReadonlyMap<number, readonly PricelistPeriod[]>;
}

/**
 * Writes the regular prices of goods `ids` where they differ (while a schedule applies, the
 * trigger of migration 009 keeps the new one as the regular price) and makes their pricelist
 * schedules `priced.periods`, in one transaction. Returns how many goods rows changed.
 */
export function storePricelistPrices(
  db: Database,
  ids: number[],
  priced: PricelistPrices,
  now: Date,
): Promise<number> {
  const { regular, periods } = priced;
  return db.transaction(async (tx) => {
    const changed = await tx.query(
      `update goods g set price = x.price, updated_at = now()
       from unnest($1::int[], $2::numeric[]) as x(id, price)
       where g.id = x.id and coalesce(g.regular_price, g.price) <> x.price
       returning g.id`,
      [ids, ids.map((id) => regular.get(id)!)],
    );
    await replacePricelistSchedules(tx, ids, periods, now);
    return changed.length;
  });
}

/** Drops what a pricelist left (the store no longer prices with one). */
export async function forgetPricelist(db: Queryable): Promise<void> {
  await db.query("delete from price_schedules where source = 'odoo'");
  await db.query("delete from odoo_price_inputs");
}
