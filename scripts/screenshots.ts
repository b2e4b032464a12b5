/**
 * `deno task screenshots`: starts a demo appliance (embedded database, demo catalogue) with a few
 * simulated devices over TCP, makes some state worth seeing (a stale label, a base station
 * offline, negative shelf stock, refill jobs, sales, audit lines), and saves every console view in
 * Chinese (`docs/console-<view>.png`) and English (`docs/console-<view>-en.png`) with the same
 * headless Chromium the browser tests use.
 *
 * Two things are history the demo cannot live through in a minute, and are written into the
 * database directly: the day's earlier sales (real orders, paid by the till, then moved back to
 * earlier hours) and the label counts the console samples every 5 minutes over the last 24 hours.
 *
 * @module
 */
import { eventually, startTestAppliance } from "../tests/_support/appliance.ts";
import { launchBrowser } from "../tests/_support/browser.ts";
import { createRefillJob, setPosition } from "../src/store/positions.ts";
import { writeAudit } from "../src/store/audit.ts";

const OUT = new URL("../docs/", import.meta.url);

// Without a CJK font the Chinese pages would be saved as rows of empty boxes.
const fonts = await new Deno.Command("fc-list", { args: [":lang=zh"], stdout: "piped" }).output()
  .catch(() => undefined);
if (!fonts || new TextDecoder().decode(fonts.stdout).trim() === "") {
  console.error(
    "screenshots: no Chinese font found (fc-list :lang=zh); install one, e.g. apt-get install fonts-wqy-microhei",
  );
  Deno.exit(1);
}
const TOKEN = "screenshots-token-0123456789";

const appliance = await startTestAppliance("pglite", {
  config: {
    shopId: "SH-0042",
    adminEnabled: true,
    adminPort: 0,
    adminToken: TOKEN,
    alertDeviceOfflineMinutes: 0,
    pushTimeoutS: 1,
    pushTries: 1,
    logLevel: "error",
  },
});
const browser = await launchBrowser();
try {
  const { db } = appliance.app;
  const base = `http://127.0.0.1:${appliance.app.admin!.port}`;
  const api = (path: string, body: unknown) =>
    fetch(`${base}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    }).then((r) => r.body?.cancel());

  // Devices: two base stations serving labels, a scale, a till, an AGV; one station goes away.
  const station = await appliance.device("DZBQ_0001");
  for (const mac of ["AC:23:3F:00:00:01", "AC:23:3F:00:00:02", "AC:23:3F:00:00:05"]) {
    await station.request("getGoods", { mac_id: mac }, { encoding: "gbk" });
  }
  const away = await appliance.device("DZBQ_0002");
  for (const mac of ["AC:23:3F:00:00:09", "AC:23:3F:00:00:0A", "AC:23:3F:00:00:0D"]) {
    await away.request("getGoods", { mac_id: mac }, { encoding: "gbk" });
  }
  await appliance.device("DZC_0001");
  const pos = await appliance.device("POS_0001");
  await appliance.device("AGV_0001");
  await away.close();
  // A price change the first station does not answer: its label is stale, the push timed out.
  await db.query("update goods set price = price + 1 where id = 1");
  await eventually(
    async () =>
      (await db.query("select 1 from pending_label_pushes where last_error is not null"))
        .length > 0,
    "a label push that timed out",
    30_000,
  );

  // Stock: positions, a negative shelf quantity, refill jobs (the AGV does not answer either).
  const place = (x: string, y: string) => ({ posx: x, posy: y, posz: "1" });
  await setPosition(db, 2, place("B", "4"), place("A", "2"), "10");
  await setPosition(db, 5, place("B", "4"), place("A", "3"), "5");
  await setPosition(db, 11, place("C", "1"), place("A", "7"), "24");
  await db.query("update stock set quantity = -2 where goods_id = 5 and warehouse_id = 1");
  await createRefillJob(db, 2);
  await createRefillJob(db, 11);

  // Sales: paid by the till (cash), one left pending; the paid ones moved back over the hours of
  // the day so far (the shelf restocked first: they are real sales and move stock).
  await db.query("update stock set quantity = 400 where warehouse_id = 1 and goods_id in (9, 10)");
  const hourNow = new Date().getHours();
  const profile = [3, 5, 8, 12, 6, 4, 9, 11];
  let n = 0;
  for (const [i, count] of profile.entries()) {
    const hour = Math.round((hourNow * i) / (profile.length - 1));
    for (let k = 0; k < count; k++) {
      const orderId = `T-${++n}`;
      const qty = 1 + (n % 4);
      await pos.request("getPayInfo", {
        order_id: orderId,
        totalPrice: (2 * qty + 3.5).toFixed(2),
        goods: [{ gid: 9, price: 2, qty }, { gid: 10, price: 3.5, qty: 1 }],
      });
      await pos.request("makePayment", { oid: orderId });
      const at = new Date();
      at.setHours(hour, hour === hourNow ? 0 : (k * 7) % 60, 0, 0);
      await db.query(
        "update orders set created_at = $2, settled_at = $2 where terminal_order_id = $1",
        [orderId, at],
      );
    }
  }
  await pos.request("getPayInfo", {
    order_id: "T-PENDING",
    totalPrice: 11.5,
    goods: [{ gid: 9, price: 2, qty: 4 }, { gid: 10, price: 3.5, qty: 1 }],
  });

  // The console's label counts of the last 24 hours: a price change in the morning that took a
  // base station 40 minutes to show, and the labels bound yesterday evening before first contact.
  const now = Date.now();
  for (let t = now - 24 * 3_600_000 + 300_000; t < now; t += 300_000) {
    const hoursAgo = (now - t) / 3_600_000;
    const stale = hoursAgo > 6 && hoursAgo < 6.7 ? 3 : 0;
    const unknown = hoursAgo > 20 ? 7 : hoursAgo > 19 ? 2 : 1;
    await db.query(
      `insert into label_freshness_samples (at, fresh, stale, unknown) values ($1, $2, $3, $4)
       on conflict do nothing`,
      [new Date(t), 7 - stale - unknown, stale, unknown],
    );
  }

  // Audit lines: the console's writes through the API, and two from the command line.
  await api("/api/teach-in", { minutes: 30 });
  await api("/api/devices/RFID_0009/disable", {});
  await api("/api/labels/AC:23:3F:00:02:01/bind", { barcode: "6901234500097" });
  await api("/api/stock/11/adjust", { warehouse: "MD", quantity: "24", reason: "盘点" });
  await api("/api/prices", {
    gid: 10,
    price: "3.20",
    from: new Date(now + 3_600_000).toISOString(),
    until: null,
  });
  await writeAudit(db, {
    at: new Date(now - 3_600_000),
    actor: "cli",
    action: "device.enable",
    target: "PRN_0001",
    detail: { created: true },
  });

  await Deno.mkdir(OUT, { recursive: true });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  const views: [string, string][] = [
    ["overview", "/"],
    ["devices", "/console/devices"],
    ["labels", "/console/labels"],
    ["stock", "/console/stock"],
    ["money", "/console/money"],
    ["audit", "/console/audit"],
  ];
  for (const [name, path] of views) {
    for (const lang of ["zh", "en"] as const) {
      const file = `console-${name}${lang === "zh" ? "" : "-en"}.png`;
      await page.goto(`${base}${path}?lang=${lang}`, { waitUntil: "load" });
      await page.waitForSelector('body[data-live="on"]');
      await page.screenshot({ path: new URL(file, OUT).pathname, fullPage: true });
      console.log(`docs/${file}`);
    }
  }
} finally {
  await browser.close();
  await appliance.stop();
}
