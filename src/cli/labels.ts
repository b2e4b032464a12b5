/**
 * `labels audit [--csv] [--max-stale SECONDS]`: every shelf label, what it shows against the
 * current data (issue 14). Exit code 1 when a label has been stale longer than `--max-stale`
 * (default `priceParityMaxS`), so a store can run it from cron and send the CSV to whoever fixes
 * labels. When the embedded database is held by the running appliance, it reads `GET /labels`.
 *
 * @module
 */
import { CliError, CONFIG_FLAGS_HELP, loadCliConfig, parseStoreCommand } from "./_common.ts";
import { withStoreOrApi } from "./_admin_api.ts";
import { type LabelRow, labelStates } from "../store/label_shown.ts";

const HELP = `newretail labels audit [--csv] [--max-stale SECONDS]

Lists every shelf label bound to goods: the price and name it last confirmed, the current price,
its state (fresh, stale or unknown: never confirmed) and since when. Exits 1 when a label has been
stale longer than --max-stale seconds (default: priceParityMaxS), else 0.

${CONFIG_FLAGS_HELP}`;

const FLAGS = {
  csv: { type: "boolean" },
  "max-stale": { type: "string" },
} as const;

const COLUMNS = [
  "mac",
  "gid",
  "name",
  "device",
  "shownPrice",
  "currentPrice",
  "state",
  "since",
  "staleS",
] as const;

function csvField(value: unknown): string {
  const s = value === null || value === undefined ? "" : String(value);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Runs `labels`. */
export async function labelsCommand(args: string[]): Promise<number> {
  const { values, positionals, exit } = parseStoreCommand(args, HELP, FLAGS);
  if (exit !== undefined) return exit;
  const [verb, ...rest] = positionals;
  if (verb !== "audit" || rest.length > 0) {
    throw new CliError(`unknown labels command: ${[verb, ...rest].join(" ")} (audit)`, 2);
  }
  const maxText = values["max-stale"];
  if (maxText !== undefined && !/^\d{1,9}$/.test(maxText)) {
    throw new CliError("--max-stale must be a whole number of seconds", 2);
  }
  const { config } = loadCliConfig(values);
  const maxStaleS = maxText === undefined ? config.priceParityMaxS : Number(maxText);
  const rows = await withStoreOrApi(
    config,
    (db) => labelStates(db),
    async (api) => await api("GET", "/labels") as LabelRow[],
    { existing: true },
  );
  const now = Date.now();
  const table = rows.map((r) => {
    const since = new Date(r.since);
    const staleS = r.state === "stale" ? Math.floor((now - since.getTime()) / 1000) : 0;
    return { ...r, since: since.toISOString(), staleS };
  });
  const late = table.filter((r) => r.state === "stale" && r.staleS > maxStaleS);
  if (values.csv) {
    console.log(COLUMNS.join(","));
    for (const r of table) console.log(COLUMNS.map((c) => csvField(r[c])).join(","));
  } else {
    console.log(["MAC", "GID", "NAME", "DEVICE", "SHOWN", "CURRENT", "STATE", "SINCE"].join("\t"));
    for (const r of table) {
      console.log([
        r.mac,
        r.gid,
        r.name,
        r.device ?? "-",
        r.shownPrice ?? "-",
        r.currentPrice,
        r.state,
        r.since,
      ].join("\t"));
    }
    const counts = ["fresh", "stale", "unknown"].map((s) =>
      `${table.filter((r) => r.state === s).length} ${s}`
    );
    console.log(`${table.length} label(s): ${counts.join(", ")}`);
  }
  if (late.length > 0) {
    console.error(
      `${late.length} label(s) stale for more than ${maxStaleS} s: ${
        late.map((r) => r.mac).join(", ")
      }`,
    );
    return 1;
  }
  return 0;
}
