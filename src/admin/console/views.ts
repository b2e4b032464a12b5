/**
 * The console's views as HTML (pure: each renders the data it is given). The page around them is
 * `html.ts`'s layout; the data is read by `routes.ts`.
 *
 * @module
 */
import type { Alert } from "../alerts.ts";
import type { AuditEntry } from "../../store/audit.ts";
import type { HealthReport } from "../health.ts";
import type { DeviceView } from "../device_view.ts";
import type { FreshnessSample } from "../../store/label_freshness.ts";
import {
  alertWords,
  CODE_TABLES,
  codeWords,
  fill,
  kindWords,
  type Lang,
  type Words,
  words,
} from "./i18n.ts";
import { esc, postButton, raw, reason, stateWord, table, time } from "./html.ts";
import type { LabelRow } from "./labels_view.ts";
import type { StockView } from "./stock_view.ts";
import type { MoneyView, Sales } from "../../store/money_owed.ts";
import { freshnessPlot, type LabelCounts, salesPlot } from "./plots.ts";

/** The labels over the last 24 hours (samples) and now, for the freshness plot. */
export interface LabelHistory {
  samples: FreshnessSample[];
  /** How often a sample is taken (the columns' width). */
  everyMs: number;
  current: LabelCounts;
}

/** The Overview's data. */
export interface OverviewData {
  shopId: string;
  health: HealthReport;
  /** Null while the database is down. */
  sales: Sales | null;
  /** Local midnight and now: the day the sales are of. */
  dayStart: Date;
  now: Date;
  /** Null while the database is down. */
  labels: LabelHistory | null;
  alerts: Alert[];
  devices: { online: number; total: number };
}

function duration(lang: Lang, seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (lang === "zh") return `${d ? `${d}天` : ""}${h ? `${h}小时` : ""}${m}分钟`;
  return `${d ? `${d} d ` : ""}${h ? `${h} h ` : ""}${m} min`;
}

/** The open alerts list. */
export function alertList(lang: Lang, alerts: Alert[]): string {
  const w = words(lang);
  if (alerts.length === 0) return `<p class="muted" id="alerts">${esc(w.noAlerts)}</p>`;
  return `<ul class="alerts" id="alerts">${
    alerts.map((a) => {
      const worded = alertWords(lang, a);
      return `<li class="${a.severity}" data-alert="${esc(a.id)}" data-rule="${esc(a.rule)}">${
        esc(worded.text)
      }${worded.detail ? `${lang === "zh" ? "：" : ": "}${reason(lang, worded.detail)}` : ""}${
        a.since ? ` <span class="muted">(${time(a.since)})</span>` : ""
      }</li>`;
    }).join("")
  }</ul>`;
}

const OFF_HINTS = { mqtt: "offMqtt", payment: "offPayment", odoo: "offOdoo" } as const;

/** The plots of the day: sales per hour and labels by freshness (Overview; Labels has the second). */
function labelsPlot(lang: Lang, labels: LabelHistory, now: Date): string {
  return freshnessPlot(lang, labels.samples, now, labels.everyMs, labels.current);
}

/** Overview: the shop, its dependencies, today's sales, open alerts. */
export function overviewView(lang: Lang, o: OverviewData): string {
  const w = words(lang);
  const h = o.health;
  const components = (["database", "mqtt", "payment", "odoo"] as const).map((name) => {
    const c = h[name];
    // "Not configured" needs no error text: say how to configure it instead.
    const detail = c.state === "off" && name !== "database"
      ? `<span class="muted">${esc(w[OFF_HINTS[name]])}</span>`
      : reason(lang, c.detail);
    return `<tr data-component="${name}"><td>${esc(w[name])}</td><td>${stateWord(w, c.state)}</td>
<td>${detail}</td></tr>`;
  });
  const sales = o.sales
    ? (["pending", "paid", "failed", "expired"] as const).map((s) =>
      `<tr data-state="${s}"><td>${esc(w[s])}</td><td>${o.sales!.byState[s]?.orders ?? 0}</td>
<td>${esc(o.sales!.byState[s]?.amount ?? "0.00")}</td></tr>`
    )
    : [];
  const plots = [
    o.sales ? salesPlot(lang, o.sales.paidByHour, o.dayStart, o.now) : "",
    o.labels ? labelsPlot(lang, o.labels, o.now) : "",
  ].filter(Boolean);
  return `<section><div class="cards">
<div class="card">${esc(w.shop)}<b>${esc(o.shopId)}</b></div>
<div class="card">${esc(w.version)}<b>${esc(h.version)}</b></div>
<div class="card">${esc(w.uptime)}<b>${esc(duration(lang, h.uptimeS))}</b></div>
<div class="card">${
    esc(w.devices)
  }<b id="devices-online">${o.devices.online} / ${o.devices.total} ${esc(w.online)}</b></div>
<div class="card">${esc(w.amountPaid)}<b id="paid-today">${esc(o.sales?.paid ?? "—")}</b></div>
</div></section>
<section><h2>${esc(w.openAlerts)}</h2>${alertList(lang, o.alerts)}</section>
${plots.length ? `<section class="plots">${plots.join("\n")}</section>` : ""}
<section><h2>${esc(w.services)}</h2>${
    table(w, [w.service, w.state, w.detail], components, "components")
  }</section>
<section><h2>${esc(w.salesToday)}</h2>${
    table(w, [w.state, w.ordersCount, w.amount], sales, "sales")
  }</section>`;
}

/** The Devices view's data. */
export interface DevicesData {
  devices: DeviceView[];
  labelsServed: Map<string, number>;
  teachIn: { open: boolean; closesAt: string | null; admitted: DeviceView[] };
}

/** Devices: kinds in words, state, last seen, address, labels served, disable/enable, teach-in. */
export function devicesView(lang: Lang, d: DevicesData): string {
  const w = words(lang);
  const rows = d.devices.map((v) => {
    const state = !v.enabled ? "disabled" : v.online ? "online" : "offline";
    const served = v.kind === "DZBQ"
      ? `<a href="/console/labels?q=${encodeURIComponent(v.equipId)}">${
        d.labelsServed.get(v.equipId) ?? 0
      }</a>`
      : "";
    const action = v.enabled
      ? postButton(w.disable, `/api/devices/${encodeURIComponent(v.equipId)}/disable`)
      : postButton(w.enable, `/api/devices/${encodeURIComponent(v.equipId)}/enable`);
    return `<tr class="${state}" data-device="${esc(v.equipId)}"><td>${esc(v.equipId)}</td><td>${
      esc(kindWords(lang, v.kind))
    }</td><td class="state ${v.online ? "online" : "offline"}">${
      esc(w[v.online ? "online" : "offline"])
    }${v.enabled ? "" : ` · <span class="muted">${esc(w.disabled)}</span>`}</td><td>${
      time(v.lastSeenAt, w.never)
    }</td><td>${esc(v.address ?? "")}</td><td>${served}</td><td>${action}</td></tr>`;
  });
  const t = d.teachIn;
  const admitted = t.admitted.map((a) =>
    `<tr><td>${esc(a.equipId)}</td><td>${esc(kindWords(lang, a.kind))}</td><td>${
      time(a.firstSeenAt)
    }</td></tr>`
  );
  return `<section><h2>${esc(w.devices)}</h2>${
    table(
      w,
      [w.device, w.kind, w.state, w.lastSeen, w.address, w.labelsServed, w.actions],
      rows,
      "devices",
    )
  }</section>
<section id="teach-in" data-open="${t.open}"><h2>${esc(w.teachIn)}</h2>
<p>${t.open ? `${esc(w.teachInOpen)} ${time(t.closesAt, "", true)}` : esc(w.teachInClosed)}</p>
<form class="inline" data-api="/api/teach-in"><input name="minutes" type="number" min="1" max="1440"
 value="30" aria-label="${esc(w.minutes)}"> ${esc(w.minutes)} <button>${esc(w.open)}</button>
${t.open ? postButton(w.close, "/api/teach-in", { minutes: 0 }) : ""}</form>
${t.open ? `<h2>${esc(w.admitted)}</h2>${table(w, [w.device, w.kind, w.since], admitted)}` : ""}
</section>`;
}

/** Labels: the last 24 hours, find, bind by barcode, and the rows (stale first). */
export function labelsView(
  lang: Lang,
  rows: LabelRow[],
  q: string,
  history: LabelHistory,
  now: Date,
): string {
  const w = words(lang);
  const body = rows.map((r) => {
    const fresh = r.state === "stale" ? `${esc(w.stale)} ${time(r.since)}` : esc(w[r.state]);
    return `<tr class="${r.state}" data-mac="${esc(r.mac)}" data-state="${r.state}"><td>${
      esc(r.mac)
    }</td><td>${esc(r.goodsName)} <span class="muted">#${r.goodsId}</span></td><td>${
      esc(r.barcode)
    }</td><td>${esc(r.equipId ?? "")}</td><td class="${r.state}">${fresh}${
      r.lastError ? ` <span class="muted">(${reason(lang, r.lastError)})</span>` : ""
    }</td><td>${esc(r.shownPrice ?? "—")}</td><td>${esc(r.currentPrice)}</td></tr>`;
  });
  return `<section class="plots">${labelsPlot(lang, history, now)}</section>
<section><h2>${esc(w.labels)}</h2>
<form class="inline" method="get" action="/console/labels"><input name="q" value="${esc(q)}"
 class="wide" placeholder="${esc(w.findHint)}" aria-label="${esc(w.find)}"><button>${
    esc(w.find)
  }</button></form>
${
    table(
      w,
      [
        w.mac,
        w.goods,
        w.barcode,
        w.servedBy,
        w.freshness,
        w.shownPrice,
        w.currentPrice,
      ],
      body,
      "labels",
    )
  }</section>
<section><h2>${esc(w.bind)}</h2>
<form class="inline" id="bind-form" data-api="/api/labels/{mac}/bind">
<input name="mac" required placeholder="${esc(w.mac)}" aria-label="${esc(w.mac)}">
<input name="barcode" required placeholder="${esc(w.barcode)}" aria-label="${esc(w.barcode)}">
<input name="device" placeholder="${esc(w.device_optional)}" aria-label="${esc(w.device_optional)}">
<button>${esc(w.bindButton)}</button></form></section>`;
}

function goodsCell(name: string, goodsId: number): string {
  return `${esc(name)} <span class="muted">#${goodsId}</span>`;
}

/** Where on the shop floor, in words: "aisle 4 · shelf 5 · level 6" (parts not set left out). */
function placeWords(w: Words, place: StockView["shelf"][number]["place"]): string {
  return ([["aisle", place.aisle], ["shelfPart", place.shelf], ["level", place.level]] as const)
    .filter(([, value]) => value !== "")
    .map(([word, value]) => `${esc(w[word])} ${esc(value)}`)
    .join(" · ");
}

/** Stock and AGVs: shelf under threshold, negative stock, open refill jobs. */
export function stockView(lang: Lang, s: StockView): string {
  const w = words(lang);
  const shelf = s.shelf.map((r) =>
    `<tr data-gid="${r.goodsId}" class="${r.negative ? "negative" : r.below ? "below" : ""}"><td>${
      goodsCell(r.name, r.goodsId)
    }</td><td>${esc(r.quantity ?? "—")}</td><td>${esc(r.threshold)}</td><td>${
      r.negative ? esc(w.negative) : r.below ? esc(w.underThreshold) : ""
    }</td><td>${placeWords(w, r.place)}</td></tr>`
  );
  const negative = s.negative.map((r) =>
    `<tr class="negative"><td>${goodsCell(r.name, r.goodsId)}</td><td>${esc(r.quantity)}</td></tr>`
  );
  const jobReasons: Record<string, string> = { manual: w.manual, threshold: w.underThreshold };
  const jobs = s.refillJobs.map((j) =>
    `<tr data-job="${j.id}"><td>${j.id}</td><td>${goodsCell(j.name, j.goodsId)}</td><td>${
      Object.hasOwn(jobReasons, j.reason) ? esc(jobReasons[j.reason]) : raw(j.reason)
    }</td><td>${esc(j.quantity ?? "")}</td><td>${esc(j.equipId ?? "—")}</td><td>${j.attempts}${
      j.lastError ? ` <span class="muted">(${reason(lang, j.lastError)})</span>` : ""
    }</td></tr>`
  );
  return `<section><h2>${esc(w.shelf)}</h2>${
    table(w, [w.goods, w.quantity, w.threshold, w.state, w.place], shelf, "shelf")
  }</section>
<section><h2>${esc(w.negativeStock)}</h2>${table(w, [w.goods, w.quantity], negative)}</section>
<section><h2>${esc(w.refillJobs)}</h2>${
    table(w, ["#", w.goods, w.reason, w.quantity, w.agv, w.attempts], jobs, "refill-jobs")
  }</section>`;
}

function errorCell(lang: Lang, text: string): string {
  return text ? `<span class="down">${reason(lang, text)}</span>` : "";
}

/** The Money view's data: what is owed, and whether a payment server is configured at all. */
export interface MoneyData extends MoneyView {
  paymentConfigured: boolean;
}

/** Money and upstream: what is still owed, with the last errors and a retry button. */
export function moneyView(lang: Lang, m: MoneyData): string {
  const w = words(lang);
  const code = (table: "deliveryKinds", value: string) => {
    const worded = codeWords(table, lang, value);
    return worded === undefined ? raw(value) : esc(worded);
  };
  const deliveryState = (state: string | null) =>
    state === null
      ? esc(w.notQueued)
      : state === "pending"
      ? esc(w.deliveryPending)
      : state === "failed"
      ? esc(w.deliveryFailed)
      : raw(state);
  const calls = m.paymentCalls.map((c) =>
    `<tr><td>${esc(c.code)}</td><td>${esc(c.amount)}</td><td>${
      time(c.createdAt)
    }</td><td>${c.attempts}</td><td>${errorCell(lang, c.lastError)}</td></tr>`
  );
  const results = m.payResults.map((r) =>
    `<tr><td>${esc(r.code)}</td><td>${esc(r.equipId)}</td><td>${
      r.result === "success"
        ? esc(w.resultSuccess)
        : r.result === "error"
        ? esc(w.resultError)
        : raw(r.result)
    }</td><td>${time(r.createdAt)}</td><td>${r.attempts}</td><td>${
      errorCell(lang, r.lastError)
    }</td></tr>`
  );
  const deliveries = m.deliveries.map((d) =>
    `<tr data-outbox="${d.id}" class="${d.state}"><td>${d.id}</td><td>${
      code("deliveryKinds", d.kind)
    } ${d.localId}</td><td>${deliveryState(d.state)}</td><td>${
      time(d.createdAt)
    }</td><td>${d.attempts}</td><td>${errorCell(lang, d.lastError)}</td><td>${
      postButton(w.retry, `/api/outbox/${d.id}/retry`)
    }</td></tr>`
  );
  const undelivered = m.undeliveredOrders === null
    ? `<p class="muted">${esc(w.noUpstream)}</p>`
    : table(
      w,
      [w.order, w.amount, w.since, w.state, w.lastError],
      m.undeliveredOrders.map((o) =>
        `<tr><td>${esc(o.code)}</td><td>${esc(o.amount)}</td><td>${time(o.settledAt)}</td><td>${
          deliveryState(o.outboxState)
        }</td><td>${errorCell(lang, o.lastError)}</td></tr>`
      ),
    );
  // Without a payment server nothing is "pending": the calls are kept until one is configured.
  const paymentHead = m.paymentConfigured
    ? `${esc(w.paymentCalls)}: ${m.paymentCallCount}`
    : esc(w.paymentCallsOff);
  const paymentNote = m.paymentConfigured
    ? ""
    : `<p class="muted" id="payment-off">${
      esc(fill(w.paymentCallsKept, { n: m.paymentCallCount }))
    }</p>`;
  return `<section><h2>${paymentHead}</h2>${paymentNote}${
    table(w, [w.order, w.amount, w.since, w.attempts, w.lastError], calls, "payment-calls")
  }</section>
<section><h2>${esc(w.payResults)}: ${m.payResultCount}</h2>${
    table(w, [w.order, w.device, w.result, w.since, w.attempts, w.lastError], results)
  }</section>
<section><h2>${esc(w.deliveries)}: ${m.deliveryCounts.pending} / ${m.deliveryCounts.failed}</h2>${
    table(
      w,
      ["#", w.what, w.state, w.since, w.attempts, w.lastError, w.actions],
      deliveries,
      "deliveries",
    )
  }</section>
<section><h2>${esc(w.undelivered)}</h2>${undelivered}</section>`;
}

/** The audit log's data: the entries, and the names of the goods they mention. */
export interface AuditData {
  entries: AuditEntry[];
  goodsNames: Map<number, string>;
}

/** The goods ids an audit entry mentions (its target or detail), to name them. */
export function auditGoodsIds(entries: AuditEntry[]): number[] {
  const ids = new Set<number>();
  for (const e of entries) {
    if (e.action === "stock.adjust" && /^\d+$/.test(e.target)) ids.add(Number(e.target));
    if (typeof e.detail.gid === "number") ids.add(e.detail.gid);
  }
  return [...ids];
}

function auditValue(
  lang: Lang,
  key: string,
  value: unknown,
  goodsNames: Map<number, string>,
): string {
  const w = words(lang);
  if (typeof value === "boolean") return esc(value ? w.yes : w.no);
  if (key === "gid" && typeof value === "number") {
    const name = goodsNames.get(value);
    return name === undefined ? `#${value}` : goodsCell(name, value);
  }
  if ((key === "from" || key === "until") && value === null) return esc(w.openEnded);
  if ((key === "from" || key === "until") && typeof value === "string") {
    return Number.isNaN(Date.parse(value)) ? esc(value) : time(value, "", true);
  }
  if (typeof value === "string" || typeof value === "number") return esc(value);
  return raw(JSON.stringify(value));
}

// The database keeps a detail's keys in its own order: shown in the table's (goods first).
function auditKeyOrder(key: string): number {
  const at = Object.keys(CODE_TABLES.auditKeys.en).indexOf(key);
  return at < 0 ? Number.MAX_SAFE_INTEGER : at;
}

/** An audit line's details as words: one "key: value" per line. */
function auditDetails(lang: Lang, e: AuditEntry, goodsNames: Map<number, string>): string {
  // `created: false` (a device that was already known) says nothing an operator needs.
  const pairs = Object.entries(e.detail ?? {}).filter(([key, v]) =>
    v !== undefined && !(key === "created" && v === false)
  ).sort(([a], [b]) => auditKeyOrder(a) - auditKeyOrder(b));
  if (pairs.length === 0) return "";
  return `<dl class="kv">${
    pairs.map(([key, value]) => {
      const worded = codeWords("auditKeys", lang, key);
      return `<dt>${worded === undefined ? raw(key) : esc(worded)}</dt><dd>${
        auditValue(lang, key, value, goodsNames)
      }</dd>`;
    }).join("")
  }</dl>`;
}

function auditTarget(lang: Lang, e: AuditEntry, goodsNames: Map<number, string>): string {
  if (e.target === "") return "";
  const pattern = codeWords("auditTargets", lang, e.action);
  if (pattern === undefined) return esc(e.target);
  const name = e.action === "stock.adjust" ? goodsNames.get(Number(e.target)) : undefined;
  return esc(fill(pattern, { id: e.target })) + (name ? ` ${esc(name)}` : "");
}

/** The audit log, newest first: who did what, on what, and the details in words. */
export function auditView(lang: Lang, a: AuditData): string {
  const w: Words = words(lang);
  const rows = a.entries.map((e) => {
    const actor = codeWords("actors", lang, e.actor);
    const action = codeWords("actions", lang, e.action);
    return `<tr data-action="${esc(e.action)}"><td>${time(e.at)}</td><td>${
      actor === undefined ? raw(e.actor) : esc(actor)
    }</td><td>${action === undefined ? raw(e.action) : esc(action)}</td><td>${
      auditTarget(lang, e, a.goodsNames)
    }</td><td>${auditDetails(lang, e, a.goodsNames)}</td></tr>`;
  });
  return `<section><h2>${esc(w.audit)}</h2>${
    table(w, [w.when, w.who, w.what, w.target, w.details], rows, "audit")
  }</section>`;
}
