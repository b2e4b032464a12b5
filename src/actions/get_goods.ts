/**
 * `getGoods` (PROTOCOL.md §3): goods by barcode, shelf-label MAC (reply in GBK), id, name or RFID
 * tag. The first key present in that order wins; unknown keys' values are left out of `goods`.
 *
 * @module
 */
import { type ActionHandler, requireDevice } from "./context.ts";
import { idList, present, text, textList } from "../fields.ts";
import { deviceGoods } from "../goods_view.ts";
import { UserError } from "../errors.ts";
import { goodsByLabels, goodsByName, goodsByRfids, learnLabelDevices } from "../store/goods.ts";

/** Look-up keys, in the order in which the first present one wins. */
export const GET_GOODS_KEYS = ["code", "mac_id", "gid", "gname", "rfids"] as const;

/** The device kind that serves shelf labels and is remembered as doing so. */
const LABEL_KIND = "DZBQ";

/** Most goods a name search returns. */
export const NAME_SEARCH_LIMIT = 100;

/** Handles `getGoods`. */
export const getGoods: ActionHandler = async (ctx, body) => {
  const key = GET_GOODS_KEYS.find((k) => present(body[k]));
  switch (key) {
    case "code": {
      const goods = await ctx.goods.byBarcodes(textList(body.code, "code"));
      return { body: { exception: "", goods: goods.map((g) => deviceGoods(g)) } };
    }
    case "mac_id": {
      const macs = textList(body.mac_id, "mac_id").map((m) => m.toUpperCase());
      const goods = await goodsByLabels(ctx.db, macs);
      // Only shelf labels serve labels (PROTOCOL.md §6): a till looking a label up must not
      // take that label's price pushes away from it.
      const device = requireDevice(ctx);
      if (device.kind === LABEL_KIND) {
        await learnLabelDevices(ctx.db, goods.map((g) => g.mac), device.equipId);
      }
      // The labels' displays only speak GBK.
      return { body: { exception: "", goods: goods.map((g) => deviceGoods(g)) }, encoding: "gbk" };
    }
    case "gid": {
      const goods = await ctx.goods.byIds(idList(body.gid, "gid"));
      return { body: { exception: "", goods: goods.map((g) => deviceGoods(g)) } };
    }
    case "gname": {
      const goods = await goodsByName(ctx.db, text()(body.gname, "gname"), NAME_SEARCH_LIMIT);
      return { body: { exception: "", goods: goods.map((g) => deviceGoods(g)) } };
    }
    case "rfids": {
      const epcs = textList(body.rfids, "rfids").map((e) => e.toUpperCase());
      const goods = await goodsByRfids(ctx.db, epcs);
      return { body: { exception: "", goods: goods.map((g) => deviceGoods(g)) } };
    }
    default:
      throw new UserError(`getGoods needs one of ${GET_GOODS_KEYS.join(", ")}`);
  }
};
