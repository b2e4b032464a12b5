/**
 * Every console page rendered in Chinese, with data that takes every state, alert, audit action,
 * actor, delivery kind and stored reason the console words, holds no message of the English
 * table; the same pages in English hold each of them (so the search finds what it looks for).
 * Then the layout's own rules: the Overview's service table has a header per column, quantities
 * are counted as the goods are sold, places are worded, audit details are key/value words.
 */
import assert from "node:assert/strict";
import { CODE_TABLES, type Lang, REASON_SAMPLES, WORDED_ALERT_RULES, words } from "./i18n.ts";
import { layout, type ViewName, VIEWS } from "./html.ts";
import { auditView, devicesView, labelsView, moneyView, overviewView, stockView } from "./views.ts";
import { quantityText } from "./stock_view.ts";
import type { HealthReport } from "../health.ts";
import type { DeviceView } from "../device_view.ts";
import type { LabelRow } from "./labels_view.ts";
import type { AuditEntry } from "../../store/audit.ts";
import type { FreshnessSample } from "../../store/label_freshness.ts";
import { englishMessages, everyAlert, untranslated } from "../../../tests/_support/untranslated.ts";

const NOW = new Date("2026-03-04T10:20:00Z");
const DAY_START = new Date("2026-03-04T00:00:00Z");
const ago = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);
// Every stored reason the table words, and a peer's own text (shown raw).
const REASONS = [...REASON_SAMPLES, "设备忙 (busy)"];
const reasonAt = (i: number) => REASONS[i % REASONS.length];

function health(database: "up" | "down" | "alone"): HealthReport {
  if (database === "alone") {
    return {
      status: "ok",
      version: "0.1.0",
      uptimeS: 60,
      database: { state: "up" },
      mqtt: { state: "off", detail: "MQTT not configured" },
      payment: { state: "off", detail: "payment server not configured" },
      odoo: { state: "off", detail: "Odoo not configured" },
    };
  }
  return {
    status: database === "up" ? "ok" : "unhealthy",
    version: "0.1.0",
    uptimeS: 93_784,
    database: database === "up"
      ? { state: "up", latencyMs: 1.2 }
      : { state: "down", detail: "database check timed out after 2 s" },
    mqtt: { state: "off", detail: "MQTT not configured" },
    payment: { state: "down", detail: "HTTP 502: Bad Gateway" },
    odoo: { state: "connecting" },
  };
}

function device(equipId: string, online: boolean, enabled = true): DeviceView {
  return {
    equipId,
    kind: equipId.split("_")[0],
    enabled,
    online,
    address: online ? "10.0.0.7:5001" : null,
    lastSeenAt: online ? ago(1).toISOString() : null,
    lastLoginAt: null,
    lastOfflineAt: null,
    firstSeenAt: ago(90).toISOString(),
    admittedVia: "open",
  };
}

function label(i: number, state: LabelRow["state"]): LabelRow {
  return {
    mac: `AC:23:3F:00:00:${String(i).padStart(2, "0")}`,
    goodsId: i,
    goodsName: "红富士苹果",
    barcode: `69012345000${String(i).padStart(2, "0")}`,
    equipId: state === "unknown" ? null : "DZBQ_0001",
    state,
    since: state === "fresh" ? null : ago(i),
    shownPrice: state === "unknown" ? null : "12.80",
    currentPrice: "13.80",
    tries: 1,
    lastError: reasonAt(i),
  };
}

const SAMPLES: FreshnessSample[] = Array.from({ length: 288 }, (_, i) => ({
  at: new Date(NOW.getTime() - (287 - i) * 300_000),
  fresh: 4990 + (i % 7),
  stale: i % 50 === 0 ? 3 : 0,
  unknown: i < 20 ? 10 : 2,
}));

const AUDIT_DETAILS: Record<string, { target: string; detail: Record<string, unknown> }> = {
  "device.disable": { target: "DZC_0101", detail: { created: false } },
  "device.enable": { target: "PRN_0001", detail: { created: true } },
  "label.bind": { target: "AC:99:00:00:00:01", detail: { barcode: "6901234500011", gid: 1 } },
  "stock.adjust": {
    target: "11",
    detail: { warehouse: "MD", quantity: "24", reason: "盘点" },
  },
  "teach-in.open": { target: "", detail: { minutes: 30 } },
  "teach-in.close": { target: "", detail: { minutes: 0 } },
  "outbox.retry": { target: "7", detail: {} },
  "backup": { target: "", detail: {} },
  "price.schedule": {
    target: "3",
    detail: { gid: 10, price: "3.20", from: "2026-03-04T11:00:00.000Z", until: null },
  },
  "price.cancel": { target: "3", detail: {} },
};

function auditEntries(): AuditEntry[] {
  const actions = Object.keys(CODE_TABLES.actions.en);
  const actors = Object.keys(CODE_TABLES.actors.en);
  assert.deepEqual(actions.toSorted(), Object.keys(AUDIT_DETAILS).toSorted());
  return actions.map((action, i) => ({
    id: i + 1,
    at: ago(i),
    actor: actors[i % actors.length],
    action,
    ...AUDIT_DETAILS[action],
  }));
}

/** Every page of one language, with every kind of row. */
function pages(lang: Lang): Map<string, string> {
  const out = new Map<string, string>();
  const page = (name: string, view: ViewName, main: string) =>
    out.set(name, layout(lang, view, "SH-0042", main));
  const history = {
    samples: SAMPLES,
    everyMs: 300_000,
    current: { fresh: 4997, stale: 3, unknown: 2 },
  };
  const sales = {
    byState: {
      pending: { orders: 1, amount: "11.50" },
      paid: { orders: 58, amount: "493.00" },
      failed: { orders: 2, amount: "7.00" },
      expired: { orders: 3, amount: "20.10" },
    },
    paid: "493.00",
    paidByHour: [{ hour: 8, orders: 3, amount: "27.50" }, {
      hour: 10,
      orders: 55,
      amount: "465.50",
    }],
  };
  page(
    "overview",
    "overview",
    overviewView(lang, {
      shopId: "SH-0042",
      health: health("up"),
      sales,
      dayStart: DAY_START,
      now: NOW,
      labels: history,
      alerts: everyAlert(NOW),
      devices: { online: 4, total: 6 },
    }),
  );
  page(
    "overview, database down",
    "overview",
    overviewView(lang, {
      shopId: "SH-0042",
      health: health("down"),
      sales: null,
      dayStart: DAY_START,
      now: NOW,
      labels: null,
      alerts: everyAlert(NOW).filter((a) => a.rule === "database_down"),
      devices: { online: 0, total: 0 },
    }),
  );
  page(
    "overview, a quiet day",
    "overview",
    overviewView(lang, {
      shopId: "SH-0042",
      health: health("alone"),
      sales: { byState: {}, paid: "0.00", paidByHour: [] },
      dayStart: DAY_START,
      now: NOW,
      labels: { samples: [], everyMs: 300_000, current: { fresh: 0, stale: 0, unknown: 0 } },
      alerts: [],
      devices: { online: 0, total: 0 },
    }),
  );
  const kinds = [...Object.keys(CODE_TABLES.kinds.en), "XYZ"];
  const devices = kinds.map((kind, i) => device(`${kind}_000${i}`, i % 2 === 0, i !== 3));
  for (const open of [true, false]) {
    page(
      `devices, teach-in ${open ? "open" : "closed"}`,
      "devices",
      devicesView(lang, {
        devices,
        labelsServed: new Map([["DZBQ_0000", 3]]),
        teachIn: {
          open,
          closesAt: open ? ago(-30).toISOString() : null,
          admitted: open ? devices.slice(0, 2) : [],
        },
      }),
    );
  }
  const labels = REASONS.map((_, i) => label(i, (["fresh", "stale", "unknown"] as const)[i % 3]));
  page("labels", "labels", labelsView(lang, labels, "DZBQ_0001", history, NOW));
  page(
    "labels, no samples yet",
    "labels",
    labelsView(lang, [], "", { ...history, samples: [] }, NOW),
  );
  page(
    "stock",
    "stock",
    stockView(lang, {
      shelf: [
        {
          goodsId: 5,
          name: "西红柿",
          quantity: quantityText("-2.000", true),
          threshold: quantityText("5.000", true),
          below: true,
          negative: true,
          place: { aisle: "A", shelf: "3", level: "1" },
        },
        {
          goodsId: 11,
          name: "康师傅冰红茶 500ml",
          quantity: quantityText("21.000", false),
          threshold: quantityText("24.000", false),
          below: true,
          negative: false,
          place: { aisle: "A", shelf: "7", level: "" },
        },
        {
          goodsId: 12,
          name: "蒙牛纯牛奶 250ml",
          quantity: null,
          threshold: "0",
          below: false,
          negative: false,
          place: { aisle: "", shelf: "", level: "" },
        },
      ],
      negative: [{ goodsId: 5, name: "西红柿", quantity: quantityText("-2.000", true) }],
      refillJobs: REASONS.map((lastError, i) => ({
        id: i + 1,
        goodsId: 11,
        name: "康师傅冰红茶 500ml",
        reason: ["manual", "threshold", "other"][i % 3],
        equipId: i % 2 ? "AGV_0001" : null,
        attempts: i,
        lastError,
        quantity: i % 2 ? "27" : null,
      })),
    }),
  );
  for (const odoo of [true, false]) {
    for (const paymentConfigured of [true, false]) {
      page(
        `money, odoo ${odoo}, payment server ${paymentConfigured}`,
        "money",
        moneyView(lang, {
          paymentConfigured,
          paymentCalls: REASONS.map((lastError, i) => ({
            orderId: i,
            code: `35973289433577${i}`,
            amount: "11.50",
            attempts: i,
            lastError,
            createdAt: ago(i),
          })),
          paymentCallCount: REASONS.length,
          payResults: ["success", "error", "other"].map((result, i) => ({
            orderId: i,
            code: `4597328943357${i}`,
            equipId: "POS_0001",
            result,
            attempts: i,
            lastError: reasonAt(i),
            createdAt: ago(i),
          })),
          payResultCount: 3,
          deliveries: [...Object.keys(CODE_TABLES.deliveryKinds.en), "other"].map((kind, i) => ({
            id: i + 1,
            kind,
            localId: 40 + i,
            state: ["pending", "failed", "other"][i % 3],
            attempts: i,
            lastError: reasonAt(i + 3),
            createdAt: ago(i),
          })),
          deliveryCounts: { pending: 2, failed: 2 },
          undeliveredOrders: odoo
            ? [null, "pending", "failed"].map((outboxState, i) => ({
              orderId: i,
              code: `55973289433577${i}`,
              amount: "3.50",
              settledAt: ago(i),
              outboxState,
              lastError: reasonAt(i + 5),
            }))
            : null,
        }),
      );
    }
  }
  page(
    "audit",
    "audit",
    auditView(lang, {
      entries: [...auditEntries(), {
        id: 99,
        at: ago(99),
        actor: "someone-new",
        action: "future.action",
        target: "x",
        detail: { newKey: { nested: true } },
      }],
      goodsNames: new Map([[1, "红富士苹果"], [10, "可口可乐 330ml"], [11, "康师傅冰红茶 500ml"]]),
    }),
  );
  out.set("token page", layout(lang, "overview", "SH-0042", words(lang).tokenNeeded, "login"));
  return out;
}

Deno.test("the data takes every alert rule the console words", () => {
  assert.deepEqual(
    [...new Set(everyAlert().map((a) => a.rule))].toSorted(),
    WORDED_ALERT_RULES.toSorted(),
  );
});

Deno.test("every Chinese page holds no message of the English table", () => {
  const messages = englishMessages();
  for (const [name, html] of pages("zh")) {
    assert.deepEqual(untranslated(html, messages), [], `Chinese ${name}`);
  }
});

Deno.test("the English pages hold every worded code, reason and alert (the search finds them)", () => {
  const messages = englishMessages();
  const found = new Set([...pages("en").values()].flatMap((html) => untranslated(html, messages)));
  const missing = messages.filter((m) => !found.has(m));
  // Words only the script shows (a notice after a write) are not in a server-rendered page.
  const scriptOnly = ["refused", "done", "notDone"] as const;
  const en = words("en");
  assert.deepEqual(missing.toSorted(), scriptOnly.map((k) => en[k]).toSorted());
});

Deno.test("the Overview's service table has one header per column", () => {
  const html = pages("en").get("overview")!;
  const components = /<table id="components"><thead><tr>(.*?)<\/tr><\/thead>/.exec(html)!;
  assert.equal(components[1], "<th>Service</th><th>State</th><th>Detail</th>");
  // "Not configured" is not an error: it says how to configure it.
  assert.match(html, /data-component="mqtt">[^]*?not configured[^]*?Set mqttUrl/);
  assert.doesNotMatch(html, /MQTT not configured/);
});

Deno.test("quantities: whole pieces for piece goods, kilograms for weighed goods", () => {
  assert.equal(quantityText("21.000", false), "21");
  assert.equal(quantityText("2.500", false), "2.5");
  assert.equal(quantityText("-2.000", true), "-2.000 kg");
  const html = pages("zh").get("stock")!;
  assert.match(html, /<tr data-gid="11"[^>]*><td>[^]*?<\/td><td>21<\/td><td>24<\/td>/);
  // The shelf place in words, parts not set left out.
  assert.match(html, /通道 A · 货架 3 · 层 1/);
  assert.match(html, /通道 A · 货架 7<\/td>/);
});

Deno.test("without a payment server the calls are kept, not pending", () => {
  const [on, off] = [true, false].map((configured) =>
    pages("en").get(`money, odoo false, payment server ${configured}`)!
  );
  assert.match(on, /Payment calls pending: \d+/);
  assert.doesNotMatch(off, /Payment calls pending/);
  assert.match(off, /no payment server configured/);
  assert.match(off, /<p class="muted" id="payment-off">\d+ kept; they are sent once/);
});

Deno.test("audit details are words under a header, not JSON", () => {
  const html = pages("zh").get("audit")!;
  assert.match(html, /<th>时间<\/th><th>操作者<\/th><th>操作<\/th><th>对象<\/th><th>详情<\/th>/);
  assert.match(
    html,
    /<tr data-action="price\.schedule">[^]*?调价计划 #3[^]*?<dt>商品<\/dt><dd>可口可乐 330ml <span class="muted">#10<\/span><\/dd><dt>价格<\/dt><dd>3\.20<\/dd><dt>开始<\/dt><dd><time[^>]*data-exact>[^<]*<\/time><\/dd><dt>结束<\/dt><dd>不限<\/dd>/,
  );
  assert.match(html, /<td>命令行<\/td>|<td>本机（无令牌）<\/td>/);
  // What the console does not know stays visible, as it came.
  assert.match(html, /<span class="raw">future\.action<\/span>/);
  assert.match(html, /<span class="raw">\{&quot;nested&quot;:true\}<\/span>/);
  assert.doesNotMatch(html, /&quot;barcode&quot;/);
});

Deno.test("the layout has no empty band: the notice takes no room until it says something", () => {
  for (const [name, html] of pages("en")) {
    assert.match(html, /<main><p id="notice" role="status"><\/p><div id="view">/, name);
  }
});

Deno.test("each view is rendered by a page above (one per navigation entry)", () => {
  const rendered = new Set(
    [...pages("en").values()].map((html) => /data-view="(\w+)"/.exec(html)![1]),
  );
  assert.deepEqual([...rendered].toSorted(), VIEWS.map((v) => v.name).toSorted());
});
