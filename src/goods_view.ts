/**
 * The goods object devices receive (PROTOCOL.md §3), built from a store row. Used by the goods
 * replies and by the `sendGoods` push.
 *
 * @module
 */
import type { GoodsView } from "./store/goods.ts";
import { trimZeros } from "./decimal.ts";

/** A goods object on the wire. */
export interface DeviceGoods {
  gid: number;
  name: string;
  mac: string;
  scanCode: string;
  price: number;
  standardPrice: number;
  description: string;
  area: string;
  feature: string;
  stock: string;
  pcname?: string;
}

/**
 * Converts a store row. Prices become JSON numbers as devices expect; a two-decimal value
 * survives that exactly (its shortest text is the same decimal).
 */
export function deviceGoods(view: GoodsView, options: { pcname?: boolean } = {}): DeviceGoods {
  const goods: DeviceGoods = {
    gid: view.gid,
    name: view.name,
    mac: view.mac,
    scanCode: view.barcode,
    price: Number(view.price),
    standardPrice: Number(view.cost),
    description: view.description,
    area: view.origin,
    feature: view.features,
    stock: trimZeros(view.stock),
  };
  if (options.pcname) goods.pcname = view.pcname;
  return goods;
}
