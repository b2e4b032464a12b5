/**
 * `serve` as a user starts it (issue 11): `deno task start` with custom paths, one-line start-up
 * failures (exact line, exit 1, no stack), Ctrl-C delivered twice, the version, and systemd's
 * notifications through the permissions the launcher computes (issue 18).
 */
import assert from "node:assert/strict";
import { testPostgresUrl } from "./_support/databases.ts";
import {
  assertRuntimeSettings,
  baseEnv,
  startApplianceProcess,
} from "./_support/appliance_process.ts";
import { freePort } from "./_support/pg_cluster.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const DENO = Deno.execPath();
const VERSION = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).version as string;
// No admin port or discovery shared with other tests running at the same time.
const QUIET_ENV = { NEWRETAIL_ADMIN: "off", NEWRETAIL_DISCOVERY: "off" };

async function run(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(DENO, {
    args,
    cwd: ROOT,
    env: { ...baseEnv(), ...QUIET_ENV, ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** The lines a failed start printed on stderr, minus `deno task`'s and Deno's own notes. */
function ownLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) =>
    l !== "" && !l.startsWith("Task start ") && !/Permissions in the config file/.test(l)
  );
}

async function assertOneLine(
  r: { code: number; stdout: string; stderr: string },
  line: string,
): Promise<void> {
  assert.equal(r.code, 1, r.stderr);
  assert.ok(!/^\s+at /m.test(r.stderr), `no stack trace:\n${r.stderr}`);
  assert.deepEqual(ownLines(r.stderr), [line]);
  await Promise.resolve();
}

Deno.test("newretail --version prints deno.json's version", async () => {
  const r = await run(["run", "-q", "-P=appliance", "main.ts", "--version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `newretail ${VERSION}\n`);
});

Deno.test("serve: each start-up failure is one line naming the setting, exit 1, no stack", async (t) => {
  const work = await Deno.makeTempDir({ prefix: "newretail-serve-" });
  const stateDir = `${work}/data`;
  try {
    await t.step("device port in use", async () => {
      const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      try {
        const port = holder.addr.port;
        const r = await run([
          "task",
          "start",
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          "--state-dir",
          stateDir,
        ]);
        await assertOneLine(
          r,
          `the device port 127.0.0.1:${port} is in use by another program: ` +
            `stop it, or set port / NEWRETAIL_PORT / --port`,
        );
        // Said before anything was made: no new state directory, no database in it.
        await assert.rejects(Deno.stat(stateDir), Deno.errors.NotFound);
      } finally {
        holder.close();
      }
    });

    await t.step("admin port in use", async () => {
      const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      try {
        const port = holder.addr.port;
        const r = await run(
          ["task", "start", "--host", "127.0.0.1", "--port", "0", "--state-dir", stateDir],
          { NEWRETAIL_ADMIN: "on", NEWRETAIL_ADMIN_PORT: String(port) },
        );
        await assertOneLine(
          r,
          `admin HTTP cannot listen on 127.0.0.1:${port}: Address already in use (os error 98)` +
            " (set adminPort / NEWRETAIL_ADMIN_PORT, or adminEnabled false)",
        );
      } finally {
        holder.close();
      }
    });

    await t.step("the state directory is a file", async () => {
      await Deno.writeTextFile(`${work}/file`, "");
      const r = await run(["task", "start", "--port", "0", "--state-dir", `${work}/file`]);
      await assertOneLine(
        r,
        `the state directory ${work}/file is not a directory: ` +
          "remove or move that file, or set stateDir / NEWRETAIL_STATE_DIR / --state-dir",
      );
    });

    await t.step("the state directory cannot be written", async () => {
      // A read-only parent: mode 0555 stops a user; root needs the immutable attribute.
      const parent = `${work}/readonly`;
      await Deno.mkdir(parent);
      const lock = async (on: boolean) => {
        if (Deno.uid() !== 0) return await Deno.chmod(parent, on ? 0o555 : 0o755);
        const r = await new Deno.Command("chattr", { args: [on ? "+i" : "-i", parent] }).output();
        assert.ok(r.success, new TextDecoder().decode(r.stderr));
      };
      await lock(true);
      try {
        const dir = `${parent}/state`;
        const r = await run(["task", "start", "--port", "0"], { NEWRETAIL_STATE_DIR: dir });
        await assertOneLine(
          r,
          `the state directory ${dir} is not writable by this user: ` +
            "fix its owner or mode, or set stateDir / NEWRETAIL_STATE_DIR / --state-dir",
        );
      } finally {
        await lock(false);
      }
    });

    await t.step("the state directory is outside the permission set", async () => {
      const r = await run([
        "run",
        "-P=appliance",
        "main.ts",
        "serve",
        "--port",
        "0",
        "--state-dir",
        `${work}/elsewhere`,
      ]);
      await assertOneLine(
        r,
        `the state directory ${work}/elsewhere is outside what the permission set allows: ` +
          "start with `deno task start` or the installed newretail (they grant the --state-dir " +
          "/ NEWRETAIL_STATE_DIR given), or add it to --allow-read and --allow-write",
      );
    });

    await t.step("the config file is outside the permission set", async () => {
      const file = `${work}/config.json`;
      await Deno.writeTextFile(file, "{}");
      const r = await run(["run", "-P=appliance", "main.ts", "serve", "--config", file]);
      await assertOneLine(
        r,
        `the config file ${file} is outside what the permission set allows: start with ` +
          "`deno task start` or the installed newretail (they grant the --config given), or add " +
          "it to --allow-read",
      );
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

const pgUrl = testPostgresUrl();
Deno.test({
  name: `serve: a missing PostgreSQL database or an unknown role is one line${
    pgUrl ? "" : " [skipped: DATABASE_URL not set]"
  }`,
  ignore: !pgUrl,
  async fn() {
    const missing = new URL(pgUrl!);
    missing.pathname = "/newretail_no_such_database";
    let r = await run(["task", "start", "--port", "0", "--database-url", missing.toString()]);
    await assertOneLine(
      r,
      'PostgreSQL has no database "newretail_no_such_database": create it ' +
        "(createdb newretail_no_such_database) or set DATABASE_URL / --database-url to one that exists",
    );
    const role = new URL(pgUrl!);
    role.username = "newretail_no_such_role";
    r = await run(["task", "start", "--port", "0"], { DATABASE_URL: role.toString() });
    await assertOneLine(
      r,
      'PostgreSQL refused the role "newretail_no_such_role" (role "newretail_no_such_role" does ' +
        "not exist): fix the user or password in DATABASE_URL / --database-url",
    );
  },
});

Deno.test("deno task start honours --config and NEWRETAIL_STATE_DIR; two SIGINTs 5 ms apart stop it cleanly", async () => {
  const work = await Deno.makeTempDir({ prefix: "newretail-serve-" });
  try {
    const configFile = `${work}/config.json`;
    await Deno.writeTextFile(configFile, JSON.stringify({ host: "127.0.0.1", port: 0 }));
    const app = await startApplianceProcess(
      DENO,
      ["task", "start", "--config", configFile],
      { ...baseEnv(), ...QUIET_ENV, NEWRETAIL_STATE_DIR: `${work}/state` },
      ROOT,
    );
    const started = app.lines.find((l) => l.msg === "newretail started")!;
    assert.equal(started.version, VERSION);
    assert.equal(started.databaseAt, `${work}/state/db`);
    await assertRuntimeSettings(Number(started.pid));
    assert.equal(
      (started.config as string[]).includes(`file ${configFile}`),
      true,
      String(started.config),
    );
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: app.port });
    conn.close();
    // The task runner, the launcher and the terminal each pass a Ctrl-C on.
    app.signal("SIGINT");
    await new Promise((r) => setTimeout(r, 5));
    app.signal("SIGINT");
    const { code, stderr } = await app.stop();
    assert.equal(code, 0, stderr);
    const msgs = app.lines.map((l) => l.msg);
    assert.ok(msgs.includes("signal received"), JSON.stringify(msgs));
    assert.equal(msgs.at(-1), "stopped", "the database closed and the last line written");
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("serve under systemd: READY=1, WATCHDOG=1 and STOPPING=1 through the computed permissions", async () => {
  const work = await Deno.makeTempDir({ prefix: "newretail-notify-" });
  const socketPath = `${work}/notify`;
  const systemd = Deno.listenDatagram({ transport: "unixpacket", path: socketPath });
  const received: string[] = [];
  const receiving = (async () => {
    try {
      for (;;) {
        const [data] = await systemd.receive();
        received.push(new TextDecoder().decode(data));
      }
    } catch {
      // closed at the end of the test
    }
  })();
  const runtimeDir = `${work}/run`;
  await Deno.mkdir(runtimeDir);
  const port = freePort();
  const env = {
    ...baseEnv(),
    ...QUIET_ENV,
    NOTIFY_SOCKET: socketPath,
    RUNTIME_DIRECTORY: runtimeDir,
    WATCHDOG_USEC: "200000",
    NEWRETAIL_STATE_DIR: `${work}/state`,
  };
  try {
    // As the installed launcher does: ask for the flags, then run serve with exactly those.
    const serveArgs = ["serve", "--host", "127.0.0.1", "--port", String(port)];
    const asked = await new Deno.Command(DENO, {
      args: [
        "run",
        "-q",
        "--allow-read",
        "--allow-env",
        "main.ts",
        "permissions",
        "--",
        ...serveArgs,
      ],
      cwd: ROOT,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(asked.code, 0, new TextDecoder().decode(asked.stderr));
    const flags = new TextDecoder().decode(asked.stdout).split("\n").filter(Boolean);
    assert.ok(
      flags.some((f) => f.startsWith("--allow-write=") && f.includes(socketPath)),
      String(flags),
    );
    const app = await startApplianceProcess(
      DENO,
      ["run", "-q", "--no-prompt", ...flags, "main.ts", ...serveArgs],
      env,
      ROOT,
    );
    const deadline = Date.now() + 10_000;
    while (!received.includes("WATCHDOG=1") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(received[0], `READY=1\nSTATUS=serving devices on port ${port}`);
    assert.ok(received.includes("WATCHDOG=1"), JSON.stringify(received));
    const { code, stderr } = await app.stop();
    assert.equal(code, 0, stderr);
    assert.ok(received.includes("STOPPING=1\nSTATUS=shutting down"), JSON.stringify(received));
    assert.deepEqual(app.lines.filter((l) => l.level === "warn" || l.level === "error"), []);
    await assert.rejects(Deno.stat(`${runtimeDir}/notify.sock`), Deno.errors.NotFound);
  } finally {
    systemd.close();
    await receiving;
    await Deno.remove(work, { recursive: true });
  }
});
