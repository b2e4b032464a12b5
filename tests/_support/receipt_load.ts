/**
 * Stock receipts under load, as store devices send them, for fault-injection tests: each device
 * books receipts in a closed loop, retries a receipt with the same `ref` until it is acknowledged
 * (devices retry), and reconnects when its connection drops. Every attempt is recorded, so a test
 * can check afterwards that nothing acknowledged was lost and nothing was booked twice.
 *
 * @module
 */
import { DeviceClient, DeviceClosedError } from "../../src/device/client.ts";
import type { Database } from "../../src/store/database.ts";

/** One attempt to book one receipt. */
export interface ReceiptAttempt {
  equipId: string;
  ref: string;
  sentAt: number;
  answeredAt: number;
  /** The acknowledged receipt id. */
  pickingId?: string;
  /** The `exception` of a refused attempt. */
  exception?: string;
  /** No reply: `closed` (the connection dropped) or `timeout` (a hang). */
  failed?: "closed" | "timeout";
}

/** A receipt as sent: its one line. */
export interface SentReceipt {
  equipId: string;
  ref: string;
  gid: number;
  qty: number;
}

/** Options of {@link ReceiptLoad}. */
export interface ReceiptLoadOptions {
  port: number;
  equipIds: string[];
  /** Warehouse booked into. */
  whid: number;
  /** Longest wait for a reply; past it the attempt is a `timeout` (a hang). */
  replyTimeoutMs: number;
  /** Pause after a refused attempt before the retry. */
  retryPauseMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Devices booking receipts in closed loops. */
export class ReceiptLoad {
  readonly attempts: ReceiptAttempt[] = [];
  readonly sent = new Map<string, SentReceipt>();
  readonly #options: ReceiptLoadOptions;
  #stopped = false;
  #loops: Promise<void>[] = [];

  /** @param options where and how */
  constructor(options: ReceiptLoadOptions) {
    this.#options = options;
  }

  /** Starts one loop per device. */
  start(): void {
    this.#loops = this.#options.equipIds.map((id) => this.#loop(id));
  }

  /** Stops the loops (an attempt in flight finishes first) and closes the connections. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }

  /** Attempts that were acknowledged. */
  acknowledged(): ReceiptAttempt[] {
    return this.attempts.filter((a) => a.pickingId !== undefined);
  }

  /** The acknowledged attempts of one device after `since`. */
  acknowledgedSince(since: number, equipId?: string): ReceiptAttempt[] {
    return this.acknowledged().filter((a) =>
      a.sentAt >= since && (!equipId || a.equipId === equipId)
    );
  }

  /** The receipts sent but never acknowledged. */
  unacknowledged(): SentReceipt[] {
    const acked = new Set(this.acknowledged().map((a) => a.ref));
    return [...this.sent.values()].filter((r) => !acked.has(r.ref));
  }

  /**
   * Sends every unacknowledged receipt again, as its device would after the fault, until each is
   * acknowledged (at most `tries` times each).
   */
  async retryUnacknowledged(tries = 20): Promise<void> {
    for (const receipt of this.unacknowledged()) {
      const client = await DeviceClient.login({
        host: "127.0.0.1",
        port: this.#options.port,
        equipId: receipt.equipId,
      });
      try {
        for (let i = 0; i < tries; i++) {
          const attempt = await this.#attempt(client, receipt);
          if (attempt.pickingId) break;
          await sleep(this.#options.retryPauseMs ?? 50);
        }
      } finally {
        await client.close();
      }
    }
  }

  async #loop(equipId: string): Promise<void> {
    let n = 0;
    let client: DeviceClient | undefined;
    try {
      while (!this.#stopped) {
        if (!client || client.closed) {
          client = await this.#connect(equipId);
          if (!client) return;
        }
        const ref = `${equipId}-${n}`;
        const receipt = this.sent.get(ref) ??
          { equipId, ref, gid: 1 + (n % 5), qty: 1 + (n % 3) };
        this.sent.set(ref, receipt);
        const attempt = await this.#attempt(client, receipt);
        if (attempt.pickingId) n++;
        else await sleep(this.#options.retryPauseMs ?? 50);
      }
    } finally {
      await client?.close();
    }
  }

  async #connect(equipId: string): Promise<DeviceClient | undefined> {
    while (!this.#stopped) {
      try {
        const client = await DeviceClient.login({
          host: "127.0.0.1",
          port: this.#options.port,
          equipId,
          timeoutMs: this.#options.replyTimeoutMs,
        });
        return client;
      } catch {
        await sleep(100); // the appliance is not back yet
      }
    }
    return undefined;
  }

  async #attempt(client: DeviceClient, receipt: SentReceipt): Promise<ReceiptAttempt> {
    const attempt: ReceiptAttempt = {
      equipId: receipt.equipId,
      ref: receipt.ref,
      sentAt: Date.now(),
      answeredAt: 0,
    };
    try {
      const reply = await client.request("stockGoods", {
        whid: this.#options.whid,
        ref: receipt.ref,
        goods: [{ gid: receipt.gid, qty: receipt.qty }],
      }, { timeoutMs: this.#options.replyTimeoutMs });
      const exception = reply.json?.exception;
      if (exception === "" && typeof reply.json?.picking_id === "string") {
        attempt.pickingId = reply.json.picking_id;
      } else {
        attempt.exception = String(exception ?? "no exception field");
      }
    } catch (e) {
      attempt.failed = e instanceof DeviceClosedError || client.closed ? "closed" : "timeout";
    }
    attempt.answeredAt = Date.now();
    this.attempts.push(attempt);
    return attempt;
  }
}

/** Stock of one warehouse: goods id → quantity. */
export async function warehouseStock(db: Database, whid: number): Promise<Map<number, number>> {
  const rows = await db.query<{ goods_id: number; quantity: string }>(
    "select goods_id, quantity::text as quantity from stock where warehouse_id = $1",
    [whid],
  );
  return new Map(rows.map((r) => [r.goods_id, Number(r.quantity)]));
}

/**
 * Checks the database against what the devices were told: every acknowledged receipt is there
 * under the acknowledged id with its line; each sent `ref` is booked at most once; nothing is
 * booked that was not sent; and the warehouse stock moved by exactly the booked lines. Returns a
 * list of problems (empty when all is well).
 */
export async function receiptProblems(
  db: Database,
  load: ReceiptLoad,
  whid: number,
  stockBefore: Map<number, number>,
): Promise<string[]> {
  const problems: string[] = [];
  const equipIds = [...new Set([...load.sent.values()].map((r) => r.equipId))];
  const rows = await db.query<
    { id: number; equip_id: string; ref: string; goods_id: number; quantity: string }
  >(
    `select r.id, r.equip_id, r.ref, l.goods_id, l.quantity::text as quantity
       from stock_receipts r join stock_receipt_lines l on l.receipt_id = r.id
      where r.equip_id = any($1::text[]) order by r.id, l.line_no`,
    [equipIds],
  );
  const byRef = new Map<string, typeof rows>();
  for (const row of rows) byRef.set(row.ref, [...(byRef.get(row.ref) ?? []), row]);
  for (const [ref, booked] of byRef) {
    const sent = load.sent.get(ref);
    if (!sent) problems.push(`${ref}: booked but never sent`);
    else if (booked.length !== 1) {
      problems.push(`${ref}: ${booked.length} lines booked (duplicate?)`);
    } else if (booked[0].goods_id !== sent.gid || Number(booked[0].quantity) !== sent.qty) {
      problems.push(
        `${ref}: booked ${booked[0].quantity} of ${
          booked[0].goods_id
        }, sent ${sent.qty} of ${sent.gid}`,
      );
    }
  }
  for (const attempt of load.acknowledged()) {
    const booked = byRef.get(attempt.ref);
    if (!booked) problems.push(`${attempt.ref}: acknowledged as ${attempt.pickingId} but lost`);
    else if (String(booked[0].id) !== attempt.pickingId) {
      problems.push(
        `${attempt.ref}: acknowledged as ${attempt.pickingId}, booked as ${booked[0].id}`,
      );
    }
  }
  const expected = new Map(stockBefore);
  for (const [, booked] of byRef) {
    for (const line of booked) {
      expected.set(line.goods_id, (expected.get(line.goods_id) ?? 0) + Number(line.quantity));
    }
  }
  const stock = await warehouseStock(db, whid);
  for (const [gid, quantity] of expected) {
    if (stock.get(gid) !== quantity) {
      problems.push(`stock of goods ${gid}: ${stock.get(gid)}, receipts say ${quantity}`);
    }
  }
  return problems;
}
