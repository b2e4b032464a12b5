/**
 * `deno task screenshots`: starts a demo appliance (embedded database, demo catalogue) with a few
 * simulated devices over TCP, makes some state worth seeing (a stale label, a base station
 * offline, negative shelf stock, a refill job, a sale), and saves the console's main views as
 * PNG files under `docs/` with the same headless Chromium the browser tests use.
 *
 * @module
 */
import { eventually, startTestAppliance } from "../tests/_support/appliance.ts";
import { launchBrowser } from "../tests/_support/browser.ts";
import { createRefillJob, setPosition } from "../src/store/positions.ts";

const OUT = new URL("../docs", import.meta.url);
const TOKEN = "screenshots-token-0123456789";

const appliance = await startTestAppliance("pglite", {
  config: {
    shopId: "SH-0042",
    adminEnabled: true,
    adminPort: 0,
    adminToken: TOKEN,
    alertDeviceOfflineMinutes: 0,
    logLevel: "error",
  },
});
const browser = await launchBrowser();
try {
  const { db } = appliance.app;
  const base = `http://127.0.0.1:${appliance.app.admin!.port}`;
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
  // A price change the first station has not confirmed yet: its label is stale.
  await db.query("update goods set price = price + 1 where id = 1");
  await eventually(
    async () => (await db.query("select 1 from pending_label_pushes")).length > 0,
    "a pending label push",
  );
  // Stock: a refill job and a negative shelf quantity.
  const place = (x: string) => ({ posx: x, posy: "2", posz: "1" });
  await setPosition(db, 2, place("B"), place("A"), "10");
  await setPosition(db, 5, place("B"), place("A"), "5");
  await db.query("update stock set quantity = -2 where goods_id = 5 and warehouse_id = 1");
  await createRefillJob(db, 2);
  // A sale (pending: no payment server in the demo).
  await pos.request("getPayInfo", {
    order_id: "T-1001",
    totalPrice: 11.5,
    goods: [{ gid: 9, price: 2, qty: 4 }, { gid: 10, price: 3.5, qty: 1 }],
  });
  await fetch(`${base}/api/teach-in`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ minutes: 30 }),
  }).then((r) => r.body?.cancel());

  await Deno.mkdir(OUT, { recursive: true });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  const shots: [string, string, "zh" | "en"][] = [
    ["console-overview.png", "/", "zh"],
    ["console-overview-en.png", "/", "en"],
    ["console-devices.png", "/console/devices", "en"],
    ["console-labels.png", "/console/labels", "zh"],
    ["console-stock.png", "/console/stock", "en"],
    ["console-money.png", "/console/money", "en"],
  ];
  for (const [file, path, lang] of shots) {
    await page.goto(`${base}${path}?lang=${lang}`, { waitUntil: "load" });
    await page.waitForSelector('body[data-live="on"]');
    await page.screenshot({ path: new URL(file, OUT).pathname, fullPage: true });
    console.log(`docs/${file}`);
  }
} finally {
  await browser.close();
  await appliance.stop();
}
