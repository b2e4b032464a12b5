/**
 * `deno task release [--out DIR] [--version V] [--arch x86_64|aarch64] [--bundle DIR]`: one self-extracting file
 * per architecture, `DIR/newretail-<version>-linux-<arch>.run`, and `DIR/SHA256SUMS` (DIR is
 * `dist/` by default, the version deno.json's).
 *
 * Each file is `scripts/release_stub.sh` (a POSIX sh script of a known byte length, with the
 * checksum of what follows) followed by a gzip-compressed tar of `newretail-<version>/`: the
 * bundle of `scripts/bundle.ts` (program, PGlite's files, installer, launcher, unit, example
 * config, README), the pre-initialised embedded database when `scripts/pglite_template.ts`
 * exists, and the Deno runtime for that architecture in `bin/deno`, taken from the npm package of
 * the Deno distribution pinned with its sha512 integrity in `scripts/deno_runtime.json`. The npm
 * tarballs are cached in `.cache/deno-runtime/` (fetched with `npm pack` the first time) and
 * checked against that integrity every build.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";

const root = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(root.pathname);
const ARCHES = ["x86_64", "aarch64"] as const;
type Arch = typeof ARCHES[number];

interface RuntimePackage {
  name: string;
  integrity: string;
  elfMachine: number;
}
interface RuntimePin {
  version: string;
  packages: Record<Arch, RuntimePackage>;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    out: { type: "string" },
    version: { type: "string" },
    arch: { type: "string", multiple: true },
    // An already built `deno task bundle` directory instead of bundling again (tests).
    bundle: { type: "string" },
  },
  strict: true,
});
const project = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const version: string = values.version ?? project.version;
if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]*$/.test(version)) throw new Error(`bad version: ${version}`);
const arches = (values.arch ?? [...ARCHES]) as Arch[];
for (const arch of arches) {
  if (!ARCHES.includes(arch)) throw new Error(`unknown --arch ${arch}: x86_64 or aarch64`);
}
const out = values.out ? absolute(values.out) : `${rootPath}dist`;
const pin: RuntimePin = JSON.parse(
  await Deno.readTextFile(new URL("scripts/deno_runtime.json", root)),
);
const cache = `${rootPath}.cache/deno-runtime`;

function absolute(path: string): string {
  return (path.startsWith("/") ? path : `${Deno.cwd()}/${path}`).replace(/\/$/, "");
}

async function run(cmd: string, args: string[], cwd = rootPath): Promise<string> {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (exit ${r.code}): ${new TextDecoder().decode(r.stderr)}`,
    );
  }
  return new TextDecoder().decode(r.stdout);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function sha512Integrity(path: string): Promise<string> {
  const hash = createHash("sha512");
  for await (const chunk of (await Deno.open(path)).readable) hash.update(chunk);
  return `sha512-${hash.digest("base64")}`;
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of (await Deno.open(path)).readable) hash.update(chunk);
  return hash.digest("hex");
}

/** The npm tarball of the pinned Deno runtime, fetched once into the cache, integrity-checked. */
async function runtimeTarball(arch: Arch): Promise<string> {
  const pkg = pin.packages[arch];
  const file = `${cache}/${pkg.name.replace(/^@/, "").replace("/", "-")}-${pin.version}.tgz`;
  if (!(await exists(file))) {
    await Deno.mkdir(cache, { recursive: true });
    console.log(`fetching ${pkg.name}@${pin.version} (npm pack)`);
    // Packed in a directory of its own and renamed into place: two builds at once on a cold cache
    // (the tests build two releases side by side) otherwise read each other's half-written file.
    const fetching = await Deno.makeTempDir({ dir: cache, prefix: ".fetching-" });
    try {
      await run("npm", [
        "pack",
        "--silent",
        `${pkg.name}@${pin.version}`,
        "--pack-destination",
        fetching,
      ]);
      await Deno.rename(`${fetching}/${file.slice(cache.length + 1)}`, file);
    } finally {
      await Deno.remove(fetching, { recursive: true });
    }
  }
  const integrity = await sha512Integrity(file);
  if (integrity !== pkg.integrity) {
    await Deno.remove(file);
    throw new Error(
      `${file} does not match the integrity pinned in scripts/deno_runtime.json ` +
        `(${integrity}); removed it, run the release again to fetch it anew`,
    );
  }
  return file;
}

/** e_machine of an ELF file (62 = x86-64, 183 = AArch64). */
async function elfMachine(path: string): Promise<number> {
  const file = await Deno.open(path);
  try {
    const head = new Uint8Array(20);
    await file.read(head);
    if (head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return -1;
    return head[18] | (head[19] << 8);
  } finally {
    file.close();
  }
}

async function stub(arch: Arch, checksum: string): Promise<Uint8Array> {
  const template = await Deno.readTextFile(new URL("scripts/release_stub.sh", root));
  const fill = (skip: number) =>
    new TextEncoder().encode(
      template.replaceAll("@VERSION@", version).replaceAll("@ARCH@", arch)
        .replaceAll("@SHA256@", checksum).replaceAll("@SKIP@", String(skip)),
    );
  // SKIP is the script's own length, which depends on SKIP's digits: settle in two rounds.
  let skip = fill(0).length;
  for (let i = 0; i < 3 && fill(skip).length !== skip; i++) skip = fill(skip).length;
  const bytes = fill(skip);
  if (bytes.length !== skip) throw new Error("stub length did not settle");
  return bytes;
}

async function buildArch(arch: Arch, staging: string, common: string): Promise<string> {
  const dir = `${staging}/${arch}`;
  const tree = `${dir}/newretail-${version}`;
  await Deno.mkdir(`${tree}/bin`, { recursive: true });
  await run("cp", ["-a", `${common}/.`, tree]);
  const tarball = await runtimeTarball(arch);
  await run("tar", ["-xzf", tarball, "-C", dir, "package/deno"]);
  await Deno.rename(`${dir}/package/deno`, `${tree}/bin/deno`);
  await Deno.remove(`${dir}/package`, { recursive: true });
  const machine = await elfMachine(`${tree}/bin/deno`);
  if (machine !== pin.packages[arch].elfMachine) {
    throw new Error(`${pin.packages[arch].name} holds an ELF for machine ${machine}, not ${arch}`);
  }
  const payload = `${dir}/payload.tar.gz`;
  await run("tar", [
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "-czf",
    payload,
    "-C",
    dir,
    `newretail-${version}`,
  ]);
  const name = `newretail-${version}-linux-${arch}.run`;
  const target = `${out}/${name}`;
  const file = await Deno.open(`${target}.new`, { write: true, create: true, truncate: true });
  try {
    await file.write(await stub(arch, await sha256(payload)));
    await (await Deno.open(payload)).readable.pipeTo(file.writable, { preventClose: true });
  } finally {
    file.close();
  }
  await Deno.chmod(`${target}.new`, 0o755);
  await Deno.rename(`${target}.new`, target);
  return name;
}

const started = performance.now();
await Deno.mkdir(out, { recursive: true });
const staging = await Deno.makeTempDir({ dir: out, prefix: ".release-" });
try {
  const common = `${staging}/common`;
  if (values.bundle) {
    await run("cp", ["-a", `${absolute(values.bundle)}/.`, common]);
  } else {
    await run(Deno.execPath(), [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-run=deno",
      "--allow-env",
      "scripts/bundle.ts",
      common,
    ]);
  }
  await Deno.writeTextFile(`${common}/VERSION`, `${version}\n`);
  // The pre-initialised embedded database: a new store starts from it instead of initdb.
  await run(Deno.execPath(), [
    "run",
    "-A",
    "scripts/pglite_template.ts",
    `${common}/pglite-template.tar.gz`,
  ]);
  const names = await Promise.all(arches.map((arch) => buildArch(arch, staging, common)));
  const sums: string[] = [];
  for (const name of names) sums.push(`${await sha256(`${out}/${name}`)}  ${name}`);
  await Deno.writeTextFile(`${out}/SHA256SUMS`, sums.join("\n") + "\n");
  for (const name of names) {
    const { size } = await Deno.stat(`${out}/${name}`);
    console.log(`${out}/${name}  ${(size / 1e6).toFixed(1)} MB`);
  }
  console.log(
    `${out}/SHA256SUMS written; release ${version} built in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
} finally {
  await Deno.remove(staging, { recursive: true });
}
