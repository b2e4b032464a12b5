/**
 * Upkeep of the embedded database. PGlite is PostgreSQL in single-user mode: no autovacuum and no
 * checkpointer run. Without autovacuum, rows updated all day (devices' last-seen, pushes, payment
 * calls) leave dead versions behind, the planner never learns the tables' sizes, and transaction
 * ids are never frozen — after two billion transactions PostgreSQL would stop accepting writes.
 * Without the checkpointer, a checkpoint comes only when the WAL reaches `max_wal_size` (1 GB),
 * and crash recovery after a power cut replays all of it. An {@link upkeep} pass does both jobs
 * with their servers' rules: autovacuum's thresholds, one table per statement so device requests
 * interleave, and a checkpoint; the appliance runs one every `checkpoint_timeout` (5 minutes,
 * `src/app.ts`). (A PostgreSQL server has its own: this is for the embedded database only.)
 *
 * @module
 */
import type { Queryable } from "./database.ts";

/** How often: PostgreSQL's `checkpoint_timeout`. */
export const UPKEEP_INTERVAL_MS = 5 * 60_000;

/**
 * A table's transaction-id age past which it is vacuumed whatever its dead rows: autovacuum's
 * `autovacuum_freeze_max_age`. Past `vacuum_freeze_table_age` (150 million) a VACUUM freezes the
 * whole table, so the database's oldest id moves on and wraparound never comes near.
 */
const FREEZE_AGE = 200_000_000;

/**
 * The tables autovacuum would vacuum now, system catalogs included (their ids age too): dead rows
 * over 50 + 20 % of the live ones, changes since the last analyze over 50 + 10 %, or ids old
 * enough to freeze. Schema-qualified and quoted, most dead rows first.
 */
export async function tablesNeedingVacuum(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
       left join pg_stat_all_tables s on s.relid = c.oid
     where c.relkind in ('r', 'm') and c.relpersistence = 'p'
       and (s.n_dead_tup > 50 + 0.2 * s.n_live_tup
         or s.n_mod_since_analyze > 50 + 0.1 * s.n_live_tup
         or age(c.relfrozenxid) > $1)
     order by s.n_dead_tup desc nulls last, 1`,
    [FREEZE_AGE],
  );
  return rows.map((r) => r.name);
}

/** VACUUM (ANALYZE) of one table (a name {@link tablesNeedingVacuum} gave, quoted). */
export async function vacuumTable(db: Queryable, table: string): Promise<void> {
  await db.query(`vacuum (analyze) ${table}`);
}

/** One upkeep pass: the tables that need it vacuumed, then a checkpoint. Returns the tables. */
export async function upkeep(db: Queryable): Promise<string[]> {
  const tables = await tablesNeedingVacuum(db);
  for (const table of tables) await vacuumTable(db, table);
  await db.query("checkpoint");
  return tables;
}
