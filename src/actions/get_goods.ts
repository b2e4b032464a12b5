/**
 * `getGoods` (PROTOCOL.md §3): goods by barcode, shelf-label MAC (the action table answers it in
 * GBK), id, name or RFID tag. The first key present in that order wins; unknown keys' values are left out of `goods`.
 *
 * §6 additions: devices other than shelf labels are told the price a customer can see on the
 * shelf (price parity); a `code` that is a scale barcode is looked up by its PLU; a shelf label's
 * own `mac_id` look-up is what it shows from then on (recorded, `label-confirmed` emitted).
 *
 * @module
 */
import {
  type ActionContext,
  type ActionResult,
  type ImmediateActionHandler,
  requireDevice,
} from "./context.ts";
import { idList, present, text, textList } from "../fields.ts";
import { type DeviceGoods, deviceGoods } from "../goods_view.ts";
import { UserError } from "../errors.ts";
import type { JsonObject } from "../protocol/body.ts";
import { goodsByName, goodsByPlus, goodsByRfids, type GoodsView } from "../store/goods.ts";
import { parseScaleBarcode, type ScaleReading } from "../scale_barcode.ts";
import { trimZeros } from "../decimal.ts";
import { embeddedTotal } from "../pricing/order_lines.ts";

/** Look-up keys, in the order in which the first present one wins. */
export const GET_GOODS_KEYS = ["code", "mac_id", "gid", "gname", "rfids"] as const;

/** The device kind that serves shelf labels and is remembered as doing so. */
const LABEL_KIND = "DZBQ";

/** Most goods a name search returns. */
export const NAME_SEARCH_LIMIT = 100;

/**
 * The goods objects for a device: shelf labels get the current price, others the shelf's
 * (price parity, PROTOCOL.md §6). Also used by `getAllGoods` (scales page the catalogue).
 */
export async function forDevice(
  ctx: ActionContext,
  views: GoodsView[],
  options: { pcname?: boolean } = {},
): Promise<DeviceGoods[]> {
  const now = forDeviceNow(ctx, views, options);
  if (now) return now;
  const goods = views.map((v) => deviceGoods(v, options));
  return await Promise.all(goods.map(async (g, i) => {
    return shownAt(g, await ctx.shelfPrices!.priceFor(g.gid, views[i].price));
  }));
}

/**
 * {@link forDevice} at once, or undefined while the prices the labels show are being reloaded:
 * a look-up answered from memory needs no promise.
 */
function forDeviceNow(
  ctx: ActionContext,
  views: GoodsView[],
  options: { pcname?: boolean } = {},
): DeviceGoods[] | undefined {
  const shelf = ctx.shelfPrices;
  const goods = views.map((v) => deviceGoods(v, options));
  if (!shelf || requireDevice(ctx).kind === LABEL_KIND) return goods;
  for (let i = 0; i < goods.length; i++) {
    const shown = shelf.priceNow(goods[i].gid, views[i].price);
    if (!shown) return undefined;
    goods[i] = shownAt(goods[i], shown);
  }
  return goods;
}

function shownAt(goods: DeviceGoods, shown: { price: string; reason: string }): DeviceGoods {
  return shown.reason === "current" ? goods : { ...goods, price: Number(shown.price) };
}

/** The goods of plain barcodes (none a scale code) from memory, or undefined. */
function byCodesNow(ctx: ActionContext, codes: string[]): DeviceGoods[] | undefined {
  for (const code of codes) if (parseScaleBarcode(code, ctx.config.scaleBarcodes)) return undefined;
  const views = ctx.goods.barcodesNow(codes);
  return views && forDeviceNow(ctx, views);
}

/** Barcodes, of which scale codes (PROTOCOL.md §6) are looked up by PLU, in the order asked. */
async function byCodes(ctx: ActionContext, codes: string[]): Promise<DeviceGoods[]> {
  const readings = new Map<string, ScaleReading>();
  for (const code of codes) {
    const reading = parseScaleBarcode(code, ctx.config.scaleBarcodes);
    if (reading) readings.set(code, reading);
  }
  const plain = codes.filter((c) => !readings.has(c));
  const plainGoods = plain.length > 0 ? await ctx.goods.byBarcodes(plain) : [];
  const byCode = new Map(plainGoods.map((v) => [v.barcode, v]));
  const plus = [...new Set([...readings.values()].map((r) => r.plu))];
  const byPlu = new Map(
    plus.length > 0 ? (await goodsByPlus(ctx.db, plus)).map((v) => [Number(v.matched), v]) : [],
  );
  const views: GoodsView[] = [];
  const scanned: (ScaleReading | undefined)[] = [];
  for (const code of codes) {
    const reading = readings.get(code);
    const view = reading ? byPlu.get(reading.plu) : byCode.get(code);
    if (!view) continue;
    views.push(view);
    scanned.push(reading);
  }
  const goods = await forDevice(ctx, views);
  return goods.map((g, i) => {
    const reading = scanned[i];
    if (!reading) return g;
    // Under price parity a printed total is what getPayInfo will charge: the shown price × weight.
    const measured = reading.kind === "weight" ? { weight: Number(trimZeros(reading.value)) } : {
      amount: Number(embeddedTotal(reading.value, views[i].price, g.price.toFixed(2)).amount),
    };
    return { ...g, scanCode: reading.code, ...measured };
  });
}

/**
 * A shelf label's look-up of its own MACs: answered, and recorded as what the labels show from
 * now on, the device learned as the one serving them (`label-confirmed` emitted).
 */
async function ownLabels(ctx: ActionContext, equipId: string, macs: string[]) {
  const views = ctx.goods.labelsNow(macs) ?? await ctx.goods.byLabels(macs);
  // A label that asked and got an answer shows it (issue 14, defined here).
  const shown = views.map((v) => ({ mac: v.mac, gid: v.gid, name: v.name, price: v.price }));
  await ctx.labels.answered(equipId, shown, new Date(ctx.clock.now()));
  return found(await forDevice(ctx, views));
}

/** The look-up key a `getGoods` body uses: the first of {@link GET_GOODS_KEYS} present. */
export function getGoodsKey(body: JsonObject): (typeof GET_GOODS_KEYS)[number] | undefined {
  return GET_GOODS_KEYS.find((k) => present(body[k]));
}

function found(goods: DeviceGoods[]): ActionResult {
  return { body: { exception: "", goods } };
}

// The reply at once when the goods are, else when they are.
function reply(
  goods: DeviceGoods[] | Promise<DeviceGoods[]>,
): ActionResult | Promise<ActionResult> {
  return goods instanceof Promise ? goods.then(found) : found(goods);
}

/**
 * Handles `getGoods`. A look-up by barcode, id or another device's label whose goods are in
 * memory (the goods cache, the parity overlay current) is answered at once, without a promise.
 */
export const getGoods: ImmediateActionHandler = (ctx, body) => {
  switch (getGoodsKey(body)) {
    case "code": {
      const codes = textList(body.code, "code");
      return reply(byCodesNow(ctx, codes) ?? byCodes(ctx, codes));
    }
    case "mac_id": {
      const macs = textList(body.mac_id, "mac_id").map((m) => m.toUpperCase());
      const device = requireDevice(ctx);
      // Only shelf labels serve labels (PROTOCOL.md §6): a till looking a label up must not
      // take that label's price pushes away from it.
      if (device.kind === LABEL_KIND) return ownLabels(ctx, device.equipId, macs);
      const views = ctx.goods.labelsNow(macs);
      return reply(
        (views && forDeviceNow(ctx, views)) ??
          ctx.goods.byLabels(macs).then((views) => forDevice(ctx, views)),
      );
    }
    case "gid": {
      const ids = idList(body.gid, "gid");
      const views = ctx.goods.idsNow(ids);
      return reply(
        (views && forDeviceNow(ctx, views)) ??
          ctx.goods.byIds(ids).then((views) => forDevice(ctx, views)),
      );
    }
    case "gname":
      return goodsByName(ctx.db, text()(body.gname, "gname"), NAME_SEARCH_LIMIT)
        .then((views) => forDevice(ctx, views)).then(found);
    case "rfids": {
      const epcs = textList(body.rfids, "rfids").map((e) => e.toUpperCase());
      return goodsByRfids(ctx.db, epcs).then((views) => forDevice(ctx, views)).then(found);
    }
    default:
      throw new UserError(`getGoods needs one of ${GET_GOODS_KEYS.join(", ")}`);
  }
};
