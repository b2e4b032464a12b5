/**
 * `deno task layers`: checks the floors of `src/`. Every folder or file directly under `src/` is
 * on a declared floor ({@link FLOORS}, the ground first); a module may import only from its own
 * floor or below, and no two folders (nor two files of one folder) import each other in a loop,
 * at any depth. Reads the imports as written in the sources (static, dynamic and
 * `new URL("./x.ts", import.meta.url)` references alike); tests are not modules of the house.
 *
 * Prints the imports that run back up and the loops, and exits 1 when there is any.
 *
 * @module
 */

/**
 * The floors, from the ground up: each a list of the names directly under `src/` (a folder
 * without its slash, or a file). A name on floor N may import names on floors 1..N.
 */
export const FLOORS: readonly (readonly string[])[] = [
  // 1: leaves that import nothing of the project.
  [
    "bytes.ts",
    "fault_switch.ts",
    "clock.ts",
    "decimal.ts",
    "errors.ts",
    "log.ts",
    "version.ts",
    "batcher.ts",
    "deadline.ts",
    "metrics.ts",
    "scale_barcode.ts",
    "listen.ts",
    "net_address.ts",
    "protocol",
    "disk_space.ts",
  ],
  // 2: helpers built on the leaves.
  [
    "fields.ts",
    "events.ts",
    "background.ts",
    "device_link.ts",
    "systemd",
    "discovery",
    "device",
    "disk_guard.ts",
    "guarded_clock.ts",
  ],
  // 3: configuration and the store (the only SQL).
  ["config", "store"],
  // 4: views, the action table's types and the peers at the edge.
  ["goods_view.ts", "action_types.ts", "integrations"],
  // 5: services.
  ["pricing", "trust", "payment", "push", "server", "upstream"],
  // 6: the device actions, the admin server and the chain's fleet view (reads the console's).
  ["actions", "admin", "fleet"],
  // 7: the composition root.
  ["app.ts"],
  // 8: the command line.
  ["cli"],
];

/** One import between two modules, as paths relative to the repository. */
export interface Edge {
  from: string;
  to: string;
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']/g;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;
const URL_REF = /new URL\(\s*["'](\.{1,2}\/[^"']+\.ts)["']\s*,\s*import\.meta\.url\s*\)/g;

/** The project's relative imports in `source` (module specifiers only, comments skipped). */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: string[] = [];
  for (const pattern of [IMPORT, DYNAMIC, URL_REF]) {
    for (const m of code.matchAll(pattern)) if (m[1].startsWith(".")) found.push(m[1]);
  }
  return found;
}

function join(dir: string, relative: string): string {
  const parts = dir.split("/").filter((p) => p !== "");
  for (const p of relative.split("/")) {
    if (p === "..") parts.pop();
    else if (p !== ".") parts.push(p);
  }
  return parts.join("/");
}

/** Every module under `root/src` that is not a test, as paths from `root`. */
export async function modules(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string) {
    for await (const entry of Deno.readDir(`${root}/${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (/\.ts$/.test(entry.name) && !/_test\.ts$/.test(entry.name)) out.push(path);
    }
  }
  await walk("src");
  return out.sort();
}

/** The import graph of `src/` under `root`. */
export async function importGraph(root: string): Promise<Edge[]> {
  const edges: Edge[] = [];
  for (const from of await modules(root)) {
    const dir = from.slice(0, from.lastIndexOf("/"));
    const source = await Deno.readTextFile(`${root}/${from}`);
    for (const spec of importsOf(source)) {
      const to = join(dir, spec);
      if (to.startsWith("src/") && to !== from) edges.push({ from, to });
    }
  }
  return edges;
}

/** The name directly under `src/` that `path` belongs to. */
export function roomOf(path: string): string {
  return path.split("/")[1];
}

/** The declared floor of a room (1 = ground), or undefined. */
export function floorOf(room: string, floors = FLOORS): number | undefined {
  const i = floors.findIndex((f) => f.includes(room));
  return i < 0 ? undefined : i + 1;
}

/** What {@link checkLayers} finds. */
export interface LayerReport {
  /** Imports from a room to a room on a higher floor. */
  upward: Edge[];
  /** Rooms under `src/` on no floor. */
  undeclared: string[];
  /** Loops: siblings (folders or files of one folder) that import each other, by folder. */
  loops: { folder: string; members: string[] }[];
}

// Strongly connected components of more than one node (Tarjan).
function cycles(nodes: string[], next: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) out.push(group.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  return out;
}

/** Checks `edges` against the floors: imports back up, undeclared rooms and loops. */
export function checkLayers(
  files: string[],
  edges: Edge[],
  floors = FLOORS,
): LayerReport {
  const rooms = [...new Set(files.map(roomOf))].sort();
  const undeclared = rooms.filter((r) => floorOf(r, floors) === undefined);
  const upward = edges.filter((e) => {
    const from = floorOf(roomOf(e.from), floors);
    const to = floorOf(roomOf(e.to), floors);
    return from !== undefined && to !== undefined && to > from;
  });
  // At each folder, its children (files and sub-folders) import each other through the files
  // below them.
  const byFolder = new Map<string, Map<string, Set<string>>>();
  for (const { from, to } of edges) {
    const a = from.split("/");
    const b = to.split("/");
    let i = 0;
    while (i < a.length - 1 && i < b.length - 1 && a[i] === b[i]) i++;
    const folder = a.slice(0, i).join("/");
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    const graph = byFolder.get(folder) ?? new Map<string, Set<string>>();
    byFolder.set(folder, graph);
    const set = graph.get(x) ?? new Set<string>();
    graph.set(x, set);
    set.add(y);
  }
  const loops: LayerReport["loops"] = [];
  for (const [folder, graph] of [...byFolder].sort(([a], [b]) => a.localeCompare(b))) {
    for (const members of cycles([...graph.keys()].sort(), graph)) loops.push({ folder, members });
  }
  return { upward, undeclared, loops };
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const files = await modules(root);
  const edges = await importGraph(root);
  const report = checkLayers(files, edges);
  FLOORS.forEach((rooms, i) => console.log(`floor ${i + 1}: ${rooms.join(" ")}`));
  for (const e of report.upward) {
    const from = floorOf(roomOf(e.from));
    const to = floorOf(roomOf(e.to));
    console.log(`up: ${e.from} (floor ${from}) -> ${e.to} (floor ${to})`);
  }
  for (const r of report.undeclared) console.log(`undeclared: src/${r} is on no floor`);
  for (const l of report.loops) console.log(`loop in ${l.folder}/: ${l.members.join(" <-> ")}`);
  console.log(
    `${files.length} modules, ${edges.length} imports: ${report.upward.length} back up, ` +
      `${report.loops.length} loops, ${report.undeclared.length} undeclared`,
  );
  if (report.upward.length + report.loops.length + report.undeclared.length > 0) Deno.exit(1);
}
