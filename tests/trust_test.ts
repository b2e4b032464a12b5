/**
 * Trust at the till and the shelf (issue 10), over real TCP: what one device on the store network
 * may do to another's orders, labels and sessions, how equipIds that differ only by case are
 * treated, and the teach-in admission window. On the first available backend.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { eventually, startTestAppliance, type TestAppliance } from "./_support/appliance.ts";
import type { DeviceClient } from "../src/device/client.ts";
import { getDevice } from "../src/store/devices.ts";
import { findTerminalOrder } from "../src/store/orders.ts";

const backend = backends()[0].name;

function metric(appliance: TestAppliance, name: string, labels = ""): number {
  const text = appliance.app.metrics.render();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

async function order(pos: DeviceClient, terminalId: string): Promise<void> {
  const reply = await pos.request("getPayInfo", {
    order_id: terminalId,
    totalPrice: 8,
    goods: [{ gid: 9, price: 2, qty: 4 }],
  });
  assertEquals(reply.json?.exception, "");
}

Deno.test(`makePayment: only the order's own device (or payAuthority) marks it paid (${backend})`, async () => {
  const appliance = await startTestAppliance(backend, { config: { payAuthority: ["POS"] } });
  try {
    const till = await appliance.device("DZC_0001");
    await order(till, "T-1");
    const mine = (await findTerminalOrder(appliance.app.db, "DZC_0001", "T-1"))!;
    assert(/^[1-9]\d{14}$/.test(mine.code), `order code ${mine.code} is 15 digits`);

    // A shelf label (not a cashier kind) knows the code from the QR URL: the order does not exist.
    const intruder = await appliance.device("DZBQ_9999");
    const stolen = await intruder.request("makePayment", { oid: mine.code });
    assertEquals(stolen.json?.exception, `unknown order: ${mine.code}`);
    const missing = await intruder.request("makePayment", { oid: "999999999999999" });
    assertEquals(missing.json?.exception, "unknown order: 999999999999999");
    assertEquals((await findTerminalOrder(appliance.app.db, "DZC_0001", "T-1"))!.state, "pending");
    assertEquals(
      metric(appliance, "newretail_payment_refused_total", '{reason="not_owner"}'),
      1,
    );

    // A cashier kind listed in payAuthority may take the money for any order.
    const cashier = await appliance.device("POS_0001");
    assertEquals((await cashier.request("makePayment", { oid: mine.code })).json?.exception, "");
    assertEquals((await findTerminalOrder(appliance.app.db, "DZC_0001", "T-1"))!.state, "paid");

    // The owner, by its own terminal number.
    await order(till, "T-2");
    assertEquals((await till.request("makePayment", { oid: "T-2" })).json?.exception, "");
    assertEquals((await findTerminalOrder(appliance.app.db, "DZC_0001", "T-2"))!.state, "paid");
  } finally {
    await appliance.stop();
  }
});

Deno.test(`getGoods by mac_id from a non-label device does not re-route the label (${backend})`, async () => {
  const appliance = await startTestAppliance(backend);
  const mac = "AC:23:3F:00:00:01";
  const servingDevice = async () =>
    (await appliance.app.db.query<{ equip_id: string }>(
      "select equip_id from label_devices where mac = $1",
      [mac],
    ))[0]?.equip_id;
  try {
    const pos = await appliance.device("POS_0007");
    const first = await pos.request("getGoods", { mac_id: mac }, { encoding: "gbk" });
    assertEquals(first.json?.exception, "");
    assertEquals((first.json?.goods as unknown[]).length, 1);
    assertEquals(await servingDevice(), undefined);

    const label = await appliance.device("DZBQ_0001");
    await label.request("getGoods", { mac_id: mac }, { encoding: "gbk" });
    assertEquals(await servingDevice(), "DZBQ_0001");
    await pos.request("getGoods", { mac_id: mac }, { encoding: "gbk" });
    assertEquals(await servingDevice(), "DZBQ_0001");
  } finally {
    await appliance.stop();
  }
});

Deno.test(`concurrent logins of one equipId leave the survivor online (${backend})`, async () => {
  const appliance = await startTestAppliance(backend);
  try {
    for (const concurrent of [2, 20]) {
      let bad = 0;
      for (let trial = 0; trial < 20; trial++) {
        const equipId = `POS_RACE${concurrent}_${trial}`;
        const clients = await Promise.all(
          Array.from({ length: concurrent }, () => appliance.connect(equipId)),
        );
        await Promise.allSettled(clients.map((c) => c.login()));
        await eventually(
          () => clients.filter((c) => !c.closed).length === 1 || undefined,
          "one survivor",
        );
        const survivor = clients.find((c) => !c.closed)!;
        // The survivor is served, and by then every loser's close has been handled.
        assertEquals((await survivor.request("getGoods", { gid: 1 })).json?.exception, "");
        await new Promise((r) => setTimeout(r, 100));
        if ((await getDevice(appliance.app.db, equipId))?.online !== true) bad++;
        await Promise.all(clients.map((c) => c.close()));
      }
      assertEquals(
        bad,
        0,
        `${bad} of 20 trials with ${concurrent} logins left the survivor offline`,
      );
    }
  } finally {
    await appliance.stop();
  }
});

Deno.test(`equipIds differing by the case of the kind prefix are refused (${backend})`, async () => {
  const appliance = await startTestAppliance(backend);
  try {
    for (const equipId of ["dzc_x1", "Pos_x1"]) {
      const client = await appliance.connect(equipId);
      const reply = await client.login();
      assertEquals(reply.header.uniqueId, "");
      assert(
        /upper case/.test(String(reply.json?.exception)),
        `${equipId}: ${reply.json?.exception}`,
      );
    }
    assertEquals(await getDevice(appliance.app.db, "dzc_x1"), undefined);
    // The upper-case name is the device.
    const scale = await appliance.device("DZC_x1");
    assertEquals(scale.uniqueId, "DZC_x1");
  } finally {
    await appliance.stop();
  }
});
