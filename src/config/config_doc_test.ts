import assert from "node:assert/strict";
import {
  configTable,
  DOC_FILES,
  normalizeTables,
  TABLE_END,
  TABLE_START,
  withConfigTable,
} from "./config_doc.ts";
import { describeConfig } from "./config.ts";

Deno.test("config docs: the table has one row per key", () => {
  const lines = configTable().split("\n");
  assert.equal(lines.length, 2 + describeConfig().length);
  assert.ok(lines.some((l) => l.startsWith("| `adminPort` | `NEWRETAIL_ADMIN_PORT` | `8687` |")));
});

Deno.test("config docs: the committed tables are up to date (run `deno task docs`)", async () => {
  const root = new URL("../..", import.meta.url);
  let found = 0;
  for (const name of DOC_FILES) {
    let text: string;
    try {
      text = await Deno.readTextFile(new URL(name, root));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    const updated = withConfigTable(text);
    if (updated === undefined) continue;
    found++;
    assert.equal(
      normalizeTables(text),
      normalizeTables(updated),
      `${name}: configuration table is stale; run deno task docs`,
    );
  }
  assert.ok(found > 0, `a table between ${TABLE_START} and ${TABLE_END} in ${DOC_FILES}`);
});

Deno.test("config docs: a stale table is detected, formatting is not", () => {
  const fresh = withConfigTable(`# x\n\n${TABLE_START}\n${TABLE_END}\n`)!;
  const aligned = fresh.replace("| key | environment |", "| key   |  environment |");
  assert.equal(normalizeTables(aligned), normalizeTables(fresh));
  const stale = fresh.replace("Admin HTTP port", "Admin port");
  assert.notEqual(normalizeTables(stale), normalizeTables(fresh));
});
