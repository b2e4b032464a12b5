import assert from "node:assert/strict";
import { backends } from "../../tests/_support/databases.ts";
import { eventually, PaymentServerStandIn } from "../../tests/payment_support.ts";
import { systemClock } from "../clock.ts";
import { createMemoryLogger } from "../log.ts";
import type { Database } from "../store/database.ts";
import { callState } from "../store/payment_calls.ts";
import { createOrder, type OrderRecord } from "../store/orders.ts";
import { PaymentServerClient, retryDelayS } from "./payment_server.ts";

function config(url: string) {
  return {
    paymentServerUrl: url,
    paymentTimeoutS: 0.3,
    paymentRetryMinS: 0.05,
    paymentRetryMaxS: 0.2,
  };
}

let sequence = 0;
async function order(db: Database, ttlS = 60, openId = ""): Promise<OrderRecord> {
  const now = new Date();
  const n = ++sequence;
  if (openId) {
    await db.query(
      `insert into door_sessions (shop_id, open_id, opened_at) values ('shopP', $1, now())
       on conflict (shop_id) do update set open_id = excluded.open_id`,
      [openId],
    );
  }
  const { order } = await createOrder(db, {
    equipId: "POS_0007",
    uniqueId: "POS_0007",
    terminalOrderId: `T${n}`,
    kind: "normal",
    amount: "3.50",
    deviceTotal: "3.5",
    shopId: "shopP",
    lines: [{
      goodsId: 10,
      name: "可口可乐 330ml",
      unitPrice: "3.50",
      quantity: "1",
      amount: "3.50",
    }],
    createdAt: now,
    expiresAt: new Date(now.getTime() + ttlS * 1000),
    payUrl: (code) => `https://pay/${code}`,
  });
  return order;
}

async function suite(t: Deno.TestContext, db: Database) {
  const stand = new PaymentServerStandIn();
  const log = createMemoryLogger();
  const deps = { db, config: config(stand.url), clock: systemClock, log };
  // Runs `work` with a started client, stopped whatever `work` does.
  const withClient = async (work: (client: PaymentServerClient) => Promise<void>) => {
    const client = new PaymentServerClient(deps);
    client.start();
    try {
      await work(client);
    } finally {
      await client.stop();
    }
  };
  // The order's call was accepted (200) by the stand-in, and its row marked sent.
  const acceptedAndSent = async (o: OrderRecord) => {
    await stand.waitFor((calls) => calls.some((c) => c.orderCode === o.code && c.status === 200));
    await eventually(
      async () => (await callState(db, o.id))?.state === "sent" || undefined,
      "sent",
    );
  };
  try {
    await t.step(
      "a new order is POSTed once, form-encoded, with the customer's openid",
      async () => {
        await withClient(async (client) => {
          const o = await order(db, 60, "oWx-7788");
          client.wake();
          await stand.waitFor((calls) => calls.some((c) => c.orderCode === o.code));
          const calls = stand.calls.filter((c) => c.orderCode === o.code);
          assert.deepEqual(calls.map(({ contentType: _, ...c }) => c), [{
            orderCode: o.code,
            price: "3.50",
            openid: "oWx-7788",
            uniqueId: "POS_0007",
            status: 200,
          }]);
          assert.match(calls[0].contentType, /^application\/x-www-form-urlencoded/);
          const state = await eventually(async () => {
            const s = await callState(db, o.id);
            return s?.state === "sent" ? s : undefined;
          }, "call marked sent");
          assert.equal(state.attempts, 1);
        });
      },
    );

    await t.step(
      "a payment server that is down is retried; after recovery exactly one call succeeds",
      async () => {
        stand.mode = "fail";
        await withClient(async (client) => {
          const o = await order(db);
          client.wake();
          await stand.waitFor((calls) => calls.filter((c) => c.orderCode === o.code).length >= 3);
          stand.mode = "ok";
          await acceptedAndSent(o);
          // Several retry periods later, still exactly one accepted call and no new attempts.
          const attempts = stand.calls.filter((c) => c.orderCode === o.code).length;
          await new Promise((r) => setTimeout(r, 500));
          assert.equal(stand.calls.filter((c) => c.orderCode === o.code).length, attempts);
          assert.equal(stand.accepted.filter((c) => c.orderCode === o.code).length, 1);
          assert.equal((await callState(db, o.id))?.attempts, attempts);
        });
      },
    );

    await t.step("a hanging payment server times out and the call is made again", async () => {
      stand.mode = "hang";
      await withClient(async (client) => {
        const o = await order(db);
        client.wake();
        await eventually(async () => {
          const s = await callState(db, o.id);
          return s && s.attempts >= 2 && /no answer within 0.3 s/.test(s.lastError) ? s : undefined;
        }, "a timed-out attempt recorded");
        stand.mode = "ok";
        stand.releaseHanging();
        await acceptedAndSent(o);
      });
    });

    await t.step("a call pending when the worker stops is made by the next worker", async () => {
      stand.mode = "hang";
      const first = new PaymentServerClient(deps);
      first.start();
      const o = await order(db);
      first.wake();
      await stand.waitFor((calls) => calls.some((c) => c.orderCode === o.code));
      await first.stop(); // aborts the call in flight, as a shutdown does
      stand.releaseHanging();
      assert.equal((await callState(db, o.id))?.state, "pending");
      stand.mode = "ok";
      await withClient(() => acceptedAndSent(o));
    });

    await t.step("an expired order's call is cancelled, not made", async () => {
      stand.mode = "fail";
      await withClient(async (client) => {
        const o = await order(db, 0.4);
        client.wake();
        await eventually(
          async () => (await callState(db, o.id))?.state === "cancelled" || undefined,
          "cancelled",
        );
        assert.equal(stand.accepted.some((c) => c.orderCode === o.code), false);
      });
    });

    await t.step("with no URL configured nothing is called and it is said once", async () => {
      const quiet = createMemoryLogger();
      const client = new PaymentServerClient({ ...deps, log: quiet, config: config("") });
      client.start();
      client.wake();
      const o = await order(db);
      client.wake();
      await client.stop();
      assert.equal((await callState(db, o.id))?.state, "pending");
      assert.equal(quiet.lines.filter((l) => /not configured/.test(String(l.msg))).length, 1);
    });
  } finally {
    await stand.close();
  }
}

for (const backend of backends()) {
  Deno.test(`payment server outbox (${backend.name})`, async (t) => {
    const opened = await backend.open();
    try {
      await suite(t, opened.db);
    } finally {
      await opened.dispose();
    }
  });
}

Deno.test("retryDelayS doubles from the minimum up to the maximum", () => {
  assert.deepEqual([1, 2, 3, 4, 8, 100].map((n) => retryDelayS(n, 1, 10)), [1, 2, 4, 8, 10, 10]);
  assert.equal(retryDelayS(0, 0.5, 10), 0.5);
});
