/**
 * Builds the installable release (`deno task bundle` into a temporary directory) and runs
 * `install.sh` from it, for the ops tests.
 *
 * @module
 */

import { baseEnv } from "./appliance_process.ts";

const ROOT = new URL("../..", import.meta.url);

/** Output of a finished command. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion. */
export async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<Ran> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: options.cwd ?? decodeURIComponent(ROOT.pathname),
    // A clean environment: the suite's own DATABASE_URL / MQTT_URL would otherwise become the
    // installed appliance's configuration.
    env: options.env ?? baseEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The repository's root directory. */
export const REPO = decodeURIComponent(ROOT.pathname).replace(/\/$/, "");

/** Builds the release into `dir` with the project's bundle script. */
export async function buildRelease(dir: string): Promise<void> {
  const r = await run("deno", [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-run=deno",
    "--allow-env",
    "scripts/bundle.ts",
    dir,
  ]);
  if (r.code !== 0) throw new Error(`bundle failed: ${r.stderr}`);
}

/** Runs `install.sh` of a release with arguments. */
export function install(release: string, args: string[]): Promise<Ran> {
  return run("sh", [`${release}/install.sh`, ...args]);
}

/**
 * Every path under `root` with its type, mode, owner, size, mtime and link target: equal
 * snapshots mean nothing was touched.
 */
export async function snapshot(root: string): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      const info = await Deno.lstat(path);
      const link = info.isSymlink ? await Deno.readLink(path) : "";
      result.set(
        path.slice(root.length),
        [
          info.isDirectory ? "d" : info.isSymlink ? "l" : "f",
          (info.mode! & 0o7777).toString(8),
          info.uid,
          info.gid,
          info.isDirectory ? "" : info.size,
          info.mtime?.getTime(),
          link,
        ].join(" "),
      );
      if (info.isDirectory) await walk(path);
    }
  }
  await walk(root);
  return result;
}
