/**
 * `backup FILE` and `restore FILE`. Embedded database: a backup works while the store sells (the
 * running appliance takes the snapshot through its admin API, `GET /api/backup`) or with it
 * stopped (the database is opened here); a restore needs the appliance stopped. PostgreSQL:
 * `pg_dump` / `pg_restore` are run when they are on PATH, else the line says how to run them.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { maskSecret } from "../config/config.ts";
import { DatabaseLockedError, databaseSizeBytes } from "../store/database.ts";
import { openPglite } from "../store/pglite/pglite.ts";
import { pathExists } from "../store/pglite/pglite_template.ts";
import { BadSnapshotError, restoreEmbedded } from "../store/restore.ts";
import { BACKUP_PATH } from "../admin/backup.ts";
import { openPostgres } from "../store/postgres.ts";
import { isDiskFull, megabytes, readDiskSpace } from "../disk_space.ts";
import { adminFetch, adminHeaders, adminOrigin } from "./_admin_api.ts";
import { CliError, CONFIG_FLAGS_HELP, loadCliConfig, parseStoreCommand } from "./_common.ts";
import { errorMessage } from "../errors.ts";

const BACKUP_HELP = `newretail backup FILE [options]

Writes a backup of the store's database to FILE. Embedded database: a consistent snapshot (a
gzip-compressed tar), taken by the running appliance through its admin API (GET ${BACKUP_PATH})
while it keeps serving, or directly when it is stopped. PostgreSQL: runs pg_dump -Fc.

A backup that does not fit on FILE's disk is refused before anything is written, with the space
it needs; FILE appears only whole (written as FILE.partial, renamed when complete).

${CONFIG_FLAGS_HELP}`;

const RESTORE_HELP = `newretail restore FILE [options]

Replaces the store's database with the backup in FILE. Stop the appliance first
(systemctl stop newretail). Embedded database: the current one is kept beside it as
db.before-restore-<time>. PostgreSQL: runs pg_restore --clean.

${CONFIG_FLAGS_HELP}`;

function fileArgument(positionals: string[], command: string): string {
  if (positionals.length !== 1) {
    throw new CliError(`usage: newretail ${command} FILE (see newretail ${command} --help)`, 2);
  }
  return positionals[0];
}

async function runTool(tool: string, args: string[], how: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(tool, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(`${tool} is not on PATH (apt-get install postgresql-client); run: ${how}`);
    }
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new CliError(`not allowed to run ${tool} here; run: ${how}`);
    }
    throw e;
  }
  if (!out.success) {
    const reason = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    throw new CliError(`${tool} failed (exit ${out.code}): ${reason}`);
  }
}

// The snapshot from the running appliance, through its admin API (token when configured).
async function backupFromService(config: Config): Promise<Blob> {
  if (!config.adminEnabled) {
    throw new CliError(
      "the appliance is running and its admin HTTP is off (adminEnabled): turn it on to back up " +
        "while it serves, or stop it (systemctl stop newretail) and run backup again",
    );
  }
  const url = `${adminOrigin(config)}${BACKUP_PATH}`;
  let response: Response;
  try {
    response = await adminFetch(config, BACKUP_PATH, {
      headers: adminHeaders(config),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (e) {
    throw new CliError(`the running appliance did not answer ${url}: ${errorMessage(e)}`);
  }
  if (!response.ok) {
    const text = (await response.text()).trim().split("\n")[0];
    throw new CliError(`the running appliance refused the backup (${response.status}): ${text}`);
  }
  return await response.blob();
}

/** Room left on FILE's disk beside a backup (the appliance's own database may share it). */
const BACKUP_MARGIN_BYTES = 8 * 1024 * 1024;

/**
 * Writes a backup as FILE.partial and renames it FILE once complete: refused before anything is
 * written when FILE's disk has less free than `neededBytes` (and a margin), and the partial file
 * removed when the disk fills anyway. `write` fills the partial file.
 */
async function writeWhole(
  file: string,
  neededBytes: number,
  write: (partial: string) => Promise<void>,
): Promise<void> {
  const partial = `${file}.partial`;
  // Created first: its disk's free space is read through it (no access to the rest of the folder).
  await Deno.writeFile(partial, new Uint8Array());
  try {
    const { freeBytes } = await readDiskSpace(partial);
    if (freeBytes < neededBytes + BACKUP_MARGIN_BYTES) {
      throw new CliError(
        `not enough space for the backup: it needs ${megabytes(neededBytes) + 1} MB ` +
          `(and ${megabytes(BACKUP_MARGIN_BYTES)} MB to spare) on the disk of ${file}, ` +
          `which has ${megabytes(freeBytes)} MB free; nothing was written`,
      );
    }
    try {
      await write(partial);
    } catch (e) {
      if (!isDiskFull(e) && !/No space left/.test(String((e as Error)?.message))) throw e;
      throw new CliError(
        `the disk of ${file} filled while the backup was written (it needs about ` +
          `${megabytes(neededBytes) + 1} MB); the partial file was removed, nothing was written`,
      );
    }
    await Deno.rename(partial, file);
  } catch (e) {
    await Deno.remove(partial).catch(() => {});
    throw e;
  }
}

/** The PostgreSQL database's size: pg_dump's compressed custom format needs no more. */
async function postgresSize(url: string): Promise<number> {
  const db = openPostgres(url);
  try {
    return await databaseSizeBytes(db);
  } finally {
    await db.close();
  }
}

/** Runs `backup FILE`. */
export async function backupCommand(args: string[]): Promise<number> {
  const { values, positionals, exit } = parseStoreCommand(args, BACKUP_HELP, {}, "any");
  if (exit !== undefined) return exit;
  const file = fileArgument(positionals, "backup");
  const { config } = loadCliConfig(values);
  if (config.databaseUrl) {
    const url = config.databaseUrl;
    await writeWhole(file, await postgresSize(url), (partial) =>
      runTool(
        "pg_dump",
        ["--format=custom", `--file=${partial}`, `--dbname=${url}`],
        `pg_dump -Fc -f ${file} '${maskSecret(url)}'`,
      ));
    console.log(`backup of the PostgreSQL database written to ${file} (pg_dump, custom format)`);
    return 0;
  }
  if (!(await pathExists(`${config.stateDir}/db/PG_VERSION`))) {
    throw new CliError(
      `no embedded database in ${config.stateDir}/db: nothing to back up (set stateDir / --state-dir)`,
    );
  }
  let snapshot: Blob;
  let how: string;
  try {
    const db = await openPglite(config.stateDir);
    try {
      snapshot = new Blob([(await db.dumpDataDir()).slice()]);
    } finally {
      await db.close();
    }
    how = "the appliance is stopped: taken directly";
  } catch (e) {
    if (!(e instanceof DatabaseLockedError)) throw e;
    snapshot = await backupFromService(config);
    how = "taken by the running appliance";
  }
  await writeWhole(file, snapshot.size, (partial) => Deno.writeFile(partial, snapshot.stream()));
  console.log(
    `backup of the embedded database in ${config.stateDir} written to ${file} ` +
      `(${snapshot.size} bytes; ${how})`,
  );
  return 0;
}

/** Runs `restore FILE`. */
export async function restoreCommand(args: string[]): Promise<number> {
  const { values, positionals, exit } = parseStoreCommand(args, RESTORE_HELP, {}, "any");
  if (exit !== undefined) return exit;
  const file = fileArgument(positionals, "restore");
  if (!(await pathExists(file))) throw new CliError(`${file}: no such backup file`);
  const { config } = loadCliConfig(values);
  if (config.databaseUrl) {
    await runTool(
      "pg_restore",
      ["--clean", "--if-exists", "--no-owner", `--dbname=${config.databaseUrl}`, file],
      `pg_restore --clean --if-exists --no-owner -d '${maskSecret(config.databaseUrl)}' ${file}`,
    );
    console.log(`restored ${file} into the PostgreSQL database (pg_restore)`);
    return 0;
  }
  const snapshot = new Blob([await Deno.readFile(file)]);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  try {
    const outcome = await restoreEmbedded(config.stateDir, snapshot, stamp);
    console.log(
      `restored ${file} into ${outcome.directory}` +
        (outcome.keptAs ? `; the database it replaced is kept in ${outcome.keptAs}` : ""),
    );
  } catch (e) {
    if (e instanceof BadSnapshotError) throw new CliError(`${file}: ${e.message}`);
    throw e;
  }
  return 0;
}
