/**
 * The ideal server (bench/ideal_server.ts) is a fair ceiling only if it sends what the appliance
 * sends: the same reply bytes for the same request, on both of its I/O APIs.
 */
import assert from "node:assert/strict";
import { encodeFrame } from "../src/protocol/frame.ts";
import { decodeBody } from "../src/protocol/body.ts";
import { startTestAppliance } from "../tests/_support/appliance.ts";
import { fetchCatalogue } from "./_catalogue.ts";
import { idealMaps, startIdealServer } from "./ideal_server.ts";
import { closeDevices, type LoadDevice, openDevices } from "./_load.ts";

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

async function ask(device: LoadDevice, action: string, body: unknown) {
  const reply = await device.request(
    encodeFrame({ action, uniqueId: device.uniqueId }, json(body), "le"),
  );
  return { action: reply.header.action, body: reply.body };
}

Deno.test("ideal server: the appliance's reply bytes for getGoods by code, gid and mac_id", async () => {
  const appliance = await startTestAppliance("pglite");
  try {
    const catalogue = await fetchCatalogue(appliance.port);
    assert.ok(catalogue.goods.length >= 20);
    const maps = idealMaps(catalogue);
    const requests = [
      { code: "6901234500110" },
      { code: ["6901234500011", "6901234500110"] },
      { gid: 13 },
      { gid: [9, 10, 99999] },
      { mac_id: "AC:23:3F:00:00:0D" },
      { mac_id: "ac:23:3f:00:01:0d" },
    ];
    const [reference] = await openDevices(appliance.port, 1, { prefix: "POS_REF" });
    const expected = [];
    for (const body of requests) expected.push(await ask(reference, "getGoods", body));
    closeDevices([reference]);
    for (const io of ["node", "deno"] as const) {
      const ideal = await startIdealServer(maps, io);
      const [till] = await openDevices(ideal.port, 1, { prefix: "POS_REF" });
      try {
        for (const [i, body] of requests.entries()) {
          const got = await ask(till, "getGoods", body);
          assert.equal(got.action, expected[i].action);
          assert.deepEqual(got.body, expected[i].body, `${io}: ${JSON.stringify(body)}`);
        }
        const order = {
          order_id: "T1",
          totalPrice: 5.5,
          goods: [{ gid: 9, qty: 1 }, { gid: 10, qty: 1 }],
        };
        const paid = decodeBody(
          (await till.request(
            encodeFrame({ action: "getPayInfo", uniqueId: till.uniqueId }, json(order), "le"),
          )).body,
        );
        assert.equal(paid.exception, "");
        const wrong = decodeBody(
          (await till.request(
            encodeFrame(
              { action: "getPayInfo", uniqueId: till.uniqueId },
              json({ ...order, totalPrice: 9 }),
              "le",
            ),
          )).body,
        );
        assert.equal(wrong.exception, "errorPrice");
      } finally {
        closeDevices([till]);
        await ideal.close();
      }
    }
  } finally {
    await appliance.stop();
  }
});
