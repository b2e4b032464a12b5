/**
 * Fault lab `clock`: the machine's wall clock steps while the appliance serves, and at boot.
 *
 * The appliance (the bundle, installed by `install.sh --root`, started by its launcher) runs under
 * Debian's libfaketime (`LD_PRELOAD`, a timestamp file re-read at every call, the monotonic clock
 * left true): the lab moves the clock of that process only, never the machine's. Variants: the
 * clock steps back a day while serving; forward a year; and the PC boots with its clock at
 * 2000-01-01 (a flat RTC battery) until NTP steps it to now. Each variant, around its step:
 *
 * - tills sell (and ask again what got no answer, with the same order number);
 * - an unpaid order must expire `orderTtlS` after it was made, in real time (not at once, not a
 *   day late);
 * - a price schedule of an unlabelled goods starting a few seconds after the step must apply then,
 *   in real time (not early, not skipped), read by a till's `getGoods`;
 * - a labelled goods whose price rose while its label does not confirm: the till must see the
 *   label's lower price for `priceParityMaxS` of real time (the parity window), then the new one;
 * - a device that logged in and went silent must be closed within the heartbeat bound, and no
 *   live device may lose its connection;
 * - what the appliance records (orders' times) must carry its time, not the stepped clock's.
 *
 * Afterwards the database is checked against the history (faults/_history.ts). The machine's
 * clock in the log lines is the faked one: that is what journald would show beside them.
 *
 * @module
 */
import type { LabOptions, ResultRow, Scenario, ScenarioReport } from "./_lab.ts";
import { LabDevice, NoReply, type Received } from "./_device.ts";
import {
  checkHistory,
  type CheckResult,
  describeCounts,
  fetchSnapshot,
  History,
  type OrderEntry,
  pgliteSnapshotReader,
  postgresReader,
  type SqlReader,
} from "./_history.ts";
import {
  installAppliance,
  type InstalledAppliance,
  type RunningAppliance,
  startInstalledAppliance,
} from "./_appliance.ts";
import { between, randomOrder } from "./_catalogue.ts";
import { createPgCluster, type PgCluster } from "../tests/_support/pg_cluster.ts";

const FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const SHOP = "shop0001";
const TILLS = ["POS_0001", "POS_0002"];
/** The till that watches prices (getGoods by gid). */
const WATCHER = "POS_0003";
const LABELS = "DZBQ_0001";
/** A labelled goods whose label the lab keeps from confirming (the parity window). */
const PARITY = { gid: 9, mac: "AC:23:3F:00:00:09", regular: "2.00" };
/** An unlabelled goods whose price a schedule changes. */
const SCHEDULED = { gid: 11, regular: "3.00" };
/** Each variant's prices: a schedule's (lower, for SCHEDULED) and a raise (for PARITY). */
const PRICES = [
  { scheduled: "2.50", raised: "2.60" },
  { scheduled: "2.70", raised: "2.80" },
  { scheduled: "2.40", raised: "3.00" },
];
const HEARTBEAT_S = 2;
const HEARTBEAT_MISSES = 2;
/** A silent device must be closed by then (heartbeat bound plus the sweeper's tick and slack). */
const DEAD_BOUND_MS = (HEARTBEAT_MISSES + 1) * HEARTBEAT_S * 1000 + 3000;
/** The switch of the product that turns this scenario's guard off (src/guarded_clock.ts). */
const WALL_CLOCK_SWITCH = "NEWRETAIL_FAULT_LAB_UNSAFE_WALL_CLOCK";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One variant of the scenario. */
interface Variant {
  name: string;
  /** libfaketime's spec while the step lasts ("-1d", "+365d"), or the boot's ("@2000-01-01 …"). */
  step: string;
  /** The step happens at boot: the appliance starts with it and NTP then steps the clock to now. */
  boot: boolean;
}

const VARIANTS: Variant[] = [
  { name: "back 1 day while serving", step: "-1d", boot: false },
  { name: "forward 1 year while serving", step: "+365d", boot: false },
  { name: "boot at 2000-01-01, NTP step to now", step: "@2000-01-01 00:00:00", boot: true },
];

/** The process's clock: libfaketime's timestamp file, re-read at every call. */
class FakeClock {
  constructor(readonly file: string) {}
  set(spec: string): Promise<void> {
    return Deno.writeTextFile(this.file, `${spec}\n`);
  }
  env(): Record<string, string> {
    return {
      LD_PRELOAD: FAKETIME,
      FAKETIME_TIMESTAMP_FILE: this.file,
      FAKETIME_NO_CACHE: "1",
      // Durations (heartbeats, timeouts) read the monotonic clock: it stays true.
      FAKETIME_DONT_FAKE_MONOTONIC: "1",
    };
  }
}

/**
 * A device that logs in and then never answers anything (a till that hung). Resolves once its
 * login is answered (so that a step made next comes after it).
 */
async function silentDevice(port: number, equipId: string): Promise<{ closed: Promise<number> }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const header = new TextEncoder().encode(JSON.stringify({ action: "login", equipId, length: 0 }));
  const frame = new Uint8Array(4 + header.length);
  new DataView(frame.buffer).setInt32(0, header.length, true);
  frame.set(header, 4);
  await conn.write(frame);
  const opened = performance.now();
  const buffer = new Uint8Array(4096);
  // The loginReturn (a few dozen bytes: one read).
  if ((await conn.read(buffer)) === null) throw new Error(`${equipId}: login not answered`);
  const closed = (async () => {
    try {
      while ((await conn.read(buffer)) !== null) { /* health frames, never answered */ }
    } catch { /* reset */ }
    try {
      conn.close();
    } catch { /* closed */ }
    return performance.now() - opened;
  })();
  return { closed };
}

/** The store's devices. */
class Store {
  readonly devices = new Map<string, LabDevice>();
  /** Connections the appliance closed (or that broke) while they should have stayed. */
  readonly dropped: string[] = [];
  /** Orders that got no answer: asked again with the same number. */
  readonly retry: OrderEntry[] = [];
  /** When each till's unpaid order was told `sendPayResult` error (by terminal order id). */
  readonly expired = new Map<string, number>();
  /** The parity label confirms pushes of its goods only when this is true. */
  parityLabelConfirms = true;
  #n = 0;

  constructor(readonly history: History, readonly port: number, readonly tag: string) {}

  async connect(): Promise<void> {
    for (const equipId of [...TILLS, WATCHER, LABELS]) {
      const device = await LabDevice.connect({
        host: "127.0.0.1",
        port: this.port,
        equipId,
        onPush: (push) => this.#pushed(equipId, push),
      });
      this.devices.set(equipId, device);
      device.reading.then(() => {
        if (!this.#closing) this.dropped.push(equipId);
      });
    }
  }

  #closing = false;

  #pushed(equipId: string, push: Received): Record<string, unknown> | null {
    if (push.action === "sendGoods") {
      const goods = Array.isArray(push.body?.goods) ? push.body.goods : [];
      const parity = goods.some((g: Record<string, unknown>) => g?.mac === PARITY.mac);
      if (parity && !this.parityLabelConfirms) return null;
      this.history.labelsPushed(equipId, push);
    }
    if (push.action === "sendPayResult" && push.body?.result === "error") {
      const orderId = String(push.body?.order_id ?? "");
      if (!this.expired.has(orderId)) this.expired.set(orderId, performance.now());
    }
    return { exception: "" };
  }

  /** A till selling until `stop`; nothing is paid (orders expire). */
  async till(device: LabDevice, stop: AbortSignal): Promise<void> {
    while (!stop.aborted && !device.closed) {
      const again = this.retry.findIndex((e) => e.device === device.equipId);
      const order = again >= 0
        ? this.retry.splice(again, 1)[0]
        : { orderId: `${this.tag}-${device.equipId}-${this.#n++}`, ...randomOrder(false) };
      const entry = await this.history.getPayInfo(device, {
        orderId: order.orderId,
        totalPrice: order.totalPrice,
        lines: order.lines,
      });
      if (entry.outcome === "unknown") this.retry.push(entry);
      await sleep(between(200, 600));
    }
  }

  /** The till's price of `gid` (getGoods by gid). */
  async price(gid: number): Promise<string | undefined> {
    try {
      const reply = await this.devices.get(WATCHER)!.request("getGoods", { gid: String(gid) });
      const goods = Array.isArray(reply.body?.goods) ? reply.body.goods : [];
      return goods[0] ? Number(goods[0].price).toFixed(2) : undefined;
    } catch (e) {
      if (e instanceof NoReply) return undefined;
      throw e;
    }
  }

  /** The label base station shows its labels again (confirming what they show). */
  async refreshLabels(): Promise<void> {
    const reply = await this.devices.get(LABELS)!.request("getGoods", { mac_id: PARITY.mac });
    if (reply.body?.exception === "") this.history.labelsFetched(LABELS, reply);
  }

  close(): void {
    this.#closing = true;
    for (const device of this.devices.values()) device.close();
  }
}

/** What one variant found. */
interface VariantResult {
  row: ResultRow;
  failures: string[];
}

/** The appliance of a run, its clock, and how to read its database. */
interface Lab {
  options: LabOptions;
  installed: InstalledAppliance;
  fake: FakeClock;
  env: Record<string, string>;
  admin: { url: string; token: string };
  reader(): Promise<SqlReader>;
  backend: "pglite" | "postgres";
  ttlS: number;
  parityS: number;
}

async function start(lab: Lab): Promise<{ app: RunningAppliance; port: number }> {
  const app = await startInstalledAppliance(lab.installed, { env: lab.env });
  const started = app.lines.find((l) => l.msg === "newretail started")!;
  return { app, port: Number(started.port) };
}

/** Runs one variant on a running appliance (or restarts it for a boot variant). */
async function runVariant(
  lab: Lab,
  variant: Variant,
  history: History,
  running: { app: RunningAppliance; port: number },
  before: CheckResult | undefined,
  prices: (typeof PRICES)[number],
): Promise<
  { result: VariantResult; running: { app: RunningAppliance; port: number }; check?: CheckResult }
> {
  const say = (line: string) => lab.options.progress(`${variant.name}: ${line}`);
  const failures: string[] = [];
  const notes: string[] = [];
  const realStart = Date.now();
  const tag = variant.name.split(" ")[0] + "-" + variant.step.replace(/[^0-9a-z+-]/gi, "");
  history.phase = variant.name;
  let store: Store | undefined;
  let check: CheckResult | undefined;
  const stop = new AbortController();
  let selling: Promise<unknown> = Promise.resolve();
  try {
    // The schedule is created before a boot variant's restart (its start passes while the clock
    // is wrong): it must apply when its time comes, not before and not never.
    const scheduleLeadMs = (lab.options.ci ? 12 : 25) * 1000;
    const schedulePrice = prices.scheduled;
    const scheduleAt = new Date(Date.now() + scheduleLeadMs + (variant.boot ? 15_000 : 0));
    await history.createSchedule(lab.admin, {
      gid: SCHEDULED.gid,
      price: schedulePrice,
      startsAt: scheduleAt,
      endsAt: new Date(scheduleAt.getTime() + 3_600_000),
      regularPrice: SCHEDULED.regular,
    });
    if (variant.boot) {
      say("power off; the PC boots with its clock at 2000-01-01");
      await running.app.stop();
      await lab.fake.set(variant.step);
      running = await start(lab);
    }
    store = new Store(history, running.port, tag);
    await store.connect();
    await store.refreshLabels();
    // The label of PARITY stops confirming; its goods' price rises now: the till must see the
    // label's price for the parity window, in real time.
    store.parityLabelConfirms = false;
    const raisedAt = performance.now();
    await history.createSchedule(lab.admin, {
      gid: PARITY.gid,
      price: prices.raised,
      startsAt: new Date(Date.now() - 1000),
      endsAt: new Date(Date.now() + 3_600_000),
      regularPrice: PARITY.regular,
    });
    // An order nobody pays: it must expire orderTtlS after it was made.
    const unpaid = await history.getPayInfo(store.devices.get(TILLS[0])!, {
      orderId: `${tag}-unpaid`,
      totalPrice: "3.80",
      lines: [{ gid: 12, qty: "1" }],
    });
    const madeAt = performance.now();
    if (unpaid.outcome !== "acknowledged") failures.push("the unpaid order was not accepted");
    selling = Promise.all(TILLS.map((t) => store!.till(store!.devices.get(t)!, stop.signal)));
    await sleep(2000);

    // The step (for a boot: NTP setting the clock).
    const silentBefore = await silentDevice(running.port, "POS_0098");
    await lab.fake.set(variant.boot ? "+0" : variant.step);
    const steppedAt = performance.now();
    say(variant.boot ? "NTP steps the clock to now" : `clock stepped ${variant.step}`);
    const silentAfter = await silentDevice(running.port, "POS_0097");

    // Watch prices and the unpaid order until every rule has had its time.
    const watchUntil = Math.max(
      madeAt + lab.ttlS * 1000 + 15_000,
      raisedAt + lab.parityS * 1000 + 6000,
      performance.now() + (scheduleAt.getTime() - Date.now()) + 8000,
    );
    let scheduleSeenAt: number | undefined;
    let scheduleEarly = false;
    let parityBrokenAt: number | undefined;
    let parityEndedAt: number | undefined;
    while (performance.now() < watchUntil) {
      const now = performance.now();
      const scheduled = await store.price(SCHEDULED.gid);
      const realNow = Date.now();
      if (scheduled === schedulePrice && scheduleSeenAt === undefined) {
        scheduleSeenAt = realNow;
        if (realNow < scheduleAt.getTime() - 1000) scheduleEarly = true;
      }
      const parity = await store.price(PARITY.gid);
      const sinceRaise = now - raisedAt;
      if (parity === prices.raised) {
        if (sinceRaise < lab.parityS * 1000 - 2000 && parityBrokenAt === undefined) {
          parityBrokenAt = sinceRaise;
        }
        parityEndedAt ??= sinceRaise;
      }
      await sleep(300);
    }

    // Rules, each in real time.
    if (scheduleSeenAt === undefined) {
      failures.push(`the schedule starting ${scheduleAt.toISOString()} never applied (skipped)`);
    } else if (scheduleEarly) {
      failures.push(
        `the schedule applied ${seconds(scheduleAt.getTime() - scheduleSeenAt)} early`,
      );
    } else {
      notes.push(
        `schedule applied ${seconds(scheduleSeenAt - scheduleAt.getTime())} after its start`,
      );
    }
    if (parityBrokenAt !== undefined) {
      failures.push(
        `the till was charged the raised price ${seconds(parityBrokenAt)} after the change while ` +
          `the label still showed the old one (parity window ${lab.parityS} s)`,
      );
    } else if (parityEndedAt === undefined) {
      failures.push(`the parity window of ${lab.parityS} s never ended`);
    } else notes.push(`parity window ended ${seconds(parityEndedAt)} after the change`);
    const expiredAt = store.expired.get(`${tag}-unpaid`);
    if (expiredAt === undefined) {
      failures.push(
        `the unpaid order did not expire within ${lab.ttlS + 15} s (orderTtlS ${lab.ttlS})`,
      );
    } else {
      const after = expiredAt - madeAt;
      if (after < lab.ttlS * 1000 - 1500) {
        failures.push(
          `the unpaid order expired ${seconds(after)} after it was made (orderTtlS ${lab.ttlS} s)`,
        );
      } else notes.push(`unpaid order expired after ${seconds(after)}`);
    }
    for (const [name, silent] of [["before", silentBefore], ["after", silentAfter]] as const) {
      const closedIn = await Promise.race([
        silent.closed,
        sleep(DEAD_BOUND_MS + 2000).then(() => -1),
      ]);
      if (closedIn < 0) {
        failures.push(
          `a silent device connected ${name} the step was not closed within ${
            seconds(DEAD_BOUND_MS)
          }`,
        );
      } else if (closedIn > DEAD_BOUND_MS) {
        failures.push(
          `a silent device connected ${name} the step was closed after ${seconds(closedIn)}`,
        );
      }
    }
    if (store.dropped.length > 0) {
      failures.push(`live devices lost their connection: ${store.dropped.join(", ")}`);
    }
    void steppedAt;

    // The clock back to now; the label confirms; what is owed arrives.
    if (!variant.boot) await lab.fake.set("+0");
    stop.abort();
    await selling;
    for (let i = 0; i < 50 && store.retry.length > 0; i++) {
      const entry = store.retry.shift()!;
      const again = await history.getPayInfo(store.devices.get(entry.device)!, {
        orderId: entry.orderId,
        totalPrice: entry.totalPrice,
        lines: entry.lines,
      });
      if (again.outcome === "unknown") store.retry.push(again);
    }
    store.parityLabelConfirms = true;
    await sleep(2000);
    await store.refreshLabels();
    await sleep(1000);

    const db = await lab.reader();
    try {
      check = await checkHistory(history, db, { settled: true });
      // What the appliance recorded carries its time, not the stepped clock's.
      const [times] = await db.query(
        `select extract(epoch from min(created_at))::float8 * 1000 as first,
                extract(epoch from max(created_at))::float8 * 1000 as last
           from orders where terminal_order_id like $1`,
        [`${tag}-%`],
      );
      const first = Number(times.first);
      const last = Number(times.last);
      if (first < realStart - 120_000 || last > Date.now() + 120_000) {
        failures.push(
          `orders stamped ${new Date(first).toISOString()} … ${new Date(last).toISOString()}, ` +
            `made between ${new Date(realStart).toISOString()} and now`,
        );
      } else notes.push("orders stamped with the real time");
    } finally {
      await db.close();
    }
    const fresh = check.problems.filter((p) => !before?.problems.includes(p));
    failures.push(...fresh);
  } catch (e) {
    failures.push(`broke: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  } finally {
    stop.abort();
    await selling.catch(() => {});
    store?.close();
  }
  const acknowledged =
    history.entries.filter((e) => e.phase === variant.name && e.outcome === "acknowledged").length;
  return {
    result: {
      row: {
        scenario: "clock",
        variant: `${variant.name} (${lab.backend}${lab.options.guardOff ? ", guard OFF" : ""})`,
        did: `${history.entries.filter((e) => e.phase === variant.name).length} requests`,
        acknowledged,
        lost: (check?.lost ?? 0) - (before?.lost ?? 0),
        duplicated: (check?.duplicated ?? 0) - (before?.duplicated ?? 0),
        recovery: "—",
        notes: [check ? describeCounts(check) : "", ...notes].filter(Boolean).join("; "),
      },
      failures: [...new Set(failures)],
    },
    running,
    check,
  };
}

async function runBackend(
  options: LabOptions,
  backend: "pglite" | "postgres",
  installed: InstalledAppliance,
  variants: Variant[],
): Promise<{ rows: ResultRow[]; failures: string[] }> {
  const dir = `${options.workDir}/${backend}`;
  await Deno.mkdir(dir, { recursive: true });
  const rows: ResultRow[] = [];
  const failures: string[] = [];
  const fake = new FakeClock(`${dir}/faketime`);
  await fake.set("+0");
  const token = crypto.randomUUID().replaceAll("-", "");
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const adminPort = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const ttlS = options.ci ? 12 : 30;
  const parityS = options.ci ? 12 : 30;
  let cluster: PgCluster | undefined;
  let running: { app: RunningAppliance; port: number } | undefined;
  try {
    if (backend === "postgres") {
      for (const d of [options.workDir, dir]) await Deno.chmod(d, 0o755);
      cluster = await createPgCluster({ parent: dir });
      await cluster.start();
    }
    await Deno.writeTextFile(
      installed.configFile,
      JSON.stringify(
        {
          shopId: SHOP,
          host: "127.0.0.1",
          port: 0,
          adminHost: "127.0.0.1",
          adminPort,
          adminToken: token,
          discoveryEnabled: false,
          databaseUrl: cluster?.url ?? "",
          heartbeatIntervalS: HEARTBEAT_S,
          heartbeatMisses: HEARTBEAT_MISSES,
          pushTimeoutS: 2,
          pushTries: 2,
          orderTtlS: ttlS,
          priceParityMaxS: parityS,
          logLevel: "info",
        },
        null,
        2,
      ) + "\n",
    );
    if (cluster) {
      for (const command of ["migrate", "seed-demo"]) {
        // Without the lab's environment (a suite's DATABASE_URL would win over the config file).
        const out = await new Deno.Command(installed.launcher, {
          args: [command],
          clearEnv: true,
          env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? "/" },
        }).output();
        if (!out.success) throw new Error(`newretail ${command} failed`);
      }
    }
    const admin = { url: `http://127.0.0.1:${adminPort}`, token };
    const lab: Lab = {
      options,
      installed,
      fake,
      env: {
        ...fake.env(),
        NEWRETAIL_STATE_DIR: `${dir}/state`,
        ...(options.guardOff ? { [WALL_CLOCK_SWITCH]: "1" } : {}),
      },
      admin,
      reader: () =>
        backend === "pglite"
          ? fetchSnapshot(admin).then(pgliteSnapshotReader)
          : postgresReader(cluster!.url),
      backend,
      ttlS,
      parityS,
    };
    running = await start(lab);
    const history = new History();
    let before: CheckResult | undefined;
    for (const [i, variant] of variants.entries()) {
      const done = await runVariant(lab, variant, history, running, before, PRICES[i]);
      running = done.running;
      before = done.check ?? before;
      rows.push(done.result.row);
      failures.push(...done.result.failures.map((f) => `${done.result.row.variant}: ${f}`));
    }
  } catch (e) {
    failures.push(`${backend} broke: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  } finally {
    await running?.app.stop();
    await cluster?.destroy().catch(() => {});
  }
  return { rows, failures };
}

async function run(options: LabOptions): Promise<ScenarioReport> {
  try {
    await Deno.stat(FAKETIME);
  } catch {
    return {
      rows: [],
      failures: [],
      unavailable: `libfaketime is not installed (${FAKETIME}: apt-get install faketime)`,
    };
  }
  const installed = await installAppliance(`${options.workDir}/app`, {}, options.progress);
  const rows: ResultRow[] = [];
  const failures: string[] = [];
  const embedded = await runBackend(options, "pglite", installed, VARIANTS);
  rows.push(...embedded.rows);
  failures.push(...embedded.failures);
  if (!options.ci && !options.guardOff) {
    // PostgreSQL is a server of its own: its clock is true while the appliance's steps.
    const pg = await runBackend(options, "postgres", installed, [VARIANTS[1]]);
    rows.push(...pg.rows);
    failures.push(...pg.failures);
  }
  return { rows, failures };
}

/** The scenario. */
export const clock: Scenario = {
  name: "clock",
  summary: "the wall clock steps back a day, forward a year, and boots in 2000 until NTP sets it",
  run,
};
