/**
 * `deno task pglite-template OUT.tar.gz`: builds the pre-initialised empty embedded database that
 * ships with the release as `pglite-template.tar.gz` beside the program: initdb run and every
 * migration applied, no demo data. A new store loads it instead of running initdb (seconds of
 * WebAssembly and the largest memory peak of the embedded database's life); migrations added
 * later still run on top at start.
 *
 * The directory is packed after a clean shutdown: a new store then starts as after a restart, not
 * through crash recovery (which flushes every file of the directory once more). The template
 * databases `template0` and `template1` are dropped: the store never creates a database, and the
 * store's upkeep could not vacuum them (single-user PostgreSQL reaches its own database only), so
 * their transaction ids would age towards wraparound; it also halves the files to unpack. The
 * WAL segment goes without its zero tail (`trimWalSegment`).
 *
 * @module
 */
import { migrate } from "../src/store/migrate.ts";
import { openPglite } from "../src/store/pglite/pglite.ts";
import {
  gzip,
  isWalSegment,
  PGLITE_VERSION,
  type TarEntry,
  tarOf,
  TEMPLATE_VERSION_FILE,
  templateVersion,
  trimWalSegment,
} from "../src/store/pglite/pglite_template.ts";

const out = Deno.args[0];
if (!out || Deno.args.length !== 1 || out.startsWith("-")) {
  console.error("usage: deno task pglite-template OUT.tar.gz");
  Deno.exit(2);
}

/** Every file and directory under `root`, as tar entries with paths relative to it. */
async function entriesOf(root: string, under = ""): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const names = [];
  for await (const e of Deno.readDir(under ? `${root}/${under}` : root)) names.push(e);
  names.sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of names) {
    const path = under ? `${under}/${e.name}` : e.name;
    if (e.isDirectory) {
      entries.push({ path, directory: true, data: new Uint8Array() });
      entries.push(...await entriesOf(root, path));
    } else if (e.isFile) {
      const data = await Deno.readFile(`${root}/${path}`);
      entries.push({
        path,
        directory: false,
        data: isWalSegment(path) ? trimWalSegment(data) : data,
      });
    }
  }
  return entries;
}

const stateDir = await Deno.makeTempDir({ prefix: "newretail-template-" });
try {
  const db = await openPglite(stateDir, { template: null });
  try {
    await migrate(db);
    // Every store made from this template needs an installation id of its own (the references
    // it leaves in Odoo): the template carries none, and the store generates it at first use.
    await db.exec("delete from installation");
    await db.exec(
      "update pg_database set datistemplate = false where datname in ('template0', 'template1')",
    );
    await db.query("drop database template0");
    await db.query("drop database template1");
  } finally {
    await db.close();
  }
  const entries = await entriesOf(`${stateDir}/db`);
  entries.push({
    path: TEMPLATE_VERSION_FILE,
    directory: false,
    data: new TextEncoder().encode(`${PGLITE_VERSION}\n`),
  });
  const tarball = await gzip(tarOf(entries));
  if (await templateVersion(tarball) !== PGLITE_VERSION) {
    throw new Error("the tarball does not carry the PGlite version: not written");
  }
  await Deno.writeFile(out, tarball);
  console.log(`${out}: ${tarball.byteLength} bytes, PGlite ${PGLITE_VERSION}`);
} finally {
  await Deno.remove(stateDir, { recursive: true });
}
