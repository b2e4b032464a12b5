/**
 * The runtime settings the appliance is started with, wherever it is started: `deno task start`
 * (scripts/start.ts) and the benchmarks (bench/_processes.ts) take them from here; the installed
 * launcher (scripts/launcher.sh, which the systemd unit runs) carries the same values, and
 * tests/ops_install_test.ts checks that it does. Why each one: bench/RESULTS.md, "The hot path at
 * the limit", the RSS with 10,000 logged-in devices.
 *
 * @module
 */

/**
 * Environment of the runtime process. `MALLOC_ARENA_MAX=2`: glibc gives every thread that
 * allocates under contention an arena of its own (up to 8 per core) and keeps what is freed in
 * each; the runtime's I/O threads and the embedded database's worker thread spread the native
 * memory of a login storm over many arenas that then stay resident.
 */
export const RUNTIME_ENV: Readonly<Record<string, string>> = Object.freeze({
  MALLOC_ARENA_MAX: "2",
});

/** The environment for a child runtime: {@link RUNTIME_ENV}, unless `env` sets a value already. */
export function runtimeEnv(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(RUNTIME_ENV)) out[name] = env[name] ?? value;
  return out;
}

/**
 * Deno flags of the runtime process (before the module). `--max-semi-space-size=4` (MB): under a
 * login storm V8's young generation grows to two 32 MB semi-spaces in each isolate (the main one
 * and the embedded database's worker), and the pages it touched stay resident. 4 MB, not 2: at
 * 1,000 connections the smaller young generation cost the hot path 10-30 % more CPU per request,
 * for 10-15 MiB less RSS (bench/RESULTS.md, issue 26).
 */
export const RUNTIME_FLAGS: readonly string[] = Object.freeze([
  "--v8-flags=--max-semi-space-size=4",
]);
