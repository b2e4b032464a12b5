/**
 * The appliance as a store gets it: `deno task bundle` (with the pre-initialised embedded
 * database a release carries), installed by the release's own `install.sh` into a root directory of
 * the lab's (`--root`), started by the installed launcher (`/usr/local/bin/newretail serve`), the
 * way the systemd unit starts it. Nothing of the product is imported: the lab runs its files.
 *
 * @module
 */
import { labCacheDir } from "./_uml.ts";

const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(/\/$/, "");

/** An appliance installed under a root directory. */
export interface InstalledAppliance {
  /** The root it was installed into (`install.sh --root`). */
  root: string;
  /** The launcher: `ROOT/usr/local/bin/newretail`. */
  launcher: string;
  /** `ROOT/etc/newretail/config.json` (the lab writes it). */
  configFile: string;
  /** `ROOT/var/lib/newretail` and `ROOT/var/cache/newretail` (state, Deno's code cache). */
  stateDir: string;
  cacheDir: string;
}

async function command(cmd: string, args: string[], cwd = REPO): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text.trim()}`);
  return text;
}

/**
 * The embedded database's template for this checkout's migrations and PGlite, built once by the
 * project's own script and cached (it takes ~15 s; a store's first start is faster with it).
 */
async function template(progress: (line: string) => void): Promise<string> {
  const hash = await contentHash([
    ...[...Deno.readDirSync(`${REPO}/src/store/migrations`)].map((e) => e.name).sort().map((n) =>
      `${REPO}/src/store/migrations/${n}`
    ),
    `${REPO}/deno.lock`,
    `${REPO}/scripts/pglite_template.ts`,
  ]);
  const path = `${labCacheDir()}/pglite-template-${hash}.tar.gz`;
  try {
    await Deno.stat(path);
    return path;
  } catch {
    progress("building the embedded database's template (once per schema)");
  }
  await Deno.mkdir(labCacheDir(), { recursive: true });
  const partial = `${path}.${Deno.pid}.partial`;
  await command("deno", [
    "run",
    "--allow-read",
    "--allow-write",
    "scripts/pglite_template.ts",
    partial,
  ]);
  await Deno.rename(partial, path);
  return path;
}

async function contentHash(paths: string[]): Promise<string> {
  const parts: Uint8Array[] = [];
  for (const path of paths) parts.push(await Deno.readFile(path));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length + 1;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Bundles this checkout, installs it under `dir/root` with the release's `install.sh` (the Deno
 * on PATH as its runtime), and writes `config` as its configuration.
 */
export async function installAppliance(
  dir: string,
  config: Record<string, unknown>,
  progress: (line: string) => void,
): Promise<InstalledAppliance> {
  const release = `${dir}/release`;
  const root = `${dir}/root`;
  progress("bundling the appliance (deno task bundle) and installing it (install.sh --root)");
  await command("deno", [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-run=deno",
    "--allow-env",
    "scripts/bundle.ts",
    release,
  ]);
  await Deno.copyFile(await template(progress), `${release}/pglite-template.tar.gz`);
  await Deno.mkdir(root, { recursive: true });
  const deno = Deno.execPath();
  await command("sh", [`${release}/install.sh`, "--root", root, "--deno", deno, "--no-start"]);
  const installed: InstalledAppliance = {
    root,
    launcher: `${root}/usr/local/bin/newretail`,
    configFile: `${root}/etc/newretail/config.json`,
    stateDir: `${root}/var/lib/newretail`,
    cacheDir: `${root}/var/cache/newretail`,
  };
  await Deno.writeTextFile(installed.configFile, JSON.stringify(config, null, 2) + "\n");
  return installed;
}

/** An installed appliance running on the host. */
export interface RunningAppliance {
  pid: number;
  /** Every line it printed (JSON log lines parsed; others as `{text}`). */
  lines: Record<string, unknown>[];
  /** Sends a signal to it. */
  signal(signal: Deno.Signal): void;
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number>;
  /** Resolves with the exit code when it exits. */
  exited: Promise<number>;
}

/**
 * Starts the installed launcher (`serve`) and resolves once it logs "newretail started";
 * `wrap` runs it under another program (e.g. `["faketime", "-f", "@2000-01-01"]`).
 */
export async function startInstalledAppliance(
  installed: InstalledAppliance,
  options: { env?: Record<string, string>; wrap?: string[]; timeoutMs?: number } = {},
): Promise<RunningAppliance> {
  const wrap = options.wrap ?? [];
  const [cmd, ...args] = [...wrap, installed.launcher, "serve"];
  const child = new Deno.Command(cmd, {
    args,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      NO_COLOR: "1",
      ...options.env,
    },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const started = Promise.withResolvers<void>();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const line = JSON.parse(text);
          lines.push(line);
          if (line.msg === "newretail started") started.resolve();
        } catch {
          lines.push({ text });
        }
      }
    }
  };
  const reading = Promise.all([read(child.stdout), read(child.stderr)]);
  const exited = child.status.then(async (s) => {
    await reading;
    started.reject(new Error(`the appliance exited (${s.code}) before it started`));
    return s.code;
  });
  const timer = setTimeout(
    () => started.reject(new Error("the appliance did not start in time")),
    options.timeoutMs ?? 120_000,
  );
  try {
    await started.promise;
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await exited;
    const last = lines.slice(-5).map((l) => JSON.stringify(l)).join("\n");
    throw new Error(`${(e as Error).message}:\n${last}`);
  } finally {
    clearTimeout(timer);
  }
  return {
    pid: child.pid,
    lines,
    exited,
    signal(signal) {
      try {
        child.kill(signal);
      } catch { /* gone */ }
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      return await exited;
    },
  };
}
