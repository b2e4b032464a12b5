/**
 * `deno task appliance-lock`: writes `deno.appliance.lock`, the lock file `deno task start` and
 * `deno task newretail` run with: `deno.lock` cut down to the npm packages deno.json's imports
 * need (the appliance's), at the versions `deno.lock` pins. Deno installs every package of the
 * lock file it is given into `node_modules`, and `deno.lock` also pins the tests' packages
 * (puppeteer-core, aedes): with it, a store's first start would download a browser driver.
 * `scripts/appliance_lock_test.ts` fails when the committed file is not this script's output.
 *
 * @module
 */

/** The parts of a Deno lock file (version 5) this script reads and writes. */
export interface DenoLock {
  version: string;
  specifiers?: Record<string, string>;
  npm?: Record<string, { dependencies?: string[]; [field: string]: unknown }>;
  workspace?: { dependencies?: string[]; [field: string]: unknown };
  [section: string]: unknown;
}

/** The package name of a lock key or dependency (`@types/node@26.6.7` → `@types/node`). */
function packageName(key: string): string {
  const at = key.indexOf("@", 1);
  return at === -1 ? key : key.slice(0, at);
}

/**
 * The lock key a dependency names: `name@version` names it exactly (perhaps with a peer suffix,
 * `_…`); a bare name is the one version of that package the lock holds.
 */
function resolveKey(npm: Record<string, unknown>, dependency: string): string {
  const keys = Object.keys(npm);
  const exact = dependency.includes("@", 1)
    ? keys.filter((k) => k === dependency || k.startsWith(`${dependency}_`))
    : keys.filter((k) => packageName(k) === dependency);
  if (exact.length !== 1) {
    throw new Error(`deno.lock: ${dependency} names ${exact.length} packages (${exact})`);
  }
  return exact[0];
}

/**
 * `lock` cut down to what its workspace dependencies (deno.json's imports) need: their
 * specifiers, and the npm packages they depend on, transitively, at the same versions.
 *
 * @example
 * ```ts
 * const lock = JSON.parse(await Deno.readTextFile("deno.lock"));
 * console.log(Object.keys(applianceLock(lock).npm ?? {}).length);
 * ```
 */
export function applianceLock(lock: DenoLock): DenoLock {
  const npm = lock.npm ?? {};
  const roots = (lock.workspace?.dependencies ?? []).filter((d) => d.startsWith("npm:"));
  const specifiers: Record<string, string> = {};
  const wanted: string[] = [];
  for (const root of roots) {
    const version = lock.specifiers?.[root];
    if (version === undefined) throw new Error(`deno.lock: no version for ${root}`);
    specifiers[root] = version;
    wanted.push(resolveKey(npm, `${packageName(root.slice(4))}@${version}`));
  }
  const kept = new Set<string>();
  while (wanted.length) {
    const key = wanted.pop()!;
    if (kept.has(key)) continue;
    kept.add(key);
    for (const dependency of npm[key]?.dependencies ?? []) {
      wanted.push(resolveKey(npm, dependency));
    }
  }
  const sorted = [...kept].sort();
  return {
    ...lock,
    specifiers,
    npm: Object.fromEntries(sorted.map((k) => [k, npm[k]])),
    workspace: { ...lock.workspace, dependencies: lock.workspace?.dependencies ?? [] },
  };
}

/** The text of a lock file as Deno writes it (two-space JSON, a final newline). */
export function lockText(lock: DenoLock): string {
  return JSON.stringify(lock, null, 2) + "\n";
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url);
  const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", root))) as DenoLock;
  const narrow = applianceLock(lock);
  await Deno.writeTextFile(new URL("deno.appliance.lock", root), lockText(narrow));
  console.log(
    `deno.appliance.lock: ${Object.keys(narrow.npm ?? {}).length} of ${
      Object.keys(lock.npm ?? {}).length
    } npm packages (${Object.keys(narrow.specifiers ?? {}).join(", ")})`,
  );
}
