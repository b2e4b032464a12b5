/**
 * `deno task pglite-template OUT.tar.gz`: builds the pre-initialised empty embedded database that
 * ships with the release as `pglite-template.tar.gz` beside the program: initdb run and every
 * migration applied, no demo data. A new store loads it instead of running initdb (seconds of
 * WebAssembly and the largest memory peak of the embedded database's life); migrations added
 * later still run on top at start.
 *
 * @module
 */
import { migrate } from "../src/store/migrate.ts";
import { openPglite } from "../src/store/pglite.ts";
import {
  PGLITE_VERSION,
  TEMPLATE_VERSION_FILE,
  templateVersion,
} from "../src/store/pglite_template.ts";

const out = Deno.args[0];
if (!out || Deno.args.length !== 1 || out.startsWith("-")) {
  console.error("usage: deno task pglite-template OUT.tar.gz");
  Deno.exit(2);
}
const stateDir = await Deno.makeTempDir({ prefix: "newretail-template-" });
try {
  const db = await openPglite(stateDir, { template: null });
  try {
    await migrate(db);
    await db.exec("CHECKPOINT");
    await Deno.writeTextFile(`${db.directory}/${TEMPLATE_VERSION_FILE}`, `${PGLITE_VERSION}\n`);
    const tarball = await db.dumpDataDir();
    if (await templateVersion(tarball) !== PGLITE_VERSION) {
      throw new Error("the dump does not carry the PGlite version: not written");
    }
    await Deno.writeFile(out, tarball);
    console.log(`${out}: ${tarball.byteLength} bytes, PGlite ${PGLITE_VERSION}`);
  } finally {
    await db.close();
  }
} finally {
  await Deno.remove(stateDir, { recursive: true });
}
