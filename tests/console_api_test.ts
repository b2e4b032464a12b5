/**
 * The console's HTTP side without a browser, over real HTTP against a running appliance: binding
 * a label to goods by barcode through `/api/` (token, audit line, every malformed body answered),
 * `/events` streaming app events, `/alerts`, the cookie that lets a browser read beyond
 * loopback while writes still need the header, and every page in Chinese without an English
 * message, after every audited write and with stored reasons from real timeouts.
 */
import assert from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { eventually, startTestAppliance, type TestAppliance } from "./_support/appliance.ts";
import { recentAudit } from "../src/store/audit.ts";
import { selfSignedPair, type TestTlsPair } from "./_support/tls.ts";
import { createRefillJob, setPosition } from "../src/store/positions.ts";
import { englishMessages, untranslated } from "./_support/untranslated.ts";

const backend = backends()[0].name;
const TOKEN = "console-api-token-0123456789";

async function call(
  appliance: TestAppliance,
  method: string,
  path: string,
  options: { token?: string; body?: string; cookie?: string } = {},
  tls?: TestTlsPair,
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  // Beyond loopback the admin server speaks HTTPS only, with the test's self-signed certificate.
  const client = tls ? Deno.createHttpClient({ caCerts: [tls.cert] }) : undefined;
  try {
    const scheme = tls ? "https" : "http";
    const response = await fetch(`${scheme}://127.0.0.1:${appliance.app.admin!.port}${path}`, {
      method,
      headers,
      body: options.body,
      client,
    });
    return { status: response.status, text: await response.text() };
  } finally {
    client?.close();
  }
}

Deno.test(`console API: bind a label by barcode, events, alerts (${backend})`, async (t) => {
  const appliance = await startTestAppliance(backend, {
    config: { adminEnabled: true, adminPort: 0, adminToken: TOKEN },
  });
  const { db } = appliance.app;
  try {
    const barcode = (await db.query<{ barcode: string }>(
      "select barcode from goods where id = 3",
    ))[0].barcode;

    await t.step("binding needs the token", async () => {
      const r = await call(appliance, "POST", "/api/labels/AC:99:00:00:00:01/bind", {
        body: JSON.stringify({ barcode }),
      });
      assert.equal(r.status, 401);
      assert.equal(
        (await db.query("select 1 from label_bindings where mac = 'AC:99:00:00:00:01'")).length,
        0,
      );
    });

    await t.step("every malformed bind is answered with what is wrong", async () => {
      const cases: [string, string | undefined, number, RegExp][] = [
        ["AC:99:00:00:00:01", "not json", 400, /must be JSON/],
        ["AC:99:00:00:00:01", "[1]", 400, /JSON object/],
        ["AC:99:00:00:00:01", "{}", 400, /barcode must be/],
        ["AC:99:00:00:00:01", JSON.stringify({ barcode: 690 }), 400, /barcode must be/],
        ["AC:99:00:00:00:01", JSON.stringify({ barcode: "x".repeat(65) }), 400, /1\.\.64/],
        ["A".repeat(65), JSON.stringify({ barcode }), 400, /MAC must be/],
        ["AC:99:00:00:00:01", JSON.stringify({ barcode, device: "no prefix" }), 400, /device/],
        ["AC:99:00:00:00:01", JSON.stringify({ barcode: "0000000000000" }), 404, /unknown goods/],
      ];
      for (const [mac, body, status, message] of cases) {
        const r = await call(appliance, "POST", `/api/labels/${encodeURIComponent(mac)}/bind`, {
          token: TOKEN,
          body,
        });
        assert.equal(r.status, status, `${mac} ${body}: ${r.text}`);
        assert.match(JSON.parse(r.text).error, message);
      }
      assert.equal(
        (await db.query("select 1 from label_bindings where mac like 'AC:99%'")).length,
        0,
      );
    });

    await t.step("a bind by barcode binds, names its base station, and is audited", async () => {
      const r = await call(appliance, "POST", "/api/labels/AC:99:00:00:00:01/bind", {
        token: TOKEN,
        body: JSON.stringify({ barcode, device: "DZBQ_0042" }),
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(JSON.parse(r.text).gid, 3);
      const rows = await db.query<{ goods_id: number; equip_id: string }>(
        `select b.goods_id, d.equip_id from label_bindings b join label_devices d using (mac)
         where mac = 'AC:99:00:00:00:01'`,
      );
      assert.deepEqual(rows, [{ goods_id: 3, equip_id: "DZBQ_0042" }]);
      const [line] = await recentAudit(db, 1);
      assert.equal(line.action, "label.bind");
      assert.equal(line.target, "AC:99:00:00:00:01");
      assert.equal(line.actor, "adminToken");
      assert.equal(line.detail.barcode, barcode);
      // The Labels view finds it by its base station.
      const page = await call(appliance, "GET", "/console/labels?q=DZBQ_0042");
      assert.match(page.text, /data-mac="AC:99:00:00:00:01"/);
      assert.doesNotMatch(page.text, /data-mac="AC:23:3F/);
    });

    await t.step("/events streams app events as Server-Sent Events", async () => {
      const response = await fetch(`http://127.0.0.1:${appliance.app.admin!.port}/events`);
      assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let received = "";
      try {
        received += (await reader.read()).value;
        await appliance.device("DZC_0077");
        await eventually(async () => {
          received += (await reader.read()).value;
          return received.includes("event: device-login");
        }, "device-login event");
        assert.match(received, /event: device-login\ndata: \{"equipId":"DZC_0077","kind":"DZC"\}/);
      } finally {
        await reader.cancel();
      }
    });

    await t.step("/alerts is JSON with the rules' bounds", async () => {
      const r = await call(appliance, "GET", "/alerts");
      assert.equal(r.status, 200);
      const body = JSON.parse(r.text);
      assert.deepEqual(body.alerts, []);
      assert.equal(body.bounds.deviceOfflineMinutes, 2);
    });
  } finally {
    await appliance.stop();
  }
});

Deno.test(`console beyond loopback: the cookie reads, it never writes (${backend})`, async () => {
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
  const client = Deno.createHttpClient({ caCerts: [tls.cert] });
  try {
    const cookie = `lang=zh; newretail_token=${encodeURIComponent(TOKEN)}`;
    assert.equal((await call(appliance, "GET", "/console/devices", {}, tls)).status, 401);
    // A browser without the token gets the frame with the token field only, and the script.
    const port = appliance.app.admin!.port;
    const stranger = await fetch(`https://127.0.0.1:${port}/console/devices`, {
      headers: { accept: "text/html" },
      client,
    });
    const strangerPage = await stranger.text();
    assert.equal(stranger.status, 401);
    assert.match(strangerPage, /id="token-form"/);
    assert.match(strangerPage, /data-mode="login"/);
    assert.doesNotMatch(strangerPage, /data-device=/);
    const script = await fetch(`https://127.0.0.1:${port}/console/app.js`, { client });
    assert.equal(script.status, 200);
    assert.match(await script.text(), /EventSource/);
    assert.equal((await call(appliance, "GET", "/events", {}, tls)).status, 401);
    const page = await call(appliance, "GET", "/console/devices", { cookie }, tls);
    assert.equal(page.status, 200);
    assert.match(page.text, /<html lang="zh-CN">/);
    const wrong = await call(
      appliance,
      "GET",
      "/",
      { cookie: "newretail_token=wrong-token-x" },
      tls,
    );
    assert.equal(wrong.status, 401);
    const write = await call(appliance, "POST", "/api/teach-in", {
      cookie,
      body: JSON.stringify({ minutes: 5 }),
    }, tls);
    assert.equal(write.status, 401, "a cookie alone never writes");
    const withToken = await call(appliance, "POST", "/api/teach-in", {
      token: TOKEN,
      body: JSON.stringify({ minutes: 5 }),
    }, tls);
    assert.equal(withToken.status, 200);
  } finally {
    client.close();
    await appliance.stop();
    await tls.remove();
  }
});

Deno.test(`console in Chinese over HTTP: no English message on any page (${backend})`, async () => {
  const appliance = await startTestAppliance(backend, {
    config: {
      adminEnabled: true,
      adminPort: 0,
      adminToken: TOKEN,
      alertDeviceOfflineMinutes: 0,
      alertLabelStaleMinutes: 0,
      pushTimeoutS: 0.2,
      pushTries: 1,
    },
  });
  const { db } = appliance.app;
  try {
    // A base station and an AGV that never answer their pushes: a stale label and a refill job
    // whose last errors are "timeout"; a till that sells; a disabled scale; an offline station.
    const station = await appliance.device("DZBQ_0001");
    await station.request("getGoods", { mac_id: "AC:23:3F:00:00:01" }, { encoding: "gbk" });
    const away = await appliance.device("DZBQ_0002");
    await away.request("getGoods", { mac_id: "AC:23:3F:00:00:09" }, { encoding: "gbk" });
    await away.close();
    await appliance.device("AGV_0001");
    const pos = await appliance.device("POS_0001");
    await pos.request("getPayInfo", {
      order_id: "C-1",
      totalPrice: 5.5,
      goods: [{ gid: 9, price: 2, qty: 1 }, { gid: 10, price: 3.5, qty: 1 }],
    });
    await pos.request("makePayment", { oid: "C-1" });
    await pos.request("getPayInfo", {
      order_id: "C-2",
      totalPrice: 2,
      goods: [{ gid: 9, price: 2, qty: 1 }],
    });
    await db.query("update goods set price = price + 1 where id = 1");
    await db.query("update stock set quantity = -2 where goods_id = 11 and warehouse_id = 1");
    await setPosition(db, 11, { posx: "C", posy: "1", posz: "2" }, {
      posx: "A",
      posy: "7",
      posz: "1",
    }, "10");
    await createRefillJob(db, 11);
    await eventually(
      async () =>
        (await db.query(
          `select 1 from pending_label_pushes where last_error = 'timeout'
           union all select 1 from refill_jobs where last_error like 'AGV_0001: %'`,
        )).length === 2,
      "a label push and a refill offer that timed out",
      20_000,
    );
    // Every write the API audits (an Odoo delivery parked as failed, to retry).
    const [parked] = await db.query<{ id: number }>(
      "insert into odoo_outbox (kind, local_id, state) values ('sale-order', 1, 'failed') returning id",
    );
    const writes: [string, string, unknown][] = [
      ["POST", "/api/devices/DZC_0001/disable", {}],
      ["POST", "/api/devices/PRN_0001/enable", {}],
      ["POST", "/api/labels/AC:99:00:00:00:02/bind", { barcode: "6901234500097" }],
      ["POST", "/api/stock/11/adjust", { warehouse: "MD", quantity: "24", reason: "盘点" }],
      ["POST", "/api/teach-in", { minutes: 30 }],
      ["POST", "/api/teach-in", { minutes: 0 }],
      ["POST", `/api/outbox/${parked.id}/retry`, {}],
      ["GET", "/api/backup", undefined],
      ["POST", "/api/prices", { gid: 10, price: "3.20", from: new Date().toISOString() }],
      ["POST", "/api/prices/1/cancel", {}],
    ];
    for (const [method, path, body] of writes) {
      const r = await call(appliance, method, path, {
        token: TOKEN,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      // A backup over the API is the embedded database's; on PostgreSQL it is refused (409),
      // and the attempt is audited all the same.
      const refused = path === "/api/backup" && backend === "postgres" ? 409 : undefined;
      assert.ok(r.status < 300 || r.status === refused, `${path}: ${r.status} ${r.text}`);
    }
    assert.equal((await recentAudit(db, 50)).length, writes.length);

    const messages = englishMessages();
    for (
      const path of [
        "/",
        "/console/devices",
        "/console/labels",
        "/console/stock",
        "/console/money",
        "/console/audit",
      ]
    ) {
      const page = await call(appliance, "GET", `${path}?lang=zh`);
      assert.equal(page.status, 200, path);
      assert.deepEqual(untranslated(page.text, messages), [], `${path} in Chinese`);
      // The same page in English does show English messages: the search is not blind.
      const english = await call(appliance, "GET", `${path}?lang=en`);
      assert.notDeepEqual(untranslated(english.text, messages), [], `${path} in English`);
    }
    const overview = (await call(appliance, "GET", "/?lang=zh")).text;
    // The till's paid order is a bar of this hour; the console counted the labels at start.
    assert.match(
      overview,
      /<rect class="bar now" data-hour="\d+"[^>]*><title>[^<]*订单数 1 · 已收金额 5\.50/,
    );
    assert.match(overview, /<g class="sample" data-at="[^"]+"/);
    const stock = (await call(appliance, "GET", "/console/stock?lang=zh")).text;
    assert.match(stock, /\(AGV_0001：设备未及时应答\)/);
    const labels = (await call(appliance, "GET", "/console/labels?lang=zh")).text;
    assert.match(labels, /\(设备未及时应答\)/);
  } finally {
    await appliance.stop();
  }
});
