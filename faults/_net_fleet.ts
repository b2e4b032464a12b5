/**
 * The network scenario's store devices, run as one process inside the devices' namespace (a
 * process cannot move its sockets into a namespace, so the lab starts this one there). It speaks
 * only through `_device.ts` (PROTOCOL.md alone) and reports what the devices were told as JSON
 * lines on stdout, so the history is kept outside both the appliance and the faulty link.
 *
 * Every order and every label display goes through the lab's {@link History} (`_history.ts`) and
 * is streamed to the lab as an `entry` event, which the lab adds to its history and checks.
 *
 * The devices behave as the store's do:
 * - tills (`POS_`) look goods up by barcode and make `getPayInfo` orders; an order that got no
 *   answer is asked again with the same `order_id` on a new connection until it is answered; an
 *   `errorPrice` makes the till look the prices up again and ask again (same `order_id`);
 * - scales (`DZC_`) page through `getAllGoods` and make weighed orders the same way, and show
 *   the `sendGoods` pushes they get;
 * - shelf-label base stations (`DZBQ_`) ask `getGoods` by `mac_id` once, then show what
 *   `sendGoods` pushes tell them (they never ask again: converging is the push path's job);
 * - every device answers `health`, gives up a connection on which nothing arrived for
 *   `watchdogMs` (a firmware watchdog on the server's heartbeat), and reconnects with back-off.
 *
 * Commands on stdin (JSON lines): `{"cmd":"vanish","equipIds":[…]}` (the device stops dead and
 * keeps its socket: the lab then drops its packets), `{"cmd":"stop"}` (no new orders; retries go
 * on until answered, then `drained`), `{"cmd":"leave"}` (close everything, report, exit).
 *
 * @module
 */
import { LabDevice, NoReply, type Received } from "./_device.ts";
import { type Entry, History, type LabLine } from "./_history.ts";

/** What the lab tells the fleet (argv[0], JSON). */
export interface FleetPlan {
  host: string;
  port: number;
  /** Prefix of this run's terminal order numbers (unique per variant). */
  orderPrefix: string;
  tills: string[];
  scales: string[];
  labels: { equipId: string; macs: string[] }[];
  /** Goods tills sell (by barcode, counted). */
  counted: { gid: number; barcode: string }[];
  /** Goods scales sell (weighed, by gid). */
  weighed: { gid: number; barcode: string }[];
  /** A device's wait for a reply before it gives the connection up. */
  replyTimeoutMs: number;
  /** Silence after which a device gives its connection up. */
  watchdogMs: number;
  /** Mean pause between two orders of one till, ms (each drawn uniformly up to twice this). */
  thinkMs: number;
}

/** The figures of the fleet's run (the `left` event). */
export interface FleetSummary {
  answered: number;
  noReply: number;
  /** Latency of answered requests, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  connects: number;
  /** Connections made beyond each device's first. */
  reconnects: number;
  /** Goods shown from sendGoods pushes (labels and scales). */
  pushesShown: number;
  payResults: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function emit(event: Record<string, unknown>): void {
  console.log(JSON.stringify(event));
}

/** Streams history entries to the lab as they are recorded. */
function emitEntries(entries: Entry[]): void {
  for (const entry of entries) emit({ ev: "entry", entry });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

/** Money as integer fen, from a JSON number of yuan. */
const fen = (price: unknown) => Math.round(Number(price) * 100);
const yuan = (f: number) => (f / 100).toFixed(2);

class Gone extends Error {}

/** The fleet: its devices, their shared state and figures. */
class Fleet {
  readonly plan: FleetPlan;
  readonly latencies: number[] = [];
  noReply = 0;
  connects = 0;
  reconnects = 0;
  pushesShown = 0;
  payResults = 0;
  stopping = false;
  leaving = false;
  readonly history = new History();
  readonly devices = new Map<string, FleetDevice>();

  constructor(plan: FleetPlan) {
    this.plan = plan;
  }
}

/** One device: its connection, re-made as needed. */
class FleetDevice {
  readonly equipId: string;
  readonly fleet: Fleet;
  conn: LabDevice | undefined;
  vanished = false;
  /** A scale's first `getAllGoods` was answered. */
  pagedCatalogue = false;
  #connecting: Promise<LabDevice> | undefined;
  #everConnected = false;

  constructor(fleet: Fleet, equipId: string) {
    this.fleet = fleet;
    this.equipId = equipId;
  }

  /** The live connection, made (with back-off) when there is none. */
  connection(): Promise<LabDevice> {
    if (this.conn && !this.conn.closed) return Promise.resolve(this.conn);
    this.#connecting ??= this.#connect().finally(() => this.#connecting = undefined);
    return this.#connecting;
  }

  async #connect(): Promise<LabDevice> {
    const { plan } = this.fleet;
    let backoffMs = 250;
    for (;;) {
      if (this.vanished || this.fleet.leaving) throw new Gone();
      if (this.#everConnected) await sleep(backoffMs / 2 + Math.random() * backoffMs);
      try {
        const conn = await LabDevice.connect({
          host: plan.host,
          port: plan.port,
          equipId: this.equipId,
          connectTimeoutMs: 5000,
          onPush: (push) => this.onPush(push),
        }, plan.replyTimeoutMs);
        if (this.vanished || this.fleet.leaving) {
          conn.close();
          throw new Gone();
        }
        this.conn = conn;
        this.fleet.connects++;
        if (this.#everConnected) this.fleet.reconnects++;
        this.#everConnected = true;
        emit({ ev: "conn", equipId: this.equipId, port: conn.localPort, at: Date.now() });
        return conn;
      } catch (e) {
        if (e instanceof Gone) throw e;
        this.#everConnected = true; // a failed first try backs off too
        backoffMs = Math.min(backoffMs * 2, 4000);
      }
    }
  }

  /**
   * Sends a request on the live connection; a missing reply gives the connection up (a device
   * does not trust a connection that stopped answering) and rethrows {@link NoReply}.
   */
  async request(action: string, body: Record<string, unknown>): Promise<Received> {
    const conn = await this.connection();
    const sentAt = performance.now();
    try {
      const reply = await conn.request(action, body, this.fleet.plan.replyTimeoutMs);
      this.fleet.latencies.push(performance.now() - sentAt);
      return reply;
    } catch (e) {
      if (e instanceof NoReply) {
        this.fleet.noReply++;
        // A vanished device keeps its socket (no FIN): the lab drops its packets.
        if (!this.vanished) conn.close();
      }
      throw e;
    }
  }

  onPush(push: Received): Record<string, unknown> | null {
    if (this.vanished) return null;
    if (push.action === "sendGoods") {
      const goods = Array.isArray(push.body?.goods) ? push.body.goods : [];
      this.fleet.pushesShown += goods.length;
      // The labels show it from now on (a scale shows it too; the history keeps labels).
      if (this.equipId.startsWith("DZBQ_")) {
        emitEntries(this.fleet.history.labelsPushed(this.equipId, push));
      }
    } else if (push.action === "sendPayResult") {
      this.fleet.payResults++;
      emit({
        ev: "payResult",
        equipId: this.equipId,
        orderId: String(push.body?.order_id ?? ""),
        result: String(push.body?.result ?? ""),
        at: Date.now(),
      });
    }
    return { exception: "" };
  }
}

/** Prices of the goods by barcode, as the till is told (fen). */
async function lookUp(device: FleetDevice, codes: string[]): Promise<Map<string, number>> {
  const reply = await device.request("getGoods", { code: codes.join(",") });
  const goods = Array.isArray(reply.body?.goods) ? reply.body.goods : [];
  return new Map(
    (goods as Record<string, unknown>[]).map((g) => [String(g.scanCode), fen(g.price)]),
  );
}

/** One till's or scale's day: orders until told to stop, each asked until answered. */
async function sell(fleet: Fleet, device: FleetDevice, scale: boolean): Promise<void> {
  const { plan } = fleet;
  const goods = scale ? plan.weighed : plan.counted;
  for (let n = 1; !fleet.stopping; n++) {
    await sleep(Math.random() * 2 * plan.thinkMs);
    if (fleet.stopping) break;
    const picked = scale
      ? [{ ...goods[Math.floor(Math.random() * goods.length)], qty: 0.2 + Math.random() * 2 }]
      : [
        ...new Set(Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => {
          return goods[Math.floor(Math.random() * goods.length)];
        })),
      ].map((g) => ({ ...g, qty: 1 + Math.floor(Math.random() * 3) }));
    const lines = picked.map((g) => ({ ...g, qty: scale ? Number(g.qty.toFixed(3)) : g.qty }));
    const orderId = `${plan.orderPrefix}-${device.equipId}-${n}`;
    let prices: Map<string, number> | undefined;
    let total: string | undefined;
    for (;;) {
      if (fleet.leaving || device.vanished) return;
      try {
        if (scale && !device.pagedCatalogue) {
          // A scale pages through the catalogue when it starts, not at every sale.
          await device.request("getAllGoods", { ost: 0, lmt: 100 });
          device.pagedCatalogue = true;
        }
        if (!prices || total === undefined) {
          prices = await lookUp(device, lines.map((l) => l.barcode));
          if (lines.some((l) => !prices!.has(l.barcode))) throw new Error("goods not found");
          total = yuan(lines.reduce((sum, l) => {
            // A line's amount is rounded to the fen, as the till prints it.
            return sum + Math.round(prices!.get(l.barcode)! * l.qty);
          }, 0));
        }
      } catch (e) {
        if (e instanceof Gone) return;
        continue; // no answer: a new connection, the same order
      }
      const conn = await device.connection().catch((e) => e);
      if (conn instanceof Gone) return;
      if (!(conn instanceof LabDevice)) continue;
      const entry = await fleet.history.getPayInfo(conn, {
        orderId,
        totalPrice: total,
        lines: lines.map((l): LabLine => ({ gid: l.gid, qty: String(l.qty) })),
      }, plan.replyTimeoutMs);
      emitEntries([entry]);
      if (entry.outcome === "unknown") {
        // No answer: the till gives the connection up and asks again on a new one.
        fleet.noReply++;
        if (!device.vanished) conn.close();
        continue;
      }
      fleet.latencies.push(entry.answeredAt! - entry.sentAt);
      if (entry.answer?.exception === "errorPrice") {
        // A price changed since the look-up: look again, ask again with the same order number.
        prices = undefined;
        total = undefined;
        continue;
      }
      break;
    }
  }
}

/** A shelf-label base station: asks once what its labels show, then lives on pushes. */
async function serveLabels(fleet: Fleet, device: FleetDevice, macs: string[]): Promise<void> {
  for (;;) {
    if (fleet.leaving || device.vanished) return;
    try {
      const reply = await device.request("getGoods", { mac_id: macs.join(",") });
      emitEntries(fleet.history.labelsFetched(device.equipId, reply));
      return;
    } catch (e) {
      if (e instanceof Gone) return;
    }
  }
}

/** Keeps a device connected (a label station or an idle till waits for pushes). */
async function stayConnected(fleet: Fleet, device: FleetDevice): Promise<void> {
  while (!fleet.leaving && !device.vanished) {
    try {
      const conn = await device.connection();
      await conn.reading;
    } catch (e) {
      if (e instanceof Gone) return;
    }
  }
}

/** Gives up connections that heard nothing for the watchdog's time (the device's own check). */
function watchdog(fleet: Fleet): ReturnType<typeof setInterval> {
  return setInterval(() => {
    const now = Date.now();
    for (const device of fleet.devices.values()) {
      const conn = device.conn;
      if (device.vanished || !conn || conn.closed) continue;
      if (now - conn.lastHeardAt > fleet.plan.watchdogMs) conn.close();
    }
  }, 500);
}

async function commands(fleet: Fleet, drained: Promise<void>): Promise<void> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buffered = "";
  for await (const text of lines) {
    buffered += text;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const command = JSON.parse(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      if (command.cmd === "vanish") {
        for (const equipId of command.equipIds as string[]) {
          const device = fleet.devices.get(equipId);
          if (!device) continue;
          device.vanished = true;
          emit({ ev: "vanished", equipId, port: device.conn?.localPort ?? 0, at: Date.now() });
        }
      } else if (command.cmd === "stop") {
        fleet.stopping = true;
        drained.then(() => emit({ ev: "drained", at: Date.now() }));
      } else if (command.cmd === "leave") {
        return;
      }
    }
  }
}

async function main(plan: FleetPlan): Promise<void> {
  const fleet = new Fleet(plan);
  const add = (equipId: string) => {
    const device = new FleetDevice(fleet, equipId);
    fleet.devices.set(equipId, device);
    return device;
  };
  const sellers: Promise<void>[] = [];
  const others: Promise<void>[] = [];
  // Staggered, as a store's devices come up: not 100 logins in one millisecond.
  const stagger = () => sleep(Math.random() * 2000);
  for (const equipId of [...plan.tills, ...plan.scales]) {
    const device = add(equipId);
    const scale = equipId.startsWith("DZC_");
    sellers.push(stagger().then(() => sell(fleet, device, scale)));
    others.push(stagger().then(() => stayConnected(fleet, device)));
  }
  for (const { equipId, macs } of plan.labels) {
    const device = add(equipId);
    others.push(
      stagger().then(async () => {
        await serveLabels(fleet, device, macs);
        await stayConnected(fleet, device);
      }),
    );
  }
  const dog = watchdog(fleet);
  // Ready once every device was connected once (or 30 s went by).
  (async () => {
    for (let i = 0; i < 300; i++) {
      if ([...fleet.devices.values()].every((d) => d.conn)) break;
      await sleep(100);
    }
    emit({ ev: "ready", at: Date.now() });
  })();
  await commands(fleet, Promise.all(sellers).then(() => {}));
  fleet.leaving = true;
  clearInterval(dog);
  for (const device of fleet.devices.values()) device.conn?.close();
  await Promise.allSettled([...sellers, ...others]);
  const sorted = fleet.latencies.sort((a, b) => a - b);
  const summary: FleetSummary = {
    answered: sorted.length,
    noReply: fleet.noReply,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.at(-1) ?? 0,
    connects: fleet.connects,
    reconnects: fleet.reconnects,
    pushesShown: fleet.pushesShown,
    payResults: fleet.payResults,
  };
  emit({ ev: "left", summary, at: Date.now() });
}

if (import.meta.main) await main(JSON.parse(Deno.args[0]));
