/**
 * Restoring the embedded database from a snapshot (`newretail restore FILE`): with the appliance
 * stopped (its lock is taken here), the current database is moved aside, never deleted, and the
 * snapshot is loaded into a fresh directory; a snapshot PGlite cannot load puts the old one back.
 *
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { lockDirectory } from "./pglite/pglite.ts";
import { pathExists } from "./pglite/pglite_template.ts";
import { errorMessage } from "../errors.ts";

/** What a restore did. */
export interface RestoreOutcome {
  /** The database directory now holding the snapshot. */
  directory: string;
  /** Where the database it replaced was moved, or undefined when there was none. */
  keptAs?: string;
}

/** A snapshot that is not an embedded database PGlite can load. */
export class BadSnapshotError extends Error {
  /** @param message one line for the operator */
  constructor(message: string) {
    super(message);
    this.name = "BadSnapshotError";
  }
}

/**
 * Replaces the embedded database of `stateDir` with `snapshot` (a `dump()` / `/api/backup` file).
 * `stamp` names the directory the replaced database is kept in (`db.before-restore-<stamp>`).
 */
export async function restoreEmbedded(
  stateDir: string,
  snapshot: Blob,
  stamp: string,
): Promise<RestoreOutcome> {
  const lock = await lockDirectory(stateDir);
  const directory = `${stateDir}/db`;
  const keptAs = `${stateDir}/db.before-restore-${stamp}`;
  try {
    const hadOne = await pathExists(directory, Deno.lstat);
    if (hadOne) await Deno.rename(directory, keptAs);
    try {
      const pg = await PGlite.create(directory, { loadDataDir: snapshot });
      try {
        await pg.query("select count(*) from schema_migrations");
      } finally {
        await pg.close();
      }
    } catch (e) {
      await Deno.remove(directory, { recursive: true }).catch(() => {});
      if (hadOne) await Deno.rename(keptAs, directory);
      throw new BadSnapshotError(
        `not a newretail embedded-database backup (${
          errorMessage(e)
        }); the database was not changed`,
      );
    }
    return { directory, keptAs: hadOne ? keptAs : undefined };
  } finally {
    lock.close();
  }
}
