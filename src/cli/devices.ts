/**
 * `devices list|enable|disable ID|teach-in --minutes N`: device admission management.
 *
 * @module
 */
import { deviceKind, equipIdProblem } from "../protocol/device_id.ts";
import { listDevices, setDeviceEnabled } from "../store/devices.ts";
import { setTeachIn } from "../store/teach_in.ts";
import { writeAudit } from "../store/audit.ts";
import { type DeviceView, deviceView } from "../admin/device_view.ts";
import { CliError, CONFIG_FLAGS_HELP, loadCliConfig, parseStoreCommand } from "./_common.ts";
import { storeOrApiCommand, withStoreOrApi } from "./_admin_api.ts";

const HELP = `newretail devices list
newretail devices enable ID
newretail devices disable ID
newretail devices teach-in --minutes N     (--minutes 0 closes the window)

Lists devices with their state, or enables/disables one (an unknown ID is registered, so that
"admission": "registered" stores can admit a device before it is plugged in). A disabled device
is refused at its next login; a connected one is disconnected at once by the running appliance.

teach-in opens an admission window of N minutes: with "admission": "registered", new devices
that log in meanwhile are admitted (listed with VIA teach-in); afterwards admission is
registered again. When the embedded database is held by the running appliance, every one of
these goes through its admin API (adminHost/adminPort, with adminToken when set).

${CONFIG_FLAGS_HELP}`;

const FLAGS = {
  minutes: { type: "string" },
} as const;

/** Runs `devices`. */
export async function devicesCommand(args: string[]): Promise<number> {
  const { values, positionals, exit } = parseStoreCommand(args, HELP, FLAGS);
  if (exit !== undefined) return exit;
  const [verb, equipId, ...rest] = positionals;
  if (!["list", "enable", "disable", "teach-in"].includes(verb)) {
    throw new CliError(`unknown devices command: ${verb} (list, enable, disable or teach-in)`, 2);
  }
  if (verb === "teach-in") return teachIn(values, positionals.slice(1));
  if (verb !== "list" && (!equipId || rest.length > 0)) {
    throw new CliError(`devices ${verb} needs exactly one device ID`, 2);
  }
  const kind = equipId ? deviceKind(equipId) : undefined;
  if (verb !== "list" && !kind) {
    throw new CliError(
      `not a device ID: ${equipId} (${equipIdProblem(equipId) ?? "use TYPE_ID, e.g. DZBQ_0001"})`,
      2,
    );
  }
  if (verb === "list") {
    const devices = await storeOrApiCommand<DeviceView[]>(
      values,
      async (db) => (await listDevices(db)).map(deviceView),
      async (api) => (await api("GET", "/api/devices")) as DeviceView[],
      { existing: true },
    );
    console.log(["ID", "KIND", "ENABLED", "ONLINE", "LAST ADDRESS", "LAST SEEN", "VIA"].join("\t"));
    for (const d of devices) {
      console.log([
        d.equipId,
        d.kind,
        d.enabled ? "yes" : "no",
        d.online ? "yes" : "no",
        d.address ?? "-",
        d.lastSeenAt ?? "-",
        d.admittedVia,
      ].join("\t"));
    }
    console.log(`${devices.length} device(s)`);
    return 0;
  }
  const created = await storeOrApiCommand(
    values,
    async (db) => {
      const done = await setDeviceEnabled(db, equipId, kind!, verb === "enable");
      await writeAudit(db, {
        at: new Date(),
        actor: "cli",
        action: `device.${verb}`,
        target: equipId,
        detail: done,
      });
      return done.created;
    },
    async (api) =>
      ((await api("POST", `/api/devices/${encodeURIComponent(equipId)}/${verb}`)) as {
        created: boolean;
      }).created,
  );
  console.log(`${equipId} ${verb}d${created ? " (registered)" : ""}`);
  return 0;
}

async function teachIn(values: Record<string, unknown>, extra: string[]): Promise<number> {
  const text = values.minutes as string | undefined;
  if (extra.length > 0 || text === undefined || !/^\d{1,5}$/.test(text)) {
    throw new CliError("devices teach-in needs --minutes N (0 closes the window)", 2);
  }
  const minutes = Number(text);
  const { config } = loadCliConfig(values);
  const window = await withStoreOrApi(
    config,
    async (db) => {
      const at = new Date();
      const opened = await setTeachIn(db, { at, minutes, by: "cli" }).catch((e) => {
        throw e instanceof RangeError ? new CliError(e.message, 2) : e;
      });
      await writeAudit(db, {
        at,
        actor: "cli",
        action: minutes > 0 ? "teach-in.open" : "teach-in.close",
        target: "",
        detail: { minutes },
      });
      return opened?.closesAt.toISOString() ?? null;
    },
    async (api) =>
      ((await api("POST", "/api/teach-in", { minutes })) as { closesAt: string | null })
        .closesAt,
  );
  if (window === null) {
    console.log("teach-in closed: admission is registered again");
  } else {
    console.log(
      `teach-in open until ${window}: new devices are admitted (devices list: VIA teach-in)`,
    );
  }
  if (config.admission === "open") {
    console.log('note: "admission" is "open" here, so every new device is admitted anyway');
  }
  return 0;
}
