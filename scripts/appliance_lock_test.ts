/**
 * `deno.appliance.lock` (what `deno task start` installs) is deno.lock cut down to the
 * appliance's packages: committed up to date, without the tests' packages, enough to run.
 */
import assert from "node:assert/strict";
import { applianceLock, type DenoLock, lockText } from "./appliance_lock.ts";

const ROOT = new URL("../", import.meta.url);
const read = async (name: string) =>
  JSON.parse(await Deno.readTextFile(new URL(name, ROOT))) as DenoLock;

Deno.test("applianceLock keeps the imports' packages and what they need, transitively, only", () => {
  const lock: DenoLock = {
    version: "5",
    specifiers: { "npm:a@1.0.0": "1.0.0", "npm:t@2.0.0": "2.0.0" },
    npm: {
      "a@1.0.0": { integrity: "ia", dependencies: ["b", "c@2.0.0"] },
      "b@1.0.0": { integrity: "ib" },
      "c@1.0.0": { integrity: "ic1" },
      "c@2.0.0_b@1.0.0": { integrity: "ic2", dependencies: ["b"] },
      "t@2.0.0": { integrity: "it", dependencies: ["c@1.0.0"] },
    },
    workspace: { dependencies: ["npm:a@1.0.0"] },
  };
  const narrow = applianceLock(lock);
  assert.deepEqual(narrow.specifiers, { "npm:a@1.0.0": "1.0.0" });
  assert.deepEqual(Object.keys(narrow.npm!), ["a@1.0.0", "b@1.0.0", "c@2.0.0_b@1.0.0"]);
  assert.deepEqual(narrow.workspace, { dependencies: ["npm:a@1.0.0"] });
  assert.throws(
    () => applianceLock({ ...lock, npm: { ...lock.npm, "b@3.0.0": { integrity: "x" } } }),
    /b names 2 packages/,
  );
});

Deno.test("deno.appliance.lock is deno.lock cut down to deno.json's imports (deno task appliance-lock)", async () => {
  const full = await read("deno.lock");
  const committed = await Deno.readTextFile(new URL("deno.appliance.lock", ROOT));
  assert.equal(
    committed,
    lockText(applianceLock(full)),
    "deno.appliance.lock is out of date: run `deno task appliance-lock` and commit it",
  );
  const imports = Object.values(
    (JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
      imports: Record<string, string>;
    }).imports,
  ).filter((s) => s.startsWith("npm:")).sort();
  const narrow = JSON.parse(committed) as DenoLock;
  assert.deepEqual(Object.keys(narrow.specifiers ?? {}).sort(), imports);
  // The tests' own packages (pinned where they are imported) are in deno.lock only.
  assert.ok(Object.keys(full.specifiers ?? {}).some((s) => s.startsWith("npm:puppeteer-core@")));
  for (const name of Object.keys(narrow.npm ?? {})) {
    assert.doesNotMatch(name, /^(puppeteer-core|aedes|chromium-bidi)@/);
  }
});

Deno.test("the appliance runs on deno.appliance.lock alone (--frozen: nothing missing)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--lock=deno.appliance.lock",
      "--frozen",
      "-A",
      "main.ts",
      "--version",
    ],
    cwd: decodeURIComponent(ROOT.pathname),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assert.equal(out.code, 0, text(out.stderr));
  assert.match(text(out.stdout), /^newretail \d+\.\d+\.\d+/);
});
