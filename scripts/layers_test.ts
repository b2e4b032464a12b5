import assert from "node:assert/strict";
import { checkLayers, importGraph, importsOf, modules } from "./layers.ts";

Deno.test("layers: src/ has no import back up the floors, no loop, no undeclared room", async () => {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const files = await modules(root);
  const edges = await importGraph(root);
  assert.ok(files.length > 100 && edges.length > 400, `read ${files.length} files`);
  assert.deepEqual(checkLayers(files, edges), { upward: [], undeclared: [], loops: [] });
});

Deno.test("layers: an import back up, a loop and an undeclared room are each reported", () => {
  const floors = [["log.ts"], ["store"], ["admin"]];
  const files = ["src/log.ts", "src/store/a.ts", "src/store/b.ts", "src/admin/x.ts", "src/new.ts"];
  const edges = [
    { from: "src/store/a.ts", to: "src/admin/x.ts" },
    { from: "src/admin/x.ts", to: "src/store/b.ts" },
    { from: "src/store/a.ts", to: "src/store/b.ts" },
    { from: "src/store/b.ts", to: "src/store/a.ts" },
    { from: "src/store/a.ts", to: "src/log.ts" },
  ];
  const report = checkLayers(files, edges, floors);
  assert.deepEqual(report.upward, [{ from: "src/store/a.ts", to: "src/admin/x.ts" }]);
  assert.deepEqual(report.undeclared, ["new.ts"]);
  assert.deepEqual(report.loops, [
    { folder: "src", members: ["admin", "store"] },
    { folder: "src/store", members: ["a.ts", "b.ts"] },
  ]);
});

Deno.test("layers: imports are read in every form, comments are not", () => {
  const source = `import { a } from "./a.ts";
import type {
  B,
  C,
} from "../b.ts";
export { d } from "./d.ts";
import "./side.ts";
// import { x } from "./commented.ts";
/* import { y } from "./block.ts"; */
const w = new URL("./worker.ts", import.meta.url);
const m = await import("./lazy.ts");
import { e } from "node:events";`;
  assert.deepEqual(importsOf(source).sort(), [
    "../b.ts",
    "./a.ts",
    "./d.ts",
    "./lazy.ts",
    "./side.ts",
    "./worker.ts",
  ]);
});
