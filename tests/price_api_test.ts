/**
 * The admin API's price routes (issue 14) on every backend: the token guard, clear refusals of
 * malformed requests, the audit line of each write, list and cancel.
 */
import assert from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { createApiHandler } from "../src/admin/api.ts";
import { createMemoryLogger } from "../src/log.ts";
import { systemClock } from "../src/clock.ts";

for (const backend of backends()) {
  Deno.test(`admin API /api/prices (${backend.name})`, async () => {
    const { db, dispose } = await backend.open({ demo: true });
    try {
      const api = createApiHandler(
        { db, clock: systemClock, log: createMemoryLogger("info") },
        { token: "secret", tokenForReads: false },
      );
      const call = async (method: string, path: string, body?: string, token = "secret") => {
        const response = await api(
          new Request(`http://127.0.0.1${path}`, {
            method,
            body,
            headers: token ? { authorization: `Bearer ${token}` } : {},
          }),
        );
        return { status: response.status, json: await response.json() };
      };
      const schedule = JSON.stringify({
        gid: 10,
        price: "2.99",
        from: "2026-12-24T08:00:00+08:00",
        until: "2026-12-26T22:00:00+08:00",
      });
      assert.equal((await call("POST", "/api/prices", schedule, "")).status, 401);
      const notJson = await call("POST", "/api/prices", "{");
      assert.deepEqual(notJson, { status: 400, json: { error: "the body must be JSON" } });
      const badPrice = await call("POST", "/api/prices", JSON.stringify({ gid: 10, price: "x" }));
      assert.equal(badPrice.status, 400);
      assert.match(badPrice.json.error, /price must be an amount/);
      const unknown = await call(
        "POST",
        "/api/prices",
        JSON.stringify({ gid: 999, price: "1", from: "2026-12-24T00:00:00Z" }),
      );
      assert.deepEqual(unknown, { status: 404, json: { error: "no goods with gid 999" } });

      const made = await call("POST", "/api/prices", schedule);
      assert.equal(made.status, 201);
      assert.deepEqual(
        [made.json.gid, made.json.price, made.json.from, made.json.until, made.json.createdBy],
        [10, "2.99", "2026-12-24T00:00:00.000Z", "2026-12-26T14:00:00.000Z", "adminToken"],
      );
      const listed = await call("GET", "/api/prices", undefined, "");
      assert.deepEqual(listed.json.map((s: { id: number }) => s.id), [made.json.id]);
      const cancelled = await call("POST", `/api/prices/${made.json.id}/cancel`);
      assert.equal(cancelled.json.state, "cancelled");
      assert.equal((await call("POST", `/api/prices/${made.json.id}/cancel`)).status, 404);
      assert.deepEqual((await call("GET", "/api/prices")).json, []);
      assert.equal((await call("GET", "/api/prices?all=1")).json.length, 1);
      const audit = await db.query("select actor, action, target from audit_log order by id");
      assert.deepEqual(audit, [
        { actor: "adminToken", action: "price.schedule", target: String(made.json.id) },
        { actor: "adminToken", action: "price.cancel", target: String(made.json.id) },
      ]);
    } finally {
      await dispose();
    }
  });
}
