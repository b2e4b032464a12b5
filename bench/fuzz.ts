/**
 * The long fuzz run (issue 6): at least 1,000,000 inputs. The frame decoder in-process (random and
 * mutated frame streams, decoded whole and in random pieces), then fuzzed bodies and hostile
 * streams against a real appliance over TCP while a normal device keeps checking its answers.
 * Memory is sampled throughout. Exits 1 on the first broken property, printing its seed.
 *
 *   deno task fuzz [--seed N] [--decoder N] [--bodies N] [--streams N]
 *
 * Memory: the fuzz cases are garbage the moment they are checked (streams, their pieces, the
 * ProtocolError of every refused one), and V8 sizes its heap limit from the machine's memory: on
 * 24 GB it let that garbage pile up to ~1 GB before a full collection, which looked like a leak
 * (223 → 1,042 MB in 90 s) while the live heap stayed at ~5 MB. The task therefore runs with a
 * bounded heap (`--max-old-space-size`: a real leak ends the run with an out-of-memory error) and
 * `--expose-gc`, and each sample is taken after a full collection: what it reports is what lives.
 *
 * PostgreSQL when `DATABASE_URL` is set (a fresh database, dropped at the end), else PGlite in a
 * temporary directory. The suite runs a small fixed-seed share of the same code
 * (`tests/fuzz_test.ts`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startAppliance } from "../src/app.ts";
import { defaultConfig } from "../src/config/config.ts";
import { createLogger } from "../src/log.ts";
import { seedDemo } from "../src/store/demo.ts";
import { createPostgresDatabase, testPostgresUrl } from "../tests/_support/databases.ts";
import { runDecoderFuzz, runTcpFuzz } from "../tests/_support/fuzz_run.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string", default: "20261129" },
    decoder: { type: "string", default: "1000000" },
    bodies: { type: "string" },
    streams: { type: "string", default: "20000" },
  },
});
const seed = Number(values.seed);
const pgUrl = testPostgresUrl();
const decoderInputs = Number(values.decoder);
// PGlite answers in tens of milliseconds here: fewer bodies keep the run within minutes.
const bodies = Number(values.bodies ?? (pgUrl ? 100_000 : 20_000));
const streams = Number(values.streams);

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
const memory: { at: string; rss: number; heap: number }[] = [];
const collect = (globalThis as { gc?: () => void }).gc;
function sample(at: string): void {
  collect?.();
  const m = Deno.memoryUsage();
  memory.push({ at, rss: m.rss, heap: m.heapUsed });
}
const say = (line: string) => console.log(`[fuzz] ${line}`);

say(`seed ${seed}; decoder ${decoderInputs}, bodies ${bodies}, streams ${streams}`);
sample("start");

const started = performance.now();
const batch = 50_000;
const outcomes: Record<string, number> = {};
let decoded = 0;
for (let done = 0; done < decoderInputs; done += batch) {
  // Each batch its own seed: a failure names the batch seed and the case index within it.
  const stats = runDecoderFuzz(seed + done, Math.min(batch, decoderInputs - done));
  decoded += stats.inputs;
  for (const [k, v] of Object.entries(stats.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  sample(`decoder ${decoded}`);
  if (decoded % 200_000 === 0 || decoded === decoderInputs) {
    say(`decoder: ${decoded} inputs, rss ${mb(memory.at(-1)!.rss)}`);
  }
}
const decoderSeconds = (performance.now() - started) / 1000;
say(`decoder done in ${decoderSeconds.toFixed(0)} s: ${JSON.stringify(outcomes)}`);

// The appliance, in this process, logging warnings and errors to a counter (not to memory).
let errorLines = 0;
const errors: string[] = [];
const log = createLogger({
  level: "warn",
  write: (line) => {
    if (line.includes('"level":"error"')) {
      errorLines++;
      if (errors.length < 5) errors.push(line);
    }
  },
});
const config = {
  ...defaultConfig(),
  host: "127.0.0.1",
  port: 0,
  discoveryEnabled: false,
  adminEnabled: false,
  logLevel: "warn" as const,
};
let dispose: () => Promise<void>;
if (pgUrl) {
  const created = await createPostgresDatabase(pgUrl);
  config.databaseUrl = created.url;
  dispose = created.drop;
} else {
  const stateDir = await Deno.makeTempDir({ prefix: "newretail-fuzz-" });
  config.databaseUrl = "";
  config.stateDir = stateDir;
  dispose = () => Deno.remove(stateDir, { recursive: true });
}
const app = await startAppliance({ config, configSources: ["bench"], log });
if (pgUrl) await seedDemo(app.db);
say(`appliance on ${app.db.kind}, port ${app.server.addr.port}`);
sample("tcp start");
const tcpStarted = performance.now();
let failed = false;
try {
  const stats = await runTcpFuzz({
    port: app.server.addr.port,
    seed,
    bodies,
    streams,
    onProgress: (s) => {
      sample(`tcp ${s.bodies}/${s.streams}`);
      say(`tcp: ${s.bodies} bodies, ${s.streams} streams, rss ${mb(memory.at(-1)!.rss)}`);
    },
  });
  sample("tcp end");
  const tcpSeconds = (performance.now() - tcpStarted) / 1000;
  say(`tcp done in ${tcpSeconds.toFixed(0)} s: ${JSON.stringify(stats)}`);
  if (errorLines > 0) {
    failed = true;
    say(`the server logged ${errorLines} errors, e.g.:\n${errors.join("\n")}`);
  }
  const total = decoded + stats.bodies + stats.streams;
  const peak = memory.reduce((a, b) => (b.rss > a.rss ? b : a));
  const tcpStart = memory.find((m) => m.at === "tcp start")!;
  const tcpEnd = memory.at(-1)!;
  console.log(
    `
fuzz run, seed ${seed}
  inputs:          ${total} (decoder ${decoded}, bodies ${stats.bodies}, streams ${stats.streams})
  decoder:         ${decoderSeconds.toFixed(0)} s, outcomes ${JSON.stringify(outcomes)}
  over TCP:        ${((performance.now() - tcpStarted) / 1000).toFixed(0)} s on ${app.db.kind}; ` +
      `${stats.bodyExceptions} bodies refused with an exception; ${stats.streamReplies} replies on hostile streams; ` +
      `${stats.normalRequests} normal-device requests, all answered as before
  memory (rss):    start ${mb(memory[0].rss)}, peak ${mb(peak.rss)} (${peak.at}), ` +
      `TCP phase ${mb(tcpStart.rss)} -> ${mb(tcpEnd.rss)}; heap ${mb(tcpStart.heap)} -> ${
        mb(tcpEnd.heap)
      }
  result:          ${failed ? "FAILED" : "no crash, no hang, no wrong answer"}`,
  );
} catch (e) {
  failed = true;
  console.error(`[fuzz] FAILED: ${(e as Error).message}`);
} finally {
  await app.shutdown();
  await dispose();
}
Deno.exit(failed ? 1 : 0);
