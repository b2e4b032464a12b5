/**
 * Versioned SQL migrations: numbered plain `.sql` files, applied in order, each in its own
 * transaction, recorded in `schema_migrations`. Safe to run from two processes at once (an
 * advisory lock serialises them).
 *
 * @module
 */
import type { Database } from "./database.ts";
import core from "./migrations/001_core.sql" with { type: "text" };
import payment from "./migrations/002_payment.sql" with { type: "text" };
import push from "./migrations/003_push.sql" with { type: "text" };
import odoo from "./migrations/004_odoo.sql" with { type: "text" };
import deviceDisabled from "./migrations/005_device_disabled.sql" with { type: "text" };
import trust from "./migrations/006_trust.sql" with { type: "text" };
import odooExact from "./migrations/007_odoo_exact.sql" with { type: "text" };
import stockMoves from "./migrations/008_stock_moves.sql" with { type: "text" };
import priceIntegrity from "./migrations/009_price_integrity.sql" with { type: "text" };
import odooPricelist from "./migrations/010_odoo_pricelist.sql" with { type: "text" };
import labelFreshness from "./migrations/011_label_freshness.sql" with { type: "text" };
import labelShownHot from "./migrations/012_label_shown_hot.sql" with { type: "text" };
import pendingPushesLean from "./migrations/013_pending_pushes_lean.sql" with { type: "text" };
import labelShownLockOrder from "./migrations/014_label_shown_lock_order.sql" with { type: "text" };

/** One migration. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The database was migrated by a newer release (it records a migration this one does not know):
 * running on it could lose what that release stores, so the program refuses with one line.
 */
export class NewerDatabaseError extends Error {
  /** @param message one line for the operator */
  constructor(message: string) {
    super(message);
    this.name = "NewerDatabaseError";
  }
}

/** A migration from its file's name (`NNN_name.sql`) and text: the number and name are the file's. */
function fromFile(file: string, sql: string): Migration {
  const [, version, name] = /^(\d{3})_(\w+)\.sql$/.exec(file) ?? [];
  if (!name) throw new Error(`migration file ${file} is not named NNN_name.sql`);
  return { version: Number(version), name, sql };
}

/** Every migration, in order. Embedded in the program (imports), so the binary needs no files. */
export const MIGRATIONS: readonly Migration[] = [
  fromFile("001_core.sql", core),
  fromFile("002_payment.sql", payment),
  fromFile("003_push.sql", push),
  fromFile("004_odoo.sql", odoo),
  fromFile("005_device_disabled.sql", deviceDisabled),
  fromFile("006_trust.sql", trust),
  fromFile("007_odoo_exact.sql", odooExact),
  fromFile("008_stock_moves.sql", stockMoves),
  fromFile("009_price_integrity.sql", priceIntegrity),
  fromFile("010_odoo_pricelist.sql", odooPricelist),
  fromFile("011_label_freshness.sql", labelFreshness),
  fromFile("012_label_shown_hot.sql", labelShownHot),
  fromFile("013_pending_pushes_lean.sql", pendingPushesLean),
  fromFile("014_label_shown_lock_order.sql", labelShownLockOrder),
];

// Any constant works: it only has to be the same in every process migrating this database.
const MIGRATION_LOCK_KEY = 86860001;

/**
 * Applies the migrations the database lacks and returns their versions.
 *
 * @example
 * ```ts
 * const applied = await migrate(db); // [] when up to date
 * ```
 */
export async function migrate(
  db: Database,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  await db.exec(`create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    applied_at timestamptz not null default now()
  )`);
  const last = migrations.at(-1)?.version ?? 0;
  const newer = await db.query<{ version: number; name: string }>(
    "select version, name from schema_migrations where version > $1 order by version",
    [last],
  );
  if (newer.length > 0) {
    throw new NewerDatabaseError(
      `the database was migrated by a newer newretail (migration ${
        newer.map((m) => `${m.version} "${m.name}"`).join(", ")
      } is unknown to this release, which knows up to ${last}): run the newer release, or ` +
        "`newretail rollback` to return to the database copied before the upgrade",
    );
  }
  const applied: number[] = [];
  for (const migration of migrations) {
    const done = await db.transaction(async (tx) => {
      await tx.query("select pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
      const rows = await tx.query("select 1 from schema_migrations where version = $1", [
        migration.version,
      ]);
      if (rows.length > 0) return false;
      await tx.exec(migration.sql);
      await tx.query("insert into schema_migrations (version, name) values ($1, $2)", [
        migration.version,
        migration.name,
      ]);
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}

/** The highest applied migration version (0 for an empty database). */
export async function schemaVersion(db: Database): Promise<number> {
  const rows = await db.query<{ version: number | null }>(
    "select max(version)::int as version from schema_migrations",
  );
  return rows[0]?.version ?? 0;
}
