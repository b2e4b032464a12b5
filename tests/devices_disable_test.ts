/**
 * A device disabled while it is connected is disconnected at once (close reason `disabled`) and
 * refused at its next login; other devices stay connected. On PostgreSQL by `newretail devices
 * disable` in another process and by a bulk UPDATE from psql's side; on PGlite (which one process
 * holds) through the store function inside the appliance. Over real TCP.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { backends } from "./_support/databases.ts";
import { eventually, startTestAppliance, type TestAppliance } from "./_support/appliance.ts";
import { REPO, run } from "./_support/release.ts";
import { baseEnv } from "./_support/appliance_process.ts";
import type { DeviceClient } from "../src/device/client.ts";
import { setDeviceEnabled } from "../src/store/devices.ts";

function disconnects(t: TestAppliance, reason: string): number {
  return t.app.metrics.render().split("\n").filter((l) =>
    l.startsWith(`newretail_disconnects_total{reason="${reason}"} `)
  ).map((l) => Number(l.split(" ")[1]))[0] ?? 0;
}

/** Waits (bounded) until the appliance has closed the client's connection. */
async function closedByServer(client: DeviceClient): Promise<void> {
  await eventually(() => client.closed, `${client.equipId} disconnected`, 10_000);
  await client.done;
}

async function refusedLogin(t: TestAppliance, equipId: string): Promise<string> {
  const client = await t.connect(equipId);
  try {
    const reply = await client.login();
    return String(reply.json?.exception ?? "");
  } finally {
    await client.close();
  }
}

for (const backend of backends()) {
  Deno.test(`devices disable ends a connected device's session (${backend.name})`, async (t) => {
    const appliance = await startTestAppliance(backend.name, { demo: false });
    const { app } = appliance;
    try {
      await t.step("disabled while connected: disconnected at once, refused after", async () => {
        const target = await appliance.device("DZBQ_0007");
        const bystander = await appliance.device("DZC_0008");
        if (backend.name === "postgres") {
          // The CLI in a process of its own, as an operator would run it.
          const r = await run("deno", [
            "run",
            "-P=appliance",
            "main.ts",
            "devices",
            "disable",
            "DZBQ_0007",
          ], { env: { ...baseEnv(), DATABASE_URL: appliance.config.databaseUrl }, cwd: REPO });
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, /DZBQ_0007 disabled/);
        } else {
          await setDeviceEnabled(app.db, "DZBQ_0007", "DZBQ", false);
        }
        await closedByServer(target);
        await eventually(() => !app.server.isOnline("DZBQ_0007"), "offline");
        assert.equal(disconnects(appliance, "disabled"), 1);
        assert.ok(
          appliance.logs.some((l) =>
            l.msg === "disabled device disconnected" && l.equipId === "DZBQ_0007"
          ),
        );
        // The other device is untouched.
        const reply = await bystander.request("getGoods", { code: "none" });
        assert.equal(reply.json?.exception, "");
        assert.ok(app.server.isOnline("DZC_0008"));
        assert.equal(await refusedLogin(appliance, "DZBQ_0007"), "device DZBQ_0007 is disabled");
      });

      await t.step("enabling again does not disconnect; the device logs in", async () => {
        const other = await appliance.device("DZBQ_0009");
        await setDeviceEnabled(app.db, "DZBQ_0007", "DZBQ", true);
        const back = await appliance.device("DZBQ_0007");
        // A device that stays enabled is never disconnected: a disable of another shows it.
        await setDeviceEnabled(app.db, "DZBQ_0009", "DZBQ", false);
        await closedByServer(other);
        assert.ok(!back.closed);
        assert.equal((await back.request("getGoods", { code: "none" })).json?.exception, "");
        assert.equal(disconnects(appliance, "disabled"), 2);
      });

      if (backend.name === "postgres") {
        await t.step("a bulk UPDATE from another connection disconnects each device", async () => {
          const clients: DeviceClient[] = [];
          for (let i = 20; i < 25; i++) clients.push(await appliance.device(`DZC_00${i}`));
          const plain = postgres(appliance.config.databaseUrl, { max: 1, onnotice: () => {} });
          try {
            await plain`update devices set enabled = false where equip_id like 'DZC_002%'`;
          } finally {
            await plain.end();
          }
          for (const c of clients) await closedByServer(c);
          assert.ok(app.server.isOnline("DZC_0008"));
          assert.equal(disconnects(appliance, "disabled"), 7);
        });
      }
    } finally {
      await appliance.stop();
    }
  });
}
