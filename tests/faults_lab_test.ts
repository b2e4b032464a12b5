/**
 * The fault lab's short form inside the suite (issue 24, docs/FAULTS.md): each scenario run as an
 * operator runs it, `deno task faults <scenario> --ci`, in a child process, against the real
 * appliance. A scenario passes when the lab exits 0 with its rows in the table; one that cannot run
 * on this machine (not root, no TUN device, …) is ignored with the reason in the test's name.
 *
 * The whole lab's CI form stays within ~10 minutes on the project's 2-core machine: power-cut
 * takes 2–4 minutes (two power cuts of the embedded database mid-sale, two cuts of a new store's
 * first start), network ~3 (four variants of 40 devices).
 */
import { ok as assert } from "node:assert/strict";
import { umlUnavailable } from "../faults/_uml.ts";
import { postgresBinDir } from "./_support/pg_cluster.ts";
import { namespacesUnavailable } from "../faults/_netns.ts";

const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** Runs `deno task faults ARGS` (as the task does: `deno run -A faults/run.ts`). */
async function faults(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "faults/run.ts", ...args],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** The table rows of one scenario in the lab's output. */
function rows(stdout: string, scenario: string): string[] {
  return stdout.split("\n").filter((line) => line.startsWith(`| ${scenario} `));
}

const powerCutSkipped = await umlUnavailable();

Deno.test("fault lab: power-cut --rows with a row it does not have fails naming its rows", async () => {
  const run = await faults(["power-cut", "--rows", "embedded,nosuch"]);
  assert(run.code === 1, `${run.stdout}\n${run.stderr}`);
  assert(
    run.stdout.includes("no row nosuch (power-cut's rows: embedded, postgres, first-start)"),
    run.stdout,
  );
});

Deno.test({
  name: "fault lab: power-cut --ci, two power cuts of the embedded database in a user-mode " +
    `Linux guest mid-sale lose nothing acknowledged, two during a first start leave it serving${
      powerCutSkipped ? ` [skipped: ${powerCutSkipped}]` : ""
    }`,
  ignore: powerCutSkipped !== undefined,
  async fn() {
    const run = await faults(["power-cut", "--ci"]);
    const report = `${run.stdout}\n${run.stderr.split("\n").slice(-40).join("\n")}`;
    assert(run.code === 0, report);
    const [sale, firstStart] = rows(run.stdout, "power-cut");
    assert(sale?.includes("2 power cuts"), report);
    const [, , , , acknowledged, lost, duplicated] = sale.split("|").map((cell) => cell.trim());
    assert(Number(acknowledged) > 0 && lost === "0" && duplicated === "0", report);
    assert(firstStart?.includes("served again after 2 of 2 cuts"), report);
    assert(run.stdout.includes("nothing acknowledged was lost or duplicated"), report);
  },
});

const networkSkipped = Deno.env.get("DATABASE_URL")
  ? await namespacesUnavailable()
  : "needs PostgreSQL: DATABASE_URL is not set";

Deno.test({
  name: "fault lab: network --ci, devices behind 20 % loss, a 25 s partition, a quiet 8 s " +
    `partition and half-open connections: nothing lost, everything converges${
      networkSkipped ? ` [skipped: ${networkSkipped}]` : ""
    }`,
  ignore: networkSkipped !== undefined,
  async fn() {
    const run = await faults(["network", "--ci"]);
    const report = `${run.stdout}\n${run.stderr.split("\n").slice(-40).join("\n")}`;
    assert(run.code === 0, report);
    const found = rows(run.stdout, "network");
    assert(found.length === 4, report);
    for (const row of found) {
      const [, , , , acknowledged, lost, duplicated, recovery] = row.split("|").map((c) =>
        c.trim()
      );
      assert(Number(acknowledged) > 0 && lost === "0" && duplicated === "0", report);
      assert(recovery.startsWith("converged"), report);
    }
    const halfOpen = found.find((row) => row.includes("half-open devices"));
    assert(/(\d+) of \1 dead connections closed in time/.test(halfOpen ?? ""), report);
    assert(run.stdout.includes("nothing acknowledged was lost or duplicated"), report);
  },
});

// disk-full mounts small file systems (root) and runs a PostgreSQL cluster of its own on one;
// clock preloads Debian's libfaketime into the appliance it starts.
const diskFullSkipped = Deno.uid() !== 0
  ? "not root: the lab mounts a small file system"
  : postgresBinDir()
  ? undefined
  : "PostgreSQL server binaries not installed";
const noFaketime = await Deno.stat("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1").then(
  () => undefined,
  () => "libfaketime not installed (apt-get install faketime)",
);

Deno.test({
  name: "fault lab: disk-full --ci, the database's disk filled while devices sell (embedded and " +
    "PostgreSQL): reads answered, writes 'disk full' at once, back by itself, nothing lost; a " +
    `backup and an upgrade refused up front${
      diskFullSkipped ? ` [skipped: ${diskFullSkipped}]` : ""
    }`,
  ignore: diskFullSkipped !== undefined,
  async fn() {
    const run = await faults(["disk-full", "--ci"]);
    const report = `${run.stdout}\n${run.stderr.split("\n").slice(-40).join("\n")}`;
    assert(run.code === 0, report);
    const found = rows(run.stdout, "disk-full");
    assert(found.length === 4, report);
    for (const row of found.slice(0, 2)) {
      const [, , , , acknowledged, lost, duplicated] = row.split("|").map((cell) => cell.trim());
      assert(Number(acknowledged) > 0 && lost === "0" && duplicated === "0", report);
      assert(row.includes("'disk full'") && row.includes("after space freed"), report);
    }
    assert(run.stdout.includes("nothing acknowledged was lost or duplicated"), report);
  },
});

Deno.test({
  name: "fault lab: clock --ci, the appliance's clock stepped back a day, forward a year, and " +
    "booted in 2000 until NTP: no rule fires or stalls, nothing lost or doubled" +
    (noFaketime ? ` [skipped: ${noFaketime}]` : ""),
  ignore: noFaketime !== undefined,
  async fn() {
    const run = await faults(["clock", "--ci"]);
    const report = `${run.stdout}\n${run.stderr.split("\n").slice(-40).join("\n")}`;
    assert(run.code === 0, report);
    const found = rows(run.stdout, "clock");
    assert(found.length === 3, report);
    for (const row of found) {
      const [, , , , acknowledged, lost, duplicated] = row.split("|").map((cell) => cell.trim());
      assert(Number(acknowledged) > 0 && lost === "0" && duplicated === "0", report);
    }
    assert(run.stdout.includes("nothing acknowledged was lost or duplicated"), report);
  },
});
