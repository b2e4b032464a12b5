/**
 * The client history, Jepsen style: every request the lab's devices (and its admin client and MQTT
 * publisher) made, with what they were told, recorded OUTSIDE the appliance; and the checker that
 * holds the database against it afterwards.
 *
 * An outcome is `acknowledged` (the appliance said yes: the receipt id, the payment URL, the
 * schedule id are kept), `refused` (a clear exception: nothing may be left of it) or `unknown` (no
 * reply: a timeout, a lost connection, a power cut: it may or may not have happened). Per record
 * (a device's terminal order number, a device's receipt reference, …) the checker asks:
 * acknowledged ⇒ present exactly once and as acknowledged; only unknown ⇒ at most once; only
 * refused ⇒ absent. Beside the records it checks what no request names: nothing half there (an
 * order without its lines, a receipt without its stock moves, a paid order without its sale moves,
 * a sale of an unpaid order) and the stock ledger (`stock` == Σ `stock_moves`, migration 008).
 *
 * Like `_device.ts`, nothing here imports the product: the checker reads the tables with its own
 * SQL, so that a shared bug of product and lab cannot hide a loss.
 *
 * @example
 * ```ts
 * const history = new History();
 * const order = await history.getPayInfo(device, { orderId: "T1", totalPrice: "9.90", lines: [{ gid: 16, qty: "1" }] });
 * const reader = await postgresReader(Deno.env.get("DATABASE_URL")!);
 * const result = await checkHistory(history, reader);
 * await reader.close();
 * ```
 *
 * @module
 */
import { type LabDevice, NoReply, type Received } from "./_device.ts";

/** What a client was told. */
export type Outcome = "acknowledged" | "refused" | "unknown";

/** One goods line as the lab sent it: quantity as exact decimal text. */
export interface LabLine {
  gid: number;
  qty: string;
}

interface EntryBase {
  outcome: Outcome;
  /** The device (equipId) that asked, or `admin`/`mqtt` for the lab's other clients. */
  device: string;
  /** When the request left and when its answer came (ms since the epoch). */
  sentAt: number;
  answeredAt?: number;
  /** The reply body (acknowledged or refused), for the report. */
  answer?: Record<string, unknown> | null;
  /** Why the outcome is unknown (the NoReply message), or any note. */
  note?: string;
  /** A label of the scenario's own: the cycle, the phase… */
  phase?: string;
}

/** A `getPayInfo`: the record is (device, terminal order id). */
export interface OrderEntry extends EntryBase {
  kind: "order";
  orderId: string;
  totalPrice: string;
  lines: LabLine[];
  /** The payment URL the appliance answered (acknowledged only). */
  url?: string;
}

/** A `stockGoods` receipt: the record is (device, ref). */
export interface ReceiptEntry extends EntryBase {
  kind: "receipt";
  ref: string;
  whid: number;
  lines: LabLine[];
  /** The receipt id the appliance answered (acknowledged only). */
  pickingId?: string;
}

/**
 * A payment result published on the store's pay topic for an order (by its appliance code).
 * `published`: the broker accepted it (PUBACK); it then owes it to the appliance's persistent
 * session, so the checker counts it as acknowledged, and once settled the order must be paid. The
 * outcome becomes `acknowledged` when the ordering device receives its `sendPayResult` saying
 * success: from then on the order must be paid, its goods off the shelf exactly once.
 */
export interface PaymentEntry extends EntryBase {
  kind: "payment";
  /** The ordering device (equipId) and its terminal order id. */
  orderDevice: string;
  orderId: string;
  orderCode: string;
  published: boolean;
}

/**
 * A shelf label showing a price: the device confirmed a `sendGoods` for its MAC (or showed the
 * reply of its own `getGoods` by `mac_id`). The appliance may record only prices a label showed.
 */
export interface LabelEntry extends EntryBase {
  kind: "label";
  mac: string;
  gid: number;
  /** The price the label shows from now on (exact decimal text). */
  price: string;
  via: "push" | "getGoods";
}

/** A price schedule created through the admin API (or the CLI). */
export interface ScheduleEntry extends EntryBase {
  kind: "schedule";
  gid: number;
  price: string;
  startsAt: Date;
  endsAt?: Date;
  /** The goods' price outside any schedule (what returns when it ends). */
  regularPrice: string;
  /** The schedule id the admin API answered (acknowledged only). */
  id?: number;
}

/** Any entry. */
export type Entry = OrderEntry | ReceiptEntry | PaymentEntry | LabelEntry | ScheduleEntry;

/** The kinds of records, in the order the checker reports them. */
export const ENTRY_KINDS = ["order", "payment", "receipt", "label", "schedule"] as const;
/** One kind of record. */
export type EntryKind = (typeof ENTRY_KINDS)[number];

/** What a device was told, as an outcome: a reply with exception "" is a yes. */
function outcomeOf(reply: Received): Outcome {
  return reply.body !== null && reply.body.exception === "" ? "acknowledged" : "refused";
}

/** The recorded history of one lab run. Append-only; the lab keeps it outside the appliance. */
export class History {
  readonly entries: Entry[] = [];
  /** Stamped on every entry recorded from now on (e.g. `cycle 12`). */
  phase = "";

  /** Records an entry (stamped with the current phase); returns it. */
  add<E extends Entry>(entry: E): E {
    if (entry.phase === undefined && this.phase) entry.phase = this.phase;
    this.entries.push(entry);
    return entry;
  }

  /** The entries of one kind. */
  of<K extends EntryKind>(kind: K): Extract<Entry, { kind: K }>[] {
    return this.entries.filter((e): e is Extract<Entry, { kind: K }> => e.kind === kind);
  }

  /**
   * Sends `getPayInfo` (lines as `{gid, qty}`) and records the outcome. Never throws for the
   * appliance's sake: a missing reply is an `unknown` entry.
   */
  async getPayInfo(
    device: LabDevice,
    order: { orderId: string; totalPrice: string; lines: LabLine[] },
    timeoutMs = 10_000,
  ): Promise<OrderEntry> {
    const entry: OrderEntry = {
      kind: "order",
      device: device.equipId,
      outcome: "unknown",
      sentAt: Date.now(),
      ...order,
    };
    const body = {
      order_id: order.orderId,
      totalPrice: Number(order.totalPrice),
      goods: order.lines.map((l) => ({ gid: l.gid, qty: Number(l.qty) })),
    };
    await this.#ask(entry, device, "getPayInfo", body, timeoutMs, (reply) => {
      if (typeof reply.url === "string") entry.url = reply.url;
    });
    return this.add(entry);
  }

  /** Sends `stockGoods` and records the outcome (see {@link History.getPayInfo}). */
  async stockGoods(
    device: LabDevice,
    receipt: { ref: string; whid: number; lines: LabLine[] },
    timeoutMs = 10_000,
  ): Promise<ReceiptEntry> {
    const entry: ReceiptEntry = {
      kind: "receipt",
      device: device.equipId,
      outcome: "unknown",
      sentAt: Date.now(),
      ...receipt,
    };
    const body = {
      whid: receipt.whid,
      ref: receipt.ref,
      goods: receipt.lines.map((l) => ({ gid: l.gid, qty: Number(l.qty) })),
    };
    await this.#ask(entry, device, "stockGoods", body, timeoutMs, (reply) => {
      if (reply.picking_id !== undefined) entry.pickingId = String(reply.picking_id);
    });
    return this.add(entry);
  }

  /**
   * Publishes a successful payment of an order on the store's pay topic (PROTOCOL.md §5) through
   * `publish` (QoS 1: it resolves on the broker's PUBACK) and records it; `published` says
   * whether the broker took it. {@link History.payResultReceived} acknowledges it later.
   */
  async publishPayment(
    publish: (payload: string) => Promise<void>,
    payment: { shopId: string; orderDevice: string; orderId: string; orderCode: string },
  ): Promise<PaymentEntry> {
    const entry: PaymentEntry = {
      kind: "payment",
      device: "mqtt",
      outcome: "unknown",
      sentAt: Date.now(),
      orderDevice: payment.orderDevice,
      orderId: payment.orderId,
      orderCode: payment.orderCode,
      published: false,
    };
    const payload = JSON.stringify({
      id: payment.shopId,
      action: "pay",
      result: "ok",
      order_id: payment.orderCode,
    });
    try {
      await publish(payload);
      entry.published = true;
    } catch (e) {
      entry.note = `not published: ${e instanceof Error ? e.message : String(e)}`;
    }
    return this.add(entry);
  }

  /**
   * Creates a price schedule through the admin API (`POST /api/prices`) and records the outcome:
   * 201 with its id is a yes, another status a refusal, no answer unknown.
   */
  async createSchedule(
    admin: AdminEndpoint,
    schedule: { gid: number; price: string; startsAt: Date; endsAt?: Date; regularPrice: string },
    timeoutMs = 10_000,
  ): Promise<ScheduleEntry> {
    const entry: ScheduleEntry = {
      kind: "schedule",
      device: "admin",
      outcome: "unknown",
      sentAt: Date.now(),
      ...schedule,
    };
    try {
      const response = await fetch(new URL("/api/prices", admin.url), {
        method: "POST",
        client: admin.client,
        headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
        body: JSON.stringify({
          gid: schedule.gid,
          price: schedule.price,
          from: schedule.startsAt.toISOString(),
          ...(schedule.endsAt ? { until: schedule.endsAt.toISOString() } : {}),
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      entry.answeredAt = Date.now();
      let body: Record<string, unknown> | null = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = { error: text };
      }
      entry.answer = body;
      if (response.status === 201 && typeof body?.id === "number") {
        entry.outcome = "acknowledged";
        entry.id = body.id;
      } else entry.outcome = "refused";
    } catch (e) {
      entry.outcome = "unknown";
      entry.note = e instanceof Error ? e.message : String(e);
    }
    return this.add(entry);
  }

  /**
   * Records the labels a `sendGoods` push shows (call it from the device's `onPush` when it
   * answers `{"exception":""}`): one entry per goods with a `mac`.
   */
  labelsPushed(device: string, push: Received): LabelEntry[] {
    return this.#labels(device, push, "push");
  }

  /** Records the labels a `getGoods` by `mac_id` reply shows (the label displays it). */
  labelsFetched(device: string, reply: Received): LabelEntry[] {
    return this.#labels(device, reply, "getGoods");
  }

  /**
   * Records a `sendPayResult` a device received: the payment entry of that order becomes
   * acknowledged when the result is success. Returns the entry, if the lab published one.
   */
  payResultReceived(device: string, push: Received): PaymentEntry | undefined {
    const orderId = String(push.body?.order_id ?? "");
    const entry = this.of("payment").find((p) => p.orderDevice === device && p.orderId === orderId);
    if (entry && push.body?.result === "success") {
      entry.outcome = "acknowledged";
      entry.answeredAt ??= Date.now();
      entry.answer = push.body;
    }
    return entry;
  }

  #labels(device: string, frame: Received, via: LabelEntry["via"]): LabelEntry[] {
    const goods = Array.isArray(frame.body?.goods) ? frame.body.goods : [];
    const now = Date.now();
    return goods.flatMap((g: Record<string, unknown>) =>
      typeof g?.mac === "string" && g.mac !== "" && g.price !== undefined
        ? [this.add<LabelEntry>({
          kind: "label",
          device,
          outcome: "acknowledged",
          sentAt: now,
          answeredAt: now,
          mac: g.mac,
          gid: Number(g.gid),
          price: String(g.price),
          via,
        })]
        : []
    );
  }

  async #ask(
    entry: OrderEntry | ReceiptEntry,
    device: LabDevice,
    action: string,
    body: Record<string, unknown>,
    timeoutMs: number,
    onYes: (reply: Record<string, unknown>) => void,
  ): Promise<void> {
    try {
      const reply = await device.request(action, body, timeoutMs);
      entry.answeredAt = Date.now();
      entry.answer = reply.body;
      entry.outcome = outcomeOf(reply);
      if (entry.outcome === "acknowledged") onYes(reply.body!);
    } catch (e) {
      if (!(e instanceof NoReply)) throw e;
      entry.outcome = "unknown";
      entry.note = e.message;
    }
  }
}

/** Read access to the appliance's database, for the checker (plain SQL, `$1` parameters). */
export interface SqlReader {
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** A reader on a PostgreSQL database (the store's `databaseUrl`). */
export async function postgresReader(url: string): Promise<SqlReader> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  return {
    async query(text, params = []) {
      return [...await sql.unsafe(text, params as never[])] as Record<string, unknown>[];
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}

/**
 * A reader on a snapshot of the embedded database: the gzipped data directory that
 * `GET /api/backup` answers (or `newretail backup` writes), opened in memory with PGlite itself.
 */
export async function pgliteSnapshotReader(snapshot: Uint8Array): Promise<SqlReader> {
  const { PGlite } = await import("@electric-sql/pglite");
  const pg = await PGlite.create({ loadDataDir: new Blob([snapshot.slice()]) });
  return {
    async query(text, params = []) {
      return (await pg.query<Record<string, unknown>>(text, params)).rows;
    },
    async close() {
      await pg.close();
    },
  };
}

/**
 * How the lab reaches an appliance's admin API: its URL, the `adminToken`, and beyond loopback
 * (HTTPS only) a client trusting its certificate (`Deno.createHttpClient({ caCerts: [pem] })`).
 */
export interface AdminEndpoint {
  url: string;
  token: string;
  client?: Deno.HttpClient;
}

/** Fetches a snapshot of the embedded database from a running appliance's admin API. */
export async function fetchSnapshot(
  admin: AdminEndpoint,
  timeoutMs = 60_000,
): Promise<Uint8Array> {
  const response = await fetch(new URL("/api/backup", admin.url), {
    client: admin.client,
    headers: { authorization: `Bearer ${admin.token}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) {
    throw new Error(`GET /api/backup: ${response.status} ${(await response.text()).trim()}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

/** Counts for one kind of record. */
export interface KindCounts {
  /** Records the clients were told were accepted. */
  acknowledged: number;
  /** Acknowledged records missing, or present otherwise than acknowledged. */
  lost: number;
  /** Records present more than once. */
  duplicated: number;
}

/** What the checker found. */
export interface CheckResult extends KindCounts {
  byKind: Record<EntryKind, KindCounts>;
  /** Refused records present anyway, unacknowledged records present twice or half. */
  phantoms: number;
  /** Half-done writes nobody asked about (an order without lines, a paid order without sales…). */
  halfThere: number;
  /** Warehouse/goods pairs whose stock is not the sum of their moves. */
  ledgerBroken: number;
  /** Goods whose price is not what the schedules in force (or none) set. */
  wrongPrices: number;
  /**
   * Settled only: labels whose price the appliance does not know (it records another than the
   * label shows) or that still show an old price.
   */
  unconvergedLabels: number;
  /** One plain sentence per finding (empty: the database holds exactly what was acknowledged). */
  problems: string[];
}

/** Options of {@link checkHistory}. */
export interface CheckOptions {
  /**
   * The appliance has served long enough since its last start for what it owes to have arrived:
   * every published payment is paid, every label shows the goods' price and the appliance knows
   * it. Off, those are checked only as far as they can be at any moment.
   */
  settled?: boolean;
  /**
   * When the database state was taken (the snapshot's moment; default now), and how long after
   * its time a schedule may take to apply (default 10 s): a schedule starting or ending within
   * `graceMs` before `at` is not judged.
   */
  at?: Date;
  graceMs?: number;
}

/** Exact decimal text as thousandths (quantities have 3 decimals, money 2). */
function milli(value: unknown): bigint {
  const text = String(value).trim();
  const match = /^(-?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) {
    throw new Error(`not a decimal: ${JSON.stringify(value)}`);
  }
  const fraction = (match[3] ?? "").padEnd(3, "0");
  if (/[1-9]/.test(fraction.slice(3))) throw new Error(`more than 3 decimals: ${text}`);
  const n = BigInt(match[2] || "0") * 1000n + BigInt(fraction.slice(0, 3) || "0");
  return match[1] === "-" ? -n : n;
}

function sameDecimal(a: unknown, b: unknown): boolean {
  return milli(a) === milli(b);
}

/** Per goods id, the summed quantity in thousandths. */
function byGoods(lines: { gid: number; qty: unknown }[]): Map<number, bigint> {
  const sums = new Map<number, bigint>();
  for (const l of lines) sums.set(l.gid, (sums.get(l.gid) ?? 0n) + milli(l.qty));
  return sums;
}

function sameSums(a: Map<number, bigint>, b: Map<number, bigint>): boolean {
  return a.size === b.size && [...a].every(([gid, q]) => b.get(gid) === q);
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** The strongest outcome of a record's attempts: any yes wins, then any unknown. */
function verdict(entries: Entry[]): Outcome {
  if (entries.some((e) => e.outcome === "acknowledged")) return "acknowledged";
  if (entries.some((e) => e.outcome === "unknown")) return "unknown";
  return "refused";
}

const ORDERS_SQL = `
  select o.id, o.equip_id, o.terminal_order_id, o.code, o.amount::text as amount, o.state,
    o.pay_url,
    coalesce((select json_agg(json_build_object('gid', l.goods_id, 'qty', l.quantity::text,
      'amount', l.amount::text)) from order_lines l where l.order_id = o.id), '[]'::json) as lines
  from orders o`;

const RECEIPTS_SQL = `
  select r.id, r.equip_id, r.ref, r.warehouse_id,
    coalesce((select json_agg(json_build_object('gid', l.goods_id, 'qty', l.quantity::text))
      from stock_receipt_lines l where l.receipt_id = r.id), '[]'::json) as lines
  from stock_receipts r`;

const MOVES_SQL = `
  select reason, reference, goods_id, count(*)::int as n, sum(quantity)::text as qty,
    min(from_warehouse_id) as from_wh, min(to_warehouse_id) as to_wh
  from stock_moves where reason in ('sale', 'receipt') group by reason, reference, goods_id`;

const LEDGER_SQL = `
  with signed as (
    select to_warehouse_id as w, goods_id as g, quantity as q from stock_moves
      where to_warehouse_id is not null
    union all
    select from_warehouse_id, goods_id, -quantity from stock_moves
      where from_warehouse_id is not null),
  sums as (select w, g, sum(q) as q from signed group by w, g)
  select coalesce(s.warehouse_id, m.w) as warehouse_id, coalesce(s.goods_id, m.g) as goods_id,
    coalesce(s.quantity, 0)::text as stock, coalesce(m.q, 0)::text as moves
  from stock s full join sums m on m.w = s.warehouse_id and m.g = s.goods_id
  where coalesce(s.quantity, 0) <> coalesce(m.q, 0)`;

const LABELS_SQL = `
  select s.mac, s.goods_id, s.price::text as price, s.equip_id, s.stale_since is not null as stale,
    g.price::text as goods_price, g.updated_at as goods_updated_at
  from label_shown s join goods g on g.id = s.goods_id`;

const SCHEDULES_SQL = `
  select id, goods_id, price::text as price, starts_at, ends_at, cancelled_at, created_at
  from price_schedules`;

const GOODS_SQL =
  `select id, price::text as price, regular_price::text as regular_price from goods`;

type Row = Record<string, unknown>;

/**
 * Holds the database (through `db`) against the history. Pure reads: it never changes what it
 * checks.
 */
export async function checkHistory(
  history: History,
  db: SqlReader,
  options: CheckOptions = {},
): Promise<CheckResult> {
  const counts = Object.fromEntries(
    ENTRY_KINDS.map((k) => [k, { acknowledged: 0, lost: 0, duplicated: 0 }]),
  ) as Record<EntryKind, KindCounts>;
  const problems: string[] = [];
  let phantoms = 0;
  let halfThere = 0;
  const lost = (kind: EntryKind, sentence: string) => {
    counts[kind].lost++;
    problems.push(`lost ${kind}: ${sentence}`);
  };
  const duplicated = (kind: EntryKind, sentence: string) => {
    counts[kind].duplicated++;
    problems.push(`duplicated ${kind}: ${sentence}`);
  };
  const phantom = (sentence: string) => {
    phantoms++;
    problems.push(`phantom: ${sentence}`);
  };
  let unconvergedLabels = 0;
  const unconverged = (sentence: string) => {
    unconvergedLabels++;
    problems.push(`not converged: ${sentence}`);
  };
  let wrongPrices = 0;
  const wrongPrice = (sentence: string) => {
    wrongPrices++;
    problems.push(`wrong price: ${sentence}`);
  };
  const half = (sentence: string) => {
    halfThere++;
    problems.push(`half there: ${sentence}`);
  };

  // One snapshot: an appliance still at work (a payment settling between two of these reads)
  // must not look half done. The network lab found it: a pay message settled between the orders
  // and the stock moves read showed "pending, but its goods left the shelf".
  await db.query("begin transaction isolation level repeatable read read only");
  let tables: Row[][];
  try {
    tables = [];
    for (
      const sql of [
        ORDERS_SQL,
        RECEIPTS_SQL,
        MOVES_SQL,
        LEDGER_SQL,
        LABELS_SQL,
        SCHEDULES_SQL,
        GOODS_SQL,
      ]
    ) tables.push(await db.query(sql));
  } finally {
    await db.query("commit");
  }
  const [orders, receipts, moves, ledger, labels, schedules, goods] = tables;
  const jsonLines = (value: unknown) =>
    (typeof value === "string" ? JSON.parse(value) : value) as {
      gid: number;
      qty: string;
      amount?: string;
    }[];
  const moveKey = (reason: string, reference: string) => `${reason} ${reference}`;
  const movesByRef = groupBy(moves, (m) => moveKey(String(m.reason), String(m.reference)));
  const movedSums = (reason: string, reference: string) => {
    const rows = movesByRef.get(moveKey(reason, reference)) ?? [];
    for (const m of rows) {
      if (Number(m.n) > 1) {
        duplicated(
          reason === "sale" ? "payment" : "receipt",
          `${m.n} ${reason} moves of goods ${m.goods_id} for ${reference}`,
        );
      }
    }
    return byGoods(rows.map((m) => ({ gid: Number(m.goods_id), qty: m.qty })));
  };

  // Orders: every order whole; each record of the history as its attempts allow.
  const ordersByKey = groupBy(orders, (o) => `${o.equip_id}\u0000${o.terminal_order_id}`);
  const orderByCode = new Map(orders.map((o) => [String(o.code), o]));
  for (const o of orders) {
    const lines = jsonLines(o.lines);
    if (lines.length === 0) {
      half(`order ${o.code} (${o.equip_id} ${o.terminal_order_id}) has no lines`);
    } else {
      const sum = lines.reduce((s, l) => s + milli(l.amount), 0n);
      if (sum !== milli(o.amount)) {
        half(`order ${o.code}: lines add up to ${Number(sum) / 1000}, the order says ${o.amount}`);
      }
    }
    const sold = movedSums("sale", `order:${o.code}`);
    if (o.state === "paid") {
      if (!sameSums(sold, byGoods(lines))) {
        half(
          `paid order ${o.code} has sale moves ${fmtSums(sold)} for lines ${
            fmtSums(byGoods(lines))
          }`,
        );
      }
    } else if (sold.size > 0) {
      half(`order ${o.code} is ${o.state} but its goods left the shelf (${fmtSums(sold)})`);
    }
  }
  for (
    const [key, attempts] of groupBy(history.of("order"), (e) => `${e.device}\u0000${e.orderId}`)
  ) {
    const rows = ordersByKey.get(key) ?? [];
    const name = `${attempts[0].device} order ${attempts[0].orderId}`;
    const outcome = verdict(attempts);
    if (rows.length > 1) duplicated("order", `${name} is in the database ${rows.length} times`);
    if (outcome === "acknowledged") {
      counts.order.acknowledged++;
      const yes = attempts.find((e) => e.outcome === "acknowledged")!;
      if (rows.length === 0) lost("order", `${name} (acknowledged with ${yes.url}) is missing`);
      else if (rows.every((r) => r.pay_url !== yes.url)) {
        lost(
          "order",
          `${name} was acknowledged with ${yes.url}, the database has ${rows[0].pay_url}`,
        );
      } else if (!sameSums(byGoods(jsonLines(rows[0].lines)), byGoods(yes.lines))) {
        lost("order", `${name} has other lines than were sent`);
      }
    } else if (outcome === "refused" && rows.length > 0) {
      phantom(`${name} was refused (${attempts[0].answer?.exception}) but is in the database`);
    }
  }

  // Payments: a success told to the device, or a result the broker took, must be a paid order.
  for (const [code, attempts] of groupBy(history.of("payment"), (e) => e.orderCode)) {
    const told = attempts.some((e) => e.outcome === "acknowledged");
    const taken = attempts.some((e) => e.published);
    const order = orderByCode.get(code);
    const name = `payment of order ${code} (${attempts[0].orderDevice} ${attempts[0].orderId})`;
    if (told || taken) counts.payment.acknowledged++;
    if (told || (taken && options.settled)) {
      if (!order) lost("payment", `${name}: the order is missing`);
      else if (order.state !== "paid") {
        lost(
          "payment",
          `${name}: ${
            told ? "the device was told success" : "the broker took it"
          } but the order is ${order.state}`,
        );
      }
    }
  }

  // Receipts.
  const receiptsByKey = groupBy(receipts, (r) => `${r.equip_id}\u0000${r.ref}`);
  const receiptIds = new Set(receipts.map((r) => String(r.id)));
  for (const r of receipts) {
    const lines = jsonLines(r.lines);
    if (lines.length === 0) half(`receipt ${r.id} (${r.equip_id} ${r.ref}) has no lines`);
    const moved = movedSums("receipt", `receipt:${r.id}`);
    if (!sameSums(moved, byGoods(lines))) {
      half(
        `receipt ${r.id} has receipt moves ${fmtSums(moved)} for lines ${fmtSums(byGoods(lines))}`,
      );
    }
  }
  for (const m of moves) {
    const ref = String(m.reference);
    if (m.reason === "receipt" && ref.startsWith("receipt:") && !receiptIds.has(ref.slice(8))) {
      half(`receipt moves of ${ref} without the receipt`);
    }
    if (m.reason === "sale" && ref.startsWith("order:") && !orderByCode.has(ref.slice(6))) {
      half(`sale moves of ${ref} without the order`);
    }
  }
  for (
    const [key, attempts] of groupBy(history.of("receipt"), (e) => `${e.device}\u0000${e.ref}`)
  ) {
    const rows = receiptsByKey.get(key) ?? [];
    const name = `${attempts[0].device} receipt ${attempts[0].ref}`;
    const outcome = verdict(attempts);
    if (rows.length > 1) duplicated("receipt", `${name} is in the database ${rows.length} times`);
    if (outcome === "acknowledged") {
      counts.receipt.acknowledged++;
      const yes = attempts.find((e) => e.outcome === "acknowledged")!;
      const ids = new Set(attempts.filter((e) => e.pickingId).map((e) => e.pickingId));
      if (ids.size > 1) {
        duplicated(
          "receipt",
          `${name} was acknowledged as ${[...ids].join(" and ")}`,
        );
      }
      if (rows.length === 0) {
        lost(
          "receipt",
          `${name} (acknowledged as ${yes.pickingId}) is missing`,
        );
      } else if (String(rows[0].id) !== yes.pickingId) {
        lost(
          "receipt",
          `${name} was acknowledged as ${yes.pickingId}, the database has ${rows[0].id}`,
        );
      } else if (!sameSums(byGoods(jsonLines(rows[0].lines)), byGoods(yes.lines))) {
        lost("receipt", `${name} has other lines than were sent`);
      }
    } else if (outcome === "refused" && rows.length > 0) {
      phantom(`${name} was refused (${attempts[0].answer?.exception}) but is in the database`);
    }
  }

  // The ledger.
  for (const l of ledger) {
    problems.push(
      `ledger: warehouse ${l.warehouse_id} goods ${l.goods_id} has stock ${l.stock}, its moves sum to ${l.moves}`,
    );
  }

  const at = (options.at ?? new Date()).getTime();
  const grace = options.graceMs ?? 10_000;
  // Goods whose price a schedule changed within the grace: its labels may still be on their way.
  const changing = new Set(
    schedules.filter((s) =>
      [s.starts_at, s.ends_at].some((t) => {
        if (t === null) return false;
        const ms = new Date(t as string).getTime();
        return ms <= at && ms > at - grace;
      })
    ).map((s) => Number(s.goods_id)),
  );

  // Schedules: each acknowledged one kept as created; the price in force where one applies.
  const scheduleById = new Map(schedules.map((s) => [Number(s.id), s]));
  const sameSchedule = (s: Row, e: ScheduleEntry) =>
    Number(s.goods_id) === e.gid && sameDecimal(s.price, e.price) &&
    new Date(s.starts_at as string).getTime() === e.startsAt.getTime() &&
    (s.ends_at === null ? undefined : new Date(s.ends_at as string).getTime()) ===
      e.endsAt?.getTime();
  for (const e of history.of("schedule")) {
    const name = `schedule of goods ${e.gid} at ${e.price} from ${e.startsAt.toISOString()}`;
    const rows = schedules.filter((s) => sameSchedule(s, e));
    if (rows.length > 1) duplicated("schedule", `${name} is in the database ${rows.length} times`);
    if (e.outcome === "acknowledged") {
      counts.schedule.acknowledged++;
      const row = scheduleById.get(e.id!);
      if (!row || !sameSchedule(row, e)) {
        lost("schedule", `${name} (acknowledged as ${e.id}) is missing`);
      }
    } else if (e.outcome === "refused" && rows.length > 0) {
      phantom(`${name} was refused but is in the database`);
    }
  }
  const goodsById = new Map(goods.map((g) => [Number(g.id), g]));
  for (const [gid, entries] of groupBy(history.of("schedule"), (e) => String(e.gid))) {
    const mine = schedules.filter((s) => String(s.goods_id) === gid && s.cancelled_at === null);
    const times = (s: Row) =>
      [s.starts_at, s.ends_at].filter((t) => t !== null).map((t) =>
        new Date(t as string).getTime()
      );
    if (mine.some((s) => times(s).some((t) => t <= at && t > at - grace))) continue; // changing now
    const inForce = mine
      .filter((s) =>
        new Date(s.starts_at as string).getTime() <= at &&
        (s.ends_at === null || new Date(s.ends_at as string).getTime() > at)
      )
      .sort((a, b) =>
        new Date(b.created_at as string).getTime() - new Date(a.created_at as string).getTime() ||
        Number(b.id) - Number(a.id)
      );
    const expected = inForce[0]?.price ?? entries[0].regularPrice;
    const price = goodsById.get(Number(gid))?.price;
    const why = inForce[0]
      ? `schedule ${inForce[0].id} sets ${expected}`
      : `its regular price is ${expected}`;
    if (price === undefined) wrongPrice(`goods ${gid} is missing (${why})`);
    else if (!sameDecimal(price, expected)) {
      wrongPrice(`goods ${gid} costs ${price} at ${new Date(at).toISOString()}: ${why}`);
    }
  }

  // Labels: the appliance records only prices a label showed; settled, it knows the last one.
  const shownRows = new Map(labels.map((l) => [String(l.mac), l]));
  for (const [mac, shown] of groupBy(history.of("label"), (e) => e.mac)) {
    counts.label.acknowledged += shown.length;
    const row = shownRows.get(mac);
    const prices = new Set(shown.map((e) => milli(e.price)));
    // What the label showed when the state was taken; a push confirmed later is not in it yet.
    const last = shown.filter((e) => (e.answeredAt ?? e.sentAt) <= at).at(-1);
    if (row && !prices.has(milli(row.price))) {
      phantom(`label ${mac} is recorded as showing ${row.price}, a price it never showed`);
    } else if (
      options.settled && last && !changing.has(last.gid) &&
      !(row && new Date(row.goods_updated_at as string).getTime() > at - grace)
    ) {
      // A confirmation is answered by nobody: losing one is allowed, not knowing it afterwards
      // (the label would then never get the price again) is not.
      if (!row) unconverged(`label ${mac} showed ${last.price}: nothing is recorded`);
      else if (!sameDecimal(row.price, last.price)) {
        unconverged(`label ${mac} shows ${last.price}, recorded as showing ${row.price}`);
      } else if (!sameDecimal(last.price, row.goods_price)) {
        unconverged(`label ${mac} still shows ${last.price}, the goods cost ${row.goods_price}`);
      }
    }
  }

  // A label's confirmation is answered by nobody: it is not an acknowledged record.
  const total = (key: keyof KindCounts) =>
    ENTRY_KINDS.filter((k) => k !== "label").reduce((s, k) => s + counts[k][key], 0);
  return {
    acknowledged: total("acknowledged"),
    lost: total("lost"),
    duplicated: total("duplicated"),
    byKind: counts,
    phantoms,
    halfThere,
    ledgerBroken: ledger.length,
    wrongPrices,
    unconvergedLabels,
    problems,
  };
}

function fmtSums(sums: Map<number, bigint>): string {
  const parts = [...sums].sort(([a], [b]) => a - b).map(([gid, q]) => `${gid}×${Number(q) / 1000}`);
  return parts.length ? parts.join(", ") : "none";
}

/** The counts of a check as one line for the lab's table notes ("orders 120, receipts 40, …"). */
export function describeCounts(result: CheckResult): string {
  return ENTRY_KINDS
    .filter((k) => result.byKind[k].acknowledged > 0)
    .map((k) =>
      `${k === "label" ? "label confirmations" : `${k}s`} ${result.byKind[k].acknowledged}`
    )
    .join(", ");
}
