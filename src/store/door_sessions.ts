/**
 * The store's door session: the customer (openId) who opened the door, who pays the orders made
 * while it is open.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** Remembers `openId` as the store's current customer (a newer open replaces an older one). */
export async function openDoorSession(
  db: Queryable,
  shopId: string,
  openId: string,
  at: Date,
): Promise<void> {
  await db.query(
    `insert into door_sessions (shop_id, open_id, opened_at) values ($1, $2, $3)
     on conflict (shop_id) do update set open_id = excluded.open_id, opened_at = excluded.opened_at`,
    [shopId, openId, at],
  );
}

/** Ends the store's door session. */
export async function closeDoorSession(db: Queryable, shopId: string): Promise<void> {
  await db.query("delete from door_sessions where shop_id = $1", [shopId]);
}

/** The store's current customer's openId, or "" when the door session is closed. */
export async function currentCustomer(db: Queryable, shopId: string): Promise<string> {
  const rows = await db.query<{ openId: string }>(
    `select open_id as "openId" from door_sessions where shop_id = $1`,
    [shopId],
  );
  return rows[0]?.openId ?? "";
}
