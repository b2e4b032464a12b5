/**
 * The Odoo commands as an installer runs them, in a child process against the Odoo stand-in:
 * `odoo check`, `odoo pull --full` (progress line), `outbox list`, `bindings import`, and the one
 * clear line (no stack trace, no key) when the key is wrong.
 */
import { ok, strictEqual } from "node:assert/strict";
import { startOdooStandin } from "./_support/odoo_standin.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env: { NO_COLOR: "1", DATABASE_URL: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("odoo, outbox and bindings commands", async (t) => {
  const odoo = await startOdooStandin({ version: 17 });
  const stateDir = await Deno.makeTempDir({ prefix: "newretail-odoo-cli-" });
  const env = {
    NEWRETAIL_STATE_DIR: stateDir,
    NEWRETAIL_ODOO_URL: odoo.url,
    NEWRETAIL_ODOO_DB: odoo.db,
    NEWRETAIL_ODOO_USER: odoo.login,
    NEWRETAIL_ODOO_API_KEY: odoo.password,
    NEWRETAIL_ODOO_PAGE_SIZE: "10",
  };
  try {
    await t.step("odoo check", async () => {
      const r = await run(["odoo", "check"], env);
      strictEqual(r.code, 0, r.stderr);
      ok(r.stdout.includes("Odoo 17.0-20240709 at http://127.0.0.1:"), r.stdout);
      ok(r.stdout.includes('logged in to database "odootest" as "admin" (uid 2)'), r.stdout);
      ok(r.stdout.includes("warehouse 1 WH (YourCompany); 36 active products"), r.stdout);
    });

    await t.step("odoo check with a wrong key: one line, no key, exit 1", async () => {
      const r = await run(["odoo", "check"], { ...env, NEWRETAIL_ODOO_API_KEY: "s3cret-wrong" });
      strictEqual(r.code, 1);
      strictEqual(
        r.stderr.trim(),
        'Odoo refused user "admin" on database "odootest": wrong user, password or API key',
      );
      ok(!r.stdout.includes("s3cret") && !r.stderr.includes("s3cret"));
    });

    await t.step("odoo check with the URL but no database: a config error", async () => {
      const r = await run(["odoo", "check"], { ...env, NEWRETAIL_ODOO_DB: "" });
      strictEqual(r.code, 1);
      strictEqual(r.stderr.trim(), "invalid config: odooDb: required when odooUrl is set");
    });

    await t.step("odoo pull --full, with a progress line", async () => {
      const r = await run(["odoo", "pull", "--full"], env);
      strictEqual(r.code, 0, r.stderr);
      ok(r.stderr.includes("pulled 36 of 36 products (100%)"), r.stderr);
      ok(r.stdout.includes("full pull: 36 products read, 36 goods changed"), r.stdout);
      const again = await run(["odoo", "pull"], env);
      strictEqual(again.code, 0, again.stderr);
      ok(again.stdout.startsWith("incremental pull: "), again.stdout);
    });

    await t.step("bindings import and outbox list", async () => {
      const file = `${stateDir}/labels.csv`;
      await Deno.writeTextFile(file, "mac,gid,device\nAC:23:3F:00:99:01,42,DZBQ_0001\n");
      const r = await run(["bindings", "import", file], env);
      strictEqual(r.code, 0, r.stderr);
      strictEqual(r.stdout.trim(), "imported 1 label binding(s), 0 RFID tag(s), 1 label device(s)");
      await Deno.writeTextFile(file, "mac,gid\nAC:23:3F:00:99:02,999999\n");
      const bad = await run(["bindings", "import", file], env);
      strictEqual(bad.code, 1);
      ok(bad.stderr.includes("line 2: unknown goods gid 999999"), bad.stderr);
      const list = await run(["outbox", "list"], env);
      strictEqual(list.code, 0, list.stderr);
      ok(list.stdout.trim().endsWith("0 row(s)"), list.stdout);
      const retry = await run(["outbox", "retry", "77"], env);
      strictEqual(retry.code, 1);
      strictEqual(retry.stderr.trim(), "outbox row 77 does not exist or is already delivered");
    });
  } finally {
    await odoo.close();
    await Deno.remove(stateDir, { recursive: true });
  }
});
