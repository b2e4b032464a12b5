/**
 * `newretail stock show | moves | adjust` (issue 13) as docs/store.md writes them: on the embedded
 * database the running appliance holds, through its admin API (`/api/stock/…`, token guard, an
 * audit line); on PostgreSQL against the database itself. Bad arguments are answered clearly.
 */
import { deepStrictEqual as assertEquals, match, ok as assert } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { startTestAppliance, type TestAppliance } from "./_support/appliance.ts";
import { ledgerDifferences } from "../src/store/stock_moves.ts";

const TOKEN = "test-token-stock-0123456789";
const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function cli(appliance: TestAppliance, args: string[]) {
  const store: Record<string, string> = appliance.config.databaseUrl
    ? { DATABASE_URL: appliance.config.databaseUrl }
    : { DATABASE_URL: "", NEWRETAIL_STATE_DIR: appliance.config.stateDir };
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env: {
      NO_COLOR: "1",
      ...store,
      NEWRETAIL_ADMIN_PORT: String(appliance.app.admin!.port),
      NEWRETAIL_ADMIN_TOKEN: TOKEN,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, out: text(output.stdout), err: text(output.stderr) };
}

async function shelf(appliance: TestAppliance, gid: number): Promise<string> {
  const [row] = await appliance.app.db.query<{ q: string }>(
    "select quantity::text as q from stock where warehouse_id = 1 and goods_id = $1",
    [gid],
  );
  return row.q;
}

for (const backend of backends()) {
  Deno.test(`stock show, moves, adjust from the command line (${backend.name})`, async (t) => {
    const appliance = await startTestAppliance(backend.name, {
      config: { adminEnabled: true, adminPort: 0, adminToken: TOKEN },
    });
    try {
      // After the demo catalogue's moves: only the count below is newer.
      const since = new Date().toISOString();
      await t.step("adjust: an inventory count with its reason, audited", async () => {
        const run = await cli(appliance, ["stock", "adjust", "9", "MD", "7", "--reason", "count"]);
        assertEquals(run.code, 0, run.err);
        match(run.out, /^goods 9 in MD: -\d+\.000 \(now 7\)$/m);
        assertEquals(await shelf(appliance, 9), "7.000");
        const [audit] = await appliance.app.db.query<{ actor: string; action: string }>(
          "select actor, action from audit_log where action = 'stock.adjust'",
        );
        // Through the API on the embedded database (the token's name), directly on PostgreSQL.
        assertEquals(audit, {
          actor: backend.name === "pglite" ? "adminToken" : "cli",
          action: "stock.adjust",
        });
        const again = await cli(appliance, ["stock", "adjust", "9", "MD", "7", "--reason", "x"]);
        match(again.out, /already 7, nothing moved/);
      });

      await t.step("show: every warehouse and the last moves", async () => {
        const run = await cli(appliance, ["stock", "show", "9"]);
        assertEquals(run.code, 0, run.err);
        match(run.out, /^MD\t\S+\t7\.000$/m);
        match(run.out, /^HC\t\S+\t\d+\.000$/m);
        match(run.out, /\t9\tadjustment\tMD\t-\t\d+\.000\tcount by \S+\tcount$/m);
      });

      await t.step("moves --since lists the ledger since a time", async () => {
        const run = await cli(appliance, ["stock", "moves", "--since", since]);
        assertEquals(run.code, 0, run.err);
        match(run.out, /^1 move\(s\) since /m);
      });

      await t.step("bad arguments get one clear line", async () => {
        const cases: [string[], number, RegExp][] = [
          [["stock", "adjust", "9", "MD", "7"], 2, /needs --reason TEXT/],
          [["stock", "adjust", "9", "MD", "1.5", "--reason", "x"], 1, /sold by the piece/],
          [["stock", "adjust", "9", "NOPE", "1", "--reason", "x"], 1, /unknown warehouse: NOPE/],
          [["stock", "adjust", "9", "MD", "-1", "--reason", "x"], 2, /Unknown option '-1'/],
          [["stock", "adjust", "9", "MD", "--reason", "x", "--", "-1"], 1, /must be >= 0/],
          [["stock", "show", "x"], 2, /not a goods id: x/],
          [["stock", "show", "999999"], 1, /unknown goods: gid 999999/],
          [["stock", "moves"], 2, /needs --since/],
          [["stock", "count"], 2, /unknown stock command: count/],
        ];
        for (const [args, code, message] of cases) {
          const run = await cli(appliance, args);
          assertEquals(run.code, code, `${args.join(" ")}: ${run.out}${run.err}`);
          match(run.out + run.err, message);
        }
      });

      await t.step("the API: token for writes, negative stock listed", async () => {
        const base = `http://127.0.0.1:${appliance.app.admin!.port}`;
        const refused = await fetch(`${base}/api/stock/9/adjust`, {
          method: "POST",
          body: JSON.stringify({ warehouse: "MD", quantity: "1", reason: "x" }),
        });
        await refused.body?.cancel();
        assertEquals(refused.status, 401);
        await appliance.app.db.query(
          "update stock set quantity = -2 where goods_id = 10 and warehouse_id = 1",
        );
        const listed = await fetch(`${base}/api/stock/negative`);
        const body = await listed.json();
        assertEquals(body.negative.map((n: { gid: number }) => n.gid), [10]);
        const metrics = await (await fetch(`${base}/metrics`)).text();
        assert(/^newretail_stock_negative 1$/m.test(metrics), metrics);
        // The console's Stock and AGVs view lists it as negative.
        const page = await (await fetch(`${base}/console/stock`)).text();
        match(page, /<tr class="negative"><td>[^<]*<span class="muted">#10<\/span>/);
        assertEquals(await ledgerDifferences(appliance.app.db), []);
      });
    } finally {
      await appliance.stop();
    }
  });
}
