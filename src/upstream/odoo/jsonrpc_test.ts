import { ok, rejects, strictEqual } from "node:assert/strict";
import { majorVersion, OdooClient, OdooError, odooErrorFrom } from "./jsonrpc.ts";
import { startOdooStandin } from "../../../tests/_support/odoo_standin.ts";

function client(
  url: string,
  overrides: Partial<{ db: string; apiKey: string; timeoutMs: number }> = {},
) {
  return new OdooClient({
    url,
    db: overrides.db ?? "odootest",
    user: "admin",
    apiKey: overrides.apiKey ?? "admin",
    timeoutMs: overrides.timeoutMs ?? 5000,
  });
}

function isKind(kind: string, pattern: RegExp) {
  return (e: unknown) => {
    ok(e instanceof OdooError, String(e));
    strictEqual(e.kind, kind, e.message);
    ok(pattern.test(e.message), e.message);
    ok(!e.message.includes("traceback"), e.message);
    return true;
  };
}

Deno.test("odoo json-rpc client against the Odoo 17 stand-in", async (t) => {
  const odoo = await startOdooStandin({ version: 17 });
  try {
    await t.step("version, login and a call; Odoo's clock read from its Date header", async () => {
      const c = client(odoo.url);
      const v = await c.version();
      strictEqual(v.server_version, "17.0-20240709");
      strictEqual(majorVersion(v), 17);
      strictEqual(await c.login(), 2);
      const ids = await c.executeKw<number[]>("stock.warehouse", "search", [[]], { order: "id" });
      strictEqual(JSON.stringify(ids), "[1,2]");
      ok(c.serverTimeMs !== undefined && Math.abs(c.serverTimeMs - Date.now()) < 60_000);
    });

    await t.step("a wrong API key: clear auth error on login and on execute_kw", async () => {
      const c = client(odoo.url, { apiKey: "wrong-password" });
      await rejects(c.login(), isKind("auth", /refused user "admin" on database "odootest"/));
      await rejects(c.executeKw("res.partner", "search", [[]]), isKind("auth", /refused/));
      // The key itself never shows in a message.
      await c.login().catch((e: Error) => ok(!e.message.includes("wrong-password")));
    });

    await t.step("an unknown database", async () => {
      const c = client(odoo.url, { db: "odootest_no_such_db" });
      await rejects(c.login(), isKind("database", /database "odootest_no_such_db" does not exist/));
    });

    await t.step("Odoo's error objects become data.name: data.message", async () => {
      const c = client(odoo.url);
      await rejects(
        c.executeKw("no.such.model", "search_read", [[]], { fields: ["id"] }),
        isKind("server", /odoo\.exceptions\.UserError: Object no\.such\.model doesn't exist/),
      );
      await rejects(
        c.executeKw("product.product", "search_read", [[["id", "=", 42]]], {
          fields: ["id", "no_such_field"],
        }),
        isKind("server", /Invalid field 'no_such_field' on model 'product\.product'/),
      );
      const e = odooErrorFrom({
        data: { name: "odoo.exceptions.AccessDenied", message: "Access Denied" },
      }, "x");
      strictEqual(e.kind, "auth");
      ok(!e.transient);
    });

    await t.step(
      "a proxy answering 503 for a stopped Odoo is 'unreachable' (transient)",
      async () => {
        odoo.setDown(true);
        try {
          await rejects(client(odoo.url).version(), (e: unknown) => {
            ok(e instanceof OdooError && e.kind === "unreachable" && e.transient);
            ok(/HTTP 503/.test(e.message));
            return true;
          });
        } finally {
          odoo.setDown(false);
        }
      },
    );

    await t.step("a URL that is not Odoo", async () => {
      await rejects(
        client(odoo.url + "/web").version(),
        isKind("protocol", /HTTP 404.*Odoo server URL/),
      );
    });
  } finally {
    await odoo.close();
  }
});

Deno.test("odoo json-rpc client: nothing listening is 'unreachable'", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await rejects(
    client(`http://127.0.0.1:${port}`).version(),
    isKind("unreachable", /Odoo unreachable at http:\/\/127\.0\.0\.1/),
  );
});

Deno.test("odoo json-rpc client: an Odoo that does not answer times out", async () => {
  const release = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async () => {
    await release.promise;
    return new Response("{}");
  });
  try {
    await rejects(
      client(`http://127.0.0.1:${server.addr.port}`, { timeoutMs: 200 }).version(),
      isKind("timeout", /did not answer within 0\.2 s/),
    );
  } finally {
    release.resolve();
    await server.shutdown();
  }
});

Deno.test("odoo json-rpc client: an answer that is not JSON-RPC", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("<html>login</html>", { headers: { "content-type": "text/html" } }),
  );
  try {
    await rejects(
      client(`http://127.0.0.1:${server.addr.port}`).version(),
      isKind("protocol", /did not answer JSON-RPC/),
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("odoo json-rpc client: a method returning None (no result in the envelope) is null", async () => {
  // As live Odoo 17 answered stock.quant action_apply_inventory; an object without the
  // envelope is still not Odoo.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    const { id } = await r.json();
    return Response.json(id === 1 ? { jsonrpc: "2.0", id } : { id });
  });
  try {
    const c = client(`http://127.0.0.1:${server.addr.port}`);
    strictEqual(await c.call("common", "version", []), null);
    await rejects(c.call("common", "version", []), isKind("protocol", /neither result nor error/));
  } finally {
    await server.shutdown();
  }
});
