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
import { type ActionContext, type ActionHandler, requireDevice } from "./context.ts";
import { idList, present, text, textList } from "../fields.ts";
import { type DeviceGoods, deviceGoods } from "../goods_view.ts";
import { UserError } from "../errors.ts";
import type { JsonObject } from "../protocol/body.ts";
import {
  goodsByLabels,
  goodsByName,
  goodsByPlus,
  goodsByRfids,
  type GoodsView,
  learnLabelDevices,
} from "../store/goods.ts";
import { confirmShown } from "../pricing/label_display.ts";
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
  const goods = views.map((v) => deviceGoods(v, options));
  if (!ctx.shelfPrices || requireDevice(ctx).kind === LABEL_KIND) return goods;
  return await Promise.all(goods.map(async (g, i) => {
    const shown = await ctx.shelfPrices!.priceFor(g.gid, views[i].price);
    return shown.reason === "current" ? g : { ...g, price: Number(shown.price) };
  }));
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

/** The look-up key a `getGoods` body uses: the first of {@link GET_GOODS_KEYS} present. */
export function getGoodsKey(body: JsonObject): (typeof GET_GOODS_KEYS)[number] | undefined {
  return GET_GOODS_KEYS.find((k) => present(body[k]));
}

/** Handles `getGoods`. */
export const getGoods: ActionHandler = async (ctx, body) => {
  switch (getGoodsKey(body)) {
    case "code": {
      const goods = await byCodes(ctx, textList(body.code, "code"));
      return { body: { exception: "", goods } };
    }
    case "mac_id": {
      const macs = textList(body.mac_id, "mac_id").map((m) => m.toUpperCase());
      const views = await goodsByLabels(ctx.db, macs);
      // Only shelf labels serve labels (PROTOCOL.md §6): a till looking a label up must not
      // take that label's price pushes away from it.
      const device = requireDevice(ctx);
      if (device.kind === LABEL_KIND) {
        await learnLabelDevices(ctx.db, views.map((g) => g.mac), device.equipId);
        // A label that asked and got an answer shows it (issue 14, defined here).
        const shown = views.map((v) => ({ mac: v.mac, gid: v.gid, name: v.name, price: v.price }));
        const at = new Date(ctx.clock.now());
        await confirmShown(ctx, "getGoods", [{ equipId: device.equipId, shown, at }]);
      }
      return { body: { exception: "", goods: await forDevice(ctx, views) } };
    }
    case "gid": {
      const goods = await ctx.goods.byIds(idList(body.gid, "gid"));
      return { body: { exception: "", goods: await forDevice(ctx, goods) } };
    }
    case "gname": {
      const goods = await goodsByName(ctx.db, text()(body.gname, "gname"), NAME_SEARCH_LIMIT);
      return { body: { exception: "", goods: await forDevice(ctx, goods) } };
    }
    case "rfids": {
      const epcs = textList(body.rfids, "rfids").map((e) => e.toUpperCase());
      const goods = await goodsByRfids(ctx.db, epcs);
      return { body: { exception: "", goods: await forDevice(ctx, goods) } };
    }
    default:
      throw new UserError(`getGoods needs one of ${GET_GOODS_KEYS.join(", ")}`);
  }
};
