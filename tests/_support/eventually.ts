/**
 * Waiting for state that settles asynchronously (a NOTIFY, a broker, a push) without sleeping a
 * fixed time.
 *
 * @module
 */

/**
 * Polls `probe` every 20 ms until it returns something other than `undefined` or `false`, and
 * returns that; throws naming `what` after `timeoutMs`.
 */
export async function eventually<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
