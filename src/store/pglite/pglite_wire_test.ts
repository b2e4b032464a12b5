import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import { WireConnection } from "./pglite_wire.ts";

Deno.test("the wire connection: kept statements, bounded; errors, nulls, notifications", async () => {
  const pg = await PGlite.create();
  try {
    const notified: [string, string][] = [];
    const wire = new WireConnection(pg, (channel, payload) => notified.push([channel, payload]), 2);
    await wire.exec("create table t (n integer primary key, s text, at timestamptz)");
    const at = new Date(Date.UTC(2025, 0, 1));
    assert.deepEqual(
      await wire.query("insert into t values ($1, $2, $3) returning *", [1, null, at]),
      [{ n: 1, s: null, at }],
    );
    // Each distinct text is prepared once and kept, the least recently used dropped past 2.
    for (const n of [2, 3]) await wire.query("insert into t (n) values ($1)", [n]);
    assert.equal(wire.preparedStatements, 2);
    assert.deepEqual(await wire.query("select count(*)::int as c from t"), [{ c: 3 }]);
    assert.equal(wire.preparedStatements, 2);
    assert.deepEqual(
      await wire.query("select n from t where n = any($1::int[]) order by n", [[1, 3]]),
      [
        { n: 1 },
        { n: 3 },
      ],
    );
    // PostgreSQL's errors come back as they are (the code a caller reads), and nothing is kept.
    await assert.rejects(wire.query("insert into t (n) values ($1)", [1]), { code: "23505" });
    await assert.rejects(wire.query("selec 1"), { code: "42601" });
    assert.equal(wire.status, "idle");
    // A transaction and a failure inside it.
    await wire.control("begin");
    await assert.rejects(wire.query("insert into t (n) values ($1)", [1]), { code: "23505" });
    assert.equal(wire.status, "failed");
    await wire.control("rollback");
    assert.equal(wire.status, "idle");
    // NOTIFY reaches the connection that LISTENs, after the commit.
    await wire.control('listen "ch"');
    await wire.query("select pg_notify('ch', $1)", ["hello"]);
    assert.deepEqual(notified, [["ch", "hello"]]);
  } finally {
    await pg.close();
  }
});
