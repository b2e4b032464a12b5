/**
 * Scenarios beyond plain look-ups: the price push (bench/push_bench.ts, run per backend) and
 * payment orders against a payment-server stand-in.
 *
 * @module
 */
import type { BenchContext } from "./_report.ts";
import { encodeFrame } from "../src/protocol/frame.ts";
import { closeDevices, closedLoop, openDevices, quantile } from "./_load.ts";
import { ensureTemplate, startApplianceProcess, startEcho } from "./_processes.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Price push: UPDATE → last of 1,000 labels acknowledged, against raw fan-out; 5,000-goods burst. */
async function push(ctx: BenchContext) {
  const parts: string[] = [];
  for (const backend of ctx.backends) {
    const env: Record<string, string> = { NO_COLOR: "1" };
    if (backend === "pglite") env.DATABASE_URL = "";
    const args = ["run", "-A", "--v8-flags=--expose-gc", `${ROOT}bench/push_bench.ts`];
    if (ctx.quick) args.push("--labels", "200", "--burst", "1000", "--rounds", "2");
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      env,
      stdout: "piped",
      stderr: "inherit",
    })
      .output();
    const text = new TextDecoder().decode(out.stdout).trim();
    parts.push(`### ${backend}\n\n\`\`\`\n${text}\n\`\`\``);
    console.log(text);
  }
  ctx.report.text(
    "Price push (sendGoods)",
    "From bench/push_bench.ts (one process: the appliance in-process, labels on loopback). Fan-out: time from one price `UPDATE` made by plain SQL to the last shelf label receiving and acknowledging its GBK `sendGoods`, against the raw fan-out of the same frames through the server's push path (no database, no worker), each push round followed by its raw round, both starting on a collected heap: the median of the rounds' ratios, and the push against raw rounds run back to back (faster than one right after a push round, so the stricter ratio). Burst: a promotion changing 5,000 prices in one transaction, delivered to a scale, while POS devices keep asking `getGoods` at 10/s each.\n\n" +
      parts.join("\n\n"),
  );
}

/** getPayInfo throughput with the payment server stand-in answering. */
async function payment(ctx: BenchContext) {
  const c = 100;
  const seconds = ctx.quick ? 3 : 8;
  const calls = { n: 0 };
  const standIn = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.text();
    calls.n++;
    return Response.json({ code: 0 });
  });
  const rows: (string | number)[][] = [];
  try {
    const body = new TextEncoder().encode('{"code":"6901234500011"}');
    const echoServer = await startEcho("node");
    let echoRate: number;
    try {
      const devices = await openDevices(echoServer.port, c, { login: false });
      const r = await closedLoop(
        devices,
        (d) => encodeFrame({ action: "getGoods", uniqueId: d.uniqueId }, body, "le"),
        seconds,
      );
      closeDevices(devices);
      echoRate = r.requests / r.seconds;
      rows.push([
        "echo",
        Math.round(echoRate),
        "1.00",
        quantile(r.latencies, 0.5).toFixed(2),
        quantile(r.latencies, 0.99).toFixed(2),
        "-",
      ]);
    } finally {
      await echoServer.stop();
    }
    for (const backend of ctx.backends) {
      const before = calls.n;
      const app = await startApplianceProcess({
        backend,
        env: { NEWRETAIL_PAYMENT_SERVER_URL: `http://127.0.0.1:${standIn.addr.port}/pay` },
      });
      try {
        const devices = await openDevices(app.port, c, { prefix: "POS_P" });
        await new Promise((r) => setTimeout(r, 2000)); // let the login work settle
        const r = await closedLoop(devices, (d, n) => {
          const order = {
            order_id: `${d.equipId}-${n}`,
            totalPrice: 5.5,
            goods: [{ gid: 9, price: 2, qty: 1 }, { gid: 10, price: 3.5, qty: 1 }],
          };
          return encodeFrame(
            { action: "getPayInfo", uniqueId: d.uniqueId },
            new TextEncoder().encode(JSON.stringify(order)),
            "le",
          );
        }, seconds);
        closeDevices(devices);
        const rate = r.requests / r.seconds;
        rows.push([
          backend,
          Math.round(rate),
          (rate / echoRate).toFixed(2),
          quantile(r.latencies, 0.5).toFixed(2),
          quantile(r.latencies, 0.99).toFixed(2),
          calls.n - before,
        ]);
      } finally {
        await app.stop();
      }
    }
  } finally {
    await standIn.shutdown();
  }
  ctx.report.table(
    "Payment orders: getPayInfo",
    `${c} POS devices in closed loops, each \`getPayInfo\` a new order of 2 lines (priced from the catalogue, stored with its lines and its payment-server call in one transaction); the payment server stand-in (local HTTP) answers every POST at once. "calls" = POSTs the stand-in received during the run (the outbox works in the background). Echo = the framed echo server at the same C.`,
    ["server", "req/s", "vs echo", "p50 ms", "p99 ms", "calls"],
    rows,
  );
}

/**
 * Start-up time (spawn → device port open) and peak RSS: a new store from the shipped template,
 * a new store running initdb (the template moved aside for the run), and a restart; PostgreSQL
 * started on an existing database for reference.
 */
async function startup(ctx: BenchContext) {
  const template = await ensureTemplate();
  const mb = (b: number) => (b / 1048576).toFixed(0);
  const rows: (string | number)[][] = [];
  const timed = async (label: string, start: () => ReturnType<typeof startApplianceProcess>) => {
    const t0 = performance.now();
    const app = await start();
    const elapsed = performance.now() - t0;
    // The demo catalogue is loaded before the port opens: this peak includes it.
    await new Promise((r) => setTimeout(r, 1000));
    rows.push([label, Math.round(elapsed), mb(await app.rss()), mb(await app.peakRss())]);
    await app.stop();
    return elapsed;
  };
  if (ctx.backends.includes("pglite")) {
    const dirs: string[] = [];
    const newDir = async () => {
      dirs.push(await Deno.makeTempDir({ prefix: "newretail-bench-start-" }));
      return dirs.at(-1)!;
    };
    const aside = `${template}.aside`;
    try {
      // Twice each, alternating: on a shared machine one start alone says little.
      const first: number[] = [];
      const again: number[] = [];
      for (let round = 1; round <= 2; round++) {
        const stateDir = await newDir();
        first.push(
          await timed(
            `pglite: new store, from the template (${round})`,
            () => startApplianceProcess({ backend: "pglite", stateDir }),
          ),
        );
        again.push(
          await timed(
            `pglite: restart (${round})`,
            () => startApplianceProcess({ backend: "pglite", stateDir }),
          ),
        );
      }
      await Deno.rename(template, aside);
      try {
        const bare = await newDir();
        await timed(
          "pglite: new store, initdb (no template)",
          () => startApplianceProcess({ backend: "pglite", stateDir: bare }),
        );
      } finally {
        await Deno.rename(aside, template);
      }
      const best = (xs: number[]) => Math.min(...xs);
      rows.push([
        "(first start from the template vs restart, best of 2 each)",
        `${(best(first) / best(again)).toFixed(2)}×`,
        "",
        "",
      ]);
    } finally {
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    }
  }
  if (ctx.backends.includes("postgres")) {
    await timed(
      "postgres: new database (created and seeded by a separate process first, included)",
      () => startApplianceProcess({ backend: "postgres" }),
    );
  }
  ctx.report.table(
    "Start-up",
    "Time from spawning `main.ts serve` to its device port accepting, and RSS 1 s later / peak (VmHWM), in ms and MiB. A new embedded store loads the demo catalogue before the port opens.",
    ["start", "ms", "RSS", "peak RSS"],
    rows,
  );
}

/** Name → scenario. */
export const EXTRA_SCENARIOS: Record<string, (ctx: BenchContext) => Promise<void>> = {
  push,
  payment,
  startup,
};
