/**
 * Scenario `network`: the store's Wi-Fi. The appliance runs as in a store (the bundle installed by
 * the release's `install.sh`, started by its launcher with the permissions its configuration
 * computes: `_appliance.ts`), on PostgreSQL, with the MQTT broker and a payment server of the
 * lab's own, in the host's network namespace; 100+ devices (`_net_fleet.ts`) run in a network namespace of the
 * lab's own, joined to the appliance by a veth pair (`_netns.ts`), and the link is made bad one
 * variant at a time: 5 % and 20 % loss, a slow link, a 60 s partition, a partition shorter than
 * the heartbeat bound, added latency with jitter (`_relay.ts`), and devices that vanish without
 * FIN or RST (half-open).
 *
 * In every variant tills and scales sell (retrying unanswered orders with the same `order_id`),
 * label base stations show what `sendGoods` pushes tell them, prices change (just before and
 * during a partition), and the cloud reports payments over MQTT. Afterwards, from outside:
 * every acknowledged order is in the database once under the URL the till was given, none is
 * paid or stock-moved twice, every label shows — and the appliance's record says it shows — its
 * goods' latest price, every dead connection was closed within the heartbeat bound, and once the
 * devices have left the sessions are gone and the appliance's memory is back near where it was.
 *
 * @module
 */
import postgres from "postgres";
import mqtt from "mqtt";
import type { LabOptions, ResultRow, Scenario, ScenarioReport } from "./_lab.ts";
import {
  createLabNetwork,
  type LabNetwork,
  type LinkFault,
  namespacesUnavailable,
  processAlive,
  removeStaleNetworks,
} from "./_netns.ts";
import type { FleetPlan, FleetSummary } from "./_net_fleet.ts";
import { installAppliance, type RunningAppliance, startInstalledAppliance } from "./_appliance.ts";
import {
  type AdminEndpoint,
  checkHistory,
  type CheckResult,
  type Entry,
  fetchSnapshot,
  History,
  type OrderEntry,
  pgliteSnapshotReader,
  postgresReader,
  type SqlReader,
} from "./_history.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The appliance's settings that the lab's bounds are computed from. */
const HEARTBEAT_INTERVAL_S = 4;
const HEARTBEAT_MISSES = 3;
const PUSH_TIMEOUT_S = 2;
const PUSH_TRIES = 3;
const REQUEST_TIMEOUT_S = 5;
/**
 * A dead connection is closed at most this long after its device vanished: the device answered
 * the last `health` sent before it went, the next `HEARTBEAT_MISSES` go unanswered, and the sweep
 * after one more interval closes it; each interval may run one sweep tick (100 ms) late.
 */
const DEAD_CONNECTION_BOUND_MS = (HEARTBEAT_MISSES + 1) * (HEARTBEAT_INTERVAL_S * 1000 + 100);
/**
 * Memory is "back near its start" when the RSS once the devices left is at most this many times
 * the RSS before any device came. V8 keeps the heap the busiest traffic grew to (the first full
 * run: 92 MB at start, 100 MB after the quiet baseline, a plateau of 135–160 MB after every busier
 * variant), so this catches gross leaks only; leaked sessions are counted by `/metrics`.
 */
const RSS_GROWTH_ALLOWED = 2;
/** Scheduling slack allowed on top of the bound on this loaded machine (reported, not hidden). */
const SLACK_MS = 1500;

/** One variant: what the link does while the devices work. */
interface Variant {
  name: string;
  /** The fault during the traffic window (`relay`: latency through the lab's relay). */
  fault:
    | Exclude<LinkFault, { kind: "partition" }>
    /**
     * A partition `afterS` into the traffic, or with `quiet`, once the tills stopped selling (a
     * price change and the cloud's late payment reports go out while the link is down: nothing
     * else touches those goods and orders afterwards).
     */
    | { kind: "partition"; afterS: number; forS: number; quiet?: boolean }
    | { kind: "relay"; delayMs: number; jitterMs: number }
    | { kind: "vanish"; afterS: number; devices: number };
  /** Seconds of traffic. */
  seconds: number;
  /** In the short form CI runs. */
  inCi: boolean;
  /** Shows what the heartbeat's close guards: run under `--guard-off`. */
  guarded: boolean;
  /** Run on the embedded database too (the full run). */
  pglite: boolean;
}

/**
 * The variants of a run: all of them in the full run, the short form's in CI (`inCi`), and under
 * `--guard-off` those that show what the heartbeat's close guards (dead connections, sessions).
 */
function variants(options: LabOptions): Variant[] {
  const ci = options.ci;
  const traffic = ci ? 15 : 150;
  const flags = (...set: ("ci" | "guarded" | "pglite")[]) => ({
    inCi: set.includes("ci"),
    guarded: set.includes("guarded"),
    pglite: set.includes("pglite"),
  });
  const all: Variant[] = [
    { name: "none", fault: { kind: "none" }, seconds: 60, ...flags() },
    { name: "5 % loss", fault: { kind: "loss", percent: 5 }, seconds: traffic, ...flags() },
    {
      name: "20 % loss",
      fault: { kind: "loss", percent: 20 },
      seconds: traffic,
      ...flags("ci", "pglite"),
    },
    {
      name: "slow link (256 kbit/s)",
      fault: { kind: "slow", rateKbit: 256, latencyMs: 400 },
      seconds: traffic,
      ...flags(),
    },
    {
      name: `${ci ? 25 : 60} s partition`,
      fault: { kind: "partition", afterS: ci ? 5 : 30, forS: ci ? 25 : 60 },
      seconds: ci ? 35 : 150,
      ...flags("ci", "guarded", "pglite"),
    },
    {
      name: "8 s partition in a quiet store",
      fault: { kind: "partition", afterS: 0, forS: 8, quiet: true },
      seconds: ci ? 10 : 60,
      ...flags("ci", "pglite"),
    },
    {
      name: "latency 150 ± 100 ms",
      fault: { kind: "relay", delayMs: 150, jitterMs: 100 },
      seconds: traffic,
      ...flags(),
    },
    {
      name: "half-open devices",
      fault: { kind: "vanish", afterS: ci ? 5 : 20, devices: ci ? 6 : 12 },
      seconds: ci ? 25 : 90,
      ...flags("ci", "guarded", "pglite"),
    },
  ];
  const only = Deno.env.get("FAULTS_NETWORK_ONLY");
  return all.filter((v) =>
    (options.guardOff ? v.guarded : !ci || v.inCi) && (!only || v.name.includes(only))
  );
}

/** The devices of a run: tills, scales and label base stations (three labels each). */
interface Devices {
  tills: string[];
  scales: string[];
  labels: { equipId: string; macs: string[] }[];
}

function devices(ci: boolean): Devices {
  const [tills, scales, stations] = ci ? [14, 6, 20] : [40, 12, 50];
  const id = (prefix: string, n: number) => `${prefix}${String(n).padStart(4, "0")}`;
  return {
    tills: Array.from({ length: tills }, (_, i) => id("POS_", i + 1)),
    scales: Array.from({ length: scales }, (_, i) => id("DZC_", i + 1)),
    labels: Array.from({ length: stations }, (_, i) => ({
      equipId: id("DZBQ_", i + 1),
      macs: [0, 1, 2].map((k) => labelMac(i * 3 + k)),
    })),
  };
}

const labelMac = (n: number) =>
  `AC:23:3F:${
    [n >> 16, (n >> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, "0"))
      .join(":").toUpperCase()
  }`;

/** The catalogue the lab seeds on PostgreSQL: counted goods 1–40, weighed goods 41–50. */
const COUNTED = Array.from({ length: 40 }, (_, i) => i + 1);
const WEIGHED = Array.from({ length: 10 }, (_, i) => i + 41);
const barcode = (gid: number) => ean13(`6920000${String(gid).padStart(5, "0")}`);

function ean13(twelve: string): string {
  const sum = [...twelve].reduce((s, d, i) => s + Number(d) * (i % 2 ? 3 : 1), 0);
  return twelve + String((10 - sum % 10) % 10);
}

type Sql = ReturnType<typeof postgres>;

/** Seeds the store's catalogue: goods, stock, and a label bound to goods for every label MAC. */
async function seedCatalogue(sql: Sql, macs: string[]): Promise<void> {
  const goods = [...COUNTED, ...WEIGHED];
  await sql.begin(async (tx) => {
    await tx`insert into categories (id, name, complete_name) values (1, '果蔬', '果蔬')`;
    await tx`insert into warehouses (id, code, name) values (1, 'MD', '门店货架'), (2, 'HC', '后仓')`;
    for (const gid of goods) {
      const weighed = WEIGHED.includes(gid);
      await tx`insert into goods (id, barcode, name, price, cost, category_id, unit, weighed, plu)
        values (${gid}, ${barcode(gid)}, ${`测试商品${gid}`}, ${(2 + gid * 0.37).toFixed(2)},
          1, 1, ${weighed ? "kg" : "个"}, ${weighed}, ${weighed ? gid : null})`;
      await tx`insert into stock (warehouse_id, goods_id, quantity)
        values (1, ${gid}, 1000000), (2, ${gid}, 1000000)`;
    }
    for (const [i, mac] of macs.entries()) {
      await tx`insert into label_bindings (mac, goods_id) values (${mac}, ${
        goods[i % goods.length]
      })`;
    }
    await tx`select setval(pg_get_serial_sequence('goods', 'id'), 100)`;
  });
}

/** The goods the devices sell, as the lab read them from the store, and their prices. */
interface Catalogue {
  counted: { gid: number; barcode: string }[];
  weighed: { gid: number; barcode: string }[];
  /** Each goods' regular price (what returns when a schedule ends), and its price now. */
  regular: Map<number, string>;
  current: Map<number, string>;
}

async function readCatalogue(reader: SqlReader): Promise<Catalogue> {
  const rows = await reader.query(
    `select id, barcode, weighed, price::text as price from goods
     where active and barcode is not null order by id`,
  );
  const goods = rows.map((r) => ({
    gid: Number(r.id),
    barcode: String(r.barcode),
    weighed: r.weighed === true,
    price: String(r.price),
  }));
  return {
    counted: goods.filter((g) => !g.weighed).map(({ gid, barcode }) => ({ gid, barcode })),
    weighed: goods.filter((g) => g.weighed).map(({ gid, barcode }) => ({ gid, barcode })),
    regular: new Map(goods.map((g) => [g.gid, g.price])),
    current: new Map(goods.map((g) => [g.gid, g.price])),
  };
}

const fen = (price: string) => Math.round(Number(price) * 100);

/**
 * Changes the price of a quarter of the goods (every goods is on labels), as the operator does:
 * a price schedule from now through the admin API, recorded in the history (whose checker then
 * holds every goods to the schedule in force).
 */
async function changePrices(lab: Lab): Promise<void> {
  const round = lab.priceRounds++;
  const all = [...lab.catalogue.counted, ...lab.catalogue.weighed];
  const step = round % 2 === 0 ? 10 : -5;
  await Promise.all(
    all.filter((_, i) => i % 4 === round % 4).map(async ({ gid }) => {
      const price = (Math.max(1, fen(lab.catalogue.current.get(gid)!) + step) / 100).toFixed(2);
      const entry = await lab.history.createSchedule(lab.admin, {
        gid,
        price,
        startsAt: new Date(),
        regularPrice: lab.catalogue.regular.get(gid)!,
      });
      if (entry.outcome !== "acknowledged") {
        throw new Error(
          `price schedule for goods ${gid} not taken: ${JSON.stringify(entry.answer)}`,
        );
      }
      lab.catalogue.current.set(gid, price);
    }),
  );
}

/** The running appliance and where it listens (from its start-up line). */
interface Appliance extends RunningAppliance {
  port: number;
  adminPort: number;
}

/**
 * The appliance as a store runs it: bundled and installed by the release's `install.sh`, started
 * by the installed launcher with the permissions its configuration computes (`_appliance.ts`).
 */
async function startAppliance(
  options: LabOptions,
  config: Record<string, unknown>,
  env: Record<string, string>,
): Promise<Appliance> {
  const installed = await installAppliance(options.workDir, config, options.progress);
  const running = await startInstalledAppliance(installed, { env });
  const line = running.lines.find((l) => l.msg === "newretail started")!;
  const admin = String(line.admin);
  return Object.assign(running, {
    port: Number(line.port),
    adminPort: Number(admin.slice(admin.lastIndexOf(":") + 1)),
  });
}

/** The appliance's `/metrics`, summed by name over the series whose labels include `match`. */
async function metric(
  adminPort: number,
  name: string,
  match: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries(
      [...(m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

/** Resident memory of a process, MB (from /proc). */
function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU time a process used so far, ms (utime + stime from /proc, 100 ticks a second). */
function cpuMs(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Open file descriptors of a process (sockets included). */
function openFds(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

/** The order code in a payment URL (`payUrlTemplate`'s default: `…&order={order}&…`). */
function orderCode(url: string | undefined): string | undefined {
  return /[?&]order=(\d+)/.exec(url ?? "")?.[1];
}

/**
 * The payment server of the lab's own, and the store cloud behind it: it counts the calls per
 * order code and, for every other order, reports the payment over MQTT (every fourth twice, as a
 * QoS 1 broker may redeliver), recording each report in the history.
 */
class PaymentCloud {
  readonly calls = new Map<string, number>();
  /** Codes whose duplicate calls were reported already. */
  readonly reportedDuplicate = new Set<string>();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #mqtt: mqtt.MqttClient | undefined;
  readonly #history: History;
  /** Codes reported paid (or to be, once their delay is over). */
  readonly reported = new Set<string>();
  readonly #topic: string;
  readonly #shop: string;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #publishing = new Set<Promise<unknown>>();

  constructor(mqttClient: mqtt.MqttClient | undefined, shop: string, history: History) {
    this.#mqtt = mqttClient;
    this.#history = history;
    this.#shop = shop;
    this.#topic = `/newretail/pay/${shop}`;
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
      const form = new URLSearchParams(await r.text());
      const code = form.get("orderCode") ?? "";
      const calls = (this.calls.get(code) ?? 0) + 1;
      this.calls.set(code, calls);
      if (calls === 1 && Number(code.slice(-1)) % 2 === 0) this.reportPaid([code]);
      return new Response("ok");
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/pay`;
  }

  /** Reports these orders paid over MQTT, soon (the customer scanned the QR code). */
  reportPaid(codes: string[]): void {
    if (!this.#mqtt) return;
    for (const code of codes) this.#report(code);
  }

  #report(code: string): void {
    if (this.reported.has(code)) return;
    this.reported.add(code);
    const times = Number(code.slice(-2, -1)) % 4 === 0 ? 2 : 1;
    for (let i = 0; i < times; i++) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        const publishing = this.#publish(code);
        this.#publishing.add(publishing);
        publishing.finally(() => this.#publishing.delete(publishing));
      }, 300 + Math.random() * 1500 + i * 500);
      this.#timers.add(timer);
    }
  }

  async #publish(code: string): Promise<void> {
    // The customer pays the QR code the till showed: the order the till was answered with this
    // code's URL (its answer may reach the lab a moment after the appliance called us).
    let order: OrderEntry | undefined;
    for (let i = 0; i < 50 && !order; i++) {
      order = this.#history.of("order").find((e) =>
        e.outcome === "acknowledged" && orderCode(e.url) === code
      );
      if (!order) await sleep(100);
    }
    if (!order) return; // the till never showed its QR code: nobody pays it
    await this.#history.publishPayment(
      async (payload) => {
        await this.#mqtt!.publishAsync(this.#topic, payload, { qos: 1 });
      },
      { shopId: this.#shop, orderDevice: order.device, orderId: order.orderId, orderCode: code },
    );
  }

  /** True when no report is waiting or being published. */
  idle(): boolean {
    return this.#timers.size === 0 && this.#publishing.size === 0;
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    await Promise.allSettled(this.#publishing);
    await this.#server.shutdown();
    await this.#mqtt?.endAsync();
  }
}

/**
 * The fleet process in the devices' namespace: its events (history entries go to the lab's
 * history as they come), and commands to it.
 */
class FleetProcess {
  /** This fleet's order attempts (also in the history). */
  readonly orders: OrderEntry[] = [];
  /** Label confirmations this fleet recorded. */
  labels = 0;
  /** Each connection a device made: its port and when (ms). */
  readonly connections: { equipId: string; port: number; at: number }[] = [];
  readonly vanished: { equipId: string; port: number; at: number }[] = [];
  readonly payResults: { equipId: string; orderId: string; result: string }[] = [];
  summary: FleetSummary | undefined;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #waiters: { ev: string; resolve: (e: Record<string, unknown>) => void }[] = [];
  readonly done: Promise<void>;
  readonly stderr: Promise<string>;

  readonly #history: History;

  constructor(net: LabNetwork, plan: FleetPlan, history: History) {
    this.#history = history;
    const { cmd, args } = net.inside(Deno.execPath(), [
      "run",
      "-A",
      "--quiet",
      `${ROOT}faults/_net_fleet.ts`,
      JSON.stringify(plan),
    ]);
    this.#child = new Deno.Command(cmd, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.stderr = new Response(this.#child.stderr).text();
    this.done = this.#read();
  }

  async #read(): Promise<void> {
    let buffer = "";
    for await (const text of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += text;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const event = JSON.parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (event.ev === "entry") {
          const entry = this.#history.add(event.entry as Entry);
          if (entry.kind === "order") this.orders.push(entry);
          else if (entry.kind === "label") this.labels++;
        } else if (event.ev === "conn") this.connections.push(event);
        else if (event.ev === "vanished") this.vanished.push(event);
        else if (event.ev === "payResult") {
          this.payResults.push(event);
          this.#history.payResultReceived(event.equipId, {
            action: "sendPayResult",
            header: {},
            body: { order_id: event.orderId, result: event.result },
          });
        } else if (event.ev === "left") this.summary = event.summary;
        for (const waiter of this.#waiters.filter((w) => w.ev === event.ev)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    }
    await this.#child.status;
  }

  /** The next event of this kind (rejects after `timeoutMs`, or when the fleet ended). */
  next(ev: string, timeoutMs: number): Promise<Record<string, unknown>> {
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
    const timer = setTimeout(
      () => reject(new Error(`fleet: no ${ev} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    this.#waiters.push({ ev, resolve });
    this.done.then(async () => reject(new Error(`fleet ended before ${ev}: ${await this.stderr}`)));
    return promise.finally(() => clearTimeout(timer));
  }

  async send(command: Record<string, unknown>): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
  }

  async leave(): Promise<void> {
    await this.send({ cmd: "leave" }).catch(() => {});
    await this.#stdin.close().catch(() => {});
    await this.done;
  }
}

/** Everything a run shares across variants. */
interface Lab {
  options: LabOptions;
  backend: Backend;
  net: LabNetwork;
  appliance: Appliance;
  cloud: PaymentCloud;
  devices: Devices;
  mqttNote: string;
  /** What every client was told, all variants (checked after each). */
  history: History;
  /** Runs `read` on the store's database as it is now (PostgreSQL: a connection; PGlite: a snapshot). */
  withReader<T>(read: (reader: SqlReader) => Promise<T>): Promise<T>;
  catalogue: Catalogue;
  /** The admin API (loopback, the lab's token). */
  admin: AdminEndpoint;
  /** The last check's totals and problems: a variant reports what is new since. */
  lastCheck?: CheckResult;
  /** RSS (MB) once started and seeded, before any device. */
  startRssMb: number;
  /** Price-change rounds so far. */
  priceRounds: number;
}

/** What one variant found. */
interface VariantResult {
  row: ResultRow;
  failures: string[];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Waits until `check` returns true, polling; returns the time it took, or undefined. */
async function until(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 500,
): Promise<number | undefined> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) return undefined;
    await sleep(everyMs);
  }
}

async function runVariant(lab: Lab, variant: Variant, index: number): Promise<VariantResult> {
  const { net, appliance, options } = lab;
  const failures: string[] = [];
  const progress = (line: string) => options.progress(`${variant.name}: ${line}`);
  const fault = variant.fault;
  await net.setFault({ kind: "none" });

  // Latency: devices connect to the lab's relay in their namespace, which delays every chunk.
  let relay: Deno.ChildProcess | undefined;
  let target = { host: net.applianceAddress, port: appliance.port };
  if (fault.kind === "relay") {
    const { cmd, args } = net.inside(Deno.execPath(), [
      "run",
      "-A",
      "--quiet",
      `${ROOT}faults/_relay.ts`,
      "127.0.0.1:0",
      `${net.applianceAddress}:${appliance.port}`,
      String(fault.delayMs),
      String(fault.jitterMs),
    ]);
    relay = new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).spawn();
    const reader = relay.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const first = (await reader.read()).value ?? "";
    reader.releaseLock();
    relay.stdout.cancel().catch(() => {});
    const port = Number(/listening [^:]+:(\d+)/.exec(first)?.[1]);
    if (!port) throw new Error(`relay did not start: ${first}`);
    target = { host: "127.0.0.1", port };
  }

  const pushesBefore = await pushesNotAcknowledged(appliance.adminPort);
  const plan: FleetPlan = {
    host: target.host,
    port: target.port,
    orderPrefix: `v${index}`,
    ...lab.devices,
    counted: lab.catalogue.counted,
    weighed: lab.catalogue.weighed,
    replyTimeoutMs: 8000,
    watchdogMs: 30_000,
    // A sale every 8 s on average per till or scale: 52 of them make ~6 orders a second, a
    // hypermarket's peak (a convenience store makes one a minute).
    thinkMs: 8000,
  };
  lab.history.phase = variant.name;
  const fleet = new FleetProcess(net, plan, lab.history);
  const deviceCount = lab.devices.tills.length + lab.devices.scales.length +
    lab.devices.labels.length;
  let healedAt = 0;
  let partitionAt = 0;
  try {
    await fleet.next("ready", 90_000);
    const start = Date.now();
    progress(`${deviceCount} devices up`);
    const at = (s: number) => sleep(Math.max(0, start + s * 1000 - Date.now()));
    const priceChange = () => changePrices(lab);

    if (fault.kind === "loss" || fault.kind === "slow") await net.setFault(fault);
    if (fault.kind === "partition" && !fault.quiet) {
      await at(fault.afterS - 1);
      await priceChange(); // just before the link drops
      await at(fault.afterS);
      await net.setFault({ kind: "partition" });
      partitionAt = Date.now();
      progress(`partitioned for ${fault.forS} s`);
      await at(fault.afterS + fault.forS / 2);
      await priceChange(); // while it is down
      await at(fault.afterS + fault.forS);
      await net.setFault({ kind: "none" });
      healedAt = Date.now();
      progress("healed");
    } else if (fault.kind === "vanish") {
      await at(fault.afterS);
      const all = [
        ...lab.devices.tills,
        ...lab.devices.scales,
        ...lab.devices.labels.map((l) => l.equipId),
      ];
      // Spread over the kinds: every n-th device.
      const chosen = all.filter((_, i) => i % Math.floor(all.length / fault.devices) === 0)
        .slice(0, fault.devices);
      await fleet.send({ cmd: "vanish", equipIds: chosen });
      if (
        await until(() => fleet.vanished.length === chosen.length, 10_000, 50) === undefined
      ) {
        throw new Error(`the fleet did not report its ${chosen.length} vanished devices`);
      }
      for (const gone of fleet.vanished) {
        if (gone.port > 0) await net.dropConnection(gone.port);
        // The moment its packets stop crossing is the moment it is gone.
        gone.at = Date.now();
      }
      progress(`${chosen.length} devices vanished without FIN or RST`);
      await priceChange();
    } else {
      await at(variant.seconds * 0.3);
      await priceChange();
      await at(variant.seconds * 0.6);
      await priceChange();
    }
    await at(variant.seconds);

    // Stop selling; unanswered orders are asked again until answered.
    await fleet.send({ cmd: "stop" });
    if (fault.kind !== "relay" && fault.kind !== "vanish") {
      await net.setFault({ kind: "none" });
      healedAt ||= Date.now();
    }
    healedAt ||= Date.now();
    await fleet.next("drained", 120_000).catch((e) => failures.push(`orders: ${e.message}`));
    progress("orders drained");
    if (fault.kind === "partition" && fault.quiet) {
      await net.setFault({ kind: "partition" });
      partitionAt = Date.now();
      progress(`partitioned for ${fault.forS} s`);
      await sleep(1000);
      await priceChange();
      // The customers of every order not yet paid pay now.
      lab.cloud.reportPaid(
        fleet.orders.flatMap((o) => o.outcome === "acknowledged" ? [orderCode(o.url)!] : []),
      );
      await sleep(fault.forS * 1000 - 1000);
      await net.setFault({ kind: "none" });
      healedAt = Date.now();
      progress("healed");
    }

    // What is owed to the devices still there reaches them: every label confirmed on its goods'
    // latest price, no push pending, every payment settled and its result delivered.
    const gone = [...new Set(fleet.vanished.map((v) => v.equipId))];
    const convergeBoundMs = 60_000 + DEAD_CONNECTION_BOUND_MS;
    const paidCodes = () =>
      lab.history.of("payment").filter((p) => p.published).map((p) => p.orderCode);
    await until(
      async () =>
        lab.cloud.idle() &&
        (await lab.withReader((r) => owed(r, lab.devices, gone, paidCodes()))).length === 0,
      Math.max(0, healedAt + convergeBoundMs - Date.now()),
    );
    const left = await lab.withReader((r) => owed(r, lab.devices, gone, paidCodes()));
    const convergedMs = left.length === 0 ? Date.now() - healedAt : undefined;
    if (left.length > 0) {
      failures.push(
        `${seconds(convergeBoundMs)} after the link healed, still owed: ${left.join("; ")}`,
      );
    }

    // The history against the database: orders, payments, labels (what each label showed is
    // what the appliance records), the ledger. A vanished station's labels cannot converge.
    const check = await lab.withReader((r) =>
      checkHistory(withoutLabelsOf(lab.history, gone), r, { settled: true })
    );
    const before = lab.lastCheck;
    lab.lastCheck = check;
    const seen = new Set(before?.problems ?? []);
    failures.push(...check.problems.filter((p) => !seen.has(p)));
    const lost = check.lost - (before?.lost ?? 0);
    let duplicated = check.duplicated - (before?.duplicated ?? 0);
    // One call to the payment server per order.
    for (const [code, calls] of lab.cloud.calls) {
      if (calls > 1 && !lab.cloud.reportedDuplicate.has(code)) {
        lab.cloud.reportedDuplicate.add(code);
        duplicated++;
        failures.push(`order ${code} was sent to the payment server ${calls} times`);
      }
    }
    const acknowledged = new Set(
      fleet.orders.filter((o) => o.outcome === "acknowledged").map((o) => o.orderId),
    ).size;
    const paid = lab.history.of("payment").filter((p) =>
      p.phase === variant.name && p.outcome === "acknowledged"
    ).length;

    // Dead connections: closed within the heartbeat bound.
    const dead = deadConnections(appliance, fleet, fault, partitionAt);
    failures.push(...dead.failures);

    const pushesRetried = (await pushesNotAcknowledged(appliance.adminPort)) - pushesBefore;
    await fleet.leave();
    relay?.kill("SIGTERM");
    await relay?.status;
    relay = undefined;

    // Leaks: every session gone once the devices left, memory back near its start.
    const sessionsGoneMs = await until(
      async () =>
        await metric(appliance.adminPort, "newretail_connections_open") === 0 &&
        await metric(appliance.adminPort, "newretail_devices_logged_in") === 0,
      DEAD_CONNECTION_BOUND_MS + SLACK_MS,
    );
    if (sessionsGoneMs === undefined) {
      failures.push(
        `sessions left after the devices left: ${await metric(
          appliance.adminPort,
          "newretail_connections_open",
        )} connections open, ${await metric(
          appliance.adminPort,
          "newretail_devices_logged_in",
        )} logged in`,
      );
    }
    // Idle once the devices left: a timer leaked per session would still be ticking.
    const cpuBefore = cpuMs(appliance.pid);
    await sleep(3000);
    const idleCpu = (cpuMs(appliance.pid) - cpuBefore) / 3000 * 100;
    const rss = rssMb(appliance.pid);
    const fds = openFds(appliance.pid);
    if (rss > lab.startRssMb * RSS_GROWTH_ALLOWED) {
      failures.push(
        `RSS ${Math.round(rss)} MB after the devices left, more than ${RSS_GROWTH_ALLOWED}× the ${
          Math.round(lab.startRssMb)
        } MB before any device`,
      );
    }
    const waits = orderWaits(fleet.orders);
    const summary = fleet.summary;
    const row: ResultRow = {
      scenario: "network",
      variant: variant.name,
      did: `${deviceCount} devices, ${variant.seconds} s, ${summary?.answered ?? 0} requests ` +
        `answered, ${fleet.orders.length} order attempts`,
      // Label confirmations are answered by nobody: not acknowledged records (see notes).
      acknowledged: acknowledged + paid,
      lost,
      duplicated,
      recovery: convergedMs === undefined
        ? "did not converge"
        : `converged ${seconds(convergedMs)} after ${
          fault.kind === "partition" ? "the heal" : "the stop"
        }`,
      notes: [
        `p99 ${Math.round(summary?.p99Ms ?? 0)} ms`,
        `order answered p99 ${seconds(waits.p99Ms)} from first try`,
        `${summary?.reconnects ?? 0} reconnects`,
        `${pushesRetried} pushes retried`,
        `${acknowledged} orders, ${paid} payments told, ${fleet.labels} label displays`,
        ...dead.notes,
        sessionsGoneMs === undefined
          ? "sessions left over"
          : `sessions 0 in ${seconds(sessionsGoneMs)}`,
        `RSS ${Math.round(lab.startRssMb)}→${Math.round(rss)} MB, ${fds} fds`,
        `idle CPU ${idleCpu.toFixed(1)} %`,
      ].join(", "),
    };
    progress(`${row.recovery}; ${row.notes}`);
    return {
      row,
      failures: failures.map((f) =>
        `${variant.name}: ${f}`
      ),
    };
  } finally {
    await fleet.leave().catch(() => {});
    relay?.kill("SIGTERM");
    await relay?.status;
  }
}

/** How long orders took from their first try to their answer (what a customer waits). */
function orderWaits(attempts: OrderEntry[]): { p99Ms: number } {
  const first = new Map<string, number>();
  const waits: number[] = [];
  for (const a of attempts) {
    const key = `${a.device} ${a.orderId}`;
    if (!first.has(key)) first.set(key, a.sentAt);
    if (a.outcome === "acknowledged") waits.push(a.answeredAt! - first.get(key)!);
  }
  waits.sort((a, b) => a - b);
  return { p99Ms: waits[Math.max(0, Math.ceil(waits.length * 0.99) - 1)] ?? 0 };
}

/** sendGoods pushes that were not acknowledged (each one is tried again). */
function pushesNotAcknowledged(adminPort: number): Promise<number> {
  return Promise.all(
    ["timeout", "closed"].map((outcome) =>
      metric(adminPort, "newretail_pushes_total", { action: "sendGoods", outcome })
    ),
  ).then((counts) => counts.reduce((a, b) => a + b, 0));
}

/** A history without the label displays of these devices (they vanished: their labels stay). */
function withoutLabelsOf(history: History, devices: string[]): History {
  const kept = new History();
  for (const e of history.entries) {
    if (!(e.kind === "label" && devices.includes(e.device))) kept.add(e);
  }
  return kept;
}

/**
 * What the appliance still owes the devices that are there (not `gone`): labels not confirmed on
 * their goods' latest price, pending pushes, payments reported but not settled, results not
 * delivered. Empty when everything converged.
 */
async function owed(
  reader: SqlReader,
  devices: Devices,
  gone: string[],
  paidCodes: string[],
): Promise<string[]> {
  const macs = devices.labels.filter((l) => !gone.includes(l.equipId)).flatMap((l) => l.macs);
  const unconfirmed = `from label_bindings b join goods g on g.id = b.goods_id
    left join label_shown s on s.mac = b.mac
    where b.mac = any($1::text[])
      and (s.mac is null or s.price <> g.price or s.stale_since is not null)`;
  const [row] = await reader.query(
    `select
      (select count(*)::int ${unconfirmed}) as labels,
      (select b.mac || ' shows ' || coalesce(s.price::text, 'nothing') || ', costs ' || g.price
        ${unconfirmed} limit 1) as example,
      ((select count(*) from pending_label_pushes where not (equip_id = any($2::text[])))
        + (select count(*) from pending_scale_pushes where not (equip_id = any($2::text[]))))::int
        as pushes,
      (select count(*)::int from pay_results where not delivered
        and not (equip_id = any($2::text[]))) as results,
      (select count(*)::int from orders where code = any($3::text[]) and state <> 'paid')
        as unpaid`,
    [macs, gone, paidCodes],
  );
  const n = (key: string) => Number(row[key]);
  return [
    n("labels") > 0 ? `${n("labels")} labels not confirmed on their price (${row.example})` : "",
    n("pushes") > 0 ? `${n("pushes")} sendGoods pushes pending` : "",
    n("results") > 0 ? `${n("results")} payment results not delivered` : "",
    n("unpaid") > 0 ? `${n("unpaid")} orders reported paid are not paid` : "",
  ].filter((s) => s !== "");
}

/** Connections the appliance closed, from its log: peer port → when and why. */
function closedConnections(appliance: Appliance): Map<number, { at: number; reason: string }> {
  const closed = new Map<number, { at: number; reason: string }>();
  for (const line of appliance.lines) {
    if (line.msg !== "disconnected") continue;
    const peer = String(line.peer ?? "");
    closed.set(Number(peer.slice(peer.lastIndexOf(":") + 1)), {
      at: Date.parse(String(line.ts)),
      reason: String(line.reason),
    });
  }
  return closed;
}

/**
 * Whether every dead connection was closed within {@link DEAD_CONNECTION_BOUND_MS}: a vanished
 * device's, and after a partition longer than the bound every connection open when it began.
 */
function deadConnections(
  appliance: Appliance,
  fleet: FleetProcess,
  fault: Variant["fault"],
  partitionAt: number,
): { failures: string[]; notes: string[] } {
  const closed = closedConnections(appliance);
  const failures: string[] = [];
  const bound = DEAD_CONNECTION_BOUND_MS;
  let dead: { equipId: string; port: number; since: number }[] = [];
  if (fault.kind === "vanish") {
    dead = fleet.vanished.filter((v) => v.port > 0).map((v) => ({ ...v, since: v.at }));
  } else if (fault.kind === "partition") {
    const last = new Map<string, { equipId: string; port: number; since: number }>();
    for (const c of fleet.connections) {
      if (c.at < partitionAt) last.set(c.equipId, { ...c, since: partitionAt });
    }
    const timeouts = [...last.values()].filter((c) => {
      const close = closed.get(c.port);
      return close && close.reason === "heartbeat_timeout" && close.at >= partitionAt;
    }).length;
    if (fault.forS * 1000 <= bound - HEARTBEAT_INTERVAL_S * 1000) {
      // Shorter than the bound: connections may live through it; how many did not is a figure.
      return { failures, notes: [`${timeouts} closed by heartbeat`] };
    }
    dead = [...last.values()];
  } else {
    return { failures, notes: [] };
  }
  let slowest = 0;
  let closedInTime = 0;
  for (const d of dead) {
    const close = closed.get(d.port);
    if (!close) {
      failures.push(`${d.equipId}'s dead connection (port ${d.port}) was never closed`);
      continue;
    }
    const took = Math.max(0, close.at - d.since);
    slowest = Math.max(slowest, took);
    if (took <= bound + SLACK_MS) closedInTime++;
    else {
      failures.push(
        `${d.equipId}'s dead connection closed after ${seconds(took)} (${close.reason}), bound ${
          seconds(bound)
        }`,
      );
    }
  }
  return {
    failures,
    notes: [
      `${closedInTime} of ${dead.length} dead connections closed in time (slowest ${
        seconds(slowest)
      }, bound ${seconds(bound)})`,
    ],
  };
}

/** The database the appliance runs on in a lab. */
type Backend = "postgres" | "pglite";

/** A PostgreSQL database of the run's own on `DATABASE_URL`'s server (created, then dropped). */
interface PostgresStore {
  url: string;
  sql: Sql;
  drop(): Promise<void>;
}

/** Creates the run's database, or says why it cannot (no server). */
async function createPostgresStore(): Promise<PostgresStore | string> {
  const serverUrl = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const name = `nrlab_network_${Deno.pid}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    // A run that was killed left its database: dropped once its process is gone.
    const left = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like 'nrlab_network_%'`;
    for (const { datname } of left) {
      if (!processAlive(Number(datname.slice("nrlab_network_".length)))) {
        await admin.unsafe(`drop database if exists ${datname} with (force)`);
      }
    }
    await admin.unsafe(`create database ${name}`);
  } catch (e) {
    await admin.end();
    return `no PostgreSQL at ${serverUrl}: ${(e as Error).message}`;
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const sql = postgres(url.href, { max: 2, onnotice: () => {} });
  return {
    url: url.href,
    sql,
    async drop() {
      await sql.end();
      await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await admin.end();
    },
  };
}

/** Binds every label MAC to goods through the admin API, as an installer does. */
async function bindLabels(
  admin: AdminEndpoint,
  macs: string[],
  goods: { barcode: string }[],
): Promise<void> {
  for (const [i, mac] of macs.entries()) {
    const response = await fetch(new URL(`/api/labels/${mac}/bind`, admin.url), {
      method: "POST",
      headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
      body: JSON.stringify({ barcode: goods[i % goods.length].barcode }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`binding label ${mac}: ${response.status} ${text}`);
  }
}

/**
 * Starts the appliance on `backend` (PostgreSQL: `pg`'s database, seeded by the lab; PGlite: a new
 * embedded store with the demo catalogue, its labels bound through the admin API), the network,
 * the payment server and the cloud. The caller closes it with `close()`.
 */
async function openLab(
  options: LabOptions,
  backend: Backend,
  pg: PostgresStore | undefined,
): Promise<Lab & { close(): Promise<string[]> }> {
  const shop = `lab${Deno.pid}${backend === "pglite" ? "e" : ""}`;
  const workDir = `${options.workDir}/${backend}`;
  const mqttUrl = Deno.env.get("MQTT_URL") ?? "mqtt://127.0.0.1:1883";
  let mqttClient: mqtt.MqttClient | undefined;
  let mqttNote = "";
  try {
    mqttClient = await mqtt.connectAsync(mqttUrl, { connectTimeout: 5000, reconnectPeriod: 0 });
  } catch (e) {
    mqttNote = `no MQTT broker at ${mqttUrl} (${(e as Error).message}): payments not reported`;
    options.progress(mqttNote);
  }
  const history = new History();
  const cloud = new PaymentCloud(mqttClient, shop, history);
  const net = await createLabNetwork();
  const devs = devices(options.ci);
  const adminToken = [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  let appliance: Appliance | undefined;
  let pgReader: SqlReader | undefined;
  try {
    const config = {
      shopId: shop,
      host: net.applianceAddress,
      port: 0,
      // Where install.sh --root puts it (_appliance.ts).
      stateDir: `${workDir}/root/var/lib/newretail`,
      databaseUrl: pg?.url ?? "",
      demo: backend === "pglite",
      mqttUrl: mqttClient ? mqttUrl : "",
      paymentServerUrl: cloud.url,
      discoveryEnabled: false,
      adminEnabled: true,
      adminHost: "127.0.0.1",
      adminPort: 0,
      adminToken,
      logLevel: "info",
      loginTimeoutS: 10,
      heartbeatIntervalS: HEARTBEAT_INTERVAL_S,
      heartbeatMisses: HEARTBEAT_MISSES,
      requestTimeoutS: REQUEST_TIMEOUT_S,
      pushTimeoutS: PUSH_TIMEOUT_S,
      pushTries: PUSH_TRIES,
      // Orders do not expire during a run: an unpaid order of the first variant expiring in a
      // later one would owe its till a result in the middle of that variant's check. Expiry
      // across clock steps is the clock scenario's.
      orderTtlS: 7200,
    };
    // The product's test-only switch (src/server/server.ts): the heartbeat never closes.
    const env: Record<string, string> = options.guardOff
      ? { NEWRETAIL_FAULT_LAB_UNSAFE_NO_HEARTBEAT_CLOSE: "1" }
      : {};
    await Deno.mkdir(workDir, { recursive: true });
    const started = await startAppliance({ ...options, workDir }, config, env);
    appliance = started;
    const admin: AdminEndpoint = {
      url: `http://127.0.0.1:${started.adminPort}`,
      token: adminToken,
    };
    const macs = devs.labels.flatMap((l) => l.macs);
    let withReader: Lab["withReader"];
    if (pg) {
      await seedCatalogue(pg.sql, macs);
      const reader = pgReader = await postgresReader(pg.url);
      withReader = (read) => read(reader);
    } else {
      // The embedded database is the appliance's own: the lab reads snapshots of it.
      withReader = async (read) => {
        const reader = await pgliteSnapshotReader(await fetchSnapshot(admin));
        try {
          return await read(reader);
        } finally {
          await reader.close();
        }
      };
      const demo = await withReader(readCatalogue);
      await bindLabels(admin, macs, [...demo.counted, ...demo.weighed]);
    }
    const catalogue = await withReader(readCatalogue);
    await sleep(2000);
    const lab = {
      options,
      backend,
      net,
      appliance: started,
      cloud,
      devices: devs,
      mqttNote,
      history,
      withReader,
      catalogue,
      admin,
      startRssMb: rssMb(started.pid),
      priceRounds: 0,
      async close(): Promise<string[]> {
        const problems: string[] = [];
        const code = await started.stop();
        // For --keep: what the appliance logged.
        await Deno.writeTextFile(
          `${workDir}/appliance.log`,
          started.lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
        );
        if (code !== 0) problems.push(`the appliance exited with ${code} on SIGTERM`);
        await net.destroy();
        await cloud.close();
        await pgReader?.close();
        return problems;
      },
    };
    return lab;
  } catch (e) {
    await appliance?.stop();
    await pgReader?.close();
    await net.destroy();
    await cloud.close();
    throw e;
  }
}

/**
 * The backends of a run: PostgreSQL, and in the full run the embedded PGlite too (the default
 * database of a store), on the variants marked for it. `FAULTS_NETWORK_BACKENDS=pglite` (or
 * `postgres`) picks.
 */
function backends(options: LabOptions): Backend[] {
  const asked = Deno.env.get("FAULTS_NETWORK_BACKENDS");
  if (asked) return asked.split(",").map((b) => b.trim()) as Backend[];
  return options.ci || options.guardOff ? ["postgres"] : ["postgres", "pglite"];
}

async function run(options: LabOptions): Promise<ScenarioReport> {
  const unavailable = await namespacesUnavailable();
  if (unavailable) return { rows: [], failures: [], unavailable };
  await removeStaleNetworks();
  const rows: ResultRow[] = [];
  const failures: string[] = [];
  for (const backend of backends(options)) {
    const list = variants(options).filter((v) => backend === "postgres" || v.pglite);
    if (list.length === 0) continue;
    const pg = backend === "postgres" ? await createPostgresStore() : undefined;
    if (typeof pg === "string") return { rows, failures, unavailable: pg };
    let lab: Awaited<ReturnType<typeof openLab>> | undefined;
    try {
      lab = await openLab(options, backend, pg);
      options.progress(
        `${backend}: appliance on ${lab.net.applianceAddress}:${lab.appliance.port}, devices in ${lab.net.namespace}`,
      );
      for (const [i, variant] of list.entries()) {
        const named = backend === "postgres"
          ? variant
          : { ...variant, name: `${variant.name} (PGlite)` };
        try {
          const result = await runVariant(lab, named, i);
          rows.push(result.row);
          failures.push(...result.failures);
        } catch (e) {
          failures.push(`${named.name}: broke: ${(e as Error).message}`);
        }
      }
      if (lab.mqttNote) failures.push(lab.mqttNote);
    } catch (e) {
      failures.push(`${backend}: broke: ${(e as Error).message}`);
    } finally {
      if (lab) failures.push(...await lab.close());
      await pg?.drop();
    }
  }
  return { rows, failures };
}

/** The scenario, for `run.ts`. */
export const network: Scenario = {
  name: "network",
  summary: "devices behind a lossy, slow, partitioned, jittery link; half-open connections",
  run,
};
