/**
 * What every fault scenario shares: the options the lab runs it with, the rows of the one table it
 * prints, and what makes a run fail. A scenario is a module exporting a {@link Scenario}; `run.ts`
 * holds the table of scenarios.
 *
 * @module
 */

/** How the lab runs a scenario. */
export interface LabOptions {
  /** The short form for CI (fewer cycles, shorter phases); else the full run. */
  ci: boolean;
  /** Cycles asked for on the command line (`--cycles N`), overriding the scenario's default. */
  cycles?: number;
  /**
   * Rows asked for on the command line (`--rows a,b`): only these rows of a scenario that names
   * its rows (power-cut: `embedded`, `postgres`, `first-start`); every row when absent.
   */
  rows?: string[];
  /**
   * Turn off what the scenario guards (fsync, the idempotency key, …) through the product's
   * test-only switch, to show that the lab then reports losses.
   */
  guardOff: boolean;
  /** A directory of the lab's own for this run (removed afterwards unless `--keep`). */
  workDir: string;
  /** Progress lines for the operator (stderr); the table goes to stdout. */
  progress(line: string): void;
}

/** One row of the lab's table: one scenario variant (a backend, a fault, a loss rate…). */
export interface ResultRow {
  scenario: string;
  /** e.g. "pglite, qemu TCG" or "20 % loss". */
  variant: string;
  /** What was done, e.g. "50 cycles, 1,240 requests". */
  did: string;
  /** Records the devices were told were accepted (orders, receipts, moves, confirmations…). */
  acknowledged: number;
  /** Acknowledged records missing afterwards. */
  lost: number;
  /** Records present more than once (acknowledged or not). */
  duplicated: number;
  /** Time to serving devices again (or "—"), e.g. "median 4.2 s, max 7.9 s". */
  recovery: string;
  /** Other figures and findings, short: "p99 41 ms, 12 reconnects, 3 pushes retried". */
  notes: string;
}

/** What a scenario found. */
export interface ScenarioReport {
  rows: ResultRow[];
  /**
   * Each thing that went wrong, as one plain sentence (a lost receipt, a duplicate order, a rule
   * broken across a clock step…). Any entry makes the lab exit non-zero.
   */
  failures: string[];
  /**
   * Set when the scenario could not run at all on this machine (no way to start a virtual
   * machine, not root for namespaces…): the reason. Never a silent pass: the lab exits non-zero.
   */
  unavailable?: string;
}

/** A fault scenario. */
export interface Scenario {
  /** The name given to `deno task faults`. */
  name: string;
  /** One line for `--help`. */
  summary: string;
  run(options: LabOptions): Promise<ScenarioReport>;
}

const COLUMNS: [keyof ResultRow, string][] = [
  ["scenario", "scenario"],
  ["variant", "variant"],
  ["did", "did"],
  ["acknowledged", "acknowledged"],
  ["lost", "lost"],
  ["duplicated", "duplicated"],
  ["recovery", "back to serving"],
  ["notes", "notes"],
];

/** The rows as one Markdown table (what the lab prints and `docs/FAULTS.md` quotes). */
export function formatTable(rows: ResultRow[]): string {
  const cells = rows.map((row) => COLUMNS.map(([key]) => String(row[key])));
  const widths = COLUMNS.map(([, title], i) =>
    Math.max(title.length, ...cells.map((line) => line[i].length))
  );
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i])).join(" | ")} |`;
  return [
    line(COLUMNS.map(([, title]) => title)),
    `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`,
    ...cells.map(line),
  ].join("\n");
}
