/**
 * The store console in a real browser (headless Chromium) against a running appliance with
 * simulated devices over TCP: both languages render; a device logging in, a label confirming and
 * an alert appear without a reload (Server-Sent Events); disabling a device from the page
 * disconnects it; a write without the token is refused; a base station going offline is one
 * alert, not one per label; every page in Chinese holds no English message (after the script has
 * worded the times), starts right under the menu bar, and the Overview draws its plots; the
 * search hint fits; an API refusal is worded in Chinese. One browser and one appliance for the
 * whole file.
 */
import assert from "node:assert/strict";
import { backends } from "./_support/databases.ts";
import { eventually, startTestAppliance } from "./_support/appliance.ts";
import { browserSkipReason, launchBrowser, type Page } from "./_support/browser.ts";
import { englishMessages, untranslated } from "./_support/untranslated.ts";
import { VIEWS } from "../src/admin/console/html.ts";
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
      assert.equal(
        await page.$eval("#audit tbody tr", (e) => e.getAttribute("data-action")),
        "device.disable",
      );
      assert.match(
        await page.$eval("#audit tbody tr", (e) => e.textContent!),
        /admin token\s*disabled a device\s*DZC_0101/,
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

    await t.step(
      "every page in Chinese, as the browser shows it, has no English message",
      async () => {
        // A paid order of this hour for the sales plot.
        const till = await appliance.device("POS_0002");
        await till.request("getPayInfo", {
          order_id: "B-1",
          totalPrice: 2,
          goods: [{ gid: 9, price: 2, qty: 1 }],
        });
        await till.request("makePayment", { oid: "B-1" });
        const messages = englishMessages();
        for (const path of VIEWS.map((v) => v.path)) {
          await page.goto(`${base}${path}?lang=zh`, { waitUntil: "load" });
          await page.waitForSelector('body[data-live="on"]');
          assert.equal(await page.$eval("html", (e) => e.lang), "zh-CN");
          assert.deepEqual(untranslated(await page.content(), messages), [], `${path} in Chinese`);
          // No empty band under the menu bar: the first section starts right below it.
          const [header, first] = await page.$$eval(
            "header, #view > section",
            (boxes) => boxes.slice(0, 2).map((e) => e.getBoundingClientRect().toJSON()),
          );
          const gap = first.top - header.bottom;
          assert.ok(gap >= 0 && gap <= 24, `${path}: ${gap}px between the menu bar and the page`);
        }
      },
    );

    await t.step("the Overview: a header per column, and both plots drawn", async () => {
      await page.goto(`${base}/?lang=en`, { waitUntil: "load" });
      const shape = await page.$$eval(
        "#components tr",
        (rows) => rows.map((r) => r.children.length),
      );
      assert.ok(shape.length === 5 && shape.every((n) => n === 3), String(shape));
      assert.deepEqual(
        await page.$$eval("#components th", (h) => h.map((e) => e.textContent)),
        ["Service", "State", "Detail"],
      );
      const plots = await page.$$eval("figure.plot svg", (svgs) =>
        svgs.map((svg) => {
          const box = svg.getBoundingClientRect();
          return { id: svg.parentElement!.id, width: box.width, height: box.height };
        }));
      assert.deepEqual(plots.map((p) => p.id), ["sales-by-hour", "labels-freshness"]);
      assert.ok(plots.every((p) => p.width > 300 && p.height > 100), JSON.stringify(plots));
      // This hour's bar holds the paid order; the console counted the labels when it started.
      const bar = await page.$eval("#sales-by-hour rect.bar.now", (r) => ({
        height: Number(r.getAttribute("height")),
        title: r.querySelector("title")!.textContent!,
      }));
      assert.ok(bar.height > 0);
      assert.match(bar.title, /Orders 1 · Amount paid 2\.00/);
      assert.ok((await page.$$("#labels-freshness g.sample")).length >= 1);
    });

    await t.step("the English search hint fits its field", async () => {
      await page.goto(`${base}/console/labels?lang=en`, { waitUntil: "load" });
      const fit = await page.$eval('input[name="q"]', (input) => {
        // The page's own globals (this runs in the browser; the test's types have no DOM).
        const browser = globalThis as unknown as {
          getComputedStyle(e: unknown): Record<"font" | "paddingLeft" | "paddingRight", string>;
          document: {
            createElement(name: "canvas"): {
              getContext(kind: "2d"): { font: string; measureText(t: string): { width: number } };
            };
          };
        };
        const style = browser.getComputedStyle(input);
        const context = browser.document.createElement("canvas").getContext("2d");
        context.font = style.font;
        return {
          text: context.measureText(input.getAttribute("placeholder")!).width,
          room: input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
        };
      });
      assert.ok(fit.text > 100 && fit.text <= fit.room, JSON.stringify(fit));
    });

    await t.step("an API refusal is worded in the page's language", async () => {
      await page.goto(`${base}/console/labels?lang=zh`, { waitUntil: "load" });
      await page.type('#bind-form input[name="mac"]', "AC:99:00:00:00:07");
      await page.type('#bind-form input[name="barcode"]', "0000000000000");
      await page.click("#bind-form button");
      await page.waitForSelector("#notice.error");
      const said = await page.$eval("#notice", (e) => e.textContent!);
      assert.equal(said, "未完成 (404): 没有条码为 0000000000000 的商品");
    });
  } finally {
    await browser.close();
    await appliance.stop();
  }
});
