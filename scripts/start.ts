/**
 * `deno task newretail [COMMAND] [options]` (and `deno task start [serve options]`, which is
 * `deno task newretail serve`): runs a command of the appliance from the checkout with the
 * permissions its configuration needs, as the installed launcher does. It asks `main.ts
 * permissions` (read and env only) for the flags the given command, `--config`, `--state-dir`,
 * `NEWRETAIL_STATE_DIR`… need, then runs `main.ts COMMAND` with exactly those, so a custom path
 * works without editing deno.json.
 *
 * Signals: SIGINT and SIGTERM are passed on to serve (which counts copies of one Ctrl-C as one)
 * and this process waits for it, exiting with its code.
 *
 * @module
 */
import { RUNTIME_FLAGS, runtimeEnv } from "./runtime_settings.ts";

const main = new URL("../main.ts", import.meta.url).pathname;
// The appliance's own lock file: only the npm packages the appliance imports (deno.lock also pins
// the tests' packages, and Deno installs every package of the lock file it is given), installed
// into node_modules on first use (deno.json says "manual" so that `deno task` itself, which
// installs every package of deno.lock before it runs a task otherwise, leaves that to this).
const lock = [
  "--lock=" + new URL("../deno.appliance.lock", import.meta.url).pathname,
  "--frozen",
  "--node-modules-dir=auto",
];
// `deno task start serve …` (the task already names serve) is the same as `deno task start …`.
const args = Deno.args[0] === "serve" && Deno.args[1] === "serve" ? Deno.args.slice(1) : Deno.args;

const asked = await new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--quiet",
    ...lock,
    "--allow-read",
    "--allow-env",
    main,
    "permissions",
    "--",
    ...args,
  ],
  stdout: "piped",
  stderr: "inherit",
}).output();
if (!asked.success) Deno.exit(asked.code);
const flags = new TextDecoder().decode(asked.stdout).split("\n").filter((l) => l !== "");

// The runtime settings of the installed launcher (scripts/runtime_settings.ts).
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "--quiet", ...lock, "--no-prompt", ...RUNTIME_FLAGS, ...flags, main, ...args],
  env: runtimeEnv(Deno.env.toObject()),
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const forward = (signal: Deno.Signal) => () => {
  try {
    child.kill(signal);
  } catch {
    // exited already
  }
};
const onInt = forward("SIGINT");
const onTerm = forward("SIGTERM");
Deno.addSignalListener("SIGINT", onInt);
Deno.addSignalListener("SIGTERM", onTerm);
const status = await child.status;
Deno.removeSignalListener("SIGINT", onInt);
Deno.removeSignalListener("SIGTERM", onTerm);
Deno.exit(status.code);
