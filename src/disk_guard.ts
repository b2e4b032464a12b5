/**
 * The appliance's watch on its disk (issue 24, disk-full). Every few seconds it reads the free
 * space of the file system that holds the database (the state directory of the embedded one;
 * `databaseDiskPath` for PostgreSQL on this machine), and keeps three things from it:
 *
 * - the `newretail_disk_free_bytes` / `newretail_disk_total_bytes` gauges, and the readings the
 *   console's `disk_low` and `disk_full` alerts are made of;
 * - **full**: while the database's disk has less than `diskReserveMb` free, or a write has just
 *   failed for lack of space, requests that record something (orders, receipts, payments) are
 *   answered at once with the `disk full` exception instead of being tried. The reserve keeps the
 *   database itself running (the embedded one stops when it cannot create a 16 MB WAL segment);
 *   reads go on;
 * - the log: one line when the disk becomes low, one when it becomes full, then one a minute
 *   while it stays full (with the count of refused requests), one when space is back. Never one
 *   per request.
 *
 * @module
 */
import { Worker } from "./background.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";
import type { MetricsRegistry } from "./metrics.ts";
import { type DiskSpace, megabytes, readDiskSpace } from "./disk_space.ts";
import { errorMessage } from "./errors.ts";
import { faultSwitchOn } from "./fault_switch.ts";

/** The watched file system at the last check. */
export interface DiskReading extends DiskSpace {
  /** The directory whose file system it is. */
  path: string;
}

/** What the request core asks of the disk watch. */
export interface DiskWatch {
  /** True while writes are refused up front. */
  readonly full: boolean;
  /** A write was refused because the disk is full (counted, logged once a minute). */
  refused(): void;
  /**
   * A write failed for lack of space (the database said so): full from now, until checked.
   * True when the guard answers it (`disk full`, logged once a minute); false when the fault lab
   * turned the guard off (the failure is then an error like any other).
   */
  failed(error: unknown): boolean;
}

/** What {@link DiskGuard} is built from. */
export interface DiskGuardOptions {
  /**
   * A directory on the database's file system; undefined when it is not on this machine
   * (PostgreSQL without `databaseDiskPath`): then only failed writes make the disk full.
   */
  path: string | undefined;
  /** Free bytes under which the disk is reported low (`diskWarnFreeMb`). */
  warnFreeBytes: number;
  /** Free bytes under which the database's disk counts as full (`diskReserveMb`). */
  reserveFreeBytes: number;
  log: Logger;
  clock: Clock;
  metrics: MetricsRegistry;
}

/**
 * TEST ONLY, NEVER IN A STORE: set to `1`, the guard is off: no write is refused up front, and a
 * write that fails for lack of space is answered and logged as any other failure (`internal
 * error`, a line each), as before the disk-full lab scenario. The disk is still read and shown.
 * The fault lab's `--guard-off` run of that scenario sets it to show what the lab then finds
 * (docs/FAULTS.md). Read here and nowhere else; a warning is logged when it is on.
 */
export const UNSAFE_NO_DISK_GUARD_SWITCH = "NEWRETAIL_FAULT_LAB_UNSAFE_NO_DISK_GUARD";

/** How often the disks are read. */
export const DISK_CHECK_MS = 5_000;
/** A failed write keeps writes refused at least this long (when no reading can say otherwise). */
const FAILURE_HOLD_MS = 5_000;
/** While full, one log line per this long. */
const FULL_LOG_EVERY_MS = 60_000;

/**
 * The disk watch of one appliance; {@link DiskGuard.start} before use, `stop()` at the end.
 *
 * @example
 * ```ts
 * const disk = new DiskGuard({ path: "./data", warnFreeBytes: 1 << 30,
 *   reserveFreeBytes: 64 << 20, log, clock, metrics });
 * await disk.start();
 * if (disk.full) console.log("writes are refused");
 * await disk.stop();
 * ```
 */
export class DiskGuard implements DiskWatch {
  readonly #o: DiskGuardOptions;
  readonly #worker: Worker;
  #reading: DiskReading | undefined;
  #fullByReading = false;
  #failedAt: number | undefined;
  #databaseStopped = false;
  #unreadable = false;
  readonly #off = faultSwitchOn(UNSAFE_NO_DISK_GUARD_SWITCH);
  #low = false;
  #wasFull = false;
  #fullSince = 0;
  #lastFullLog = 0;
  #refusedSinceLog = 0;
  #refusedTotal = 0;

  /** @param options paths, thresholds, logger, clock and the metrics registry */
  constructor(options: DiskGuardOptions) {
    this.#o = options;
    if (this.#off) {
      options.log.warn("disk guard off: writes are never refused up front (fault lab only)", {
        switch: UNSAFE_NO_DISK_GUARD_SWITCH,
      });
    }
    this.#worker = new Worker(async () => {
      await this.check();
      return { afterMs: DISK_CHECK_MS };
    }, { name: "disk space", log: options.log, clock: options.clock });
    const series = (pick: (r: DiskReading) => number) => () =>
      this.#reading ? [{ labels: { path: this.#reading.path }, value: pick(this.#reading) }] : [];
    options.metrics.gauge(
      "newretail_disk_free_bytes",
      "Free space of the file system holding the database (the embedded one's state directory).",
      series((r) => r.freeBytes),
    );
    options.metrics.gauge(
      "newretail_disk_total_bytes",
      "Size of the file system holding the database (the embedded one's state directory).",
      series((r) => r.totalBytes),
    );
    options.metrics.counter(
      "newretail_disk_writes_refused_total",
      "Requests answered 'disk full' (refused up front, or failed for lack of space).",
      () => [{ labels: {}, value: this.#refusedTotal }],
    );
  }

  /** The last reading (undefined: no path to watch, or not readable). */
  get reading(): DiskReading | undefined {
    return this.#reading;
  }

  /** True while writes are refused: the database's disk is under the reserve, or just failed. */
  get full(): boolean {
    if (this.#off) return false;
    return this.#fullByReading || this.#databaseStopped ||
      (this.#failedAt !== undefined &&
        this.#o.clock.monotonic() - this.#failedAt < FAILURE_HOLD_MS);
  }

  /** Reads the disks once now (and at start), then every {@link DISK_CHECK_MS}. */
  async start(): Promise<void> {
    await this.check();
    this.#worker.start();
  }

  /** Stops the checks. */
  stop(): Promise<void> {
    return this.#worker.stop();
  }

  refused(): void {
    this.#refusedSinceLog++;
    this.#refusedTotal++;
    this.#logWhileFull();
  }

  failed(_error: unknown): boolean {
    if (this.#off) return false;
    this.#failedAt = this.#o.clock.monotonic();
    this.#refusedSinceLog++;
    this.#refusedTotal++;
    this.#noteChange();
    this.#worker.wake();
    return true;
  }

  /**
   * The embedded database stopped because its disk filled (true), or reopened (false): writes
   * are refused in between, whatever the reading says.
   */
  databaseStopped(stopped: boolean): void {
    this.#databaseStopped = stopped;
    this.#noteChange();
    this.#worker.wake();
  }

  /** Reads the disk and updates the state (and logs what changed). */
  async check(): Promise<void> {
    const { path, warnFreeBytes, reserveFreeBytes, log } = this.#o;
    if (path !== undefined) {
      try {
        this.#reading = { path, ...await readDiskSpace(path) };
      } catch (e) {
        // Once, not every check.
        if (this.#reading || !this.#unreadable) {
          log.warn("cannot read the free space of the database's disk", {
            path,
            error: errorMessage(e),
          });
        }
        this.#reading = undefined;
        this.#unreadable = true;
      }
    }
    const r = this.#reading;
    this.#fullByReading = r !== undefined && r.freeBytes < reserveFreeBytes;
    // A reading with room ends a failure's hold at once.
    if (r && !this.#fullByReading) this.#failedAt = undefined;
    const low = r !== undefined && r.freeBytes < warnFreeBytes;
    if (r && low && !this.#low) {
      log.warn("disk space low", {
        path: r.path,
        freeMb: megabytes(r.freeBytes),
        totalMb: megabytes(r.totalBytes),
        warnFreeMb: megabytes(warnFreeBytes),
      });
    } else if (r && !low && this.#low) {
      log.info("disk space no longer low", { path: r.path, freeMb: megabytes(r.freeBytes) });
    }
    this.#low = low;
    this.#noteChange();
  }

  #noteChange(): void {
    const full = this.full;
    const now = this.#o.clock.monotonic();
    const database = this.#reading;
    const freeMb = database ? megabytes(database.freeBytes) : undefined;
    if (full && !this.#wasFull) {
      this.#wasFull = true;
      this.#fullSince = now;
      this.#lastFullLog = now;
      this.#o.log.error(
        "disk full: orders, receipts and payments are refused until space is freed",
        {
          path: database?.path,
          freeMb,
          reserveMb: megabytes(this.#o.reserveFreeBytes),
        },
      );
    } else if (!full && this.#wasFull) {
      this.#wasFull = false;
      this.#o.log.info("disk space back: writes accepted again", {
        path: database?.path,
        freeMb,
        fullForS: Math.round((now - this.#fullSince) / 1000),
        refused: this.#refusedSinceLog,
      });
      this.#refusedSinceLog = 0;
    } else this.#logWhileFull();
  }

  #logWhileFull(): void {
    if (!this.#wasFull) return;
    const now = this.#o.clock.monotonic();
    if (now - this.#lastFullLog < FULL_LOG_EVERY_MS) return;
    this.#lastFullLog = now;
    const database = this.#reading;
    this.#o.log.warn("disk still full", {
      path: database?.path,
      freeMb: database ? megabytes(database.freeBytes) : undefined,
      refused: this.#refusedSinceLog,
      fullForS: Math.round((now - this.#fullSince) / 1000),
    });
    this.#refusedSinceLog = 0;
  }
}
