/**
 * The fault lab:
 * `deno task faults <scenario>… [--ci] [--cycles N] [--rows a,b] [--guard-off] [--keep]`.
 * Runs each scenario end to end against the real appliance, prints one table of what it did and
 * what it found, and exits 1 when anything acknowledged was lost or duplicated, a rule broke, or a
 * scenario could not run at all (with its reason). `all` runs every scenario.
 *
 * @module
 */
import { formatTable, type LabOptions, type ResultRow, type Scenario } from "./_lab.ts";
import { clock } from "./clock.ts";
import { diskFull } from "./disk_full.ts";
import { network } from "./network.ts";
import { powerCut } from "./power_cut.ts";

/** Every scenario, by name. */
const SCENARIOS: Scenario[] = [powerCut, diskFull, clock, network];

function usage(): string {
  return [
    "usage: deno task faults <scenario>… | all [--ci] [--cycles N] [--rows a,b] [--guard-off] [--keep]",
    "",
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(12)} ${s.summary}`),
    "",
    "  --ci         the short form CI runs",
    "  --cycles N   cycles (or rounds) instead of the scenario's default",
    "  --rows a,b   only these rows (power-cut: embedded, postgres, first-start)",
    "  --guard-off  turn off what the scenario guards (test-only switch): the run must report losses",
    "  --keep       keep the lab's working directory",
  ].join("\n");
}

async function main(args: string[]): Promise<number> {
  const names: string[] = [];
  const options = {
    ci: false,
    guardOff: false,
    keep: false,
    cycles: undefined as number | undefined,
    rows: undefined as string[] | undefined,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--ci") options.ci = true;
    else if (arg === "--guard-off") options.guardOff = true;
    else if (arg === "--keep") options.keep = true;
    else if (arg === "--cycles") options.cycles = Number(args[++i]);
    else if (arg === "--rows") options.rows = (args[++i] ?? "").split(",").filter(Boolean);
    else if (arg === "--help" || arg === "-h") {
      console.log(usage());
      return 0;
    } else if (arg.startsWith("-")) {
      console.error(`unknown option ${arg}\n${usage()}`);
      return 2;
    } else names.push(arg);
  }
  if (options.cycles !== undefined && !(Number.isInteger(options.cycles) && options.cycles > 0)) {
    console.error("--cycles needs a positive integer");
    return 2;
  }
  const chosen = names.includes("all")
    ? SCENARIOS
    : names.map((name) => SCENARIOS.find((s) => s.name === name) ?? name);
  const unknown = chosen.filter((s): s is string => typeof s === "string");
  if (chosen.length === 0 || unknown.length > 0) {
    console.error(`${unknown.length ? `unknown scenario: ${unknown.join(", ")}\n` : ""}${usage()}`);
    return 2;
  }

  const rows: ResultRow[] = [];
  const failures: string[] = [];
  for (const scenario of chosen as Scenario[]) {
    const workDir = await Deno.makeTempDir({ prefix: `newretail-faults-${scenario.name}-` });
    const lab: LabOptions = {
      ci: options.ci,
      cycles: options.cycles,
      rows: options.rows,
      guardOff: options.guardOff,
      workDir,
      progress: (line) => console.error(`[${scenario.name}] ${line}`),
    };
    try {
      const report = await scenario.run(lab);
      rows.push(...report.rows);
      if (report.unavailable) {
        failures.push(`${scenario.name} could not run: ${report.unavailable}`);
      }
      failures.push(...report.failures.map((f) => `${scenario.name}: ${f}`));
    } catch (e) {
      failures.push(`${scenario.name} broke: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      if (options.keep) console.error(`[${scenario.name}] kept ${workDir}`);
      else await Deno.remove(workDir, { recursive: true }).catch(() => {});
    }
  }
  console.log(formatTable(rows));
  console.log("");
  console.log(
    failures.length === 0 ? "nothing acknowledged was lost or duplicated" : failures.join("\n"),
  );
  return failures.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
