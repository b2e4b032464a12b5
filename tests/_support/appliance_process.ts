/**
 * Runs the appliance as a separate process (exactly as an operator would: `deno run` of main.ts
 * or the installed launcher), waits for its start-up line and stops it with SIGTERM.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RUNTIME_ENV, RUNTIME_FLAGS } from "../../scripts/runtime_settings.ts";

/** A running appliance process. */
export interface ApplianceProcess {
  /** The device TCP port and the admin HTTP port it logged at start-up. */
  port: number;
  adminPort: number;
  /** Every JSON log line so far. */
  lines: Record<string, unknown>[];
  /** Sends a signal (as a terminal or systemd would). */
  signal(signal: Deno.Signal): void;
  /** Sends SIGTERM and waits for the exit; returns the exit code and stderr. */
  stop(): Promise<{ code: number; stderr: string }>;
}

/**
 * Starts `cmd args` and resolves once it logs "newretail started"; rejects with its stderr when
 * it exits first.
 */
export async function startApplianceProcess(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  cwd?: string,
): Promise<ApplianceProcess> {
  const child = new Deno.Command(cmd, {
    args,
    env,
    clearEnv: true,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderrText = new Response(child.stderr).text();
  const lines: Record<string, unknown>[] = [];
  const started = Promise.withResolvers<Record<string, unknown>>();
  const reading = (async () => {
    const decoder = child.stdout.pipeThrough(new TextDecoderStream());
    let buffer = "";
    for await (const chunk of decoder) {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const parsed = JSON.parse(line);
          lines.push(parsed);
          if (parsed.msg === "newretail started") started.resolve(parsed);
        } catch {
          lines.push({ text: line });
        }
      }
    }
  })();
  const exited = child.status.then(async (s) => {
    await reading;
    started.reject(
      new Error(
        `appliance exited (${s.code}) before starting: ${await stderrText}\n${
          JSON.stringify(lines)
        }`,
      ),
    );
    return s;
  });
  let line: Record<string, unknown>;
  try {
    line = await started.promise;
  } catch (e) {
    await exited;
    throw e;
  }
  const admin = String(line.admin ?? "");
  return {
    port: Number(line.port),
    adminPort: Number(admin.slice(admin.lastIndexOf(":") + 1)),
    lines,
    signal(signal) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const status = await exited;
      return { code: status.code, stderr: await stderrText };
    },
  };
}

/**
 * What a child process keeps of the test's environment: where Deno's cache is, and how this
 * machine reaches the npm registry (its CA bundle and proxy: `deno bundle` fetches esbuild).
 */
const INHERITED_ENV = [
  "PATH",
  "HOME",
  "DENO_DIR",
  "TMPDIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
  "https_proxy",
  "http_proxy",
  "no_proxy",
  "NPM_CONFIG_REGISTRY",
];

/** The environment a child needs to find Deno's cache, and nothing of the test's own config. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  env.NO_COLOR = "1";
  return env;
}

/**
 * Asserts that the runtime process `pid` (the `pid` of its start-up line) runs with the
 * appliance's runtime settings (scripts/runtime_settings.ts): its environment and Deno flags, as
 * every way of starting it must give them.
 */
export async function assertRuntimeSettings(pid: number): Promise<void> {
  const environ = (await Deno.readTextFile(`/proc/${pid}/environ`)).split("\0");
  const cmdline = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
  for (const [name, value] of Object.entries(RUNTIME_ENV)) {
    assert.ok(
      environ.includes(`${name}=${value}`),
      `${name}=${value} in the runtime's environment`,
    );
  }
  for (const flag of RUNTIME_FLAGS) {
    assert.ok(
      cmdline.includes(flag),
      `${flag} on the runtime's command line: ${cmdline.join(" ")}`,
    );
  }
}
