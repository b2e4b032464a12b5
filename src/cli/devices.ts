/**
 * `devices list|enable|disable ID`: device admission management.
 *
 * @module
 */
import { deviceKind } from "../protocol/device_id.ts";
import { listDevices, setDeviceEnabled } from "../store/devices.ts";
import {
  CliError,
  CONFIG_FLAGS,
  CONFIG_FLAGS_HELP,
  parseCommandArgs,
  storeCommand,
} from "./_common.ts";

const HELP = `newretail devices list
newretail devices enable ID
newretail devices disable ID

Lists devices with their state, or enables/disables one (an unknown ID is registered, so that
"admission": "registered" stores can admit a device before it is plugged in). A disabled device
is refused at its next login; a connected one is disconnected at once by the running appliance.

${CONFIG_FLAGS_HELP}`;

function iso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : value ? String(value) : "-";
}

/** Runs `devices`. */
export async function devicesCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, CONFIG_FLAGS);
  const [verb, equipId, ...rest] = positionals;
  if (values.help || !verb) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  if (verb !== "list" && verb !== "enable" && verb !== "disable") {
    throw new CliError(`unknown devices command: ${verb} (list, enable or disable)`, 2);
  }
  if (verb !== "list" && (!equipId || rest.length > 0)) {
    throw new CliError(`devices ${verb} needs exactly one device ID`, 2);
  }
  const kind = equipId ? deviceKind(equipId) : undefined;
  if (verb !== "list" && !kind) {
    throw new CliError(`not a device ID: ${equipId} (use TYPE_ID, e.g. DZBQ_0001)`, 2);
  }
  return await storeCommand(values, async (db) => {
    if (verb === "list") {
      const devices = await listDevices(db);
      console.log(["ID", "KIND", "ENABLED", "ONLINE", "LAST ADDRESS", "LAST SEEN"].join("\t"));
      for (const d of devices) {
        console.log([
          d.equip_id,
          d.kind,
          d.enabled ? "yes" : "no",
          d.online ? "yes" : "no",
          d.last_address ?? "-",
          iso(d.last_seen_at),
        ].join("\t"));
      }
      console.log(`${devices.length} device(s)`);
    } else {
      const { created } = await setDeviceEnabled(db, equipId, kind!, verb === "enable");
      console.log(`${equipId} ${verb}d${created ? " (registered)" : ""}`);
    }
    return 0;
  });
}
