/**
 * The shape of a NOTIFY subscription, on the ground floor so that a module that only needs to be
 * woken (a background worker) does not import the store. `Database.listen` is one.
 *
 * @module
 */

/**
 * Subscribes to `NOTIFY channel`. `onListen` runs when the subscription is (re-)established, so a
 * caller can catch up on what it missed while disconnected. Resolves to an unsubscribe function.
 */
export type Listen = (
  channel: string,
  onNotify: (payload: string) => void,
  onListen?: () => void,
) => Promise<() => Promise<void>>;

/** Anything that can subscribe to NOTIFY channels (the database). */
export interface Notifications {
  listen: Listen;
}
