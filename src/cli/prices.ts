/**
 * `prices schedule|list|cancel`: scheduled prices and promotions (issue 14). When the embedded
 * database is held by the running appliance, every verb goes through its admin API
 * (`/api/prices…`, token and audit like the other writes).
 *
 * @module
 */
import { CliError, CONFIG_FLAGS_HELP, loadCliConfig, parseStoreCommand } from "./_common.ts";
import { withStoreOrApi } from "./_admin_api.ts";
import { writeAudit } from "../store/audit.ts";
import {
  cancelSchedule,
  createSchedule,
  listSchedules,
  type PriceSchedule,
} from "../store/price_schedules.ts";
import { scheduleOrProblem } from "../pricing/schedules.ts";

const HELP = `newretail prices schedule --gid N --price P --from ISO [--until ISO]
newretail prices list [--all]
newretail prices cancel ID

schedule: from --from the goods' price is P (the appliance changes it and pushes the shelf
labels itself, without the ERP or the internet); at --until the regular price returns. Times are
ISO 8601 with an offset, e.g. 2026-12-24T08:00:00+08:00. Of overlapping schedules the latest
created wins. In Odoo mode Odoo's price stays the regular price; schedules apply on top.
list: schedules in force or to come (--all: also ended and cancelled ones), newest first.
cancel: ends a schedule now (the regular price returns).

${CONFIG_FLAGS_HELP}`;

const FLAGS = {
  gid: { type: "string" },
  price: { type: "string" },
  from: { type: "string" },
  until: { type: "string" },
  all: { type: "boolean" },
} as const;

/** A schedule as printed (local rows and API answers alike). */
function line(s: PriceSchedule): string {
  const iso = (d: Date | string | null) =>
    d === null ? "-" : d instanceof Date ? d.toISOString() : String(d);
  return [s.id, s.gid, s.name, s.price, iso(s.from), iso(s.until), s.state, s.createdBy].join("\t");
}

/** Runs `prices`. */
export async function pricesCommand(args: string[]): Promise<number> {
  const { values, positionals, exit } = parseStoreCommand(args, HELP, FLAGS);
  if (exit !== undefined) return exit;
  const [verb, ...rest] = positionals;
  if (!["schedule", "list", "cancel"].includes(verb)) {
    throw new CliError(`unknown prices command: ${verb} (schedule, list or cancel)`, 2);
  }
  const { config } = loadCliConfig(values);
  if (verb === "schedule") {
    if (rest.length > 0) throw new CliError("prices schedule takes flags only", 2);
    const checked = scheduleOrProblem(values);
    if (typeof checked === "string") throw new CliError(`prices schedule: ${checked}`, 2);
    const schedule = await withStoreOrApi(
      config,
      async (db) => {
        const at = new Date();
        const made = await createSchedule(db, { ...checked, by: "cli", at });
        if (!made) throw new CliError(`no goods with gid ${checked.gid}`);
        await writeAudit(db, {
          at,
          actor: "cli",
          action: "price.schedule",
          target: String(made.id),
          detail: { ...checked },
        });
        return made;
      },
      async (api) =>
        await api("POST", "/api/prices", {
          gid: checked.gid,
          price: checked.price,
          from: checked.from.toISOString(),
          until: checked.until?.toISOString() ?? null,
        }) as PriceSchedule,
    );
    const until = schedule.until ? ` until ${new Date(schedule.until).toISOString()}` : "";
    console.log(
      `schedule ${schedule.id}: goods ${schedule.gid} ${schedule.name} at ${schedule.price} from ${
        new Date(schedule.from).toISOString()
      }${until} (${schedule.state})`,
    );
    return 0;
  }
  if (verb === "list") {
    if (rest.length > 0) throw new CliError("prices list takes no arguments", 2);
    const all = values.all === true;
    const schedules = await withStoreOrApi(
      config,
      (db) => listSchedules(db, new Date(), { all }),
      async (api) => await api("GET", `/api/prices${all ? "?all=1" : ""}`) as PriceSchedule[],
      { existing: true },
    );
    console.log(["ID", "GID", "NAME", "PRICE", "FROM", "UNTIL", "STATE", "BY"].join("\t"));
    for (const s of schedules) console.log(line(s));
    console.log(`${schedules.length} schedule(s)`);
    return 0;
  }
  const [idText, ...extra] = rest;
  if (!idText || extra.length > 0 || !/^\d{1,9}$/.test(idText)) {
    throw new CliError("prices cancel needs exactly one schedule ID", 2);
  }
  const id = Number(idText);
  await withStoreOrApi(
    config,
    async (db) => {
      const at = new Date();
      if (!await cancelSchedule(db, id, at)) {
        throw new CliError(`schedule ${id} does not exist or is already cancelled`);
      }
      await writeAudit(db, {
        at,
        actor: "cli",
        action: "price.cancel",
        target: String(id),
        detail: {},
      });
    },
    async (api) => {
      await api("POST", `/api/prices/${id}/cancel`);
    },
  );
  console.log(`schedule ${id} cancelled`);
  return 0;
}
