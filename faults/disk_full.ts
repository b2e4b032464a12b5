/**
 * Fault lab `disk-full`: the database's disk fills up while the store sells.
 *
 * The appliance (the bundle, installed by `install.sh --root`, started by its launcher) keeps its
 * database on a small file system the lab mounts (a tmpfs): the state directory of the embedded
 * database, or the data directory of a PostgreSQL cluster of the lab's own. Tills sell, the cloud
 * pays over MQTT, a handheld books receipts, a scale and a label base station read. Meanwhile the
 * lab fills the disk with a file, first slowly (the disk is low: warned before it is full), then
 * to the last byte, keeps selling on the full disk, frees it, and sells on. Recorded from outside:
 * every answer and how long it took, the appliance's log lines, its `/alerts` and `/metrics`.
 * Afterwards the database is checked against the history (faults/_history.ts).
 *
 * What must hold: reads keep answering; orders, receipts and payments get the documented
 * `disk full` exception at once (never `internal error`, never a hang); a few log lines, not one
 * per request; the free space in `/metrics` and a `disk_full` console alert naming it, a
 * `disk_low` one before; writes accepted again by themselves once space is back; nothing
 * acknowledged lost. Two more rows: `newretail backup` onto a disk too small for it, and an
 * upgrade whose copy of the embedded database does not fit — both refused up front with the space
 * needed, nothing half-written left behind.
 *
 * @module
 */
import type { LabOptions, ResultRow, Scenario, ScenarioReport } from "./_lab.ts";
import { LabDevice, type Received } from "./_device.ts";
import {
  checkHistory,
  type CheckResult,
  describeCounts,
  fetchSnapshot,
  History,
  type OrderEntry,
  pgliteSnapshotReader,
  postgresReader,
  type ReceiptEntry,
  type SqlReader,
} from "./_history.ts";
import {
  installAppliance,
  type InstalledAppliance,
  startInstalledAppliance,
} from "./_appliance.ts";
import { cloudPublisher, startBroker } from "./_broker.ts";
import { between, pick, PIECE_GOODS, randomOrder } from "./_catalogue.ts";
import { createPgCluster, type PgCluster } from "../tests/_support/pg_cluster.ts";
import { DISK_CHECK_MS } from "../src/disk_guard.ts";

const SHOP = "shop0001";
const MB = 1024 * 1024;
/** The exception the appliance documents for a write on a full disk (docs/FAULTS.md). */
const DISK_FULL = "disk full: not recorded, try again later";
const DATABASE_UNAVAILABLE = "database unavailable, try again later";
const TILLS = ["POS_0001", "POS_0002", "POS_0003"];
const SCALE = "DZC_0001";
const HANDHELD = "RFID_0001";
const LABELS = "DZBQ_0001";
const LABEL_MACS = ["AC:23:3F:00:00:09", "AC:23:3F:00:00:0A"];
/** A read code of the demo catalogue (getGoods by barcode). */
const CODES = ["6901234500011", "6901234500028", "6901234500110"];
/** A refused write answered later than this is not "at once". */
const PROMPT_MS = 2_000;
const REQUEST_TIMEOUT_S = 10;
/** The product's test-only switch that turns the disk guard off (src/disk_guard.ts). */
const NO_DISK_GUARD_SWITCH = "NEWRETAIL_FAULT_LAB_UNSAFE_NO_DISK_GUARD";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Runs a command with the lab's environment left out (as the installed appliance is started):
 * a `DATABASE_URL` of the suite would otherwise point the launcher or install.sh at its database.
 */
async function run(cmd: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: Deno.env.get("HOME") ?? "/",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, text: text.trim() };
}

/** Mounts a tmpfs of `sizeMb` on `path` (created). */
async function mountTmpfs(path: string, sizeMb: number): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
  const out = await run("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", path]);
  if (!out.ok) throw new Error(`mount tmpfs on ${path}: ${out.text}`);
}

async function unmount(path: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    if ((await run("umount", [path])).ok) return;
    await sleep(250);
  }
}

async function freeBytes(path: string): Promise<number> {
  const out = await run("df", ["-B1", "--output=avail", path]);
  return Number(out.text.split("\n")[1]);
}

/** Whoever fills the disk: a file growing 1 MB at a time. */
class Filler {
  #file: Deno.FsFile | undefined;
  constructor(readonly path: string) {}

  /** Grows until `leaveBytes` are free (or the disk is full), one MB every `pauseMs`. */
  async fillUntil(leaveBytes: number, pauseMs: number, signal?: AbortSignal): Promise<void> {
    this.#file ??= await Deno.open(this.path, { write: true, create: true, append: true });
    const chunk = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const mb = new Uint8Array(MB);
    for (let i = 0; i < MB; i += chunk.length) mb.set(chunk, i);
    const dir = this.path.replace(/\/[^/]*$/, "");
    while (!signal?.aborted) {
      const free = await freeBytes(dir);
      if (free <= leaveBytes) return;
      const size = Math.min(MB, free - leaveBytes);
      try {
        for (let written = 0; written < size;) {
          written += await this.#file.write(mb.subarray(written, size));
        }
      } catch {
        return; // the last byte is taken
      }
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  /** Takes every byte left. */
  async fillAll(): Promise<void> {
    await this.fillUntil(0, 0);
    // What a page-sized write could not take, a byte at a time.
    for (let i = 0; i < 4096; i++) {
      try {
        await this.#file!.write(new Uint8Array(1));
      } catch {
        return;
      }
    }
  }

  /** Removes the file: the space is back. */
  async remove(): Promise<void> {
    this.#file?.close();
    this.#file = undefined;
    await Deno.remove(this.path).catch(() => {});
  }
}

/** One request's answer as the lab saw it. */
interface Answer {
  action: string;
  phase: string;
  exception: string | undefined;
  ms: number;
  at: number;
}

/** The store's devices and the cloud, selling until told to stop. */
class Store {
  readonly devices = new Map<string, LabDevice>();
  readonly answers: Answer[] = [];
  /** Writes the devices will ask again (same order number, same ref), as devices do. */
  readonly retry: (OrderEntry | ReceiptEntry)[] = [];
  readonly payments: Promise<unknown>[] = [];
  phase = "before";
  #n = 0;

  constructor(
    readonly history: History,
    readonly port: number,
    readonly publish: (payload: string) => Promise<void>,
  ) {}

  async connect(): Promise<void> {
    for (const equipId of [...TILLS, SCALE, HANDHELD, LABELS]) {
      this.devices.set(
        equipId,
        await LabDevice.connect({
          host: "127.0.0.1",
          port: this.port,
          equipId,
          onPush: (push) => this.#pushed(equipId, push),
        }),
      );
    }
  }

  #pushed(equipId: string, push: Received): Record<string, unknown> {
    if (push.action === "sendGoods") this.history.labelsPushed(equipId, push);
    if (push.action === "sendPayResult") this.history.payResultReceived(equipId, push);
    return { exception: "" };
  }

  #note(action: string, started: number, exception: string | undefined): void {
    const now = performance.now();
    this.answers.push({ action, phase: this.phase, exception, ms: now - started, at: now });
  }

  /** A till selling: new orders, or again one that was refused for the full disk. */
  async till(device: LabDevice, stop: AbortSignal): Promise<void> {
    while (!stop.aborted && !device.closed) {
      const again = this.retry.findIndex((e) => e.kind === "order" && e.device === device.equipId);
      const order = again >= 0
        ? this.retry.splice(again, 1)[0] as OrderEntry
        : { orderId: `${device.equipId}-${this.#n++}`, ...randomOrder(false) };
      const started = performance.now();
      const entry = await this.history.getPayInfo(device, {
        orderId: order.orderId,
        totalPrice: order.totalPrice,
        lines: order.lines,
      }, REQUEST_TIMEOUT_S * 1000 + 5000);
      this.#note(
        "getPayInfo",
        started,
        entry.outcome === "unknown" ? undefined : exceptionOf(entry),
      );
      if (entry.outcome !== "acknowledged") this.retry.push(entry);
      else if (Math.random() < 0.7) {
        this.payments.push(sleep(between(0, 1500)).then(() => this.pay(entry)));
      }
      await sleep(between(100, 400));
    }
  }

  /** The handheld booking receipts; a refused one is booked again later. */
  async handheld(device: LabDevice, stop: AbortSignal): Promise<void> {
    while (!stop.aborted && !device.closed) {
      const again = this.retry.findIndex((e) => e.kind === "receipt");
      const receipt = again >= 0 ? this.retry.splice(again, 1)[0] as ReceiptEntry : {
        ref: `R-${this.#n++}`,
        whid: 2,
        lines: [{ gid: Number(pick(Object.keys(PIECE_GOODS))), qty: "6" }],
      };
      const started = performance.now();
      const entry = await this.history.stockGoods(device, {
        ref: receipt.ref,
        whid: receipt.whid,
        lines: receipt.lines,
      }, REQUEST_TIMEOUT_S * 1000 + 5000);
      this.#note(
        "stockGoods",
        started,
        entry.outcome === "unknown" ? undefined : exceptionOf(entry),
      );
      if (entry.outcome !== "acknowledged") this.retry.push(entry);
      await sleep(between(300, 800));
    }
  }

  /** The scale and the label base station reading. */
  async reader(device: LabDevice, stop: AbortSignal): Promise<void> {
    while (!stop.aborted && !device.closed) {
      const [action, body] = device.equipId === LABELS
        ? ["getGoods", { mac_id: LABEL_MACS.join(",") }] as const
        : pick([
          ["getGoods", { code: pick(CODES) }] as const,
          ["getAllGoods", { ost: 0, lmt: 50 }] as const,
        ]);
      const started = performance.now();
      try {
        const reply = await device.request(action, body, REQUEST_TIMEOUT_S * 1000 + 5000);
        this.#note(action, started, String(reply.body?.exception ?? "(no exception)"));
        if (device.equipId === LABELS && reply.body?.exception === "") {
          this.history.labelsFetched(LABELS, reply);
        }
      } catch {
        this.#note(action, started, undefined);
      }
      await sleep(between(100, 300));
    }
  }

  pay(order: OrderEntry): Promise<unknown> {
    const code = new URL(order.url!).searchParams.get("order") ?? "";
    return this.history.publishPayment(this.publish, {
      shopId: SHOP,
      orderDevice: order.device,
      orderId: order.orderId,
      orderCode: code,
    });
  }

  /** Every device selling or reading until `stop`. */
  sell(stop: AbortSignal): Promise<unknown> {
    return Promise.all([
      ...TILLS.map((t) => this.till(this.devices.get(t)!, stop)),
      this.handheld(this.devices.get(HANDHELD)!, stop),
      this.reader(this.devices.get(SCALE)!, stop),
      this.reader(this.devices.get(LABELS)!, stop),
    ]);
  }

  close(): void {
    for (const device of this.devices.values()) device.close();
  }
}

function exceptionOf(entry: OrderEntry | ReceiptEntry): string {
  return String(entry.answer?.exception ?? "(no exception)");
}

const READS = new Set(["getGoods", "getAllGoods"]);

/** Figures of one phase's answers. */
function tally(answers: Answer[], phase: string) {
  const of = answers.filter((a) => a.phase === phase);
  const reads = of.filter((a) => READS.has(a.action));
  const writes = of.filter((a) => !READS.has(a.action));
  const refused = writes.filter((a) => a.exception === DISK_FULL);
  return {
    reads: reads.length,
    readsOk: reads.filter((a) => a.exception === "").length,
    writes: writes.length,
    writesOk: writes.filter((a) => a.exception === "").length,
    diskFull: refused.length,
    unavailable: of.filter((a) => a.exception === DATABASE_UNAVAILABLE).length,
    internal: of.filter((a) => a.exception === "internal error").length,
    noReply: of.filter((a) => a.exception === undefined).length,
    other: of.filter((a) =>
      a.exception !== undefined && a.exception !== "" && a.exception !== DISK_FULL &&
      a.exception !== DATABASE_UNAVAILABLE && a.exception !== "errorPrice"
    ),
    slowestRefusalMs: Math.max(0, ...refused.map((a) => a.ms)),
  };
}

/** The admin server the appliance logged at start. */
interface Admin {
  url: string;
  token: string;
}

async function alerts(admin: Admin): Promise<{ rule: string; message: string }[]> {
  const response = await fetch(`${admin.url}/alerts`, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) return [];
  return (await response.json()).alerts;
}

async function metric(admin: Admin, name: string): Promise<number | undefined> {
  const response = await fetch(`${admin.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.split(" ").at(-1)) : undefined;
}

type Backend = "pglite" | "postgres";

/** Runs one store row: sell, fill, sell on the full disk, free, sell, check. */
async function storeRow(
  backend: Backend,
  lab: LabOptions,
  installed: InstalledAppliance,
  dir: string,
): Promise<{ row: ResultRow; failures: string[] }> {
  const say = (line: string) => lab.progress(`${backend}: ${line}`);
  const variant = backend === "pglite"
    ? `pglite (embedded), state dir on a tmpfs${lab.guardOff ? ", disk guard OFF" : ""}`
    : `PostgreSQL 15, data dir on a tmpfs${lab.guardOff ? ", disk guard OFF" : ""}`;
  const phaseMs = lab.ci ? { before: 4000, full: 12_000, after: 6000 } : {
    before: 10_000,
    full: 75_000,
    after: 20_000,
  };
  const failures: string[] = [];
  const history = new History();
  const disk = `${dir}/disk`;
  const token = crypto.randomUUID().replaceAll("-", "");
  let cluster: PgCluster | undefined;
  let broker: Awaited<ReturnType<typeof startBroker>> | undefined;
  let cloud: Awaited<ReturnType<typeof cloudPublisher>> | undefined;
  let app: Awaited<ReturnType<typeof startInstalledAppliance>> | undefined;
  let store: Store | undefined;
  const filler = new Filler(`${disk}/filler`);
  const notes: string[] = [];
  let check: CheckResult | undefined;
  let recovery = "—";
  try {
    await Deno.mkdir(dir, { recursive: true });
    // PostgreSQL runs as its own user: it must reach its directory under the lab's.
    for (const d of [lab.workDir, dir]) await Deno.chmod(d, 0o755);
    // PostgreSQL's initdb takes ~40 MB; the embedded database from its template ~30 MB and a
    // 16 MB WAL segment.
    await mountTmpfs(disk, backend === "pglite" ? 160 : 192);
    broker = await startBroker(dir, "127.0.0.1");
    cloud = await cloudPublisher(broker.url, SHOP);
    let databaseUrl = "";
    if (backend === "postgres") {
      cluster = await createPgCluster({ parent: disk });
      await cluster.start();
      databaseUrl = cluster.url;
    }
    await configure(installed, {
      shopId: SHOP,
      host: "127.0.0.1",
      port: 0,
      adminHost: "127.0.0.1",
      adminPort: 0,
      adminToken: token,
      discoveryEnabled: false,
      databaseUrl,
      databaseDiskPath: backend === "postgres" ? disk : "",
      mqttUrl: broker.url,
      requestTimeoutS: REQUEST_TIMEOUT_S,
      orderTtlS: 86_400,
      // This disk is small: warned under 100 MB free, writes refused under the default 64 MB.
      diskWarnFreeMb: 100,
      logLevel: "info",
    });
    const env: Record<string, string> = {
      NEWRETAIL_STATE_DIR: `${disk}/state`,
      ...(lab.guardOff ? { [NO_DISK_GUARD_SWITCH]: "1" } : {}),
    };
    if (backend === "postgres") {
      for (const command of ["migrate", "seed-demo"]) {
        const out = await run(installed.launcher, [command]);
        if (!out.ok) throw new Error(`newretail ${command}: ${out.text}`);
      }
    }
    app = await startInstalledAppliance(installed, { env });
    const started = app.lines.find((l) => l.msg === "newretail started")!;
    const admin: Admin = { url: `http://${started.admin}`, token };
    const reader = (): Promise<SqlReader> =>
      backend === "pglite"
        ? fetchSnapshot({ url: admin.url, token }).then(pgliteSnapshotReader)
        : postgresReader(databaseUrl);
    store = new Store(history, Number(started.port), (p) => cloud!.publish(p));
    await store.connect();
    say(`serving; ${Math.round((await freeBytes(disk)) / MB)} MB free on the disk`);

    // Selling on a healthy disk.
    const stop = new AbortController();
    const selling = store.sell(stop.signal);
    await sleep(phaseMs.before);

    // The disk fills slowly: warned before it is full.
    store.phase = "filling";
    const lowSeen = (async () => {
      for (let i = 0; i < 600 && !stop.signal.aborted; i++) {
        const open = await alerts(admin).catch(() => []);
        const low = open.find((a) => a.rule === "disk_low");
        if (low) return low.message;
        if (open.some((a) => a.rule === "disk_full")) return undefined;
        await sleep(100);
      }
      return undefined;
    })();
    await filler.fillUntil(70 * MB, 150);
    const low = await lowSeen;
    if (low) notes.push(`warned before full: "${low}"`);
    else failures.push("no disk_low alert before the disk was full");

    // Every byte taken; selling goes on.
    store.phase = "full";
    const logFrom = app.lines.length;
    await filler.fillAll();
    const fullAt = performance.now();
    say(`disk full (${await freeBytes(disk)} bytes free); selling on it`);
    // The alert comes from the first write refused for lack of space, or else from the next
    // reading of the disk (every DISK_CHECK_MS): a loaded machine may take the whole period.
    let fullAlert: { message: string } | undefined;
    const alertBy = performance.now() + DISK_CHECK_MS + 10_000;
    while (!fullAlert && performance.now() < alertBy) {
      await sleep(250);
      fullAlert = (await alerts(admin).catch(() => [])).find((a) => a.rule === "disk_full");
    }
    const waitedS = ((performance.now() - fullAt) / 1000).toFixed(1);
    if (!fullAlert) failures.push(`no disk_full alert within ${waitedS} s of a full disk`);
    else notes.push(`console after ${waitedS} s: "${fullAlert.message}"`);
    const gauge = await metric(admin, "newretail_disk_free_bytes").catch(() => undefined);
    if (gauge === undefined) failures.push("no newretail_disk_free_bytes in /metrics");
    else notes.push(`/metrics free ${gauge} B`);
    await sleep(Math.max(0, phaseMs.full - (performance.now() - fullAt)));
    const warnings = app.lines.slice(logFrom).filter((l) =>
      l.level === "warn" || l.level === "error"
    );
    // The MQTT connection's own events are not about requests: while a payment waits for room,
    // the client's keepalive lapses (its handler holds the message) and it reconnects; counted
    // apart (docs/FAULTS.md).
    const mqttLines = warnings.filter((l) => String(l.msg).startsWith("MQTT "));
    const logLines = warnings.filter((l) => !String(l.msg).startsWith("MQTT "));

    // Space back: writes accepted again by themselves.
    store.phase = "after";
    await filler.remove();
    const freedAt = performance.now();
    say("space freed");
    let firstWrite: number | undefined;
    for (let i = 0; i < 1200 && firstWrite === undefined; i++) {
      firstWrite = store.answers.find((a) =>
        a.phase === "after" && !READS.has(a.action) && a.exception === ""
      )?.at;
      if (firstWrite === undefined) await sleep(100);
    }
    if (firstWrite === undefined) {
      failures.push("writes not accepted within 120 s of freeing space");
    } else recovery = `${seconds(firstWrite - freedAt)} after space freed`;
    await sleep(phaseMs.after);
    stop.abort();
    await selling;
    // What was refused is asked again until accepted (devices retry), then what is owed arrives.
    store.phase = "retry";
    const retryStop = new AbortController();
    const retrying = store.sell(retryStop.signal);
    for (let i = 0; i < 300 && store.retry.length > 0; i++) await sleep(100);
    retryStop.abort();
    await retrying;
    await Promise.all(store.payments);
    await settle(history);

    const db = await reader();
    try {
      check = await checkHistory(history, db, { settled: true });
    } finally {
      await db.close();
    }
    failures.push(...check.problems);

    // What the devices were told while the disk was full.
    const full = tally(store.answers, "full");
    const filling = tally(store.answers, "filling");
    const after = tally(store.answers, "after");
    if (full.readsOk < full.reads) {
      failures.push(
        `reads on the full disk: ${full.reads - full.readsOk} of ${full.reads} not answered ` +
          `(${full.unavailable} 'database unavailable', ${full.noReply} no reply)`,
      );
    }
    for (const t of [filling, full, after]) {
      if (t.internal > 0) failures.push(`${t.internal} requests answered 'internal error'`);
      if (t.noReply > 0) failures.push(`${t.noReply} requests got no reply (a hang)`);
      for (const a of t.other.slice(0, 3)) {
        failures.push(`${a.action} answered an undocumented exception: ${a.exception}`);
      }
    }
    if (full.diskFull === 0) failures.push("no write was answered 'disk full' on the full disk");
    if (full.slowestRefusalMs > PROMPT_MS) {
      failures.push(`a 'disk full' answer took ${seconds(full.slowestRefusalMs)} (not at once)`);
    }
    const fullMinutes = Math.ceil(phaseMs.full / 60_000);
    const allowed = 2 + 2 * fullMinutes;
    if (logLines.length > allowed) {
      failures.push(
        `${logLines.length} warn/error log lines in ${
          seconds(phaseMs.full)
        } of full disk (one per request, not one a minute): ${
          [...new Set(logLines.map((l) => String(l.msg)))].slice(0, 3).join("; ")
        }`,
      );
    }
    const stopped = app.lines.some((l) =>
      String(l.msg).startsWith("embedded database stopped: its disk is full")
    );
    notes.push(
      `full: reads ${full.readsOk}/${full.reads} answered, writes ${full.diskFull} 'disk full' ` +
        `(slowest ${Math.round(full.slowestRefusalMs)} ms), ${full.writesOk} accepted, ` +
        `${full.unavailable} 'database unavailable'`,
      `${logLines.length} warn/error log lines while full (and ${mqttLines.length} of the MQTT connection)`,
      ...(stopped ? ["the embedded database stopped (PANIC) and reopened"] : []),
    );
  } catch (e) {
    failures.push(`broke: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  } finally {
    store?.close();
    await app?.stop();
    await cloud?.close().catch(() => {});
    await broker?.stop();
    await cluster?.stop("fast").catch(() => {});
    await filler.remove();
    await unmount(disk);
  }
  return {
    row: {
      scenario: "disk-full",
      variant,
      did: `${Math.round(phaseMs.full / 1000)} s full, ${history.entries.length} records asked`,
      acknowledged: check?.acknowledged ?? 0,
      lost: check?.lost ?? 0,
      duplicated: check?.duplicated ?? 0,
      recovery,
      notes: [check ? describeCounts(check) : "", ...notes].filter(Boolean).join("; "),
    },
    failures: [...new Set(failures)],
  };
}

/** Writes the installed appliance's configuration. */
async function configure(installed: InstalledAppliance, config: Record<string, unknown>) {
  await Deno.writeTextFile(installed.configFile, JSON.stringify(config, null, 2) + "\n");
}

/** Waits until every payment the broker took was answered to its till (at most 60 s). */
async function settle(history: History): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const owed = history.of("payment").filter((p) => p.published && p.outcome !== "acknowledged");
    if (owed.length === 0) return;
    await sleep(100);
  }
}

/** `newretail backup` onto a disk too small for it, while the appliance serves. */
async function backupRow(
  installed: InstalledAppliance,
  dir: string,
): Promise<{ row: ResultRow; failures: string[] }> {
  const failures: string[] = [];
  const small = `${dir}/backup-disk`;
  const notes: string[] = [];
  let app: Awaited<ReturnType<typeof startInstalledAppliance>> | undefined;
  try {
    await Deno.mkdir(dir, { recursive: true });
    // `backup` finds the running appliance at the configured admin port: a fixed one.
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const adminPort = (probe.addr as Deno.NetAddr).port;
    probe.close();
    await configure(installed, {
      shopId: SHOP,
      host: "127.0.0.1",
      port: 0,
      adminHost: "127.0.0.1",
      adminPort,
      adminToken: crypto.randomUUID().replaceAll("-", ""),
      discoveryEnabled: false,
      databaseUrl: "",
      logLevel: "info",
    });
    const state = { NEWRETAIL_STATE_DIR: `${dir}/state` };
    app = await startInstalledAppliance(installed, { env: state });
    await mountTmpfs(small, 4);
    const out = await run("env", [
      `NEWRETAIL_STATE_DIR=${dir}/state`,
      installed.launcher,
      "backup",
      `${small}/store.tar.gz`,
    ]);
    const left = [...Deno.readDirSync(small)].map((e) => e.name);
    if (out.ok) failures.push("a backup larger than its disk was not refused");
    if (!/needs \d+ MB .* which has \d+ MB free; nothing was written/.test(out.text)) {
      failures.push(`the refusal does not name the space needed: ${out.text}`);
    }
    if (left.length > 0) failures.push(`left behind on the backup's disk: ${left.join(", ")}`);
    notes.push(`"${out.text.split("\n").at(-1)}"`);
    // The same backup where there is room.
    const fits = await run("env", [
      `NEWRETAIL_STATE_DIR=${dir}/state`,
      installed.launcher,
      "backup",
      `${dir}/store.tar.gz`,
    ]);
    if (!fits.ok) failures.push(`the backup where it fits failed: ${fits.text}`);
    else notes.push(`where it fits: ${(await Deno.stat(`${dir}/store.tar.gz`)).size} bytes`);
  } catch (e) {
    failures.push(`broke: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  } finally {
    await app?.stop();
    await unmount(small);
  }
  return {
    row: {
      scenario: "disk-full",
      variant: "backup onto a 4 MB disk (pglite, serving)",
      did: "newretail backup, then where it fits",
      acknowledged: 0,
      lost: 0,
      duplicated: 0,
      recovery: "—",
      notes: notes.join("; "),
    },
    failures,
  };
}

/**
 * An upgrade (install.sh of a newer release) whose copy of the embedded database does not fit on
 * its disk: refused before the service is touched, nothing half-copied; then with room, done.
 */
async function upgradeRow(
  installed: InstalledAppliance,
  release: string,
  dir: string,
): Promise<{ row: ResultRow; failures: string[] }> {
  const failures: string[] = [];
  const notes: string[] = [];
  // install.sh finds the embedded database at the configured state directory, under its own
  // (/var/lib/newretail) when relative: the launcher's default under a scratch root too.
  const state = installed.stateDir;
  let mounted = false;
  try {
    await Deno.mkdir(dir, { recursive: true });
    await configure(installed, {
      shopId: SHOP,
      host: "127.0.0.1",
      port: 0,
      adminEnabled: false,
      discoveryEnabled: false,
      databaseUrl: "",
      stateDir: ".",
      logLevel: "info",
    });
    // The state directory on a disk of its own, the database made there by a first start.
    await mountTmpfs(state, 150);
    mounted = true;
    const app = await startInstalledAppliance(installed, { env: { NEWRETAIL_STATE_DIR: state } });
    await app.stop();
    const database = `${state}/db`;
    const next = `${dir}/release-next`;
    await run("cp", ["-a", release, next]);
    const version = `${(await Deno.readTextFile(`${release}/VERSION`)).trim()}-lab`;
    await Deno.writeTextFile(`${next}/VERSION`, `${version}\n`);
    const filler = new Filler(`${state}/filler`);
    // Room for neither the copy nor the 64 MB the appliance keeps for its database.
    await filler.fillUntil(48 * MB, 0);
    const install = () =>
      run("sh", [
        `${next}/install.sh`,
        "--root",
        installed.root,
        "--deno",
        Deno.execPath(),
        "--no-start",
      ]);
    const refused = await install();
    const current = await Deno.readLink(`${installed.root}/opt/newretail/current`);
    const copies = [...Deno.readDirSync(state)].filter((e) => e.name.startsWith("db.before"));
    if (refused.ok) failures.push("an upgrade whose database copy does not fit was not refused");
    if (!/the copy needs \d+ MB .* which has \d+ MB free/.test(refused.text)) {
      failures.push(`the refusal does not name the space needed: ${refused.text.slice(-300)}`);
    }
    if (current.endsWith(version)) failures.push("the refused upgrade switched the release");
    if (copies.length > 0) {
      failures.push(`left behind: ${copies.map((c) => c.name).join(", ")}`);
    }
    notes.push(`"${refused.text.split("\n").at(-1)?.replace(/^newretail install: error: /, "")}"`);
    await filler.remove();
    const done = await install();
    const copy = `${state}/db.before-${version}`;
    const whole = done.ok &&
      (await run("diff", ["-rq", database, copy])).ok;
    if (!whole) {
      failures.push(`with room, the upgrade's copy is not whole: ${done.text.slice(-300)}`);
    } else notes.push("with room: upgraded, the copy whole (diff -r)");
    await Deno.remove(copy, { recursive: true }).catch(() => {});
  } catch (e) {
    failures.push(`broke: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  } finally {
    if (mounted) await unmount(state);
  }
  return {
    row: {
      scenario: "disk-full",
      variant: "upgrade: database copy on a full disk",
      did: "install.sh of a newer release, then with room",
      acknowledged: 0,
      lost: 0,
      duplicated: 0,
      recovery: "—",
      notes: notes.join("; "),
    },
    failures,
  };
}

async function runScenario(lab: LabOptions): Promise<ScenarioReport> {
  if (Deno.uid() !== 0) {
    return { rows: [], failures: [], unavailable: "mounting a small file system needs root" };
  }
  const rows: ResultRow[] = [];
  const failures: string[] = [];
  const add = (r: { row: ResultRow; failures: string[] }) => {
    rows.push(r.row);
    failures.push(...r.failures.map((f) => `${r.row.variant}: ${f}`));
  };
  // One installation serves every row (each writes its own configuration); the upgrade goes last.
  const installed = await installAppliance(`${lab.workDir}/app`, {}, lab.progress);
  add(await storeRow("pglite", lab, installed, `${lab.workDir}/pglite`));
  if (!lab.guardOff) {
    add(await storeRow("postgres", lab, installed, `${lab.workDir}/postgres`));
    add(await backupRow(installed, `${lab.workDir}/backup`));
    add(await upgradeRow(installed, `${lab.workDir}/app/release`, `${lab.workDir}/upgrade`));
  }
  return { rows, failures };
}

/** The scenario. */
export const diskFull: Scenario = {
  name: "disk-full",
  summary: "the database's disk fills while devices sell; a backup and an upgrade on a full disk",
  run: runScenario,
};
