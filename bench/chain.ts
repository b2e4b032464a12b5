/**
 * `deno task chain`: a chain of stores simulated on this machine (issue 27). N appliances (`main.ts
 * serve` processes, each on a PostgreSQL database of its own, admin on loopback, discovery off)
 * pull from one Odoo stand-in and publish their status on one MQTT broker; each store has a base
 * station with a few shelf labels (simulated here, answering sendGoods). It measures:
 *
 * - the Odoo request rate of the idle chain (per store and minute, by model and method);
 * - the broker's message rate (the chain's status messages, and the broker's own $SYS counters);
 * - the time from one price change in Odoo until every store's label confirmed it;
 * - the fleet view (`newretail fleet`) showing every store;
 * - K appliances killed (SIGKILL) and K frozen (SIGSTOP: a power cut, the socket left open), and
 *   how long until the fleet view shows each offline;
 * - CPU and memory of the appliances, and the machine's load;
 * - with Prometheus installed (`/usr/bin/prometheus`), one scraping every store keyed by `shop`:
 *   samples per store and scrape, and `up` after the kills.
 *
 * Flags: --stores N (50) --labels L (3) --idle-s S (120: the idle window) --keepalive-s K (15)
 * --kill K (5) --poll-s S (the appliance's odooPollS default) --out FILE (bench/chain-results.json).
 * Needs PostgreSQL's server binaries (it runs a cluster of its own) and MQTT_URL (the broker).
 * Everything it starts it stops, and it clears its retained messages.
 *
 * @module
 */
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import postgres from "postgres";
import { startOdooStandin } from "../tests/_support/odoo_standin.ts";
import { createPgCluster } from "../tests/_support/pg_cluster.ts";
import { DeviceClient } from "../src/device/client.ts";
import { parseStatus, type StoreStatus } from "../src/fleet/status.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    stores: { type: "string", default: "50" },
    labels: { type: "string", default: "3" },
    "idle-s": { type: "string", default: "120" },
    "keepalive-s": { type: "string", default: "15" },
    kill: { type: "string", default: "5" },
    "poll-s": { type: "string" },
    out: { type: "string", default: "bench/chain-results.json" },
  },
}).values;
const STORES = Number(args.stores);
const LABELS = Number(args.labels);
const IDLE_S = Number(args["idle-s"]);
const KEEPALIVE_S = Number(args["keepalive-s"]);
const KILL = Number(args.kill);
const MQTT_URL = Deno.env.get("MQTT_URL");
if (!MQTT_URL) {
  console.error("deno task chain needs MQTT_URL (a broker, e.g. mqtt://127.0.0.1:1883)");
  Deno.exit(2);
}
// A PostgreSQL server of the chain's own: up to 11 connections per appliance is more than a
// shared server admits (max_connections 100), and nobody else's tests see the load.
const cluster = await createPgCluster({ maxConnections: 15 * STORES + 20 });
await cluster.start();
const DATABASE_URL = cluster.url;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const TOPIC = `chainsim-${crypto.randomUUID().slice(0, 6)}/{shop}/status`;
const shopName = (i: number) => `chain${String(i + 1).padStart(3, "0")}`;
const say = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const results: Record<string, unknown> = {
  stores: STORES,
  labelsPerStore: LABELS,
  keepaliveS: KEEPALIVE_S,
  cores: navigator.hardwareConcurrency,
  startedAt: new Date().toISOString(),
};

// ---------------------------------------------------------------- processes and their cost
interface Store {
  i: number;
  shop: string;
  db: string;
  child: Deno.ChildProcess;
  port: number;
  adminPort: number;
  base?: DeviceClient;
  priceSeen?: number;
}

function procTicks(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}

function procRssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

const loadavg = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);

function quantiles(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return {
    n: s.length,
    min: s[0],
    median: q(0.5),
    p95: q(0.95),
    max: s[s.length - 1],
  };
}

// ---------------------------------------------------------------- the Odoo stand-in
const odoo = await startOdooStandin({ version: 17 });
const labelled: number[] = [];
for (let k = 0; k < LABELS; k++) {
  labelled.push(odoo.state.createProduct({
    name: `Chain goods ${k + 1}`,
    list_price: 10 + k,
    barcode: `69900000000${k}`,
  }));
}
const priced = labelled[0];
say(`Odoo stand-in at ${odoo.url}: ${odoo.state.all("product.product").length} products`);

// ---------------------------------------------------------------- databases
const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
const dbUrl = (name: string) => {
  const u = new URL(DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
};
const stores: Store[] = [];
const chainShops = new Set<string>();

// ---------------------------------------------------------------- the broker side
const watcher = await mqtt.connectAsync(MQTT_URL, {
  clientId: `chainsim-watch-${crypto.randomUUID().slice(0, 6)}`,
  reconnectPeriod: 0,
});
const latest = new Map<string, StoreStatus & { seenAt: number }>();
let statusMessages = 0;
const sys: Record<string, number> = {};
watcher.on("message", (topic, payload) => {
  if (topic.startsWith("$SYS/")) {
    sys[topic] = Number(payload.toString());
    return;
  }
  if (payload.byteLength === 0) return;
  const status = parseStatus(payload);
  if ("ignored" in status) return;
  statusMessages++;
  latest.set(status.shop, { ...status, seenAt: Date.now() });
});
await watcher.subscribeAsync(TOPIC.replace("{shop}", "+"), { qos: 1 });
await watcher.subscribeAsync(
  ["$SYS/broker/messages/received", "$SYS/broker/messages/sent", "$SYS/broker/clients/connected"],
  { qos: 0 },
);

async function waitUntil(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number) {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startStore(i: number): Promise<Store> {
  const shop = shopName(i);
  const db = `chainsim_${String(i + 1).padStart(3, "0")}`;
  await admin.unsafe(`create database ${db}`);
  const env: Record<string, string> = {
    NO_COLOR: "1",
    DATABASE_URL: dbUrl(db),
    NEWRETAIL_HOST: "127.0.0.1",
    NEWRETAIL_PORT: "0",
    NEWRETAIL_ADMIN_PORT: "0",
    NEWRETAIL_DISCOVERY: "false",
    NEWRETAIL_SHOP_ID: shop,
    NEWRETAIL_LOG_LEVEL: "info",
    NEWRETAIL_ODOO_URL: odoo.url,
    NEWRETAIL_ODOO_DB: odoo.db,
    NEWRETAIL_ODOO_USER: odoo.login,
    NEWRETAIL_ODOO_API_KEY: odoo.password,
    NEWRETAIL_CHAIN_MQTT_URL: MQTT_URL!,
    NEWRETAIL_CHAIN_STATUS_TOPIC: TOPIC,
    NEWRETAIL_CHAIN_KEEPALIVE_S: String(KEEPALIVE_S),
    ...(args["poll-s"] ? { NEWRETAIL_ODOO_POLL_S: args["poll-s"] } : {}),
    PATH: Deno.env.get("PATH") ?? "",
    HOME: Deno.env.get("HOME") ?? "/root",
  };
  for (const name of ["DENO_DIR", "SSL_CERT_FILE", "DENO_CERT"]) {
    const v = Deno.env.get(name);
    if (v) env[name] = v;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "serve"],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const started = Promise.withResolvers<{ port: number; admin: string }>();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    let buffered = "";
    const tail: string[] = [];
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        if (line.includes('"newretail started"')) started.resolve(JSON.parse(line));
      }
    }
    started.reject(new Error(`${shop} ended before it started:\n${tail.join("\n")}`));
  };
  drain(child.stdout);
  drain(child.stderr);
  const line = await started.promise;
  return {
    i,
    shop,
    db,
    child,
    port: line.port,
    adminPort: Number(line.admin.split(":").pop()),
  };
}

async function adminJson(store: Store, method: string, path: string, body?: unknown) {
  const r = await fetch(`http://127.0.0.1:${store.adminPort}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

const macOf = (store: Store, k: number) =>
  `AC:${String(store.i + 1).padStart(2, "0").slice(-2)}:00:00:00:${String(k + 1).padStart(2, "0")}`;

/** Binds the store's labels (once its first pull brought the goods) and logs its base station in. */
async function setUpLabels(store: Store): Promise<void> {
  for (let k = 0; k < LABELS; k++) {
    await waitUntil(`${store.shop} label ${k} bound`, async () => {
      const r = await adminJson(store, "POST", `/api/labels/${macOf(store, k)}/bind`, {
        barcode: `69900000000${k}`,
      });
      return r.status === 200;
    }, 180_000);
  }
  const base = await DeviceClient.login({
    host: "127.0.0.1",
    port: store.port,
    equipId: `DZBQ_${store.shop.toUpperCase()}`,
    timeoutMs: 60_000,
  });
  store.base = base;
  for (let k = 0; k < LABELS; k++) {
    await base.request("getGoods", { mac_id: macOf(store, k) }, { encoding: "gbk" });
  }
  // The base station answers every sendGoods, and notes when the changed price arrived.
  (async () => {
    for (;;) {
      let push;
      try {
        push = await base.nextPush("sendGoods", 3_600_000);
      } catch {
        return;
      }
      const goods = (push.json?.goods ?? []) as { gid?: number; id?: number; price?: unknown }[];
      if (
        store.priceSeen === undefined && priceChangedAt !== undefined &&
        goods.some((g) => Number(g.price) === NEW_PRICE)
      ) store.priceSeen = Date.now();
      base.acknowledge("sendGoods");
    }
  })();
}

let priceChangedAt: number | undefined;
const NEW_PRICE = 12.34;

// ---------------------------------------------------------------- Prometheus (when installed)
async function startPrometheus(): Promise<
  { query(q: string): Promise<number | undefined>; stop(): Promise<void> } | undefined
> {
  try {
    await Deno.stat("/usr/bin/prometheus");
  } catch {
    return undefined;
  }
  const dir = await Deno.makeTempDir({ prefix: "chainsim-prom-" });
  await Deno.writeTextFile(
    `${dir}/stores.json`,
    JSON.stringify(stores.map((s) => ({
      targets: [`127.0.0.1:${s.adminPort}`],
      labels: { shop: s.shop },
    }))),
  );
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    [
      "global: { scrape_interval: 15s, scrape_timeout: 10s }",
      "scrape_configs:",
      "  - job_name: newretail",
      "    file_sd_configs: [{ files: [stores.json] }]",
    ].join("\n") + "\n",
  );
  const port = 19090;
  const child = new Deno.Command("/usr/bin/prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const query = async (q: string) => {
    try {
      const r = await fetch(
        `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`,
      );
      const body = await r.json();
      const v = body.data?.result?.[0]?.value?.[1];
      return v === undefined ? undefined : Number(v);
    } catch {
      return undefined;
    }
  };
  return {
    query,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

// ---------------------------------------------------------------- the run
let prometheus: Awaited<ReturnType<typeof startPrometheus>>;
try {
  const t0 = Date.now();
  // A few at a time: each start transpiles, migrates and makes its first full pull.
  for (let i = 0; i < STORES; i += 5) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(5, STORES - i) }, (_, k) => startStore(i + k)),
    );
    stores.push(...batch);
    for (const s of batch) chainShops.add(s.shop);
    say(`${stores.length}/${STORES} appliances started`);
  }
  results.startAllS = Math.round((Date.now() - t0) / 1000);
  for (let i = 0; i < stores.length; i += 10) {
    await Promise.all(stores.slice(i, i + 10).map(setUpLabels));
  }
  say(`every store has ${LABELS} labels bound and its base station online`);
  await waitUntil(
    "every store's status online",
    () => [...chainShops].every((s) => latest.get(s)?.devices?.online === 1),
    120_000,
  );

  // Settle: the start-up pulls and pushes are over before the idle window.
  await new Promise((r) => setTimeout(r, 20_000));
  prometheus = await startPrometheus();

  // ------------------------------------------------------------ the idle chain
  const ticks0 = new Map(stores.map((s) => [s.shop, procTicks(s.child.pid)]));
  const calls0 = odoo.calls.length;
  const status0 = statusMessages;
  const sys0 = { ...sys };
  const idleStart = Date.now();
  say(`idle window: ${IDLE_S} s`);
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  const idleS = (Date.now() - idleStart) / 1000;
  const idleCalls = odoo.calls.slice(calls0);
  // What the same calls would have cost a live Odoo 17 (the stand-in's model, odoo_cost.ts).
  const modelled = odoo.load(calls0);
  const byMethod: Record<string, number> = {};
  for (const c of idleCalls) {
    const key = c.model ? `${c.model}.${c.modelMethod}` : `${c.service}.${c.method}`;
    byMethod[key] = (byMethod[key] ?? 0) + 1;
  }
  const cpu = stores.map((s) => (procTicks(s.child.pid) - ticks0.get(s.shop)!) / 100 / idleS);
  const rss = stores.map((s) => procRssMb(s.child.pid));
  const received = "$SYS/broker/messages/received";
  const sent = "$SYS/broker/messages/sent";
  results.idle = {
    seconds: Math.round(idleS),
    odooRequestsPerMinute: Math.round(idleCalls.length / idleS * 60),
    odooRequestsPerStoreMinute: Math.round(idleCalls.length / idleS * 60 / STORES * 10) / 10,
    odooModelledPerStoreMinute: {
      sqlStatements: Math.round(modelled.queries / idleS * 60 / STORES * 10) / 10,
      odooSeconds: Math.round(modelled.ms / idleS * 60 / STORES) / 1000,
    },
    odooRequestsByMethod: Object.fromEntries(
      Object.entries(byMethod).sort((a, b) => b[1] - a[1]).map((
        [k, v],
      ) => [k, Math.round(v / idleS * 60 / STORES * 10) / 10]),
    ),
    statusMessagesPerMinute: Math.round((statusMessages - status0) / idleS * 60 * 10) / 10,
    statusMessagesPerStoreMinute:
      Math.round((statusMessages - status0) / idleS * 60 / STORES * 100) /
      100,
    brokerMessagesReceivedPerS: sys[received] !== undefined && sys0[received] !== undefined
      ? Math.round((sys[received] - sys0[received]) / idleS * 10) / 10
      : null,
    brokerMessagesSentPerS: sys[sent] !== undefined && sys0[sent] !== undefined
      ? Math.round((sys[sent] - sys0[sent]) / idleS * 10) / 10
      : null,
    brokerClientsConnected: sys["$SYS/broker/clients/connected"] ?? null,
    applianceCpuPercentOfOneCore: quantiles(cpu.map((c) => Math.round(c * 1000) / 10)),
    applianceCpuPercentTotal: Math.round(cpu.reduce((a, b) => a + b, 0) * 1000) / 10,
    applianceRssMb: quantiles(rss.map(Math.round)),
    applianceRssMbTotal: Math.round(rss.reduce((a, b) => a + b, 0)),
    loadavg: loadavg(),
  };
  say(`idle: ${JSON.stringify(results.idle)}`);

  if (prometheus) {
    results.prometheus = {
      targetsUp: await prometheus.query('count(up{job="newretail"} == 1)'),
      samplesPerScrapeMedian: await prometheus.query(
        'quantile(0.5, scrape_samples_scraped{job="newretail"})',
      ),
      samplesPerScrapeMax: await prometheus.query('max(scrape_samples_scraped{job="newretail"})'),
      samplesPerScrapeAllStores: await prometheus.query(
        'sum(scrape_samples_scraped{job="newretail"})',
      ),
      scrapeDurationMedianS: await prometheus.query(
        'quantile(0.5, scrape_duration_seconds{job="newretail"})',
      ),
      storesByShopLabel: await prometheus.query('count(count by (shop) (up{job="newretail"}))'),
    };
    say(`prometheus: ${JSON.stringify(results.prometheus)}`);
  }

  // ------------------------------------------------------------ one price change in Odoo
  const template = odoo.state.get("product.product", priced)!.product_tmpl_id as number;
  const callsBefore = odoo.calls.length;
  priceChangedAt = Date.now();
  odoo.state.write("product.template", [template], { list_price: NEW_PRICE });
  say(`price of product ${priced} changed in Odoo to ${NEW_PRICE}`);
  await waitUntil(
    "every store's label confirmed the new price",
    () => stores.every((s) => s.priceSeen !== undefined),
    300_000,
  );
  const latencies = stores.map((s) => (s.priceSeen! - priceChangedAt!) / 1000);
  // The appliances' own record: every label of the changed goods shows the new price.
  let confirmed = 0;
  await waitUntil("every store's /labels shows the label fresh", async () => {
    confirmed = 0;
    for (const s of stores) {
      const r = await adminJson(s, "GET", "/labels");
      const rows = r.json as { mac: string; shownPrice: string; state: string }[];
      const row = rows.find((l) => l.mac === macOf(s, 0));
      if (row && Number(row.shownPrice) === NEW_PRICE && row.state === "fresh") confirmed++;
    }
    return confirmed === stores.length;
  }, 60_000);
  results.priceChange = {
    secondsUntilLabelReceived: quantiles(latencies.map((l) => Math.round(l * 10) / 10)),
    storesConfirmedInLabels: confirmed,
    odooRequestsMeanwhile: odoo.calls.length - callsBefore,
  };
  say(`price change: ${JSON.stringify(results.priceChange)}`);

  // ------------------------------------------------------------ the fleet view
  const fleetEnv = { NEWRETAIL_CHAIN_STATUS_TOPIC: TOPIC, NO_COLOR: "1" };
  const fleet = async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "fleet", "--broker", MQTT_URL!, "--json"],
      env: fleetEnv,
      stdin: "null",
    }).output();
    return JSON.parse(new TextDecoder().decode(out.stdout)) as StoreStatus[];
  };
  const before = await fleet();
  results.fleetBefore = {
    stores: before.length,
    online: before.filter((s) => s.state === "online").length,
  };
  say(`fleet view: ${JSON.stringify(results.fleetBefore)}`);

  // ------------------------------------------------------------ kills and freezes
  const killed = stores.slice(0, KILL);
  const frozen = stores.slice(KILL, 2 * KILL);
  const downAt = Date.now();
  for (const s of killed) s.child.kill("SIGKILL");
  for (const s of frozen) s.child.kill("SIGSTOP");
  const offlineAfter = new Map<string, number>();
  await waitUntil(
    "every killed or frozen store offline",
    () => {
      for (const s of [...killed, ...frozen]) {
        const st = latest.get(s.shop);
        if (st?.state === "offline" && !offlineAfter.has(s.shop)) {
          offlineAfter.set(s.shop, (st.seenAt - downAt) / 1000);
        }
      }
      return offlineAfter.size === killed.length + frozen.length;
    },
    KEEPALIVE_S * 1500 + 60_000,
  );
  const after = await fleet();
  results.kills = {
    killedSigkill: killed.length,
    frozenSigstop: frozen.length,
    secondsUntilOfflineSigkill: quantiles(
      killed.map((s) => Math.round(offlineAfter.get(s.shop)! * 10) / 10),
    ),
    secondsUntilOfflineSigstop: quantiles(
      frozen.map((s) => Math.round(offlineAfter.get(s.shop)! * 10) / 10),
    ),
    keepaliveBoundS: KEEPALIVE_S * 1.5,
    fleetAfter: {
      stores: after.length,
      online: after.filter((s) => s.state === "online").length,
      offline: after.filter((s) => s.state === "offline").length,
      offlineReasons: [...new Set(after.filter((s) => s.state === "offline").map((s) => s.reason))],
    },
  };
  if (prometheus) {
    await new Promise((r) => setTimeout(r, 35_000));
    (results.kills as Record<string, unknown>).prometheusTargetsDown = await prometheus.query(
      'count(up{job="newretail"} == 0)',
    );
  }
  say(`kills: ${JSON.stringify(results.kills)}`);
  results.loadavgEnd = loadavg();
  results.finishedAt = new Date().toISOString();
  await Deno.writeTextFile(args.out!, JSON.stringify(results, null, 2) + "\n");
  say(`results in ${args.out}`);
} finally {
  say("stopping");
  for (const s of stores) {
    try {
      s.child.kill("SIGCONT");
    } catch { /* gone */ }
    await s.base?.close().catch(() => {});
  }
  await Promise.all(stores.map(async (s) => {
    try {
      s.child.kill("SIGTERM");
    } catch { /* killed */ }
    await s.child.status;
  }));
  await prometheus?.stop();
  // The cluster is the chain's own: removing it removes every store's database.
  await admin.end();
  await cluster.destroy();
  for (const shop of chainShops) {
    await watcher.publishAsync(TOPIC.replace("{shop}", shop), "", { qos: 1, retain: true });
  }
  await watcher.endAsync();
  await odoo.close();
}
say("stopped");
