/**
 * Payment order codes. The code is printed in the QR URL, so anyone who sees a customer's screen
 * knows it: it must not lead to the store's other orders. It is 15 random decimal digits (no
 * leading zero): numeric as the payment server wants, and below 2^53, so a cloud that sends it
 * back as a JSON number does not round it. 9·10^14 codes (about 50 bits): with a hundred orders
 * pending, one guess in 9·10^12 hits one, and a guess is a `makePayment` round trip that is
 * refused, logged and counted (and `makePayment` only ever pays the caller's own orders anyway).
 *
 * @module
 */

/** Digits of an order code. */
export const ORDER_CODE_DIGITS = 15;

/** Fills a buffer with random bytes (`crypto.getRandomValues` by default; tests pass their own). */
export type RandomSource = (buffer: Uint32Array) => Uint32Array;

const cryptoRandom: RandomSource = (buffer) => crypto.getRandomValues(buffer);

/**
 * A new random order code: 15 digits, the first not 0. Codes are unique in the store by the
 * database's key (the caller draws again on a collision).
 *
 * @example
 * ```ts
 * newOrderCode(); // e.g. "418270396551203"
 * ```
 */
export function newOrderCode(random: RandomSource = cryptoRandom): string {
  const words = new Uint32Array(ORDER_CODE_DIGITS);
  let digits = "";
  while (digits.length < ORDER_CODE_DIGITS) {
    random(words);
    for (const w of words) {
      // Rejection sampling: 4294967290 = 429496729 · 10, so the digit is unbiased.
      if (w >= 4294967290) continue;
      const digit = w % 10;
      if (digits.length === 0 && digit === 0) continue;
      digits += String(digit);
      if (digits.length === ORDER_CODE_DIGITS) break;
    }
  }
  return digits;
}
