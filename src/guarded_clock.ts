/**
 * The appliance's own time (issue 24, clock): the {@link Clock} every rule is given, built on the
 * machine's clock but never stepped by it.
 *
 * A store PC's wall clock steps: NTP corrects it, a flat RTC battery boots it in 2000, someone sets
 * it a year ahead. The appliance's time follows the wall clock while the two agree within
 * {@link CLOCK_TOLERANCE_MS} (drift, slewing, small corrections), and otherwise runs on from where
 * it was at the rate of real time (the monotonic clock):
 *
 * - **a step while serving** (back a day, forward a year) is *held*: the appliance keeps its own
 *   time, says so once (a warning, the `clock_step` alert, `newretail_clock_offset_seconds`), and
 *   follows the wall clock again when it comes back into step. A restart accepts the machine's
 *   clock as it then is. So no price schedule applies early or ends early, no pending order
 *   expires early or late, no parity window closes early, because of a step;
 * - **a start with the wall clock behind** the newest time the store recorded (a PC booted in
 *   2000): the appliance counts from that recorded time instead, and follows the wall clock once it
 *   reaches it (NTP has set it), jumping forward by the time the PC was really off. A schedule
 *   whose start passed meanwhile applies then (it is never skipped).
 *
 * Log lines keep the machine's clock (`ts`, what journald shows beside them); records, schedules,
 * expiry and the parity window use this one. Durations never read either: they use
 * `monotonic()`, the machine's monotonic clock, which no step moves.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";
import { faultSwitchOn } from "./fault_switch.ts";

/** Wall-clock differences up to this are followed (drift, NTP's corrections); more is a step. */
export const CLOCK_TOLERANCE_MS = 60_000;

/**
 * TEST ONLY, NEVER IN A STORE: set to `1`, the appliance takes the machine's wall clock as it is,
 * for records, rules and durations alike (what it did before the clock lab scenario). The fault
 * lab's `--guard-off` run of the clock scenario sets it (docs/FAULTS.md). Read here and nowhere
 * else; a warning is logged when it is on.
 */
export const UNSAFE_WALL_CLOCK_SWITCH = "NEWRETAIL_FAULT_LAB_UNSAFE_WALL_CLOCK";

/** How the appliance's time stands to the machine's wall clock. */
export type ClockState = "following" | "held" | "behind";

/** What the console and `/metrics` show of it. */
export interface ClockReading {
  state: ClockState;
  /** The machine's wall clock minus the appliance's time, ms (0 while following). */
  offsetMs: number;
  /** The appliance's time and the machine's, ISO 8601. */
  applianceTime: string;
  machineTime: string;
}

/** The appliance's time jumped forward: what it stamped from `since` on counts short by `byMs`. */
export interface ClockJump {
  byMs: number;
  since: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The appliance's time; {@link GuardedClock.check} it every second or so. */
export class GuardedClock implements Clock {
  readonly #system: Clock;
  readonly #log: Logger;
  readonly #wallOnly = faultSwitchOn(UNSAFE_WALL_CLOCK_SWITCH);
  #anchorWall: number;
  #anchorMonotonic: number;
  #state: ClockState = "following";
  #behindSince = 0;

  /** @param system the machine's clock @param log where a step is reported */
  constructor(system: Clock, log: Logger) {
    this.#system = system;
    this.#log = log;
    this.#anchorWall = system.now();
    this.#anchorMonotonic = system.monotonic();
    if (this.#wallOnly) {
      log.warn("the appliance takes the machine's clock as it is (fault lab only)", {
        switch: UNSAFE_WALL_CLOCK_SWITCH,
      });
    }
  }

  now(): number {
    if (this.#wallOnly) return this.#system.now();
    return this.#anchorWall + (this.#system.monotonic() - this.#anchorMonotonic);
  }

  monotonic(): number {
    // The switch's point: durations on the wall clock, as before the fix.
    return this.#wallOnly ? this.#system.now() : this.#system.monotonic();
  }

  /** The state now. */
  get reading(): ClockReading {
    const mine = this.now();
    const wall = this.#system.now();
    return {
      state: this.#state,
      offsetMs: this.#state === "following" ? 0 : wall - mine,
      applianceTime: iso(mine),
      machineTime: iso(wall),
    };
  }

  /**
   * At start, the newest time the store recorded: a wall clock behind it (by more than the
   * tolerance) is wrong, and the appliance counts from that time until the clock is set.
   */
  setFloor(floorMs: number | undefined): void {
    if (this.#wallOnly || floorMs === undefined) return;
    const wall = this.#system.now();
    if (wall >= floorMs - CLOCK_TOLERANCE_MS) return;
    this.#anchor(floorMs);
    this.#behindSince = floorMs;
    this.#state = "behind";
    this.#log.warn(
      "the machine's clock is behind the store's last records: counting from them until it is set",
      { machineTime: iso(wall), applianceTime: iso(floorMs) },
    );
  }

  /**
   * Compares with the wall clock and follows, holds or accepts it. Returns the jump when the
   * appliance's time just jumped (a clock behind at start was set): by how much, and from which
   * of its times on what it stamped counts short by that much.
   */
  check(): ClockJump | undefined {
    if (this.#wallOnly) return undefined;
    const wall = this.#system.now();
    const mine = this.now();
    const diff = wall - mine;
    if (this.#state === "behind") {
      if (diff < -CLOCK_TOLERANCE_MS) return undefined;
      const since = this.#behindSince;
      this.#anchor(wall);
      this.#state = "following";
      this.#log.info("the machine's clock is set: the appliance follows it again", {
        jumpS: Math.round(diff / 1000),
        machineTime: iso(wall),
      });
      return { byMs: diff, since };
    }
    if (Math.abs(diff) <= CLOCK_TOLERANCE_MS) {
      this.#anchor(wall);
      if (this.#state === "held") {
        this.#log.info("the machine's clock is back in step: the appliance follows it again", {
          machineTime: iso(wall),
        });
      }
      this.#state = "following";
      return undefined;
    }
    if (this.#state === "following") {
      this.#state = "held";
      this.#log.warn(
        "the machine's clock stepped: the appliance keeps its own time (restart to accept the machine's)",
        { stepS: Math.round(diff / 1000), machineTime: iso(wall), applianceTime: iso(mine) },
      );
    }
    return undefined;
  }

  #anchor(wall: number): void {
    this.#anchorWall = wall;
    this.#anchorMonotonic = this.#system.monotonic();
  }
}
