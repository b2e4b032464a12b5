/**
 * Splits a V8 CPU profile (`deno run --cpu-prof`) of the appliance into the parts of the request
 * path: each sample goes to the first frame, from the innermost outwards, that belongs to a part
 * (a sample in `JSON.stringify` called by `encodeBody` is encoding; one in a socket write called
 * by the session is writing). Used by `deno task bench --profile DIR` and on its own:
 *
 *   deno run -A bench/profile_split.ts FILE.cpuprofile [--top 20]
 *
 * @module
 */
import { parseArgs } from "node:util";

/** The parts, in the order they are reported. */
export const PARTS = [
  "read",
  "decode",
  "dispatch",
  "handler",
  "parity",
  "encode JSON",
  "encode GBK",
  "write",
  "database driver",
  "logging",
  "other JS",
  "runtime (native)",
  "GC",
] as const;

/** One part of the path. */
export type Part = (typeof PARTS)[number];

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** A `.cpuprofile` file's contents. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

// First match wins, per frame; a frame with no match defers to its caller.
function partOf(frame: CallFrame): Part | undefined {
  const { url, functionName: fn } = frame;
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(program)") return "runtime (native)";
  if (url.includes("iconv-lite")) return "encode GBK";
  if (url.endsWith("/src/protocol/frame.ts")) {
    return fn === "encodeFrame" ? "encode JSON" : "decode";
  }
  if (url.endsWith("/src/protocol/body.ts")) {
    return fn === "decodeBody" ? "decode" : "encode JSON";
  }
  if (url.endsWith("/src/pricing/parity.ts")) return "parity";
  if (
    url.endsWith("/src/server/dispatch.ts") || url.endsWith("/src/server/session.ts") ||
    url.endsWith("/src/deadline.ts") || url.endsWith("/src/metrics.ts") ||
    url.endsWith("/src/server/server_metrics.ts") || url.endsWith("/src/store/database.ts")
  ) return "dispatch";
  if (url.endsWith("/src/log.ts")) return "logging";
  if (
    url.includes("/src/actions/") || url.endsWith("/src/store/goods_cache.ts") ||
    url.endsWith("/src/goods_view.ts") || url.endsWith("/src/fields.ts") ||
    url.endsWith("/src/store/goods.ts") || url.endsWith("/src/scale_barcode.ts") ||
    url.includes("/src/pricing/") || url.endsWith("/src/decimal.ts")
  ) return "handler";
  if (url.includes("/postgres/") || url.includes("/src/store/")) return "database driver";
  if (
    url.startsWith("ext:deno_node") || url.startsWith("node:") || url.startsWith("ext:deno_net")
  ) {
    if (/write|Write|flush|writev|_final/.test(fn)) return "write";
    if (/read|Read|onStream|push|emit|addChunk/.test(fn)) return "read";
    return undefined;
  }
  return undefined;
}

/** Milliseconds per part, the total, and the busiest functions by self time. */
export interface ProfileSplit {
  ms: Record<Part | "idle", number>;
  /** Sampled time less idle. */
  busyMs: number;
  top: { name: string; part: Part; ms: number }[];
}

/** Splits a profile; `top` is how many functions to list. */
export function splitProfile(profile: CpuProfile, top = 20): ProfileSplit {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const partCache = new Map<number, Part>();
  const resolve = (id: number): Part => {
    const cached = partCache.get(id);
    if (cached) return cached;
    let part: Part | undefined;
    for (let at: number | undefined = id; at !== undefined && !part; at = parent.get(at)) {
      part = partOf(byId.get(at)!.callFrame);
    }
    part ??= "other JS";
    partCache.set(id, part);
    return part;
  };
  const ms = Object.fromEntries([...PARTS, "idle"].map((p) => [p, 0])) as ProfileSplit["ms"];
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") {
      ms.idle += dt;
      continue;
    }
    ms[resolve(id)] += dt;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const busyMs = PARTS.reduce((sum, p) => sum + ms[p], 0);
  const byName = new Map<string, { name: string; part: Part; ms: number }>();
  for (const [id, t] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = url
      ? `${url.replace(/^.*\/(src|bench|node_modules)\//, "$1/")}:${lineNumber + 1}`
      : "";
    const name = `${functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
    const entry = byName.get(name) ?? { name, part: resolve(id), ms: 0 };
    entry.ms += t;
    byName.set(name, entry);
  }
  const busiest = [...byName.values()].sort((a, b) => b.ms - a.ms).slice(0, top);
  return { ms, busyMs, top: busiest };
}

/** The split as Markdown: a row of percentages of busy time per part. */
export function splitRow(split: ProfileSplit): string[] {
  return PARTS.map((p) => `${(100 * split.ms[p] / split.busyMs).toFixed(1)}`);
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { top: { type: "string", default: "20" } },
  });
  for (const file of positionals) {
    const split = splitProfile(JSON.parse(await Deno.readTextFile(file)), Number(values.top));
    console.log(`${file}: busy ${split.busyMs.toFixed(0)} ms, idle ${split.ms.idle.toFixed(0)} ms`);
    for (const p of PARTS) {
      console.log(
        `  ${p.padEnd(18)} ${split.ms[p].toFixed(0).padStart(7)} ms  ${
          (100 * split.ms[p] / split.busyMs).toFixed(1).padStart(5)
        } %`,
      );
    }
    console.log("  busiest functions (self time):");
    for (const t of split.top) {
      console.log(`  ${t.ms.toFixed(0).padStart(7)} ms  ${t.part.padEnd(18)} ${t.name}`);
    }
  }
}
