/**
 * Goods look-ups as devices see them (PROTOCOL.md §3 getGoods, getAllGoods, getWarehouseGoods).
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** A goods row with every field a device is sent, money and quantities as exact text. */
export interface GoodsView {
  gid: number;
  name: string;
  barcode: string;
  price: string;
  cost: string;
  description: string;
  origin: string;
  features: string;
  stock: string;
  /** A label bound to the goods, or "" (replaced by the asked-for MAC in a mac_id look-up). */
  mac: string;
  pcname: string;
  /** The key the row was found by (code, MAC or EPC), when the look-up had one. */
  matched?: string;
}

// Stock is the sum over warehouses unless a warehouse is given ($w).
const BASE_FIELDS = `g.id as gid, g.name, coalesce(g.barcode, '') as barcode,
  g.price::text as price, g.cost::text as cost, g.description, g.origin, g.features,
  coalesce(c.name, '') as pcname`;

const BOUND_MAC = `coalesce((select b.mac from label_bindings b where b.goods_id = g.id
  order by b.mac limit 1), '') as mac`;

const GOODS_FIELDS = `${BASE_FIELDS}, ${BOUND_MAC}`;

const TOTAL_STOCK =
  `coalesce((select sum(s.quantity) from stock s where s.goods_id = g.id), 0)::text
  as stock`;

const FROM = "from goods g left join categories c on c.id = g.category_id";

type ViewRow = GoodsView & Record<string, unknown>;

function orderBy<K>(rows: ViewRow[], keys: K[], keyOf: (row: ViewRow) => K): GoodsView[] {
  const byKey = new Map<K, ViewRow>();
  for (const row of rows) byKey.set(keyOf(row), row);
  return keys.flatMap((k) => byKey.get(k) ?? []);
}

/** Active goods by barcode, one per distinct known code, in the order asked. */
export async function goodsByBarcodes(db: Queryable, codes: string[]): Promise<GoodsView[]> {
  const rows = await db.query<ViewRow>(
    `select ${GOODS_FIELDS}, ${TOTAL_STOCK}, g.barcode as matched ${FROM}
     where g.active and g.barcode = any($1::text[])`,
    [codes],
  );
  return orderBy(rows, codes, (r) => r.matched as string);
}

/**
 * The select list and tables of a goods as its shelf labels show it, before the label's MAC is
 * added ({@link labelView}): read by {@link goodsByLabels}, and by the price push's fan-out for
 * the goods it queued label pushes of (one home for what a label is sent).
 */
export const LABEL_GOODS_SELECT = `${BASE_FIELDS}, ${TOTAL_STOCK} ${FROM}`;

/** What the label `mac` shows of its goods, read by {@link LABEL_GOODS_SELECT}. */
export function labelView(goods: GoodsView, mac: string): GoodsView {
  return { ...goods, mac, matched: mac };
}

/** Active goods bound to these label MACs, one per known MAC, each with that MAC. */
export async function goodsByLabels(db: Queryable, macs: string[]): Promise<GoodsView[]> {
  // Each goods is read once however many of the labels show it (a price change pushed to every
  // label of a promotion shelf), with the asked MACs that show it.
  const rows = await db.query<ViewRow & { macs: string[] }>(
    `select array_agg(lb.mac) as macs, ${LABEL_GOODS_SELECT}
     join label_bindings lb on lb.goods_id = g.id
     where g.active and lb.mac = any($1::text[])
     group by g.id, c.name`,
    [macs],
  );
  const byMac = new Map<string, GoodsView>();
  for (const { macs: shown, ...view } of rows) {
    for (const mac of shown) byMac.set(mac, labelView(view, mac));
  }
  return macs.flatMap((mac) => byMac.get(mac) ?? []);
}

/** Active goods by id, in the order asked. */
export async function goodsById(db: Queryable, ids: number[]): Promise<GoodsView[]> {
  const rows = await db.query<ViewRow>(
    `select ${GOODS_FIELDS}, ${TOTAL_STOCK} ${FROM} where g.active and g.id = any($1::int[])`,
    [ids],
  );
  return orderBy(rows, ids, (r) => r.gid);
}

/** Active goods whose name contains `text` (case-insensitive), by id, at most `limit`. */
export function goodsByName(db: Queryable, text: string, limit: number): Promise<GoodsView[]> {
  const pattern = `%${text.replace(/[\\%_]/g, (c) => "\\" + c)}%`;
  return db.query<ViewRow>(
    `select ${GOODS_FIELDS}, ${TOTAL_STOCK} ${FROM}
     where g.active and g.name ilike $1 escape '\\' order by g.id limit $2`,
    [pattern, limit],
  );
}

/** Active goods carrying these RFID tags: one entry per known tag (a basket of 3 tagged apples is 3). */
export async function goodsByRfids(db: Queryable, epcs: string[]): Promise<GoodsView[]> {
  const rows = await db.query<ViewRow>(
    `select ${GOODS_FIELDS}, ${TOTAL_STOCK}, t.epc as matched ${FROM}
     join rfid_tags t on t.goods_id = g.id
     where g.active and t.epc = any($1::text[])`,
    [epcs],
  );
  return orderBy(rows, epcs, (r) => r.matched as string);
}

/** One page of the active catalogue in goods-id order (stable across pages). */
export function goodsPage(db: Queryable, offset: number, limit: number): Promise<GoodsView[]> {
  return db.query<ViewRow>(
    `select ${GOODS_FIELDS}, ${TOTAL_STOCK} ${FROM} where g.active order by g.id offset $1 limit $2`,
    [offset, limit],
  );
}

/** Why devices are not served warehouse `id` ('' when they are), or undefined when unknown. */
export async function warehouseRefusal(db: Queryable, id: number): Promise<string | undefined> {
  const [row] = await db.query<{ refused: string }>(
    "select receipts_refused as refused from warehouses where id = $1",
    [id],
  );
  return row?.refused;
}

/** Active goods with stock in one warehouse, `stock` being that warehouse's quantity. */
export function warehouseGoods(
  db: Queryable,
  warehouseId: number,
  offset: number,
  limit: number | null,
): Promise<GoodsView[]> {
  return db.query<ViewRow>(
    `select ${GOODS_FIELDS}, s.quantity::text as stock ${FROM}
     join stock s on s.goods_id = g.id and s.warehouse_id = $1
     where g.active and s.quantity > 0 order by g.id offset $2 limit $3`,
    [warehouseId, offset, limit],
  );
}

/**
 * Remembers which device asked for a label, so that its price pushes go there (PROTOCOL.md §4).
 * Only bound labels are learned; a configured binding is never overwritten; an unchanged one is
 * not rewritten. One statement for the labels of many devices (the last one of a MAC wins).
 */
export async function learnLabelDevices(
  db: Queryable,
  labels: readonly { mac: string; equipId: string }[],
): Promise<void> {
  const byMac = new Map(labels.map((l) => [l.mac, l.equipId]));
  if (byMac.size === 0) return;
  await db.query(learnLabelDevicesSql("unnest($1::text[], $2::text[]) as l(m, e)"), [
    [...byMac.keys()],
    [...byMac.values()],
  ]);
}

/**
 * {@link learnLabelDevices}'s statement, learning the labels of `labels` (a relation of columns
 * `m`, the MAC, and `e`, the device; one row a MAC): also run as part of a larger statement
 * (src/store/label_shown.ts, recordAnswers). The rows are locked in MAC order, as the recording of
 * what labels show locks its own: two batches of answers written at once never deadlock.
 */
export function learnLabelDevicesSql(labels: string): string {
  return `insert into label_devices (mac, equip_id, source)
     select m, e, 'learned' from ${labels}
     where exists (select 1 from label_bindings b where b.mac = m)
     order by m
     on conflict (mac) do update set equip_id = excluded.equip_id, updated_at = now()
     where label_devices.source = 'learned' and label_devices.equip_id <> excluded.equip_id`;
}

/** Active goods by scale PLU (migration 009), each with `matched` = the PLU as text. */
export async function goodsByPlus(db: Queryable, plus: number[]): Promise<GoodsView[]> {
  const rows = await db.query<ViewRow>(
    `select ${GOODS_FIELDS}, ${TOTAL_STOCK}, g.plu::text as matched ${FROM}
     where g.active and g.plu = any($1::int[])`,
    [plus],
  );
  return orderBy(rows, plus.map(String), (r) => r.matched as string);
}
