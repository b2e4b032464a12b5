/**
 * The processes a benchmark measures: the appliance (`main.ts serve`) and the echo baseline, each
 * in its own child process so that its RSS is its own and the load generator does not share its
 * event loop.
 *
 * @module
 */
import { createPostgresDatabase } from "../tests/_support/databases.ts";
import { labelGoods, labelMac } from "./_catalogue.ts";
import { pathToFileURL } from "node:url";

const ROOT = new URL("..", import.meta.url).pathname;

/** A running server under test. */
export interface ServerProcess {
  name: string;
  pid: number;
  port: number;
  /** Resident set size now, in bytes. */
  rss(): Promise<number>;
  /** Peak resident set size since start (VmHWM), in bytes. */
  peakRss(): Promise<number>;
  /**
   * CPU time the process has used (user + system, every thread), in ms. On a machine shared with
   * other work, CPU per request moves far less than requests per second.
   */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

/** A free TCP port on loopback. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

async function rssOf(pid: number, field = "VmRSS"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

async function cpuMsOf(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // USER_HZ is 100 on Linux
}

async function waitForPort(port: number, child: Deno.ChildProcess, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.status.then(() => exited = true);
  for (;;) {
    if (exited) throw new Error("server process exited during start-up");
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`port ${port} not open after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function wrap(name: string, child: Deno.ChildProcess, port: number, cleanup: () => Promise<void>) {
  return {
    name,
    pid: child.pid,
    port,
    rss: () => rssOf(child.pid),
    peakRss: () => rssOf(child.pid, "VmHWM"),
    cpuMs: () => cpuMsOf(child.pid),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 15_000);
      await child.status;
      clearTimeout(timer);
      await cleanup();
    },
  };
}

/**
 * Starts the ideal getGoods server (bench/ideal_server.ts) on one I/O API, answering from the
 * catalogue file written by bench/_catalogue.ts.
 */
export async function startIdeal(
  io: "node" | "deno",
  catalogue: string,
  labels = 0,
): Promise<ServerProcess> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}bench/ideal_server.ts`,
      "--port",
      String(port),
      "--io",
      io,
      "--catalogue",
      catalogue,
      "--labels",
      String(labels),
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitForPort(port, child);
  return wrap(`ideal (${io})`, child, port, () => Promise.resolve());
}

/** Starts the minimal framed echo server (`mode`: node, deno, deno-queued). */
export async function startEcho(mode = "node"): Promise<ServerProcess> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}bench/echo_server.ts`, "--port", String(port), "--mode", mode],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitForPort(port, child);
  return wrap(`echo (${mode})`, child, port, () => Promise.resolve());
}

/** Options of {@link startAppliance}. */
export interface ApplianceProcessOptions {
  backend: "postgres" | "pglite";
  /** Extra `NEWRETAIL_*` settings. */
  env?: Record<string, string>;
  /** PGlite: this state directory (kept), instead of a fresh temporary one. */
  stateDir?: string;
  /**
   * The checkout whose `main.ts` runs (default: this one). A git worktree of an older commit
   * measures that commit in the same run (`deno task bench --baseline DIR`).
   */
  root?: string;
  /** Shelf labels bound before the start: `labelMac(i)` → `labelGoods(i)`, for i < labels. */
  labels?: number;
  /** Writes a V8 CPU profile of the appliance into this directory when it stops. */
  cpuProfileDir?: string;
}

/**
 * The pre-initialised empty database a new embedded store starts from, as the release ships it
 * (`deno task pglite-template`, built once if missing): the embedded figures are the shipped
 * appliance's. Returns its path.
 */
export async function ensureTemplate(): Promise<string> {
  const template = `${ROOT}pglite-template.tar.gz`;
  const exists = await Deno.stat(template).then(() => true, () => false);
  if (!exists) {
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "pglite-template", template],
      cwd: ROOT,
      stdout: "null",
    }).output();
    if (!built.success) throw new Error("deno task pglite-template failed");
  }
  return template;
}

/**
 * The runtime settings (Deno flags, environment) that the checkout at `root` starts the appliance
 * with, as its `deno task start` and its launcher do (scripts/runtime_settings.ts; none in a
 * checkout older than that file).
 */
async function runtimeSettings(
  root: string,
): Promise<{ flags: readonly string[]; env: Record<string, string> }> {
  const file = `${root}scripts/runtime_settings.ts`;
  const exists = await Deno.stat(file).then(() => true, () => false);
  if (!exists) return { flags: [], env: {} };
  const settings = await import(pathToFileURL(file).href);
  return { flags: settings.RUNTIME_FLAGS, env: settings.runtimeEnv(Deno.env.toObject()) };
}

/**
 * Starts `main.ts serve` on a fresh database with the demo catalogue: a new PostgreSQL database
 * (from `DATABASE_URL`, seeded with `seed-demo`) or a new embedded one in a temporary directory.
 */
export async function startApplianceProcess(
  options: ApplianceProcessOptions,
): Promise<ServerProcess & { databaseUrl?: string }> {
  const port = freePort();
  const env: Record<string, string> = {
    NEWRETAIL_HOST: "127.0.0.1",
    NEWRETAIL_PORT: String(port),
    NEWRETAIL_ADMIN: "false",
    NEWRETAIL_DISCOVERY: "false",
    NEWRETAIL_LOG_LEVEL: "info",
    ...options.env,
  };
  const root = options.root ? options.root.replace(/\/?$/, "/") : ROOT;
  const cli = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}main.ts`, ...args],
      env,
      stdout: "null",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`main.ts ${args.join(" ")} failed`);
  };
  let cleanup: () => Promise<void>;
  let databaseUrl: string | undefined;
  if (options.backend === "postgres") {
    const base = Deno.env.get("DATABASE_URL");
    if (!base) throw new Error("DATABASE_URL is needed for the PostgreSQL benchmarks");
    const created = await createPostgresDatabase(base);
    databaseUrl = created.url;
    env.DATABASE_URL = created.url;
    await cli("seed-demo");
    cleanup = created.drop;
  } else {
    const stateDir = options.stateDir ?? await Deno.makeTempDir({ prefix: "newretail-bench-" });
    env.DATABASE_URL = "";
    env.NEWRETAIL_STATE_DIR = stateDir;
    cleanup = options.stateDir
      ? () => Promise.resolve()
      : () => Deno.remove(stateDir, { recursive: true });
    // A new embedded store loads the demo at its first start; bindings need the goods first.
    if (options.labels) await cli("seed-demo");
  }
  if (options.labels) {
    const csv = await Deno.makeTempFile({ prefix: "newretail-bench-labels-", suffix: ".csv" });
    const rows = Array.from(
      { length: options.labels },
      (_, i) => `${labelMac(i)},${labelGoods(i)}`,
    );
    await Deno.writeTextFile(csv, ["mac,gid", ...rows].join("\n") + "\n");
    try {
      await cli("bindings", "import", csv);
    } finally {
      await Deno.remove(csv);
    }
  }
  const profile = options.cpuProfileDir
    ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`]
    : [];
  const runtime = await runtimeSettings(root);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...runtime.flags, ...profile, `${root}main.ts`, "serve"],
    env: { ...runtime.env, ...env },
    // Logs go nowhere: journald's cost is not the appliance's.
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitForPort(port, child);
  return { ...wrap(`appliance (${options.backend})`, child, port, cleanup), databaseUrl };
}
