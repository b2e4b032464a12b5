/**
 * The teach-in window end to end, and the admin API's exposure rules (issue 10), over real TCP
 * and real HTTP: a device refused, a window opened (through the API, and through the CLI on the
 * embedded database the running appliance holds), the device admitted, the window closed, a new
 * device refused; 401 without the token, the token accepted, no start beyond loopback without one.
 */
import { selfSignedPair, type TestTlsPair } from "./_support/tls.ts";
import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { startTestAppliance, type TestAppliance } from "./_support/appliance.ts";
import { DeviceClient } from "../src/device/client.ts";
import { startAdminServer } from "../src/admin/server.ts";
import { MetricsRegistry } from "../src/metrics.ts";
import { createMemoryLogger } from "../src/log.ts";
import { systemClock } from "../src/clock.ts";

const backend = backends()[0].name;
const TOKEN = "test-token-0123456789abcdef";
const MAIN = new URL("../main.ts", import.meta.url).pathname;

function metric(appliance: TestAppliance, name: string, labels = ""): number {
  const text = appliance.app.metrics.render();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

async function call(
  appliance: TestAppliance,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
  tls?: TestTlsPair,
): Promise<{ status: number; json: Record<string, unknown> & unknown[] }> {
  // Beyond loopback the admin server speaks HTTPS only.
  const client = tls ? Deno.createHttpClient({ caCerts: [tls.cert] }) : undefined;
  try {
    const response = await fetch(
      `${tls ? "https" : "http"}://127.0.0.1:${appliance.app.admin!.port}${path}`,
      {
        method,
        headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        client,
      },
    );
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : {} };
  } finally {
    client?.close();
  }
}

async function loginReply(appliance: TestAppliance, equipId: string): Promise<string> {
  const client = await DeviceClient.connect({ host: "127.0.0.1", port: appliance.port, equipId });
  try {
    const reply = await client.login();
    return client.uniqueId ? "" : String(reply.json?.exception);
  } finally {
    await client.close();
  }
}

async function cli(args: string[], stateDir: string, port: number) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args, "--state-dir", stateDir],
    env: {
      NO_COLOR: "1",
      DATABASE_URL: "",
      NEWRETAIL_ADMIN_PORT: String(port),
      NEWRETAIL_ADMIN_TOKEN: TOKEN,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
}

for (const name of new Set([backend, "pglite" as const])) {
  Deno.test(`teach-in: refused, window opened, admitted, window closed, a new device refused (${name})`, async () => {
    const appliance = await startTestAppliance(name, {
      config: { admission: "registered", adminEnabled: true, adminPort: 0, adminToken: TOKEN },
    });
    try {
      assertEquals(await loginReply(appliance, "DZBQ_NEW1"), "device DZBQ_NEW1 is not registered");
      assertEquals(await loginReply(appliance, "DZBQ_NEW1"), "device DZBQ_NEW1 is not registered");
      // Counted every time, logged once for the device within the hour.
      assertEquals(
        metric(appliance, "newretail_login_refused_total", '{reason="not_registered"}'),
        2,
      );
      const logged = appliance.logs.filter((l) => l.msg === "login refused");
      assertEquals(logged.map((l) => l.equipId), ["DZBQ_NEW1"]);

      assertEquals(
        (await call(appliance, "POST", "/api/teach-in", { body: { minutes: 5 } })).status,
        401,
      );
      if (name === "pglite") {
        // The CLI finds the embedded database held by the service and goes through the API.
        const opened = await cli(
          ["devices", "teach-in", "--minutes", "5"],
          appliance.config.stateDir,
          appliance.app.admin!.port,
        );
        assertEquals(opened.code, 0, opened.stderr);
        assert(/teach-in open until/.test(opened.stdout), opened.stdout);
      } else {
        const opened = await call(appliance, "POST", "/api/teach-in", {
          token: TOKEN,
          body: { minutes: 5 },
        });
        assertEquals([opened.status, opened.json.open], [200, true]);
      }

      assertEquals(await loginReply(appliance, "DZBQ_NEW1"), "");
      const state = await call(appliance, "GET", "/api/teach-in");
      assertEquals(state.json.open, true);
      assertEquals(
        (state.json.admitted as { equipId: string; admittedVia: string }[]).map((
          d,
        ) => [d.equipId, d.admittedVia]),
        [["DZBQ_NEW1", "teach-in"]],
      );

      const closed = await call(appliance, "POST", "/api/teach-in", {
        token: TOKEN,
        body: { minutes: 0 },
      });
      assertEquals([closed.status, closed.json.open], [200, false]);
      assertEquals(await loginReply(appliance, "DZBQ_NEW2"), "device DZBQ_NEW2 is not registered");
      // The device taught in stays registered.
      assertEquals(await loginReply(appliance, "DZBQ_NEW1"), "");

      const audit = await call(appliance, "GET", "/api/audit");
      assertEquals(
        (audit.json as unknown as { actor: string; action: string }[]).map((a) => [
          a.actor,
          a.action,
        ]),
        [["adminToken", "teach-in.close"], ["adminToken", "teach-in.open"]],
      );
    } finally {
      await appliance.stop();
    }
  });
}

Deno.test(`admin API on loopback: reads open, writes need the token, each write audited (${backend})`, async () => {
  const appliance = await startTestAppliance(backend, {
    config: { adminEnabled: true, adminPort: 0, adminToken: TOKEN },
  });
  try {
    assertEquals((await call(appliance, "GET", "/healthz")).status, 200);
    assertEquals((await call(appliance, "GET", "/api/devices")).status, 200);
    const device = await appliance.device("POS_0001");
    assertEquals((await call(appliance, "POST", "/api/devices/POS_0001/disable")).status, 401);
    const wrong = await call(appliance, "POST", "/api/devices/POS_0001/disable", {
      token: "x" + TOKEN,
    });
    assertEquals(wrong.status, 401);
    assertEquals(device.closed, false);
    const ok = await call(appliance, "POST", "/api/devices/POS_0001/disable", { token: TOKEN });
    assertEquals([ok.status, (ok.json.device as { enabled: boolean }).enabled], [200, false]);
    assertEquals(await loginReply(appliance, "POS_0001"), "device POS_0001 is disabled");
    const enabled = await call(appliance, "POST", "/api/devices/POS_0001/enable", { token: TOKEN });
    assertEquals(enabled.status, 200);
    assertEquals(await loginReply(appliance, "POS_0001"), "");
    const retry = await call(appliance, "POST", "/api/outbox/999/retry", { token: TOKEN });
    assertEquals(retry.status, 404);
    const bad = await call(appliance, "POST", "/api/teach-in", {
      token: TOKEN,
      body: { minutes: "x" },
    });
    assertEquals(bad.status, 400);
    const audit = await appliance.app.db.query<{ actor: string; action: string; target: string }>(
      "select actor, action, target from audit_log order by id",
    );
    assertEquals(audit.map((a) => [a.actor, a.action, a.target]), [
      ["adminToken", "device.disable", "POS_0001"],
      ["adminToken", "device.enable", "POS_0001"],
    ]);
  } finally {
    await appliance.stop();
  }
});

Deno.test(`admin API beyond loopback: every request needs the token (${backend})`, async () => {
  const tls = await selfSignedPair();
  const appliance = await startTestAppliance(backend, {
    config: {
      adminEnabled: true,
      adminHost: "0.0.0.0",
      adminPort: 0,
      adminToken: TOKEN,
      adminTlsCertFile: tls.certFile,
      adminTlsKeyFile: tls.keyFile,
    },
  });
  try {
    for (const path of ["/healthz", "/metrics", "/devices", "/", "/api/devices", "/api/nothing"]) {
      assertEquals((await call(appliance, "GET", path, {}, tls)).status, 401, path);
    }
    assertEquals((await call(appliance, "GET", "/healthz", { token: TOKEN }, tls)).status, 200);
    assertEquals(
      (await call(appliance, "GET", "/api/devices", { token: TOKEN }, tls)).status,
      200,
    );
  } finally {
    await appliance.stop();
    await tls.remove();
  }
});

Deno.test(`admin API beyond loopback without a token: refuses to start, naming adminToken (${backend})`, async () => {
  await rejects(
    startTestAppliance(backend, {
      config: { adminEnabled: true, adminHost: "0.0.0.0", adminPort: 0, adminToken: "" },
    }),
    /^ConfigError: invalid config: adminToken: must be set when adminHost is not loopback/,
  );
  const log = createMemoryLogger("debug");
  let failure: unknown;
  try {
    const admin = startAdminServer({
      clock: systemClock,
      hostname: "0.0.0.0",
      port: 0,
      log,
      metrics: new MetricsRegistry(),
      pingDatabase: () => Promise.resolve(),
      listDevices: () => Promise.resolve([]),
    });
    await admin.close();
  } catch (e) {
    failure = e;
  }
  assert(failure instanceof Error && /adminToken/.test(failure.message), String(failure));
  assertEquals(String(failure).split("\n").length, 1);
});
