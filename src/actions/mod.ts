/**
 * The action table: the whole routing layer. An action not in it gets an `exception`.
 *
 * @module
 */
import type { ActionHandler } from "./context.ts";
import { login } from "./login.ts";
import { logout } from "./logout.ts";
import { health } from "./health.ts";
import { getGoods } from "./get_goods.ts";
import { getAllGoods } from "./get_all_goods.ts";
import { getWarehouseGoods } from "./get_warehouse_goods.ts";
import { stockGoods } from "./stock_goods.ts";
import { getPosition } from "./get_position.ts";
import { getPayInfo } from "./get_pay_info.ts";
import { makePayment } from "./make_payment.ts";

/** Action name → handler. Every action but `login` requires a logged-in device. */
export type ActionTable = Readonly<Record<string, ActionHandler>>;

/** The core actions (PROTOCOL.md §2–3). */
export const CORE_ACTIONS: ActionTable = {
  login,
  logout,
  health,
  getGoods,
  getAllGoods,
  getWarehouseGoods,
  stockGoods,
  getPosition,
  getPayInfo,
  makePayment,
};
