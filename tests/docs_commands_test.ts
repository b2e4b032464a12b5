/**
 * Every shell command block of README.md and docs/*.md runs exactly as written, in document
 * order, against an appliance started with the README's `deno task start`, and none fails or
 * prints a stack trace. The blocks are read from the pages, so the pages and this test cannot
 * drift apart; a block not meant to run here says why on its fence line and is reported as an
 * ignored step with that reason.
 *
 * Scratch state, as written: the commands use the defaults (`./data`, ports 8686 and 8687,
 * `/tmp`), so they run in namespaces of their own — a network namespace (its own loopback: the
 * default ports are free whatever else runs on the machine), a mount namespace where the
 * repository and `/tmp` are overlays whose writes land in a scratch directory and `./data` is an
 * empty tmpfs, and a PID namespace (nothing outlives the run). That needs root; elsewhere the
 * test is ignored with the reason in its name.
 */
import assert from "node:assert/strict";
import { type DocBlock, firstCommand, shellBlocks } from "./_support/doc_blocks.ts";
import { baseEnv } from "./_support/appliance_process.ts";

const REPO = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

function skipReason(): string {
  if (Deno.uid() !== 0) return " [skipped: needs root for its namespaces]";
  try {
    if (!Deno.readTextFileSync("/proc/filesystems").includes("overlay")) {
      return " [skipped: the kernel has no overlayfs]";
    }
  } catch {
    return " [skipped: no /proc/filesystems]";
  }
  return "";
}
const SKIPPED = skipReason();

async function docBlocks(): Promise<DocBlock[]> {
  const pages = [];
  for await (const e of Deno.readDir(`${REPO}/docs`)) {
    if (e.isFile && e.name.endsWith(".md")) pages.push(`docs/${e.name}`);
  }
  const blocks: DocBlock[] = [];
  for (const file of ["README.md", ...pages.sort()]) {
    blocks.push(...shellBlocks(await Deno.readTextFile(`${REPO}/${file}`), file));
  }
  return blocks;
}

/** Runs inside the namespaces: mounts, the appliance, every block in turn, the appliance stopped. */
const RUNNER = `set -u
S=$1 REPO=$2
ip link set lo up
mkdir -p "$S/tmp-up" "$S/tmp-work" "$S/repo-up" "$S/repo-work" "$S/out"
mount -t overlay overlay -o "lowerdir=/tmp,upperdir=$S/tmp-up,workdir=$S/tmp-work" /tmp
mount -t overlay overlay -o "lowerdir=$REPO,upperdir=$S/repo-up,workdir=$S/repo-work" "$REPO"
mkdir -p "$REPO/data" && mount -t tmpfs tmpfs "$REPO/data"
if [ -d /etc/newretail ]; then mount -t tmpfs tmpfs /etc/newretail; fi
cd "$REPO"
setsid deno task start >"$S/appliance.log" 2>&1 </dev/null &
app=$!
for _ in $(seq 600); do
  grep -q '"newretail started"' "$S/appliance.log" && break
  kill -0 "$app" 2>/dev/null || break
  sleep 0.5
done
grep -q '"newretail started"' "$S/appliance.log" || exit 3
for block in $(ls "$S/blocks" | sort -n); do
  n=\${block%.sh}
  timeout 300 bash -e -o pipefail "$S/blocks/$block" >"$S/out/$n.txt" 2>&1 </dev/null
  echo $? >"$S/out/$n.code"
done
kill -INT -- "-$app"
wait "$app"
echo $? >"$S/appliance.code"
`;

/** Whether a command's output carries a stack trace (the pages promise one line). */
function stackTrace(output: string): string | undefined {
  return /^\s+at .+:\d+:\d+\)?$/m.exec(output)?.[0] ?? /error: Uncaught.*/.exec(output)?.[0];
}

Deno.test("shellBlocks: sh and bash blocks in order, the not-run reason from the fence", () => {
  const page = [
    "# x",
    "```sh",
    "deno task newretail --version",
    "```",
    "```text",
    "invalid config: …",
    "```",
    "```bash (not run: on a store PC (systemd))",
    "sudo systemctl restart newretail  # after editing",
    "```",
  ].join("\n");
  const blocks = shellBlocks(page, "p.md");
  assert.deepEqual(blocks, [
    { file: "p.md", line: 2, script: "deno task newretail --version" },
    {
      file: "p.md",
      line: 8,
      script: "sudo systemctl restart newretail  # after editing",
      notRun: "on a store PC (systemd)",
    },
  ]);
  assert.equal(firstCommand(blocks[1]), "sudo systemctl restart newretail");
  assert.throws(
    () => shellBlocks("```\nls\n```", "q.md"),
    /q.md:1: a code block without a language/,
  );
  assert.throws(() => shellBlocks("```sh\nls\n", "q.md"), /never closed/);
  // A longer fence shows fences inside it: none of them is a block of its own.
  const shown = "````text\n```sh (not run: x)\nls\n```\n````\n```sh\npwd\n```";
  assert.deepEqual(shellBlocks(shown, "r.md").map((b) => b.script), ["pwd"]);
});

Deno.test({
  name:
    `every command block of README.md and docs/*.md runs as written against a running appliance${SKIPPED}`,
  ignore: SKIPPED !== "",
}, async (t) => {
  const blocks = await docBlocks();
  const runnable = blocks.filter((b) => !b.notRun);
  assert.ok(runnable.length >= 10, `${runnable.length} runnable blocks`);
  // Not under /tmp or the repository: the overlays' upper directories may not be inside them.
  const scratch = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "newretail-docs-" });
  try {
    await Deno.mkdir(`${scratch}/blocks`);
    for (const [i, block] of runnable.entries()) {
      await Deno.writeTextFile(`${scratch}/blocks/${i}.sh`, block.script + "\n");
    }
    await Deno.writeTextFile(`${scratch}/runner.sh`, RUNNER);
    const run = await new Deno.Command("unshare", {
      args: [
        "--pid",
        "--fork",
        "--mount-proc",
        "--mount",
        "--net",
        "--kill-child",
        "bash",
        `${scratch}/runner.sh`,
        scratch,
        REPO,
      ],
      env: baseEnv(), // no DATABASE_URL or MQTT_URL: the pages' defaults
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = await Deno.readTextFile(`${scratch}/appliance.log`).catch(() => "");
    const said = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `the run failed (${run.code}): ${said}\nappliance:\n${log}`);

    for (const block of blocks) {
      const name = `${block.file}:${block.line} ${firstCommand(block)}` +
        (block.notRun ? ` [not run: ${block.notRun}]` : "");
      await t.step({
        name,
        ignore: block.notRun !== undefined,
        fn: async () => {
          const n = runnable.indexOf(block);
          const output = await Deno.readTextFile(`${scratch}/out/${n}.txt`);
          const code = Number(await Deno.readTextFile(`${scratch}/out/${n}.code`));
          assert.equal(code, 0, `exit ${code}:\n${output}`);
          assert.equal(stackTrace(output), undefined, output);
        },
      });
    }
    await t.step("the appliance served them all and stopped cleanly on Ctrl-C", async () => {
      assert.equal(stackTrace(log), undefined, log);
      assert.equal((await Deno.readTextFile(`${scratch}/appliance.code`)).trim(), "0", log);
    });
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});
