/**
 * A PostgreSQL cluster of a test's own (issue 6: fault injection stops only its own services):
 * `initdb` in a temporary directory, `postgres` started as a child on a free port and stopped by
 * its PID. PostgreSQL refuses to run as root, so under root it runs as the `postgres` user
 * through `setpriv` (which execs, so the child's PID is the postmaster's).
 *
 * @module
 */

const BIN_DIRS = [
  "/usr/lib/postgresql/15/bin",
  "/usr/lib/postgresql/16/bin",
  "/usr/lib/postgresql/17/bin",
];

/** Where `initdb` and `postgres` are, or undefined when PostgreSQL is not installed. */
export function postgresBinDir(): string | undefined {
  for (const dir of BIN_DIRS) {
    try {
      Deno.statSync(`${dir}/initdb`);
      return dir;
    } catch {
      // not this version
    }
  }
  return undefined;
}

/** A running (or stopped) cluster of the test's own. */
export interface PgCluster {
  readonly port: number;
  /** URL of its `postgres` database, as superuser `postgres`. */
  readonly url: string;
  /** PID of the postmaster while running. */
  readonly pid: number | undefined;
  /** Starts the postmaster and waits until it accepts connections. */
  start(): Promise<void>;
  /**
   * Stops the postmaster by its PID: `fast` (SIGINT: what a restart does) or `immediate` (SIGQUIT:
   * no checkpoint, crash recovery at the next start).
   */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Stops it if running and removes its directory. */
  destroy(): Promise<void>;
}

async function run(cmd: string[], what: string): Promise<void> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`${what} failed: ${new TextDecoder().decode(out.stderr).trim().slice(-500)}`);
  }
}

async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => {
    const out = await new Deno.Command("id", { args: [flag, name], stdout: "piped" }).output();
    if (!out.success) throw new Error(`no ${name} user to run PostgreSQL as (running as root)`);
    return Number(new TextDecoder().decode(out.stdout).trim());
  };
  return { uid: await id("-u"), gid: await id("-g") };
}

/** A free loopback port (bound once and released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Creates a cluster in a temporary directory (not started), under `parent` when given (the fault
 * lab's small file system); `maxConnections` default 60.
 */
export async function createPgCluster(
  options: { maxConnections?: number; parent?: string } = {},
): Promise<PgCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL server binaries are not installed");
  const dir = await Deno.makeTempDir({ prefix: "newretail-pg-", dir: options.parent });
  const data = `${dir}/data`;
  const asRoot = Deno.uid() === 0;
  let prefix: string[] = [];
  try {
    if (asRoot) {
      const { uid, gid } = await userIds("postgres");
      await Deno.chown(dir, uid, gid);
      prefix = ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--init-groups", "--"];
    }
    await run(
      [
        ...prefix,
        `${bin}/initdb`,
        "-D",
        data,
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
      ],
      "initdb",
    );
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
  const port = freePort();
  let child: Deno.ChildProcess | undefined;

  const ready = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const out = await new Deno.Command(`${bin}/pg_isready`, {
        args: ["-q", "-h", "127.0.0.1", "-p", String(port)],
      }).output();
      if (out.success) return;
      if (Date.now() > deadline) throw new Error(`PostgreSQL on port ${port} did not start`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const cluster: PgCluster = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    get pid() {
      return child?.pid;
    },
    async start() {
      if (child) throw new Error("already running");
      child = new Deno.Command(prefix[0] ?? `${bin}/postgres`, {
        args: [
          ...prefix.slice(1),
          ...(asRoot ? [`${bin}/postgres`] : []),
          "-D",
          data,
          "-p",
          String(port),
          "-k",
          dir,
          "-c",
          "listen_addresses=127.0.0.1",
          "-c",
          `max_connections=${options.maxConnections ?? 60}`,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await ready();
      } catch (e) {
        await cluster.stop("immediate");
        throw e;
      }
    },
    async stop(mode = "fast") {
      if (!child) return;
      const running = child;
      child = undefined;
      try {
        Deno.kill(running.pid, mode === "fast" ? "SIGINT" : "SIGQUIT");
      } catch {
        // exited already
      }
      await running.status;
    },
    async destroy() {
      await cluster.stop("immediate");
      await Deno.remove(dir, { recursive: true });
    },
  };
  return cluster;
}
