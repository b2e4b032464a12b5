/**
 * SQL has one home, `src/store/` (docs/developers.md): outside it, code calls store functions and
 * may group them in `db.transaction`, but never writes a statement. A `.query(`, `.exec(` or
 * `.unsafe(` on a database handle elsewhere in `src/` fails this test with its file and line.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";

const SRC = new URL("../src/", import.meta.url);
/** A statement sent on a database handle (`db`, `tx`, `q`, `sql`, `database`, `…Db`). */
const STATEMENT = /\b(?:db|tx|q|sql|database|\w+Db)\.(?:query|exec|unsafe)\s*\(/;

async function* sourceFiles(dir: URL, under: string): AsyncGenerator<[string, URL]> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${under}${entry.name}`;
    if (entry.isDirectory) yield* sourceFiles(new URL(`${entry.name}/`, dir), `${path}/`);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      yield [path, new URL(entry.name, dir)];
    }
  }
}

/** The lines of `text` that send a statement, comments (doc examples) left out. */
function statementLines(text: string): number[] {
  const found: number[] = [];
  text.split("\n").forEach((line, i) => {
    const code = line.trimStart();
    if (code.startsWith("*") || code.startsWith("//") || code.startsWith("/*")) return;
    if (STATEMENT.test(line)) found.push(i + 1);
  });
  return found;
}

Deno.test("the statement finder sees a statement and skips doc examples", () => {
  assertEquals(
    statementLines([
      "const rows = await db.query(`select 1`);",
      " * const rows = await db.query('select 1');",
      "await tx.exec('vacuum');",
      "const m = /x/.exec(text);",
    ].join("\n")),
    [1, 3],
  );
});

Deno.test("SQL is written only in src/store/", async () => {
  const outside: string[] = [];
  for await (const [path, url] of sourceFiles(SRC, "src/")) {
    if (path.startsWith("src/store/")) continue;
    for (const line of statementLines(await Deno.readTextFile(url))) {
      outside.push(`${path}:${line}`);
    }
  }
  assertEquals(outside, []);
});
