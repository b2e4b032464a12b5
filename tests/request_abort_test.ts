/**
 * A request that overruns the request timeout is answered "timed out" and its handler is stopped:
 * its database statements are cancelled, so it cannot run on next to the device's retry. Over
 * real TCP, on real databases.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { backends, testPostgresUrl } from "./_support/databases.ts";
import { eventually, startTestAppliance } from "./_support/appliance.ts";
import { CORE_ACTIONS } from "../src/actions/mod.ts";
import type { ActionTable } from "../src/actions/mod.ts";
import { openPostgres } from "../src/store/postgres.ts";

const TIMED_OUT = "request timed out, try again later";

for (const { name: backend } of backends()) {
  Deno.test(`a timed-out handler is aborted: its later write does not happen (${backend})`, async () => {
    const outcome = Promise.withResolvers<string>();
    const actions: ActionTable = {
      ...CORE_ACTIONS,
      // Slow work that never looks at its signal, then a write through the request's database.
      slowWrite: {
        handle: async (ctx, body) => {
          await new Promise((r) => setTimeout(r, 3_000));
          try {
            await ctx.db.query("insert into abort_probe (v) values ($1)", [String(body.v)]);
            outcome.resolve("written");
          } catch (e) {
            outcome.resolve(ctx.signal.aborted && e === ctx.signal.reason ? "aborted" : String(e));
          }
          return { body: { exception: "" } };
        },
      },
    };
    const appliance = await startTestAppliance(backend, {
      actions,
      // Long enough for a login on a busy machine, shorter than the slow handler.
      config: { requestTimeoutS: 1 },
    });
    try {
      await appliance.app.db.exec("create table abort_probe (v text)");
      const device = await appliance.device("POS_2301");
      const reply = await device.request("slowWrite", { v: "late" });
      assertEquals(reply.json?.exception, TIMED_OUT);
      assertEquals(await outcome.promise, "aborted", "the handler sees the abort at its write");
      assertEquals(await appliance.app.db.query("select v from abort_probe"), []);
      const next = await device.request("getGoods", { gid: 1 });
      assertEquals(next.json?.exception, "", "the session goes on");
    } finally {
      await appliance.stop();
    }
  });
}

Deno.test({
  name:
    `a timed-out stockGoods waiting for a lock is cancelled in PostgreSQL, not left to book later${
      testPostgresUrl() === undefined ? " [skipped: DATABASE_URL not set]" : ""
    }`,
  ignore: testPostgresUrl() === undefined,
  fn: async () => {
    const appliance = await startTestAppliance("postgres", { config: { requestTimeoutS: 1 } });
    const other = openPostgres(appliance.config.databaseUrl, { maxConnections: 2 });
    const locked = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    let holding: Promise<void> | undefined;
    try {
      // Another session (a migration, an operator's psql) holds the receipts table.
      holding = other.transaction(async (tx) => {
        await tx.query("lock table stock_receipts in access exclusive mode");
        locked.resolve();
        await release.promise;
      });
      await locked.promise;
      const device = await appliance.device("POS_2401");
      const body = { whid: 1, ref: "LOCKED-1", goods: [{ gid: 1, qty: 3 }] };
      const reply = await device.request("stockGoods", body);
      assertEquals(reply.json?.exception, TIMED_OUT);
      // The handler's statement is cancelled while the lock is still held: nobody waits for it.
      await eventually(
        async () =>
          (await other.query<{ n: number }>(
            "select count(*)::int as n from pg_stat_activity " +
              "where datname = current_database() and wait_event_type = 'Lock'",
          ))[0].n === 0,
        "no statement of the timed-out request waits for the lock",
        5000,
      );
      release.resolve();
      await holding;
      assertEquals(
        (await appliance.app.db.query("select 1 from stock_receipts where ref = 'LOCKED-1'"))
          .length,
        0,
        "nothing booked by the timed-out request",
      );
      const retry = await device.request("stockGoods", body);
      assertEquals(retry.json?.exception, "", "the device's retry books it");
    } finally {
      release.resolve();
      await holding?.catch(() => {});
      await other.close();
      await appliance.stop();
    }
  },
});
