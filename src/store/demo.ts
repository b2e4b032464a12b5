/**
 * The demo catalogue: a small Chinese convenience store, so that a newcomer (or an installer on
 * site) can try every action before the real catalogue is loaded. docs/try-it.md lists its codes.
 *
 * @module
 */
import type { Database } from "./database.ts";
import { directStockWrites } from "./stock_moves.ts";

/** A demo goods: id, EAN-13 barcode, name, price, cost, category, unit, weighed, origin, features. */
interface DemoGoods {
  id: number;
  barcode: string;
  name: string;
  price: string;
  cost: string;
  category: number;
  unit: string;
  weighed: boolean;
  origin: string;
  features: string;
  description: string;
}

/** Categories: id and name. */
export const DEMO_CATEGORIES = [
  { id: 1, name: "水果" },
  { id: 2, name: "蔬菜" },
  { id: 3, name: "饮料" },
  { id: 4, name: "粮油" },
  { id: 5, name: "日用品" },
] as const;

/** Warehouses: the shop floor and the back store. */
export const DEMO_WAREHOUSES = [
  { id: 1, code: "MD", name: "门店货架" },
  { id: 2, code: "HC", name: "后仓" },
] as const;

function g(
  id: number,
  name: string,
  price: string,
  cost: string,
  category: number,
  unit: string,
  weighed: boolean,
  origin: string,
  features: string,
): DemoGoods {
  return {
    id,
    barcode: ean13(`69012345${String(id).padStart(4, "0")}`),
    name,
    price,
    cost,
    category,
    unit,
    weighed,
    origin,
    features,
    description: `${name}，${features}`,
  };
}

/** The goods (weighed goods are priced per kg). */
export const DEMO_GOODS: readonly DemoGoods[] = [
  g(1, "红富士苹果", "12.80", "8.50", 1, "kg", true, "山东烟台", "脆甜多汁"),
  g(2, "香蕉", "6.98", "4.20", 1, "kg", true, "海南", "香甜软糯"),
  g(3, "赣南脐橙", "9.90", "6.00", 1, "kg", true, "江西赣州", "果肉饱满"),
  g(4, "巨峰葡萄", "15.80", "10.00", 1, "kg", true, "辽宁", "紫黑大粒"),
  g(5, "西红柿", "5.60", "3.10", 2, "kg", true, "山东寿光", "自然成熟"),
  g(6, "大白菜", "2.50", "1.20", 2, "kg", true, "河北", "新鲜采摘"),
  g(7, "土豆", "3.20", "1.80", 2, "kg", true, "内蒙古", "粉糯可口"),
  g(8, "黄瓜", "4.80", "2.60", 2, "kg", true, "山东", "清脆爽口"),
  g(9, "农夫山泉 550ml", "2.00", "1.10", 3, "瓶", false, "浙江杭州", "天然水"),
  g(10, "可口可乐 330ml", "3.50", "2.10", 3, "罐", false, "上海", "经典口味"),
  g(11, "康师傅冰红茶 500ml", "3.00", "1.80", 3, "瓶", false, "天津", "冰爽柠檬味"),
  g(12, "蒙牛纯牛奶 250ml", "3.80", "2.50", 3, "盒", false, "内蒙古", "全脂"),
  g(13, "五常大米 5kg", "59.90", "42.00", 4, "袋", false, "黑龙江五常", "稻花香"),
  g(14, "金龙鱼调和油 5L", "69.90", "55.00", 4, "桶", false, "上海", "1:1:1"),
  g(15, "中粮面粉 2.5kg", "18.90", "13.00", 4, "袋", false, "河北", "中筋"),
  g(16, "海天生抽 500ml", "9.90", "6.50", 4, "瓶", false, "广东佛山", "酿造酱油"),
  g(17, "维达抽纸 3包", "12.90", "8.80", 5, "提", false, "广东江门", "3层加厚"),
  g(18, "高露洁牙膏 120g", "11.50", "7.20", 5, "支", false, "广东广州", "清新薄荷"),
  g(19, "立白洗衣液 2kg", "29.90", "19.00", 5, "瓶", false, "广东广州", "护色"),
  g(20, "舒肤佳香皂 115g", "5.90", "3.50", 5, "块", false, "广东广州", "除菌"),
];

/** Shelf labels: MAC → goods id. */
export const DEMO_LABELS: readonly { mac: string; gid: number }[] = [
  { mac: "AC:23:3F:00:00:01", gid: 1 },
  { mac: "AC:23:3F:00:00:02", gid: 2 },
  { mac: "AC:23:3F:00:00:05", gid: 5 },
  { mac: "AC:23:3F:00:00:09", gid: 9 },
  { mac: "AC:23:3F:00:00:0A", gid: 10 },
  { mac: "AC:23:3F:00:00:0D", gid: 13 },
  { mac: "AC:23:3F:00:01:0D", gid: 13 },
];

/** RFID tags: EPC → goods id. */
export const DEMO_RFID_TAGS: readonly { epc: string; gid: number }[] = [
  { epc: "E28011606000020400000901", gid: 9 },
  { epc: "E28011606000020400000902", gid: 9 },
  { epc: "E28011606000020400001001", gid: 10 },
  { epc: "E28011606000020400001701", gid: 17 },
  { epc: "E28011606000020400001901", gid: 19 },
];

/** The EAN-13 code for 12 digits (adds the check digit). */
export function ean13(first12: string): string {
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(first12[i]) * (i % 2 ? 3 : 1);
  return first12 + ((10 - (sum % 10)) % 10);
}

/**
 * Loads (or reloads) the demo catalogue with fixed ids, stock in both warehouses, labels and tags.
 * Safe to run twice: rows are upserted.
 *
 * @example
 * ```ts
 * const counts = await seedDemo(db); // { goods: 20, labels: 7, tags: 5, … }
 * ```
 */
export async function seedDemo(db: Database): Promise<Record<string, number>> {
  // A statement per table, not per row: this runs in a new store's first start.
  const goods = DEMO_GOODS;
  // Shop floor holds a little, the back store more; weighed goods in kg with decimals.
  const stock = goods.flatMap((d) => [
    { warehouse: 1, goods: d.id, qty: d.weighed ? (d.id * 3.25).toFixed(3) : `${10 + d.id}` },
    { warehouse: 2, goods: d.id, qty: d.weighed ? (d.id * 20.5).toFixed(3) : `${100 + d.id * 5}` },
  ]);
  await db.transaction(async (tx) => {
    // The stock written below is recorded as adjustment moves of the demo catalogue.
    await directStockWrites(tx, "adjustment", "demo catalogue");
    await tx.query(
      `insert into categories (id, name, complete_name) select i, n, n
       from unnest($1::int[], $2::text[]) as c(i, n)
       on conflict (id) do update set name = excluded.name, complete_name = excluded.complete_name`,
      [DEMO_CATEGORIES.map((c) => c.id), DEMO_CATEGORIES.map((c) => c.name)],
    );
    await tx.query(
      `insert into warehouses (id, code, name) select * from unnest($1::int[], $2::text[], $3::text[])
       on conflict (id) do update set code = excluded.code, name = excluded.name`,
      [
        DEMO_WAREHOUSES.map((w) => w.id),
        DEMO_WAREHOUSES.map((w) => w.code),
        DEMO_WAREHOUSES.map((w) => w.name),
      ],
    );
    await tx.query(
      `insert into goods (id, barcode, name, price, cost, category_id, unit, weighed, origin,
         features, description, active)
       select i, b, n, p::numeric, c::numeric, cat, u, w::boolean, o, f, d, true
       from unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[],
         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) as g(i, b, n, p, c, cat, u, w, o, f, d)
       on conflict (id) do update set barcode = excluded.barcode, name = excluded.name,
         price = excluded.price, cost = excluded.cost, category_id = excluded.category_id,
         unit = excluded.unit, weighed = excluded.weighed, origin = excluded.origin,
         features = excluded.features, description = excluded.description, active = true`,
      [
        goods.map((d) => d.id),
        goods.map((d) => d.barcode),
        goods.map((d) => d.name),
        goods.map((d) => d.price),
        goods.map((d) => d.cost),
        goods.map((d) => d.category),
        goods.map((d) => d.unit),
        goods.map((d) => String(d.weighed)),
        goods.map((d) => d.origin),
        goods.map((d) => d.features),
        goods.map((d) => d.description),
      ],
    );
    await tx.query(
      `insert into stock (warehouse_id, goods_id, quantity)
       select w, g, q::numeric from unnest($1::int[], $2::int[], $3::text[]) as s(w, g, q)
       on conflict (warehouse_id, goods_id) do update set quantity = excluded.quantity`,
      [stock.map((s) => s.warehouse), stock.map((s) => s.goods), stock.map((s) => s.qty)],
    );
    // Weighed goods carry a scale PLU (their id): scale barcodes 21/22 + PLU (docs/try-it.md).
    await tx.query("update goods set plu = id where id = any($1::int[])", [
      goods.filter((d) => d.weighed).map((d) => d.id),
    ]);
    await tx.query(
      `insert into label_bindings (mac, goods_id) select * from unnest($1::text[], $2::int[])
       on conflict (mac) do update set goods_id = excluded.goods_id`,
      [DEMO_LABELS.map((l) => l.mac), DEMO_LABELS.map((l) => l.gid)],
    );
    await tx.query(
      `insert into rfid_tags (epc, goods_id) select * from unnest($1::text[], $2::int[])
       on conflict (epc) do update set goods_id = excluded.goods_id`,
      [DEMO_RFID_TAGS.map((t) => t.epc), DEMO_RFID_TAGS.map((t) => t.gid)],
    );
    // Explicit ids do not move identity sequences; move them so later inserts do not collide.
    await tx.query(
      `select setval(pg_get_serial_sequence(t, 'id'), greatest(m, 1)) from (values
         ('categories', (select max(id) from categories)),
         ('warehouses', (select max(id) from warehouses)),
         ('goods', (select max(id) from goods))) as s(t, m)`,
    );
  });
  return {
    categories: DEMO_CATEGORIES.length,
    warehouses: DEMO_WAREHOUSES.length,
    goods: DEMO_GOODS.length,
    labels: DEMO_LABELS.length,
    rfidTags: DEMO_RFID_TAGS.length,
  };
}
