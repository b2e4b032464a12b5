/**
 * `deno task docs`: rewrites the generated configuration table in docs/configuration.md (between
 * the config-table markers) from CONFIG_SPEC.
 *
 * @module
 */
import { DOC_FILES, normalizeTables, withConfigTable } from "../src/config/config_doc.ts";

const root = new URL("../", import.meta.url);
let found = 0;
for (const name of DOC_FILES) {
  const url = new URL(name, root);
  let text: string;
  try {
    text = await Deno.readTextFile(url);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) continue;
    throw e;
  }
  const updated = withConfigTable(text);
  if (updated === undefined) continue;
  found++;
  if (normalizeTables(updated) !== normalizeTables(text)) {
    await Deno.writeTextFile(url, updated);
    // Aligns the table's columns as `deno task check` expects.
    const fmt = await new Deno.Command("deno", {
      args: ["fmt", "--quiet", decodeURIComponent(url.pathname)],
    })
      .output();
    if (fmt.code !== 0) throw new Error(`deno fmt ${name} failed`);
    console.log(`updated the configuration table in ${name}`);
  } else {
    console.log(`${name}: configuration table up to date`);
  }
}
if (found === 0) {
  console.error(`no configuration table markers in ${DOC_FILES.join(" or ")}`);
  Deno.exit(1);
}
