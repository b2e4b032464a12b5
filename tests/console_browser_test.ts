/**
 * The store console in a real browser (headless Chromium) against a running appliance with
 * simulated devices over TCP: both languages render; a device logging in, a label confirming and
 * an alert appear without a reload (Server-Sent Events); disabling a device from the page
 * disconnects it; a write without the token is refused; a base station going offline is one
 * alert, not one per label. One browser and one appliance for the whole file.
 */
import assert from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { eventually, startTestAppliance } from "./_support/appliance.ts";
import { browserSkipReason, launchBrowser, type Page } from "./_support/browser.ts";
import type { DeviceClient } from "../src/device/client.ts";

const TOKEN = "console-test-token-0123456789";
const MAC = "AC:23:3F:00:00:01";
// The backend with a server when there is one: the page does not depend on it, the pushes do.
const backend = backends()[0];

/** Answers every sendGoods push once `answering` is true (a label base station). */
function labelStation(client: DeviceClient, state: { answering: boolean }): void {
  (async () => {
    while (!client.closed) {
      try {
        await client.nextPush("sendGoods", 60_000);
        await eventually(() => state.answering || client.closed, "answering", 60_000);
        if (!client.closed) client.acknowledge("sendGoods");
      } catch {
        return; // closed
      }
    }
  })();
}

async function openLive(page: Page, url: string): Promise<void> {
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector('body[data-live="on"]', { timeout: 10_000 });
  // A reload would lose this mark: the steps below check that live updates need none.
  await page.evaluate(
    () => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true),
  );
}

function notReloaded(page: Page): Promise<boolean> {
  return page.evaluate(() =>
    (globalThis as unknown as { notReloaded?: boolean }).notReloaded === true
  );
}

const SKIPPED = browserSkipReason();

Deno.test({
  name: `store console in a real browser (${backend.name})${SKIPPED}`,
  ignore: SKIPPED !== "",
}, async (t) => {
  const appliance = await startTestAppliance(backend.name, {
    config: {
      adminEnabled: true,
      adminPort: 0,
      adminToken: TOKEN,
      alertDeviceOfflineMinutes: 0,
      alertLabelStaleMinutes: 0,
    },
  });
  const base = `http://127.0.0.1:${appliance.app.admin!.port}`;
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    // A till stays online throughout: the store network is up, so no store-wide alert.
    await appliance.device("POS_0001");

    await t.step("the page renders in English and in Chinese, and switches", async () => {
      await page.setExtraHTTPHeaders({ "accept-language": "en-US,en;q=0.9" });
      await page.goto(`${base}/console/devices`);
      assert.equal(await page.$eval("html", (e) => e.lang), "en");
      assert.equal(await page.$eval("nav a.here", (e) => e.textContent), "Devices");
      assert.match(await page.$eval('tr[data-device="POS_0001"]', (e) => e.textContent!), /till/);

      await page.setExtraHTTPHeaders({ "accept-language": "zh-CN,zh;q=0.9,en;q=0.5" });
      await page.goto(`${base}/console/devices`);
      assert.equal(await page.$eval("html", (e) => e.lang), "zh-CN");
      assert.equal(await page.$eval("nav a.here", (e) => e.textContent), "设备");
      assert.match(await page.$eval('tr[data-device="POS_0001"]', (e) => e.textContent!), /收银台/);
      assert.match(await page.$eval('tr[data-device="POS_0001"]', (e) => e.textContent!), /在线/);

      // The switch wins over Accept-Language from then on (a cookie).
      await Promise.all([page.waitForNavigation(), page.click("#lang-switch")]);
      assert.equal(await page.$eval("html", (e) => e.lang), "en");
      await page.goto(`${base}/`);
      assert.equal(await page.$eval("nav a.here", (e) => e.textContent), "Overview");
      assert.match(await page.$eval("#components", (e) => e.textContent!), /Database\s*up/);
    });

    await t.step("a device logging in appears without a reload", async () => {
      await openLive(page, `${base}/console/devices`);
      assert.equal(await page.$('tr[data-device="DZC_0101"]'), null);
      await appliance.device("DZC_0101");
      await page.waitForSelector('tr[data-device="DZC_0101"] td.online', { timeout: 10_000 });
      assert.match(
        await page.$eval('tr[data-device="DZC_0101"]', (e) => e.textContent!),
        /scale/,
      );
      // "last seen" is worded in the browser, the exact local time on hover.
      const seen = await page.$eval('tr[data-device="DZC_0101"] time', (e) => ({
        text: e.textContent!,
        title: e.getAttribute("title")!,
      }));
      assert.match(seen.text, /now|second/);
      assert.ok(seen.title.length > 0 && !seen.title.includes("T"), seen.title);
      assert.ok(await notReloaded(page));
    });

    const station = { answering: false };
    let label: DeviceClient | undefined;
    await t.step("a label going stale and then confirming changes its row", async () => {
      label = await appliance.device("DZBQ_0001");
      labelStation(label, station);
      // The base station asks for its label: from now on it serves it.
      await label.request("getGoods", { mac_id: MAC }, { encoding: "gbk" });
      await page.goto(`${base}/console/labels`);
      await page.waitForSelector(`tr[data-mac="${MAC}"][data-state="fresh"]`);

      await appliance.app.db.query("update goods set price = price + 1 where id = 1");
      await eventually(
        async () =>
          (await appliance.app.db.query("select 1 from pending_label_pushes where mac = $1", [
            MAC,
          ])).length === 1,
        "the push is pending",
      );
      await openLive(page, `${base}/console/labels`);
      const row = `tr[data-mac="${MAC}"]`;
      assert.equal(await page.$eval(row, (e) => e.getAttribute("data-state")), "stale");
      // Stale rows come first.
      assert.equal(await page.$eval("#labels tbody tr", (e) => e.getAttribute("data-mac")), MAC);

      station.answering = true;
      await page.waitForSelector(`${row}[data-state="fresh"]`, { timeout: 15_000 });
      assert.ok(await notReloaded(page));
    });

    await t.step("a write without the token is refused (401)", async () => {
      await openLive(page, `${base}/console/devices`);
      const status = await page.evaluate(async () =>
        (await fetch("/api/devices/DZC_0101/disable", { method: "POST" })).status
      );
      assert.equal(status, 401);
      // The page's own button, without a token: refused, said so, nothing changes.
      await page.click('tr[data-device="DZC_0101"] button[data-post$="/disable"]');
      await page.waitForSelector("#notice.error");
      assert.match(await page.$eval("#notice", (e) => e.textContent!), /401/);
      assert.ok(appliance.app.server.isOnline("DZC_0101"));
    });

    await t.step("disabling a device from the page disconnects it", async () => {
      const scale = appliance.app.server;
      await page.type("#token-form input", TOKEN);
      await page.click("#token-form button");
      await page.click('tr[data-device="DZC_0101"] button[data-post$="/disable"]');
      await eventually(() => !scale.isOnline("DZC_0101"), "DZC_0101 disconnected", 10_000);
      await page.waitForSelector('tr[data-device="DZC_0101"].disabled', { timeout: 10_000 });
      // The audit log names who did it.
      await page.goto(`${base}/console/audit`);
      assert.match(
        await page.$eval("#audit tbody tr", (e) => e.textContent!),
        /adminToken\s*device\.disable\s*DZC_0101/,
      );
    });

    await t.step("a base station going offline is one alert naming its labels", async () => {
      // Its labels go stale too (a price change nobody can receive): still one alert.
      station.answering = false;
      await openLive(page, `${base}/`);
      assert.equal(await page.$$eval("#alerts li", (l) => l.length), 0);
      await label!.close();
      await appliance.app.db.query("update goods set price = price + 1 where id in (1, 2)");
      await page.waitForSelector('#alerts li[data-rule="base_station_offline"]', {
        timeout: 15_000,
      });
      const alerts = await (await fetch(`${base}/alerts`)).json();
      assert.deepEqual(
        alerts.alerts.map((a: { id: string }) => a.id),
        ["base_station_offline:DZBQ_0001"],
      );
      assert.equal(alerts.alerts[0].params.labels, 1);
      assert.equal(await page.$$eval("#alerts li", (l) => l.length), 1);
      assert.match(await page.$eval("#alerts li", (e) => e.textContent!), /DZBQ_0001.*1 labels/);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(
        metrics,
        /newretail_alert\{rule="base_station_offline",subject="DZBQ_0001",severity="critical"\} 1/,
      );
      assert.ok(await notReloaded(page));
    });
  } finally {
    await browser.close();
    await appliance.stop();
  }
});
