/**
 * The `sendPayResult` push body and its `printList` receipt (PROTOCOL.md §4). Pure.
 *
 * @module
 */
import type { JsonObject } from "../protocol/body.ts";
import type { OwedResult } from "../store/pay_results.ts";
import type { PrintLine } from "../store/print_lines.ts";

/**
 * The receipt as JSON text: amounts as strings with two decimals, counts (weights) as the device
 * wrote them, names as they are (JSON keeps Chinese text intact).
 *
 * @example
 * ```ts
 * printList("1.44", [{ name: "红富士苹果", count: "1.2", price: "1.20", total: "1.44" }]);
 * // '{"totalAmount":"1.44","productList":[{"name":"红富士苹果","count":"1.2","price":"1.20","total":"1.44"}]}'
 * ```
 */
export function printList(totalAmount: string, lines: PrintLine[]): string {
  return JSON.stringify({
    totalAmount,
    productList: lines.map((l) => ({
      name: l.name,
      count: l.count,
      price: l.price,
      total: l.total,
    })),
  });
}

/**
 * The `sendPayResult` body: the device's own `order_id`, the order's total, `success` with the
 * receipt, or `error` with the reason in `exception` and no receipt (nothing to print).
 * `totalPrice` is a JSON number as devices send it; a two-decimal amount survives that exactly.
 */
export function payResultBody(owed: OwedResult, lines: PrintLine[]): JsonObject {
  const success = owed.result === "success";
  return {
    order_id: owed.terminalOrderId,
    totalPrice: Number(owed.amount),
    result: owed.result,
    printList: success ? printList(owed.amount, lines) : "",
    exception: success ? "" : owed.reason,
  };
}
