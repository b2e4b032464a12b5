/**
 * The action table: the whole routing layer. An action not in it gets an `exception`.
 *
 * @module
 */
import type { ActionTable } from "../action_types.ts";
import { login } from "./login.ts";
import { logout } from "./logout.ts";
import { health } from "./health.ts";
import { getGoods, getGoodsKey } from "./get_goods.ts";
import { getAllGoods } from "./get_all_goods.ts";
import { getWarehouseGoods } from "./get_warehouse_goods.ts";
import { stockGoods } from "./stock_goods.ts";
import { getPosition } from "./get_position.ts";
import { getPayInfo } from "./get_pay_info.ts";
import { makePayment } from "./make_payment.ts";

export type { ActionTable } from "../action_types.ts";

/** The core actions (PROTOCOL.md §2–3). */
export const CORE_ACTIONS: ActionTable = {
  login: { handle: login, public: true, ignoresBody: true },
  logout: { handle: logout },
  health: { handle: health },
  // Shelf labels look themselves up by mac_id, and their displays only speak GBK.
  getGoods: {
    handle: getGoods,
    replyEncoding: (body) => getGoodsKey(body) === "mac_id" ? "gbk" : "utf8",
  },
  getAllGoods: { handle: getAllGoods },
  getWarehouseGoods: { handle: getWarehouseGoods },
  stockGoods: { handle: stockGoods, records: true },
  getPosition: { handle: getPosition },
  // The old server sent a stale variable instead of `url` when it failed; devices read `url`.
  getPayInfo: { handle: getPayInfo, failureBody: { url: "" }, records: true },
  makePayment: { handle: makePayment, records: true },
};
