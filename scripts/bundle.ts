/**
 * `deno task bundle`: the installable form that runs on a plain Deno runtime, in `dist/newretail/`:
 * `newretail.js` (every module, npm packages and the SQL migrations inlined by `deno bundle`),
 * `pglite_worker.js` (the embedded database's worker thread, bundled the same way),
 * PGlite's wasm and data files beside it (PGlite loads them relative to the module), and what
 * `install.sh` installs with it (the launcher, the unit, the example config, the guide).
 * The bundle is checked to import nothing but `node:` built-ins, so it runs offline.
 *
 * @module
 */
const root = new URL("../", import.meta.url);
// `deno task bundle [DIR]`: dist/newretail/ unless another directory is given (tests).
const out = Deno.args[0]
  ? new URL(Deno.args[0].replace(/\/?$/, "/"), `file://${Deno.cwd()}/`)
  : new URL("dist/newretail/", root);
const pgliteDist = new URL("node_modules/@electric-sql/pglite/dist/", root);
const PGLITE_FILES = ["pglite.wasm", "initdb.wasm", "pglite.data"];
const SHIPPED = [
  ["install.sh", "install.sh"],
  ["scripts/launcher.sh", "launcher.sh"],
  ["systemd/newretail.service", "newretail.service"],
  ["config.example.json", "config.example.json"],
  ["README.md", "README.md"],
  // The empty embedded database a new store unpacks instead of running initdb (committed; a
  // release build makes a fresh one over it).
  ["pglite-template.tar.gz", "pglite-template.tar.gz"],
  // For chains that monitor many stores centrally (docs/operation.md, alerts).
  ["ops/prometheus-alerts.yml", "prometheus-alerts.yml"],
  ["ops/grafana-dashboard.json", "grafana-dashboard.json"],
];

async function run(args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command("deno", {
    args,
    cwd: new URL(".", root),
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  // deno bundle warns about PGlite's direct eval; everything else is worth seeing.
  for (const line of text.split("\n")) {
    if (line && !/direct eval|direct-eval|esbuild\.github\.io|is experimental/.test(line)) {
      console.error(line);
    }
  }
  if (code !== 0) throw new Error(`deno ${args.join(" ")} failed (exit ${code})`);
}

await Deno.remove(out, { recursive: true }).catch((e) => {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
});
await Deno.mkdir(out, { recursive: true });
// PGlite's files are copied from node_modules: fill it (from the cache) only when it lacks them,
// since reinstalling under a running test or appliance would pull files from under it.
try {
  await Deno.stat(new URL(PGLITE_FILES[0], pgliteDist));
} catch {
  await run(["install", "--quiet"]);
}
// The embedded database runs in a worker of its own module (src/store/pglite/pglite.ts loads
// pglite_worker.js from beside the bundle).
const BUNDLES = [["newretail.js", "main.ts"], [
  "pglite_worker.js",
  "src/store/pglite/pglite_worker.ts",
]];
for (const [file, entry] of BUNDLES) {
  const output = decodeURIComponent(new URL(file, out).pathname);
  await run(["bundle", "--quiet", "--platform", "deno", "--output", output, entry]);
  const bundle = await Deno.readTextFile(new URL(file, out));
  const external = [
    ...bundle.matchAll(/(?:from|import)\s*\(?\s*["']((?!node:)[a-z]+:[^"']*)["']/g),
  ].map((m) => m[1]);
  if (external.length > 0) {
    throw new Error(`${file} still imports ${[...new Set(external)].join(", ")}`);
  }
}
for (const name of PGLITE_FILES) await Deno.copyFile(new URL(name, pgliteDist), new URL(name, out));
for (const [from, to] of SHIPPED) await Deno.copyFile(new URL(from, root), new URL(to, out));
// The README's links point into docs/: an installer on a store PC without internet reads them
// beside it (install.sh puts them next to the installed README).
await Deno.mkdir(new URL("docs/", out));
for await (const entry of Deno.readDir(new URL("docs/", root))) {
  if (entry.isFile) {
    await Deno.copyFile(new URL(`docs/${entry.name}`, root), new URL(`docs/${entry.name}`, out));
  }
}
await Deno.chmod(new URL("install.sh", out), 0o755);
await Deno.chmod(new URL("launcher.sh", out), 0o755);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
await Deno.writeTextFile(new URL("VERSION", out), `${config.version}\n`);
const where = decodeURIComponent(out.pathname);
console.log(`bundle ready in ${where} (install with: sudo ${where}install.sh)`);
