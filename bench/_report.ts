/**
 * What every benchmark scenario gets (options and the report it writes into), shared by
 * `run.ts` and `_scenarios.ts`.
 *
 * @module
 */

/** What a scenario gets. */
export interface BenchContext {
  quick: boolean;
  backends: ("postgres" | "pglite")[];
  report: Report;
  /** Connection counts in place of a scenario's own (`--counts`). */
  counts?: number[];
  /** The hot path's workloads to run (`--workloads`; default all). */
  workloads?: string[];
  /** A checkout of an older commit whose appliance is measured too (`--baseline DIR`). */
  baseline?: string;
  /** Where appliance CPU profiles go (`--profile DIR`); none when unset. */
  profile?: string;
}

/** A results table in the report. */
export class Report {
  sections: string[] = [];
  /** Adds a section with a table. */
  table(title: string, intro: string, head: string[], rows: (string | number)[][]): void {
    const lines = [
      `## ${title}`,
      "",
      intro,
      "",
      `| ${head.join(" | ")} |`,
      `|${head.map(() => " --- ").join("|")}|`,
    ];
    for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
    this.sections.push(lines.join("\n"));
    console.log(`\n${lines.join("\n")}\n`);
  }
  /** Adds free text. */
  text(title: string, body: string): void {
    this.sections.push(`## ${title}\n\n${body}`);
    console.log(`\n## ${title}\n\n${body}\n`);
  }
}
