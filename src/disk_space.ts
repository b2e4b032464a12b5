/**
 * Free space of the file system that holds a path (`statfs`), as the appliance's disk checks read
 * it: the state directory's, the embedded database's before it reopens, a backup's target.
 *
 * @module
 */
import { statfs } from "node:fs/promises";
import { dirname } from "node:path";

/** A file system's space, in bytes. */
export interface DiskSpace {
  /** Free to an unprivileged process (root's reserved blocks left out, as `df` shows). */
  freeBytes: number;
  totalBytes: number;
}

/**
 * The space of the file system that holds `path` (the nearest existing parent when `path` does
 * not exist yet).
 *
 * @example
 * ```ts
 * const { freeBytes } = await readDiskSpace("./data");
 * ```
 */
export async function readDiskSpace(path: string): Promise<DiskSpace> {
  for (let at = path;;) {
    try {
      const s = await statfs(at);
      return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch (e) {
      const parent = dirname(at);
      if ((e as { code?: string }).code !== "ENOENT" || parent === at) throw e;
      at = parent;
    }
  }
}

/** Whole megabytes of `bytes`, for messages. */
export function megabytes(bytes: number): number {
  return Math.floor(bytes / (1024 * 1024));
}

/** SQLSTATE `disk_full`: PostgreSQL could not extend a file or create a WAL segment. */
export const DISK_FULL_SQLSTATE = "53100";

/**
 * True when `e` says the disk is full: the store's `DiskFullError` (the embedded database stopped
 * by it), PostgreSQL's `53100` from either driver, or a file operation's `ENOSPC`.
 */
export function isDiskFull(e: unknown): boolean {
  const error = e as { name?: unknown; code?: unknown; message?: unknown } | null | undefined;
  if (error?.name === "DiskFullError") return true;
  return error?.code === DISK_FULL_SQLSTATE || error?.code === "ENOSPC" ||
    /No space left on device/i.test(String(error?.message ?? ""));
}
