/**
 * The hot path against its ceiling (issue 26): the appliance and the ideal server
 * (bench/ideal_server.ts) on both I/O APIs, in the same run, in closed loops at each C:
 *
 * - `barcode`: tills' `getGoods` {"code"} (the 12 packaged demo goods, each till its own);
 * - `gid`: tills' `getGoods` {"gid"};
 * - `mac`: C shelf labels, each bound to its own MAC, asking `getGoods` {"mac_id"} (GBK reply; the
 *   appliance also records what the label now shows, as in the field);
 * - `paymix`: tills scanning 4 goods by barcode, then `getPayInfo` for them (1 request in 5).
 *
 * With `--baseline DIR` (a checkout of an older commit, e.g. a git worktree) the appliance of that
 * checkout is measured too, alternating with this one. With `--profile DIR` each appliance run
 * writes a CPU profile there and the report shows its split (bench/profile_split.ts).
 *
 * @module
 */
import { encodeFrame } from "../src/protocol/frame.ts";
import type { JsonObject } from "../src/protocol/body.ts";
import { type Catalogue, fetchCatalogue, labelMac, writeCatalogue } from "./_catalogue.ts";
import {
  closeDevices,
  closedLoop,
  type LoadDevice,
  type LoopResult,
  openDevices,
  quantile,
} from "./_load.ts";
import { type ServerProcess, startApplianceProcess, startIdeal } from "./_processes.ts";
import type { BenchContext } from "./_report.ts";
import { PARTS, splitProfile, splitRow } from "./profile_split.ts";

/** The workloads, by name. */
export const WORKLOADS = ["barcode", "gid", "mac", "paymix"] as const;
type Workload = (typeof WORKLOADS)[number];

const encoder = new TextEncoder();
const json = (value: unknown) => encoder.encode(JSON.stringify(value));

// The demo's packaged goods (counted, not weighed): 9–20.
const PACKAGED = Array.from({ length: 12 }, (_, i) => 9 + i);

interface Load {
  prefix: string;
  frameFor(device: LoadDevice, n: number): Uint8Array;
  asked(device: LoadDevice, n: number): string;
}

function deviceIndex(device: LoadDevice): number {
  return Number(device.equipId.slice(-5));
}

/** What each device of a workload sends. Frames that never change are encoded once. */
function load(workload: Workload, catalogue: Catalogue): Load {
  const fixed = new Map<LoadDevice, Uint8Array>();
  const once = (device: LoadDevice, make: () => Uint8Array) => {
    let frame = fixed.get(device);
    if (!frame) fixed.set(device, frame = make());
    return frame;
  };
  const byGid = new Map(catalogue.goods.map((g) => [Number(g.gid), g]));
  const code = (gid: number) => String(byGid.get(gid)?.scanCode);
  const getGoods = (device: LoadDevice, body: JsonObject) =>
    encodeFrame({ action: "getGoods", uniqueId: device.uniqueId }, json(body), "le");
  switch (workload) {
    case "barcode":
      return {
        prefix: "POS_H",
        frameFor: (d) =>
          once(d, () => getGoods(d, { code: code(PACKAGED[deviceIndex(d) % PACKAGED.length]) })),
        asked: () => "getGoods",
      };
    case "gid":
      return {
        prefix: "POS_H",
        frameFor: (d) =>
          once(d, () => getGoods(d, { gid: PACKAGED[deviceIndex(d) % PACKAGED.length] })),
        asked: () => "getGoods",
      };
    case "mac":
      return {
        prefix: "DZBQ_H",
        frameFor: (d) => once(d, () => getGoods(d, { mac_id: labelMac(deviceIndex(d)) })),
        asked: () => "getGoods",
      };
    case "paymix":
      return {
        prefix: "POS_H",
        frameFor: (d, n) => {
          const i = deviceIndex(d);
          const basket = [0, 1, 2, 3].map((k) => PACKAGED[(i + k) % PACKAGED.length]);
          const step = n % 5;
          if (step < 4) return getGoods(d, { code: code(basket[step]) });
          const cents = basket.reduce(
            (sum, gid) => sum + Math.round(Number(byGid.get(gid)?.price) * 100),
            0,
          );
          const order = {
            order_id: `H${n}`,
            totalPrice: cents / 100,
            goods: basket.map((gid) => ({ gid, qty: 1 })),
          };
          return encodeFrame({ action: "getPayInfo", uniqueId: d.uniqueId }, json(order), "le");
        },
        asked: (_d, n) => n % 5 === 4 ? "getPayInfo" : "getGoods",
      };
  }
}

/** A closed loop's result and the server's CPU time per recorded request (µs). */
interface Measured extends LoopResult {
  cpuUsPerRequest: number;
}

async function measure(
  server: ServerProcess,
  c: number,
  seconds: number,
  work: Load,
  settle: boolean,
): Promise<Measured> {
  const devices = await openDevices(server.port, c, { prefix: work.prefix, concurrency: 500 });
  try {
    // The logins' own database work settles first: the login storm is measured on its own.
    if (settle && c >= 100) await new Promise((r) => setTimeout(r, 2000));
    // CPU is read when the recorded part of the loop starts (after its 1 s warm-up) and at its end.
    let cpuStart = 0;
    const warm = setTimeout(async () => cpuStart = await server.cpuMs(), 1000);
    const result = await closedLoop(devices, work.frameFor, seconds, 1, work.asked);
    clearTimeout(warm);
    const cpu = await server.cpuMs() - cpuStart;
    return { ...result, cpuUsPerRequest: (1000 * cpu) / result.requests };
  } finally {
    closeDevices(devices);
  }
}

const ms = (v: number) => v.toFixed(v < 10 ? 2 : 1);

/** The `hotpath` scenario. */
export async function hotpath(ctx: BenchContext): Promise<void> {
  const counts = ctx.counts ?? [100, 1000];
  const seconds = ctx.quick ? 3 : 8;
  const workloads = (ctx.workloads ?? [...WORKLOADS]) as Workload[];
  for (const w of workloads) if (!WORKLOADS.includes(w)) throw new Error(`unknown workload ${w}`);
  const dir = await Deno.makeTempDir({ prefix: "newretail-bench-hotpath-" });
  try {
    const catalogueFile = `${dir}/catalogue.json`;
    const first = await startApplianceProcess({ backend: ctx.backends[0] });
    let catalogue: Catalogue;
    try {
      catalogue = await fetchCatalogue(first.port);
    } finally {
      await first.stop();
    }
    await writeCatalogue(catalogueFile, catalogue);

    const appliances: { name: string; backend: "postgres" | "pglite"; root?: string }[] = [];
    for (const backend of ctx.backends) {
      if (ctx.baseline) appliances.push({ name: `${backend} (base)`, backend, root: ctx.baseline });
      appliances.push({ name: backend, backend });
    }
    const profiles: (string | number)[][] = [];
    for (const workload of workloads) {
      const rows: (string | number)[][] = [];
      for (const c of counts) {
        const work = load(workload, catalogue);
        const labels = workload === "mac" ? c : 0;
        const results: { name: string; r: Measured }[] = [];
        for (const io of ["node", "deno"] as const) {
          const server = await startIdeal(io, catalogueFile, labels);
          try {
            results.push({
              name: `ideal (${io === "node" ? "node:net" : "Deno.listen"})`,
              r: await measure(server, c, seconds, work, false),
            });
          } finally {
            await server.stop();
          }
        }
        for (const a of appliances) {
          const profileDir = ctx.profile
            ? `${ctx.profile}/${workload}-${c}-${a.name.replace(/\W+/g, "_")}`
            : undefined;
          const server = await startApplianceProcess({
            backend: a.backend,
            root: a.root,
            labels,
            cpuProfileDir: profileDir,
          });
          try {
            results.push({ name: a.name, r: await measure(server, c, seconds, work, true) });
          } finally {
            await server.stop();
          }
          if (profileDir) {
            for await (const entry of Deno.readDir(profileDir)) {
              if (!entry.name.endsWith(".cpuprofile")) continue;
              const split = splitProfile(
                JSON.parse(await Deno.readTextFile(`${profileDir}/${entry.name}`)),
              );
              profiles.push([workload, c, a.name, ...splitRow(split)]);
            }
          }
        }
        const rate = (r: LoopResult) => r.requests / r.seconds;
        const best = Math.max(
          ...results.filter((x) => x.name.startsWith("ideal")).map((x) => rate(x.r)),
        );
        for (const { name, r } of results) {
          const p50 = quantile(r.latencies, 0.5);
          const p99 = quantile(r.latencies, 0.99);
          rows.push([
            c,
            name,
            Math.round(rate(r)),
            (rate(r) / best).toFixed(2),
            ms(p50),
            ms(p99),
            (p99 / p50).toFixed(2),
            r.errors,
            r.cpuUsPerRequest.toFixed(1),
          ]);
        }
      }
      ctx.report.table(
        `Hot path: ${TITLES[workload]}`,
        `${
          INTROS[workload]
        } C devices in closed loops, ${seconds} s after 1 s of warm-up. "vs ideal" is requests/s over the faster ideal server's at the same C. Latencies in ms; "errors": replies that were not a success; "CPU µs/req": the server process's CPU time (user + system, all threads) per request.`,
        ["C", "server", "req/s", "vs ideal", "p50", "p99", "p99/p50", "errors", "CPU µs/req"],
        rows,
      );
    }
    if (profiles.length > 0) {
      ctx.report.table(
        "Hot path: where the appliance's time goes",
        "Each appliance run above profiled (`deno run --cpu-prof`, the whole process: start-up, logins and the loop), split by bench/profile_split.ts: each sample goes to the innermost frame that belongs to a part. Percent of busy (non-idle) time.",
        ["workload", "C", "server", ...PARTS],
        profiles,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const TITLES: Record<Workload, string> = {
  barcode: "getGoods by barcode",
  gid: "getGoods by gid",
  mac: "getGoods by mac_id (GBK)",
  paymix: "a till's basket (4 getGoods, 1 getPayInfo)",
};

const INTROS: Record<Workload, string> = {
  barcode: 'Tills send `getGoods` {"code"} for one of 12 goods each.',
  gid: 'Tills send `getGoods` {"gid"} for one of 12 goods each.',
  mac:
    'Shelf labels (DZBQ), each bound to its own MAC, send `getGoods` {"mac_id"}: a GBK reply; the appliance also records what the label now shows, as it must; the ideal server only encodes.',
  paymix:
    "Tills scan 4 goods (`getGoods` by barcode), then send `getPayInfo` for them (1 request in 5): the appliance stores each order durably with its payment-server call; the ideal server prices it in memory.",
};
