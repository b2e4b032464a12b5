/**
 * `devices list|enable|disable ID|teach-in --minutes N`: device admission management.
 *
 * @module
 */
import { deviceKind, equipIdProblem } from "../protocol/device_id.ts";
import { listDevices, setDeviceEnabled } from "../store/devices.ts";
import { setTeachIn } from "../store/teach_in.ts";
import { writeAudit } from "../store/audit.ts";
import { type Database, DatabaseLockedError } from "../store/database.ts";
import type { Config } from "../config/config.ts";
import {
  CliError,
  CONFIG_FLAGS,
  CONFIG_FLAGS_HELP,
  loadCliConfig,
  openMigratedStore,
  parseCommandArgs,
} from "./_common.ts";

const HELP = `newretail devices list
newretail devices enable ID
newretail devices disable ID
newretail devices teach-in --minutes N     (--minutes 0 closes the window)

Lists devices with their state, or enables/disables one (an unknown ID is registered, so that
"admission": "registered" stores can admit a device before it is plugged in). A disabled device
is refused at its next login; a connected one is disconnected at once by the running appliance.

teach-in opens an admission window of N minutes: with "admission": "registered", new devices
that log in meanwhile are admitted (listed with VIA teach-in); afterwards admission is
registered again. When the embedded database is held by the running appliance, enable, disable
and teach-in go through its admin API (adminHost/adminPort, with adminToken when set).

${CONFIG_FLAGS_HELP}`;

const FLAGS = { ...CONFIG_FLAGS, minutes: { type: "string" } } as const;

function iso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : value ? String(value) : "-";
}

/** Runs `devices`. */
export async function devicesCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, FLAGS);
  const [verb, equipId, ...rest] = positionals;
  if (values.help || !verb) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
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
  const { config } = loadCliConfig(values);
  if (verb === "list") {
    const { db } = await openMigratedStore(config);
    try {
      const devices = await listDevices(db);
      console.log(
        ["ID", "KIND", "ENABLED", "ONLINE", "LAST ADDRESS", "LAST SEEN", "VIA"].join("\t"),
      );
      for (const d of devices) {
        console.log([
          d.equip_id,
          d.kind,
          d.enabled ? "yes" : "no",
          d.online ? "yes" : "no",
          d.last_address ?? "-",
          iso(d.last_seen_at),
          d.admitted_via,
        ].join("\t"));
      }
      console.log(`${devices.length} device(s)`);
    } finally {
      await db.close();
    }
    return 0;
  }
  const created = await withStoreOrApi(
    config,
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

type ApiCall = (method: string, path: string, body?: unknown) => Promise<unknown>;

// The embedded database admits one process: when the running appliance holds it, its admin API
// does the write (and audits it).
async function withStoreOrApi<T>(
  config: Config,
  local: (db: Database) => Promise<T>,
  remote: (api: ApiCall) => Promise<T>,
): Promise<T> {
  let opened;
  try {
    opened = await openMigratedStore(config);
  } catch (e) {
    if (!(e instanceof DatabaseLockedError) || !config.adminEnabled) throw e;
    return remote(adminApiClient(config));
  }
  try {
    return await local(opened.db);
  } finally {
    await opened.db.close();
  }
}

function adminApiClient(config: Config): ApiCall {
  const host = ["0.0.0.0", "::", "[::]"].includes(config.adminHost)
    ? "127.0.0.1"
    : config.adminHost;
  const base = `http://${
    host.includes(":") && !host.startsWith("[") ? `[${host}]` : host
  }:${config.adminPort}`;
  return async (method, path, body) => {
    let response: Response;
    try {
      response = await fetch(base + path, {
        method,
        headers: {
          "content-type": "application/json",
          ...(config.adminToken ? { authorization: `Bearer ${config.adminToken}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new CliError(
        `the database is in use and the admin API at ${base} does not answer: ${
          (e as Error).message
        }`,
      );
    }
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new CliError(`admin API ${method} ${path}: ${response.status} ${answer.error ?? ""}`);
    }
    return answer;
  };
}
