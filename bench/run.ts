/**
 * `deno task bench`: measures the appliance against baselines started in the same run (the ideal
 * getGoods server, a minimal framed echo server) and prints the report. Loopback only, bounded in
 * connections and time.
 *
 * Usage: deno run -A bench/run.ts [--quick] [--only NAME[,NAME]] [--write | --out FILE]
 * Scenarios: hotpath, fairness, throughput, storm, memory, openloop, push, payment, startup.
 * `--counts N[,N]` replaces the connection counts of hotpath, throughput, storm and memory;
 * `--workloads barcode,gid,mac,paymix` picks the hot path's workloads; `--baseline DIR` also
 * measures the appliance of another checkout (a git worktree of an older commit), alternating;
 * `--profile DIR` keeps a CPU profile of each hot-path appliance run and reports its split.
 * The committed results are replaced only when asked: `--write` puts the report into
 * bench/RESULTS.md (between its "generated" markers, the text around them kept), `--out FILE`
 * writes it to FILE.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { encodeFrame } from "../src/protocol/frame.ts";
import {
  closeDevices,
  closedLoop,
  type LoadDevice,
  type LoopResult,
  openDevices,
  openLoop,
  quantile,
} from "./_load.ts";
import {
  ensureTemplate,
  type ServerProcess,
  startApplianceProcess,
  startEcho,
} from "./_processes.ts";
import { EXTRA_SCENARIOS } from "./_scenarios.ts";
import { hotpath } from "./_hotpath.ts";
import { type BenchContext, Report } from "./_report.ts";

const GET_GOODS_BODY = new TextEncoder().encode('{"code":"6901234500011"}');

function getGoodsFrame(device: LoadDevice): Uint8Array {
  return encodeFrame(
    { action: "getGoods", uniqueId: device.uniqueId || "x" },
    GET_GOODS_BODY,
    "le",
  );
}

const ms = (v: number) => v.toFixed(v < 10 ? 2 : 1);
const ratio = (a: number, b: number) => (a / b).toFixed(2);
const rate = (r: LoopResult) => r.requests / r.seconds;

async function withServer<T>(
  start: () => Promise<ServerProcess>,
  fn: (s: ServerProcess) => Promise<T>,
) {
  const server = await start();
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

async function loop(server: ServerProcess, connections: number, seconds: number, login: boolean) {
  const devices = await openDevices(server.port, connections, { login, prefix: "POS_B" });
  try {
    // The logins' own database work (registration, owed results, kept pushes) settles first:
    // the login storm is measured on its own.
    if (login && connections >= 100) await new Promise((r) => setTimeout(r, 2000));
    return await closedLoop(devices, getGoodsFrame, seconds);
  } finally {
    closeDevices(devices);
  }
}

/** getGoods by barcode, closed loops, against echo, per connection count and backend. */
async function throughput(ctx: BenchContext) {
  const counts = ctx.counts ?? (ctx.quick ? [1, 100, 1000] : [1, 100, 1000, 10_000]);
  const seconds = ctx.quick ? 3 : 8;
  const rows: (string | number)[][] = [];
  for (const c of counts) {
    const echo = await withServer(() => startEcho("node"), (s) => loop(s, c, seconds, false));
    rows.push([
      c,
      "echo",
      Math.round(rate(echo)),
      "1.00",
      ms(quantile(echo.latencies, 0.5)),
      ms(quantile(echo.latencies, 0.99)),
      ms(quantile(echo.latencies, 0.999)),
      ratio(quantile(echo.latencies, 0.99), quantile(echo.latencies, 0.5)),
    ]);
    for (const backend of ctx.backends) {
      const r = await withServer(
        () => startApplianceProcess({ backend }),
        (s) => loop(s, c, seconds, true),
      );
      rows.push([
        c,
        backend,
        Math.round(rate(r)),
        ratio(rate(r), rate(echo)),
        ms(quantile(r.latencies, 0.5)),
        ms(quantile(r.latencies, 0.99)),
        ms(quantile(r.latencies, 0.999)),
        ratio(quantile(r.latencies, 0.99), quantile(r.latencies, 0.5)),
      ]);
    }
  }
  ctx.report.table(
    "getGoods by barcode, closed loop",
    `C devices each send \`getGoods\` {"code": …} and wait for the reply, for ${seconds} s after 1 s of warm-up. "vs echo" is requests/s as a ratio of the echo baseline at the same C. Latencies in ms.`,
    ["C", "server", "req/s", "vs echo", "p50", "p99", "p999", "p99/p50"],
    rows,
  );
}

/** Why the server reads with node:net: the same echo loop on Deno.listen vs node:net. */
async function fairness(ctx: BenchContext) {
  const c = 1000;
  const seconds = ctx.quick ? 3 : 6;
  const rows: (string | number)[][] = [];
  for (const busy of [false, true]) {
    // A process spinning on one core stands for the rest of a store PC (PostgreSQL, the OS).
    const spinner = busy
      ? new Deno.Command(Deno.execPath(), { args: ["eval", "for (;;) {}"], stdout: "null" }).spawn()
      : undefined;
    try {
      for (const mode of ["deno", "deno-queued", "node"]) {
        const r = await withServer(() => startEcho(mode), (s) => loop(s, c, seconds, false));
        rows.push([
          mode,
          busy ? "one core busy" : "quiet",
          Math.round(rate(r)),
          ms(quantile(r.latencies, 0.5)),
          ms(quantile(r.latencies, 0.99)),
          ratio(quantile(r.latencies, 0.99), quantile(r.latencies, 0.5)),
        ]);
      }
    } finally {
      spinner?.kill();
      await spinner?.status;
    }
  }
  ctx.report.table(
    "Fairness: how connections are read",
    `The echo server at C = ${c}, read three ways: \`deno\` = \`Deno.listen\` and an \`await conn.read()\` / \`await conn.write()\` loop per connection; \`deno-queued\` = the same without awaiting writes; \`node\` = \`node:net\` sockets with \`data\` events (what the appliance uses). Once on a quiet machine, once with another process spinning on one of the two cores.`,
    ["reader", "machine", "req/s", "p50 ms", "p99 ms", "p99/p50"],
    rows,
  );
}

/** Login storm: C devices connect and log in at once. */
async function storm(ctx: BenchContext) {
  const counts = ctx.counts ?? (ctx.quick ? [100, 1000] : [1, 100, 1000, 10_000]);
  const rows: (string | number)[][] = [];
  const timeStorm = async (server: ServerProcess, c: number, login: boolean) => {
    const t0 = performance.now();
    const devices = await openDevices(server.port, c, {
      login,
      concurrency: 1000,
      prefix: "DZBQ_S",
    });
    const elapsed = performance.now() - t0;
    if (!login) {
      // The echo "login": one frame and its reply per connection.
      await Promise.all(devices.map((d) => d.request(getGoodsFrame(d))));
    }
    const total = performance.now() - t0;
    closeDevices(devices);
    return login ? elapsed : total;
  };
  for (const c of counts) {
    const echo = await withServer(() => startEcho("node"), (s) => timeStorm(s, c, false));
    const row: (string | number)[] = [c, ms(echo)];
    for (const backend of ctx.backends) {
      const t = await withServer(
        () => startApplianceProcess({ backend }),
        (s) => timeStorm(s, c, true),
      );
      row.push(ms(t), ratio(t, echo));
    }
    rows.push(row);
  }
  ctx.report.table(
    "Login storm (a power cut)",
    "Time in ms for C devices to connect and log in, at most 1,000 connecting at a time (the kernel's accept backlog), each login registering the device and marking it online in the database. Echo: connect and one request/reply per connection.",
    ["C", "echo ms", ...ctx.backends.flatMap((b) => [`${b} ms`, `${b} vs echo`])],
    rows,
  );
}

/** RSS with C idle logged-in devices, heartbeats running. */
async function memory(ctx: BenchContext) {
  const counts = ctx.counts ?? (ctx.quick ? [1000] : [1, 100, 1000, 10_000]);
  const holdS = ctx.quick ? 4 : 12;
  const rows: (string | number)[][] = [];
  const hold = async (server: ServerProcess, c: number, login: boolean) => {
    const before = await server.rss();
    const devices = await openDevices(server.port, c, {
      login,
      concurrency: 1000,
      prefix: "DZBQ_M",
    });
    await new Promise((r) => setTimeout(r, holdS * 1000));
    const after = await server.rss();
    const peak = await server.peakRss();
    const alive = devices.filter((d) => !d.closed).length;
    closeDevices(devices);
    return { before, after, peak, alive };
  };
  const mb = (b: number) => (b / 1048576).toFixed(0);
  for (const c of counts) {
    const echo = await withServer(() => startEcho("node"), (s) => hold(s, c, false));
    const row: (string | number)[] = [c, mb(echo.after)];
    for (const backend of ctx.backends) {
      const r = await withServer(
        () => startApplianceProcess({ backend, env: { NEWRETAIL_HEARTBEAT_INTERVAL_S: "2" } }),
        (s) => hold(s, c, true),
      );
      row.push(mb(r.before), mb(r.after), mb(r.peak), `${r.alive}/${c}`);
    }
    rows.push(row);
  }
  ctx.report.table(
    "Memory: idle logged-in devices",
    `RSS in MiB of the server process after C devices logged in and stayed ${holdS} s with the server's heartbeat every 2 s (answered); "peak" is the process's highest RSS since it started on a fresh database with the demo catalogue (VmHWM). "alive" counts devices still connected at the end.`,
    [
      "C",
      "echo RSS",
      ...ctx.backends.flatMap((b) => [
        `${b} RSS idle`,
        `${b} RSS with C`,
        `${b} peak`,
        `${b} alive`,
      ]),
    ],
    rows,
  );
}

/** Open loop: 10,000 devices, one request every 10 s each, heartbeats running. */
async function openloop(ctx: BenchContext) {
  const c = ctx.quick ? 2000 : 10_000;
  const seconds = ctx.quick ? 10 : 30;
  const rows: (string | number)[][] = [];
  const run = async (server: ServerProcess, login: boolean) => {
    const devices = await openDevices(server.port, c, {
      login,
      concurrency: 1000,
      prefix: "POS_O",
    });
    try {
      return await openLoop(devices, getGoodsFrame, 10, seconds);
    } finally {
      closeDevices(devices);
    }
  };
  const echo = await withServer(() => startEcho("node"), (s) => run(s, false));
  rows.push([
    "echo",
    echo.requests,
    ms(quantile(echo.latencies, 0.5)),
    ms(quantile(echo.latencies, 0.99)),
    ms(quantile(echo.latencies, 0.999)),
  ]);
  for (const backend of ctx.backends) {
    const r = await withServer(
      () => startApplianceProcess({ backend, env: { NEWRETAIL_HEARTBEAT_INTERVAL_S: "10" } }),
      (s) => run(s, true),
    );
    rows.push([
      backend,
      r.requests,
      ms(quantile(r.latencies, 0.5)),
      ms(quantile(r.latencies, 0.99)),
      ms(quantile(r.latencies, 0.999)),
    ]);
  }
  ctx.report.table(
    "Open loop: a real store's load",
    `${c} logged-in devices, each sending one \`getGoods\` every 10 s at its own phase (${
      c / 10
    } requests/s in all) for ${seconds} s, with the server's heartbeat every 10 s. Latency in ms from the scheduled send time (no coordinated omission).`,
    ["server", "requests", "p50", "p99", "p999"],
    rows,
  );
}

const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<void>> = {
  hotpath,
  fairness,
  throughput,
  storm,
  memory,
  openloop,
  ...EXTRA_SCENARIOS,
};

const BEGIN = "<!-- generated by deno task bench --write: begin -->";
const END = "<!-- generated by deno task bench --write: end -->";

/** Sections of a run go one heading level down (under the run's own heading). */
function demote(section: string): string {
  return section.replace(/^(#+) /gm, "#$1 ");
}

/** `results` with the text between the generated markers replaced (appended when absent). */
export function withGenerated(results: string, report: string): string {
  const begin = results.indexOf(BEGIN);
  const end = results.indexOf(END);
  const block = `${BEGIN}\n\n${report.trim()}\n\n${END}`;
  if (begin < 0 || end < begin) return `${results.trimEnd()}\n\n${block}\n`;
  return results.slice(0, begin) + block + results.slice(end + END.length);
}

/** The 1-, 5- and 15-minute load averages. */
async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
}

async function describeMachine(load: { start: string; end: string }): Promise<string> {
  const cpu = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1] ?? "?";
  const mem = Number(/MemTotal:\s+(\d+)/.exec(await Deno.readTextFile("/proc/meminfo"))?.[1] ?? 0);
  const cores = navigator.hardwareConcurrency;
  let pg = "not used";
  const url = Deno.env.get("DATABASE_URL");
  if (url) {
    const out = await new Deno.Command("psql", {
      args: [url, "-Atc", "show server_version"],
      stdout: "piped",
      stderr: "null",
    }).output().catch(() => undefined);
    pg = out?.success
      ? `PostgreSQL ${new TextDecoder().decode(out.stdout).trim()} on loopback`
      : "PostgreSQL (version unknown)";
  }
  return [
    `- CPU: ${cpu}, ${cores} cores; memory ${(mem / 1048576).toFixed(0)} GiB`,
    `- Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${Deno.build.target}`,
    `- database: ${pg}; PGlite 0.5.17 embedded`,
    `- load generator: one Deno process (bench/_load.ts, node:net clients) on the same machine; each server in its own child process`,
    `- load average (1, 5, 15 min): ${load.start} at the start, ${load.end} at the end (the load generator and the server under test count for about 2)`,
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      only: { type: "string" },
      out: { type: "string" },
      write: { type: "boolean" },
      backends: { type: "string" },
      counts: { type: "string" },
      workloads: { type: "string" },
      baseline: { type: "string" },
      profile: { type: "string" },
    },
  });
  const names = values.only ? values.only.split(",") : Object.keys(SCENARIOS);
  for (const name of names) if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}`);
  const backends = (values.backends?.split(",") ??
    (Deno.env.get("DATABASE_URL") ? ["postgres", "pglite"] : ["pglite"])) as (
      | "postgres"
      | "pglite"
    )[];
  const report = new Report();
  const counts = values.counts?.split(",").map(Number);
  const ctx: BenchContext = {
    quick: values.quick ?? false,
    backends,
    report,
    counts,
    workloads: values.workloads?.split(","),
    baseline: values.baseline,
    profile: values.profile,
  };
  if (ctx.profile) await Deno.mkdir(ctx.profile, { recursive: true });
  if (backends.includes("pglite")) await ensureTemplate();
  const started = new Date();
  const loadAtStart = await loadAverage();
  for (const name of names) {
    console.error(`[bench] ${name} …`);
    const t0 = performance.now();
    await SCENARIOS[name](ctx);
    console.error(`[bench] ${name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const header = [
    `## The run of ${started.toISOString().slice(0, 16).replace("T", " ")} UTC`,
    "",
    `\`deno task bench ${
      Deno.args.filter((a) => a !== "--write").join(" ")
    }\`. Every figure is against a baseline measured in the same run on the same machine: the ideal getGoods server (bench/ideal_server.ts) or the minimal framed echo server (bench/echo_server.ts: same framing and decoder, one fixed reply, nothing else).`,
    "",
    await describeMachine({ start: loadAtStart, end: await loadAverage() }),
  ].join("\n");
  const text = [header, ...report.sections.map(demote)].join("\n\n") + "\n";
  if (values.write) {
    const file = new URL("./RESULTS.md", import.meta.url).pathname;
    await Deno.writeTextFile(file, withGenerated(await Deno.readTextFile(file), text));
    console.error(`[bench] the report replaces the generated part of ${file}`);
  } else if (values.out) {
    await Deno.writeTextFile(values.out, text);
    console.error(`[bench] written to ${values.out}`);
  } else {
    console.error("[bench] bench/RESULTS.md left as it is (--write replaces its generated part)");
  }
}
