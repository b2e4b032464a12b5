/**
 * Price parity as a property (issue 23): over generated stores — goods with one to three shelf
 * labels each, labels that confirmed before or after a price change (by their own `getGoods` or
 * by a push acknowledgement, of the current or an older price), price changes written directly
 * or by a schedule starting and ending, a till whose clock stands inside the parity window, past
 * it or exactly at its edge, lines by goods id and by scale barcode (weight and total codes) —
 * the price a till is shown by `getGoods` is the price `getPayInfo` charges it, line by line.
 * Both device paths run through the real handlers (the action table) on a real database, on both
 * backends.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Backend, backends } from "./_support/databases.ts";
import { actionContext } from "./_support/action_context.ts";
import type { ActionContext } from "../src/actions/context.ts";
import { CORE_ACTIONS } from "../src/actions/mod.ts";
import { runAction } from "../src/server/dispatch.ts";
import { encodeBody, type JsonObject } from "../src/protocol/body.ts";
import { defaultConfig } from "../src/config/config.ts";
import type { Database } from "../src/store/database.ts";
import { applySchedules } from "../src/store/price_schedules.ts";
import { recordShown } from "../src/store/label_shown.ts";
import { PriceParity } from "../src/pricing/parity.ts";
import { DEFAULT_SCALE_RULES, scaleBarcode } from "../src/scale_barcode.ts";
import { createMemoryLogger } from "../src/log.ts";
import { fromScaled, roundScaled, toScaled } from "../src/decimal.ts";

/** Cases per backend; a failure names its seed (`PARITY_SEED=n` replays one case). */
const CASES = Number(Deno.env.get("PARITY_CASES") ?? 32);
const WINDOW_S = 600;
const HOUR_MS = 3_600_000;

// A small seeded generator (mulberry32): every case is replayable from its seed.
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
    chance: (p: number) => next() < p,
  };
}

type Rng = ReturnType<typeof random>;

interface CaseGoods {
  id: number;
  plu: number | null;
  weighed: boolean;
  macs: string[];
}

let serial = 0;

function cents(rng: Rng): string {
  return fromScaled(BigInt(rng.int(100, 9_999)), 2);
}

async function ask(ctx: ActionContext, action: string, body: JsonObject) {
  const result = await runAction(CORE_ACTIONS[action], ctx, encodeBody(body));
  return result.body as Record<string, unknown>;
}

/** One generated store, driven to a state; returns what the case did, for the failure message. */
async function buildCase(
  db: Database,
  rng: Rng,
  label: ActionContext,
): Promise<{ goods: CaseGoods[]; story: string[] }> {
  const story: string[] = [];
  const goods: CaseGoods[] = [];
  for (let g = rng.int(1, 3); g > 0; g--) {
    const n = ++serial;
    const weighed = rng.chance(0.5);
    const plu = rng.chance(0.6) ? 10_000 + n : null;
    const price = cents(rng);
    const [{ id }] = await db.query<{ id: number }>(
      `insert into goods (barcode, name, price, weighed, plu) values ($1, $2, $3::numeric, $4, $5)
       returning id`,
      [`P${n}`, `property goods ${n}`, price, weighed, plu],
    );
    const macs: string[] = [];
    for (let l = rng.int(1, 3); l > 0; l--) {
      const mac = `PP:${String(n).padStart(4, "0")}:${l}`;
      await db.query("insert into label_bindings (mac, goods_id) values ($1, $2)", [mac, id]);
      macs.push(mac);
    }
    goods.push({ id, plu, weighed, macs });
    story.push(`goods ${id} at ${price}${weighed ? " weighed" : ""} plu ${plu} labels ${macs}`);
  }
  const older = new Map<number, string>();
  for (let step = rng.int(2, 6); step > 0; step--) {
    const g = rng.pick(goods);
    const what = rng.pick(["ask", "ask", "ack", "ackOld", "change", "schedule", "end"] as const);
    if (what === "ask" || what === "ack" || what === "ackOld") {
      const macs = g.macs.filter(() => rng.chance(0.6));
      if (macs.length === 0) continue;
      if (what === "ask") {
        await ask(label, "getGoods", { mac_id: macs.join(",") });
      } else {
        const [row] = await db.query<{ name: string; price: string }>(
          "select name, price::text as price from goods where id = $1",
          [g.id],
        );
        // A late acknowledgement of an earlier push shows the price that push carried.
        const price = what === "ackOld" ? older.get(g.id) ?? row.price : row.price;
        const at = new Date(label.clock.now());
        await recordShown(
          db,
          macs.map((mac) => ({ mac, gid: g.id, name: row.name, price, equipId: "DZBQ_0001", at })),
          "push",
        );
      }
      story.push(`${what} ${macs}`);
    } else if (what === "change") {
      const [row] = await db.query<{ price: string }>(
        "select price::text as price from goods where id = $1",
        [g.id],
      );
      older.set(g.id, row.price);
      const price = cents(rng);
      await db.query("update goods set price = $1::numeric where id = $2", [price, g.id]);
      story.push(`goods ${g.id} ${row.price} -> ${price}`);
    } else if (what === "schedule") {
      const price = cents(rng);
      const now = Date.now();
      await db.query(
        `insert into price_schedules (goods_id, price, starts_at, ends_at)
         values ($1, $2::numeric, $3, $4)`,
        [g.id, price, new Date(now - HOUR_MS), new Date(now + HOUR_MS)],
      );
      const started = await applySchedules(db, new Date(now));
      story.push(`schedule ${price} for goods ${g.id}: ${started.started.length} started`);
    } else {
      const ended = await applySchedules(db, new Date(Date.now() + 2 * HOUR_MS));
      story.push(`schedules end: ${ended.ended.length} ended`);
    }
  }
  return { goods, story };
}

/** The till's "now": inside the window, past it, or exactly at a stale label's edge. */
async function tillTime(db: Database, rng: Rng, goods: CaseGoods[]): Promise<[number, string]> {
  const rows = await db.query<{ since: Date }>(
    `select stale_since as since from label_shown
     where goods_id = any($1::int[]) and stale_since is not null`,
    [goods.map((g) => g.id)],
  );
  const now = Date.now();
  const mode = rows.length === 0 ? "inside" : rng.pick(["inside", "past", "edge", "edge"] as const);
  if (mode === "inside") return [now + rng.int(0, 1000), "inside the window"];
  const since = rng.pick(rows).since.getTime();
  if (mode === "past") return [since + WINDOW_S * 1000 + rng.int(1, 60_000), "past the window"];
  const delta = rng.pick([-1, 0, 0, 1]);
  return [since + WINDOW_S * 1000 + delta, `at a label's window edge ${delta} ms`];
}

function lineAmount(price: string, quantity: string): string {
  return fromScaled(roundScaled(toScaled(price, 2) * toScaled(quantity, 3), 3), 2);
}

async function runCase(db: Database, seed: number): Promise<void> {
  const rng = random(seed);
  const config = defaultConfig();
  config.priceParityMaxS = WINDOW_S;
  config.priceParity = rng.chance(0.1) ? "current" : "lowest";
  const labelCtx = actionContext(db, "DZBQ_0001", {
    header: { action: "getGoods", length: 0, uniqueId: "DZBQ_0001" },
    config,
  });
  const { goods, story } = await buildCase(db, rng, labelCtx);
  const [now, when] = await tillTime(db, rng, goods);
  story.push(`till ${when}, priceParity ${config.priceParity}`);
  const clock = { now: () => now, monotonic: () => performance.now() };
  const shelfPrices = await PriceParity.start({ db, log: createMemoryLogger(), clock, config });
  try {
    const till = rng.pick(["POS_0001", "DZC_0001"]);
    const ctx = (action: string) =>
      actionContext(db, till, {
        header: { action, length: 0, uniqueId: till },
        config,
        clock,
        shelfPrices,
      });
    // What the till is shown, and the lines it then asks to pay for.
    const expected: { gid: number; price: string; amount: string }[] = [];
    const lines: JsonObject[] = [];
    const shown = await ask(ctx("getGoods"), "getGoods", { gid: goods.map((g) => g.id) });
    for (const view of shown.goods as Record<string, unknown>[]) {
      const g = goods.find((x) => x.id === view.gid)!;
      const price = (view.price as number).toFixed(2);
      const quantity = g.weighed ? fromScaled(BigInt(rng.int(1, 2500)), 3) : String(rng.int(1, 3));
      lines.push({ gid: g.id, [till === "POS_0001" ? "qty" : "weight"]: quantity });
      expected.push({ gid: g.id, price, amount: lineAmount(price, quantity) });
    }
    for (const g of goods.filter((x) => x.plu !== null)) {
      // Weight codes are printed for weighed goods only; a total code for any.
      const rules = DEFAULT_SCALE_RULES.filter((r) => g.weighed || r.kind === "amount");
      const rule = rng.pick(rules);
      const code = scaleBarcode(rule, g.plu!, rng.int(1, 20_000));
      const [view] = (await ask(ctx("getGoods"), "getGoods", { code })).goods as Record<
        string,
        unknown
      >[];
      assert.ok(view, `scale code ${code} found`);
      const price = (view.price as number).toFixed(2);
      const amount = view.amount !== undefined
        ? (view.amount as number).toFixed(2)
        : lineAmount(price, String(view.weight));
      lines.push({ code });
      expected.push({ gid: g.id, price, amount });
    }
    const total = fromScaled(
      expected.reduce((sum, l) => sum + toScaled(l.amount, 2), 0n),
      2,
    );
    const orderId = `PP${seed}`;
    const paid = await ask(ctx("getPayInfo"), "getPayInfo", {
      order_id: orderId,
      totalPrice: total,
      goods: lines,
    });
    const charged = await db.query<{ gid: number; price: string; amount: string }>(
      `select l.goods_id as gid, l.unit_price::text as price, l.amount::text as amount
       from order_lines l join orders o on o.id = l.order_id
       where o.equip_id = $1 and o.terminal_order_id = $2 order by l.line_no`,
      [till, orderId],
    );
    assert.deepEqual(
      { exception: paid.exception, charged },
      { exception: "", charged: expected },
      `seed ${seed}: shown and charged differ\n  ${story.join("\n  ")}`,
    );
  } finally {
    await shelfPrices.stop();
  }
}

function property(backend: Backend) {
  return async () => {
    const { db, dispose } = await backend.open({ demo: false });
    try {
      const only = Deno.env.get("PARITY_SEED");
      const seeds = only ? [Number(only)] : Array.from({ length: CASES }, (_, i) => 2300 + i);
      for (const seed of seeds) await runCase(db, seed);
    } finally {
      await dispose();
    }
  };
}

for (const backend of backends()) {
  Deno.test(
    `price parity: the price a till is shown is the price it is charged (${backend.name})`,
    property(backend),
  );
}
