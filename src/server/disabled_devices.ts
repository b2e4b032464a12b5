/**
 * Ends the session of a device as soon as it is disabled, whoever disabled it: `devices disable`
 * in another process, psql, the appliance itself. The database announces it (migration 005:
 * trigger → `NOTIFY device_disabled`); a notification only wakes a check of which online devices
 * are disabled now, so a notification lost while the listener was reconnecting costs nothing:
 * every (re-)`LISTEN` runs the same check.
 *
 * @module
 */
import { Worker } from "../background.ts";
import type { Logger } from "../log.ts";
import type { Database } from "../store/database.ts";
import { DEVICE_DISABLED_CHANNEL, disabledAmong } from "../store/devices.ts";
import type { CloseReason } from "./session.ts";
import type { Clock } from "../clock.ts";

/** What the watcher needs of the device server. */
export interface DisconnectableServer {
  /** The logged-in devices. */
  online(): { equipId: string }[];
  /** Closes a device's session; false when it has none. */
  disconnect(equipId: string, reason: CloseReason): boolean;
}

/** A running watcher. */
export interface DisabledDevicesWatch {
  /** Stops listening and waits for a check in progress. */
  stop(): Promise<void>;
}

/**
 * Listens for disabled devices and disconnects those online with close reason `disabled` (they
 * are refused at their next login).
 *
 * @example
 * ```ts
 * const watch = await watchDisabledDevices({ db, server, log });
 * await watch.stop();
 * ```
 */
export async function watchDisabledDevices(
  deps: { db: Database; server: DisconnectableServer; log: Logger; clock: Clock },
): Promise<DisabledDevicesWatch> {
  const { db, server, log, clock } = deps;
  async function check(): Promise<void> {
    const online = server.online().map((d) => d.equipId);
    for (const equipId of await disabledAmong(db, online)) {
      if (server.disconnect(equipId, "disabled")) {
        log.info("disabled device disconnected", { equipId });
      }
    }
  }

  // Notifications during a check (a bulk disable is one per device) make exactly one more.
  const checks = new Worker(check, { name: "disabled devices check", log, clock });
  await checks.startListening(db, DEVICE_DISABLED_CHANNEL);
  return checks;
}
