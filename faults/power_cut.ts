/**
 * `power-cut`: the appliance inside a user-mode Linux guest (`_uml.ts`), its power cut at a random
 * moment while devices sell, again and again. Devices on the host drive a store's mix through the
 * guest's network: tills and a scale create orders (`getPayInfo`), the store's cloud pays most of
 * them on the MQTT pay topic (a broker of the lab's own on the host), a handheld books receipts
 * (`stockGoods`), a label base station shows prices and confirms `sendGoods`, and the operator
 * schedules a price each cycle through the admin API. Every answer is recorded on the host, in the
 * client history (`_history.ts`): what a device was told survives the cut, because it was never in
 * the machine that lost power.
 *
 * A cycle: power on; time until a device can log in again (the appliance started by the guest's
 * start-up path, its database opened with no one's help); the devices reconnect and retry what got
 * no answer, as devices do; what the appliance owes arrives (payment results, label pushes); the
 * database is held against the history (acknowledged once, unacknowledged at most once, nothing half
 * there, the stock ledger sums, due schedules applied); load for a random 3–12 s; cut.
 *
 * Rows: the embedded database (PGlite, the default), and PostgreSQL in the same guest for
 * comparison. `--guard-off` runs the embedded row with the fsync fix turned off
 * (`NEWRETAIL_FAULT_LAB_UNSAFE_NO_FSYNC`): the run must then report losses.
 *
 * @module
 */
import type { LabOptions, ResultRow, Scenario, ScenarioReport } from "./_lab.ts";
import { LabDevice, type Received } from "./_device.ts";
import {
  type AdminEndpoint,
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
import { installAppliance } from "./_appliance.ts";
import { type CloudPublisher, cloudPublisher, startBroker } from "./_broker.ts";
import { between, cents, pick, PIECE_GOODS, randomOrder } from "./_catalogue.ts";
import {
  createTap,
  makeDisk,
  setUpUml,
  type Tap,
  type UmlKernel,
  UmlMachine,
  umlUnavailable,
} from "./_uml.ts";

const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(/\/$/, "");
const GUEST_INIT = `${REPO}/faults/power_cut_guest.sh`;
const PG_BIN = "/usr/lib/postgresql/15/bin";
const SHOP = "shop0001";
const DEVICE_PORT = 8686;
const ADMIN_PORT = 8687;
/** A power-on that does not serve within this is a failed cycle (the issue's trial: 5 min). */
const SERVING_TIMEOUT_MS = 180_000;
/** The PostgreSQL row's cuts at most (the embedded row, the product's default, does `--cycles`). */
const POSTGRES_CYCLES_MAX = 20;
/** How long what the appliance owes (payment results, label pushes) may take after it serves. */
const SETTLE_TIMEOUT_MS = 45_000;

/** Labelled goods whose price the operator schedules, each with its label and regular price. */
const SCHEDULED_GOODS = [
  { gid: 9, mac: "AC:23:3F:00:00:09", regular: "2.00", prices: ["1.50", "1.80", "2.50"] },
  { gid: 10, mac: "AC:23:3F:00:00:0A", regular: "3.50", prices: ["2.90", "3.20", "3.90"] },
];
const TILLS = ["POS_0001", "POS_0002", "POS_0003"];
const SCALE = "DZC_0001";
const HANDHELD = "RFID_0001";
const LABELS = "DZBQ_0001";
const PROBE = "POS_0099";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

type Backend = "pglite" | "postgres";

/** One row: a store on `backend`, `cycles` power cuts. */
interface RowPlan {
  backend: Backend;
  cycles: number;
  guardOff: boolean;
  /** Load between two cuts, ms. */
  loadMs: [number, number];
}

/** What one cycle found. */
interface CycleResult {
  recoveryMs: number;
  newProblems: string[];
}

/** The devices of one boot, connected to the guest. */
class Store {
  readonly devices = new Map<string, LabDevice>();
  constructor(
    readonly history: History,
    readonly host: string,
  ) {}

  async connect(equipId: string): Promise<LabDevice> {
    const device = await LabDevice.connect({
      host: this.host,
      port: DEVICE_PORT,
      equipId,
      onPush: (push) => this.#pushed(equipId, push),
    });
    this.devices.set(equipId, device);
    return device;
  }

  #pushed(equipId: string, push: Received): Record<string, unknown> | null {
    if (push.action === "sendGoods") this.history.labelsPushed(equipId, push);
    if (push.action === "sendPayResult") this.history.payResultReceived(equipId, push);
    return { exception: "" };
  }

  /** The power went: every device's connection is gone (what was in flight is unknown). */
  async dropAll(): Promise<void> {
    for (const device of this.devices.values()) device.close();
    await Promise.all([...this.devices.values()].map((d) => d.reading));
    this.devices.clear();
  }
}

/** The store's traffic between two cuts, and the payments the store's cloud makes meanwhile. */
class Mix {
  /** Payments on their way to the broker (a customer pays a moment after the QR code shows). */
  readonly payments: Promise<unknown>[] = [];

  constructor(
    readonly history: History,
    readonly publish: (payload: string) => Promise<void>,
  ) {}

  /**
   * A till (or the scale) making orders until `stop` or its connection goes; seven in ten are
   * paid. Returns the order that got no answer, which the till asks again after the power returns.
   */
  async till(
    device: LabDevice,
    scale: boolean,
    cycle: number,
    stop: AbortSignal,
  ): Promise<OrderEntry[]> {
    for (let n = 0; !stop.aborted && !device.closed; n++) {
      const order = randomOrder(scale);
      // One order in twenty with a total the appliance must refuse (errorPrice).
      if (Math.random() < 0.05) {
        order.totalPrice = cents(Number(order.totalPrice.replace(".", "")) + 100);
      }
      const entry = await this.history.getPayInfo(device, {
        orderId: `${device.equipId}-${cycle}-${n}`,
        ...order,
      });
      if (entry.outcome === "unknown") return [entry];
      if (entry.outcome === "acknowledged" && Math.random() < 0.7) {
        this.payments.push(sleep(between(0, 1500)).then(() => this.pay(entry)));
      }
      await sleep(between(50, 300));
    }
    return [];
  }

  /** The handheld booking receipts into the stock room; returns the one with no answer. */
  async handheld(device: LabDevice, cycle: number, stop: AbortSignal): Promise<ReceiptEntry[]> {
    for (let n = 0; !stop.aborted && !device.closed; n++) {
      const lines = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => ({
        gid: Number(pick(Object.keys(PIECE_GOODS))),
        qty: String(1 + Math.floor(Math.random() * 12)),
      }));
      const entry = await this.history.stockGoods(device, {
        ref: `R-${cycle}-${n}`,
        whid: 2,
        lines,
      });
      if (entry.outcome === "unknown") return [entry];
      await sleep(between(200, 600));
    }
    return [];
  }

  /** The store's cloud reports the order paid (its code is in the payment URL). */
  pay(order: OrderEntry): Promise<unknown> {
    const code = new URL(order.url!).searchParams.get("order") ?? "";
    return this.history.publishPayment(this.publish, {
      shopId: SHOP,
      orderDevice: order.device,
      orderId: order.orderId,
      orderCode: code,
    });
  }
}

/** Runs one row. */
async function runRow(
  plan: RowPlan,
  kernel: UmlKernel,
  lab: LabOptions,
): Promise<{ row: ResultRow; failures: string[] }> {
  const variant = plan.guardOff
    ? `pglite, fsync fix OFF (--guard-off), UML ${kernel.version}`
    : plan.backend === "pglite"
    ? `pglite (embedded, default), UML ${kernel.version}`
    : `PostgreSQL 15, UML ${kernel.version}`;
  const say = (line: string) =>
    lab.progress(`${plan.backend}${plan.guardOff ? " guard-off" : ""}: ${line}`);
  const dir = `${lab.workDir}/${plan.backend}${plan.guardOff ? "-guard-off" : ""}`;
  await Deno.mkdir(`${dir}/machine`, { recursive: true });
  const failures: string[] = [];
  const history = new History();
  const token = crypto.randomUUID().replaceAll("-", "");
  let tap: Tap | undefined;
  let broker: { url: string; stop(): Promise<void> } | undefined;
  let cloud: CloudPublisher | undefined;
  let machine: UmlMachine | undefined;
  let client: Deno.HttpClient | undefined;
  const cycles: CycleResult[] = [];
  let firstStartMs = 0;
  let last: CheckResult | undefined;
  let broken = "";
  const started = Date.now();
  try {
    tap = await createTap();
    broker = await startBroker(dir, tap.hostAddress);
    cloud = await cloudPublisher(broker.url, SHOP);
    const tls = await adminCertificate(dir, tap.guestAddress);
    const installed = await installAppliance(`${dir}/app`, {
      shopId: SHOP,
      host: "0.0.0.0",
      port: DEVICE_PORT,
      adminHost: "0.0.0.0",
      adminPort: ADMIN_PORT,
      adminToken: token,
      adminTlsCertFile: tls.cert,
      adminTlsKeyFile: tls.key,
      discoveryEnabled: false,
      demo: plan.backend === "pglite",
      databaseUrl: plan.backend === "postgres" ? "postgres://postgres@127.0.0.1:5432/postgres" : "",
      mqttUrl: broker.url,
      orderTtlS: 86_400,
      logLevel: "info",
    }, say);
    await makeDisk(`${dir}/disk.img`, 1024);
    machine = new UmlMachine({
      kernel,
      init: GUEST_INIT,
      disk: `${dir}/disk.img`,
      tap,
      dir: `${dir}/machine`,
      env: {
        NR_ROOT: installed.root,
        NR_NET: tap.guestCidr,
        NR_DB: plan.backend,
        NR_PG_BIN: PG_BIN,
        ...(plan.guardOff ? { NEWRETAIL_FAULT_LAB_UNSAFE_NO_FSYNC: "1" } : {}),
      },
    });
    const guest = tap.guestAddress;
    client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(tls.cert)] });
    const admin: AdminEndpoint = { url: `https://${guest}:${ADMIN_PORT}`, token, client };
    const reader = (): Promise<SqlReader> =>
      plan.backend === "pglite"
        ? fetchSnapshot(admin).then(pgliteSnapshotReader)
        : postgresReader(`postgres://postgres@${guest}:5432/postgres`);
    const seen = new Set<string>();
    const unanswered: { device: string; entry: OrderEntry | ReceiptEntry }[] = [];
    const mix = new Mix(history, (payload) => cloud!.publish(payload));

    for (let cycle = 0; cycle <= plan.cycles; cycle++) {
      history.phase = `cycle ${cycle}`;
      // Power on, and time until a device is served.
      const poweredOn = performance.now();
      machine.powerOn();
      const serving = await waitServing(guest, poweredOn + SERVING_TIMEOUT_MS, machine);
      if (!serving) {
        const why = machine.running
          ? `did not serve within ${SERVING_TIMEOUT_MS / 1000} s of power-on`
          : "stopped before it served";
        broken = `cycle ${cycle}: the guest ${why}; its console ends:\n${
          consoleTail(machine.console)
        }`;
        failures.push(broken);
        break;
      }
      const recoveryMs = performance.now() - poweredOn;
      if (cycle === 0) firstStartMs = recoveryMs;
      say(`cycle ${cycle}: serving ${seconds(recoveryMs)} after power-on`);

      const store = new Store(history, guest);
      try {
        await connectAll(store);
        // Devices retry what got no answer before the cut (same order number, same ref).
        for (const { device, entry } of unanswered.splice(0)) {
          const d = store.devices.get(device)!;
          if (entry.kind === "order") {
            const { orderId, totalPrice, lines } = entry;
            const again = await history.getPayInfo(d, { orderId, totalPrice, lines });
            if (again.outcome === "acknowledged") mix.payments.push(mix.pay(again));
          } else {
            const { ref, whid, lines } = entry;
            await history.stockGoods(d, { ref, whid, lines });
          }
        }
        history.labelsFetched(
          LABELS,
          await store.devices.get(LABELS)!.request("getGoods", {
            mac_id: SCHEDULED_GOODS.map((g) => g.mac).join(","),
          }),
        );
        if (cycle > 0) {
          await settle(history, mix.payments);
          const at = new Date();
          const db = await reader();
          try {
            last = await checkHistory(history, db, { settled: true, at });
          } finally {
            await db.close();
          }
          const fresh = last.problems.filter((p) => !seen.has(p));
          for (const p of fresh) seen.add(p);
          cycles.push({ recoveryMs, newProblems: fresh });
          say(
            `cycle ${cycle}: ${last.acknowledged} acknowledged, ${last.lost} lost, ` +
              `${last.duplicated} duplicated${
                fresh.length ? `; new: ${fresh.slice(0, 3).join("; ")}` : ""
              }`,
          );
        }
        if (cycle === plan.cycles) break;

        // Load, then the cut at a random moment of it.
        const stop = new AbortController();
        const loads = [
          ...TILLS.map((t) => mix.till(store.devices.get(t)!, false, cycle, stop.signal)),
          mix.till(store.devices.get(SCALE)!, true, cycle, stop.signal),
          mix.handheld(store.devices.get(HANDHELD)!, cycle, stop.signal),
        ];
        const loadMs = between(...plan.loadMs);
        const goods = SCHEDULED_GOODS[cycle % SCHEDULED_GOODS.length];
        const startsAt = new Date(Date.now() + between(500, loadMs + 4000));
        await history.createSchedule(admin, {
          gid: goods.gid,
          price: pick(goods.prices),
          startsAt,
          endsAt: new Date(startsAt.getTime() + between(2000, 8000)),
          regularPrice: goods.regular,
        });
        await sleep(loadMs);
        await machine.powerCut();
        stop.abort();
        await store.dropAll();
        const outcomes = await Promise.all(loads);
        for (const entry of outcomes.flat()) unanswered.push({ device: entry.device, entry });
      } finally {
        await store.dropAll();
      }
    }
  } catch (e) {
    broken = `broke: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
    failures.push(broken);
  } finally {
    await machine?.powerCut();
    client?.close();
    await cloud?.close().catch(() => {});
    await broker?.stop();
    await tap?.remove();
  }

  const recoveries = cycles.map((c) => c.recoveryMs).sort((a, b) => a - b);
  const lossyCycles = cycles.filter((c) => c.newProblems.length > 0).length;
  if (last) failures.push(...last.problems);
  const acknowledged = last?.acknowledged ?? 0;
  const elapsed = Date.now() - started;
  return {
    row: {
      scenario: "power-cut",
      variant,
      did: `${cycles.length} power cuts, ${history.entries.length} requests`,
      acknowledged,
      lost: last?.lost ?? 0,
      duplicated: last?.duplicated ?? 0,
      recovery: recoveries.length
        ? `median ${seconds(median(recoveries))}, max ${seconds(recoveries.at(-1)!)}`
        : "—",
      notes: [
        last ? describeCounts(last) : "",
        last ? findings(last) : "",
        `losses in ${lossyCycles} of ${cycles.length} cycles`,
        cycles.length ? `cycle ${seconds(elapsed / (cycles.length + 1))}` : "",
        `first start ${seconds(firstStartMs)}`,
        broken ? "STOPPED: see failures" : "",
      ].filter(Boolean).join("; "),
    },
    failures: [...new Set(failures)],
  };
}

/**
 * A self-signed certificate for the guest's admin server (beyond loopback it speaks HTTPS only),
 * made as install.sh makes one, for the guest's address.
 */
async function adminCertificate(dir: string, ip: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/admin.crt`;
  const key = `${dir}/admin.key`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "30",
      "-subj",
      "/CN=newretail power-cut guest",
      "-addext",
      `subjectAltName=IP:${ip}`,
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`openssl: ${new TextDecoder().decode(out.stderr).trim()}`);
  return { cert, key };
}

/** The findings beside lost and duplicated records, when there are any. */
function findings(check: CheckResult): string {
  return [
    [check.phantoms, "phantom"],
    [check.halfThere, "half there"],
    [check.ledgerBroken, "ledger broken"],
    [check.wrongPrices, "wrong price"],
    [check.unconvergedLabels, "label not converged"],
  ].filter(([n]) => Number(n) > 0).map(([n, what]) => `${n} ${what}`).join(", ");
}

/** The median of sorted numbers. */
function median(sorted: number[]): number {
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? (sorted[mid - 1] + sorted[mid]) / 2 : sorted[Math.floor(mid)];
}

/**
 * A new store's first start cut by a power loss: a fresh state disk each trial, the cut a random
 * 1–3.5 s after the embedded database's directory appears (the guest's start-up path says when;
 * the lab's cue, not the product's), then power on again: the appliance must serve. Before the fix
 * this found, one such cut in two left the database unopenable for good.
 */
async function runFirstStartRow(
  trials: number,
  kernel: UmlKernel,
  lab: LabOptions,
): Promise<{ row: ResultRow; failures: string[] }> {
  const say = (line: string) => lab.progress(`first start: ${line}`);
  const dir = `${lab.workDir}/first-start`;
  await Deno.mkdir(`${dir}/machine`, { recursive: true });
  const failures: string[] = [];
  const recoveries: number[] = [];
  let tap: Tap | undefined;
  let machine: UmlMachine | undefined;
  try {
    tap = await createTap();
    const installed = await installAppliance(`${dir}/app`, {
      shopId: SHOP,
      host: "0.0.0.0",
      port: DEVICE_PORT,
      adminEnabled: false,
      discoveryEnabled: false,
      demo: true,
      logLevel: "info",
    }, say);
    for (let trial = 1; trial <= trials; trial++) {
      await makeDisk(`${dir}/disk.img`, 1024);
      machine = new UmlMachine({
        kernel,
        init: GUEST_INIT,
        disk: `${dir}/disk.img`,
        tap,
        dir: `${dir}/machine`,
        env: {
          NR_ROOT: installed.root,
          NR_NET: tap.guestCidr,
          NR_DB: "pglite",
          NR_PG_BIN: PG_BIN,
          NR_WATCH_DB: "1",
        },
      });
      machine.powerOn();
      const cue = await machine.waitFor(/GUEST database directory appeared/, SERVING_TIMEOUT_MS);
      if (!cue) {
        failures.push(
          `trial ${trial}: the database directory never appeared:\n${consoleTail(machine.console)}`,
        );
        await machine.powerCut();
        continue;
      }
      const delay = between(1000, 3500);
      await sleep(delay);
      await machine.powerCut();
      const poweredOn = performance.now();
      machine.powerOn();
      if (await waitServing(tap.guestAddress, poweredOn + SERVING_TIMEOUT_MS, machine)) {
        recoveries.push(performance.now() - poweredOn);
        say(
          `trial ${trial}: cut ${seconds(delay)} after the directory appeared; serving again ${
            seconds(recoveries.at(-1)!)
          } after power-on`,
        );
      } else {
        failures.push(
          `trial ${trial}: after a cut ${seconds(delay)} into the creation of the database, the ` +
            `appliance did not serve again; the guest's console ends:\n${
              consoleTail(machine.console)
            }`,
        );
      }
      await machine.powerCut();
    }
  } catch (e) {
    failures.push(`broke: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  } finally {
    await machine?.powerCut();
    await tap?.remove();
  }
  recoveries.sort((a, b) => a - b);
  return {
    row: {
      scenario: "power-cut",
      variant: `pglite, new store cut during its first start, UML ${kernel.version}`,
      did: `${trials} cuts while the database is created`,
      acknowledged: 0,
      lost: 0,
      duplicated: 0,
      recovery: recoveries.length
        ? `median ${seconds(median(recoveries))}, max ${seconds(recoveries.at(-1)!)}`
        : "—",
      notes: `served again after ${recoveries.length} of ${trials} cuts`,
    },
    failures,
  };
}

/** Logs a probe device in, again and again, until it works or `deadline` (performance.now()). */
async function waitServing(
  host: string,
  deadline: number,
  machine: UmlMachine,
): Promise<boolean> {
  while (performance.now() < deadline && machine.running) {
    try {
      const probe = await LabDevice.connect({ host, port: DEVICE_PORT, equipId: PROBE }, 2000);
      probe.close();
      await probe.reading;
      return true;
    } catch {
      await sleep(200);
    }
  }
  return false;
}

async function connectAll(store: Store): Promise<void> {
  for (const equipId of [...TILLS, SCALE, HANDHELD, LABELS]) await store.connect(equipId);
}

/**
 * Waits until what the appliance owes has arrived: every payment the broker took was answered
 * to its till with `sendPayResult`, and no label push came for 3 s. Bounded: what is still missing
 * then is the checker's to report.
 */
async function settle(history: History, payments: Promise<unknown>[]): Promise<void> {
  await Promise.all(payments.splice(0));
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  const owed = () =>
    history.of("payment").filter((p) => p.published && p.outcome !== "acknowledged").length;
  const lastLabel = () => history.of("label").at(-1)?.answeredAt ?? 0;
  while (Date.now() < deadline && (owed() > 0 || Date.now() - lastLabel() < 3000)) await sleep(250);
}

function consoleTail(text: string): string {
  // Kernel stack traces are noise here: the panic line above them says what happened.
  return text.split("\n").filter((l) => l.trim() && !/^\s*\[<[0-9a-f]+>\]/.test(l)).slice(-12)
    .join("\n");
}

/** The power-cut scenario. */
export const powerCut: Scenario = {
  name: "power-cut",
  summary: "the appliance in a user-mode Linux guest whose power is cut mid-sale, again and again",
  async run(lab: LabOptions): Promise<ScenarioReport> {
    // Checked first: a mistyped row must not cost a machine set-up.
    const known = ["embedded", "postgres", "first-start"];
    const unknown = (lab.rows ?? []).filter((r) => !known.includes(r));
    if (unknown.length) {
      throw new Error(`no row ${unknown.join(", ")} (power-cut's rows: ${known.join(", ")})`);
    }
    const why = await umlUnavailable();
    if (why) return { rows: [], failures: [], unavailable: why };
    const kernel = await setUpUml(lab.progress);
    if ("unavailable" in kernel) return { rows: [], failures: [], unavailable: kernel.unavailable };
    const cycles = lab.cycles ?? (lab.ci ? 2 : 50);
    const loadMs: [number, number] = lab.ci ? [2000, 6000] : [3000, 12_000];
    const wanted = (row: string) => !lab.rows || lab.rows.includes(row);
    const plans: RowPlan[] = lab.guardOff
      ? [{ backend: "pglite", cycles, guardOff: true, loadMs }]
      : [
        ...(wanted("embedded")
          ? [{ backend: "pglite" as const, cycles, guardOff: false, loadMs }]
          : []),
        // The comparison row: PostgreSQL fsyncs as it ships, so fewer cuts say what it has to say.
        ...(lab.ci || !wanted("postgres") ? [] : [{
          backend: "postgres" as const,
          cycles: Math.min(cycles, POSTGRES_CYCLES_MAX),
          guardOff: false,
          loadMs,
        }]),
      ];
    const rows: ResultRow[] = [];
    const failures: string[] = [];
    const results = [];
    for (const plan of plans) results.push(await runRow(plan, kernel, lab));
    if (!lab.guardOff && wanted("first-start")) {
      results.push(await runFirstStartRow(Math.min(cycles, lab.ci ? 2 : 10), kernel, lab));
    }
    for (const result of results) {
      rows.push(result.row);
      failures.push(...result.failures.map((f) => `${result.row.variant}: ${f}`));
    }
    return { rows, failures };
  },
};
