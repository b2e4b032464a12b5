/**
 * The audit log (migration 006): one row per write action of the admin API — who (the token's
 * name, or `loopback`), what, on what, when. Read by the store console and `GET /api/audit`.
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** One audit line. */
export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
}

/** Records one action. */
export async function writeAudit(
  db: Queryable,
  entry: Omit<AuditEntry, "id">,
): Promise<void> {
  await db.query(
    "insert into audit_log (at, actor, action, target, detail) values ($1, $2, $3, $4, $5::jsonb)",
    [entry.at, entry.actor, entry.action, entry.target, JSON.stringify(entry.detail)],
  );
}

/** The latest entries, newest first. */
export async function recentAudit(db: Queryable, limit = 100): Promise<AuditEntry[]> {
  const rows = await db.query<AuditEntry & Record<string, unknown>>(
    `select id, at, actor, action, target, detail from audit_log order by id desc limit $1`,
    [limit],
  );
  return rows.map((r) => ({
    ...r,
    id: Number(r.id),
    detail: typeof r.detail === "string" ? JSON.parse(r.detail) : r.detail,
  }));
}
