/**
 * Makes the embedded database's commits survive a power cut, as PostgreSQL's do.
 *
 * PGlite as shipped never reaches the disk's cache flush: its start parameters turn `fsync` off
 * (`-F`), the WebAssembly module's `fdatasync()` is a stub, and its `fsync()` calls a file-system
 * operation that the directory-backed file system (emscripten's NODEFS) does not have. An order
 * acknowledged to a till was in the kernel's page cache only. Here NODEFS gets that operation
 * (fsync of the host file), PostgreSQL runs with `fsync` on and `wal_sync_method=fsync` (the
 * method that reaches it), and a newly created data directory is flushed once as a whole (initdb
 * and the template write it without any flush).
 *
 * Measured on this project's CI machine: +0.5 ms per committing statement; the embedded
 * database's worker shares that cost between the statements waiting together (`pglite_worker.ts`).
 *
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { NodeFS } from "@electric-sql/pglite/nodefs";
import { fsyncSync } from "node:fs";
import { faultSwitchOn } from "../../fault_switch.ts";

type NodeFsInit = Parameters<NodeFS["init"]>[1];

/**
 * TEST ONLY, NEVER IN A STORE: set to `1`, this module does nothing, and the embedded database
 * runs as PGlite ships (no flush at all). The fault lab's `--guard-off` run sets it in its
 * power-cut guest to show that the lab then finds losses (docs/FAULTS.md). Read here and nowhere
 * else; the worker says so on stderr when it is on.
 */
export const UNSAFE_NO_FSYNC_SWITCH = "NEWRETAIL_FAULT_LAB_UNSAFE_NO_FSYNC";

/** True when the fault lab turned this module off ({@link UNSAFE_NO_FSYNC_SWITCH}). */
export function fsyncTurnedOff(): boolean {
  return faultSwitchOn(UNSAFE_NO_FSYNC_SWITCH);
}

/** The part of emscripten's NODEFS this module extends. */
interface EmscriptenNodeFs {
  NODEFS: {
    stream_ops: Record<string, unknown>;
    tryFSOperation<T>(operation: () => T): T;
  };
}

/**
 * PGlite's directory file system with a working `fsync`. Installed before PostgreSQL starts, so
 * start-up (pg_control, crash recovery's flush of the whole directory) is covered too; every
 * NODEFS stream shares the one `stream_ops` object it patches.
 */
export class DurableNodeFS extends NodeFS {
  /** How many fsyncs PostgreSQL made through this file system (a test reads it). */
  fsyncs = 0;

  override async init(pg: PGlite, options: NodeFsInit) {
    const result = await super.init(pg, options);
    if (fsyncTurnedOff()) return result;
    const hook = (mod: EmscriptenNodeFs) => {
      mod.NODEFS.stream_ops.fsync = (stream: { nfd: number }) => {
        // A failed flush becomes PostgreSQL's error (a PANIC for data files), as on a server.
        mod.NODEFS.tryFSOperation(() => fsyncSync(stream.nfd));
        this.fsyncs++;
        return 0;
      };
    };
    const preRun = result.emscriptenOpts.preRun ?? [];
    result.emscriptenOpts.preRun = [...preRun, hook as unknown as (typeof preRun)[number]];
    return result;
  }
}

/** PGlite's start parameters with `fsync` on, through the method {@link DurableNodeFS} serves. */
export function durableStartParams(settings: string[]): string[] {
  if (fsyncTurnedOff()) {
    return [...PGlite.defaultStartParams, ...settings.flatMap((s) => ["-c", s])];
  }
  return [
    ...PGlite.defaultStartParams.filter((p) => p !== "-F"),
    "-c",
    "wal_sync_method=fsync",
    ...settings.flatMap((s) => ["-c", s]),
  ];
}

/**
 * Flushes every file and directory under `path`, and `path` itself: once, after a new data
 * directory was written without flushes. Many flushes at once let the file system commit them
 * together (560 files: 0.3 s one by one, 0.08 s this way). Returns how many were flushed.
 */
export async function syncTree(path: string, concurrency = 64): Promise<number> {
  const paths: string[] = [];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory) walk(`${dir}/${entry.name}`);
      else if (entry.isFile) paths.push(`${dir}/${entry.name}`);
    }
    paths.push(dir);
  };
  walk(path);
  let next = 0;
  const flushers = Array.from({ length: Math.min(concurrency, paths.length) }, async () => {
    while (next < paths.length) await syncPath(paths[next++]);
  });
  await Promise.all(flushers);
  return paths.length;
}

/** Flushes one file or directory (a directory's flush makes its new entries durable). */
export async function syncPath(path: string): Promise<void> {
  const file = await Deno.open(path);
  try {
    await file.sync();
  } finally {
    file.close();
  }
}
