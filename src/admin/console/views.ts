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
import { alertWords, kindWords, type Lang, type Words, words } from "./i18n.ts";
import { esc, postButton, stateWord, table, time } from "./html.ts";
import type { LabelRow } from "./labels_view.ts";
import type { StockView } from "./stock_view.ts";
import type { MoneyView, Sales } from "./money_view.ts";

/** The Overview's data. */
export interface OverviewData {
  shopId: string;
  health: HealthReport;
  sales: Sales | null;
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
    alerts.map((a) =>
      `<li class="${a.severity}" data-alert="${esc(a.id)}" data-rule="${esc(a.rule)}">${
        esc(alertWords(lang, a))
      }${a.since ? ` <span class="muted">(${time(a.since)})</span>` : ""}</li>`
    ).join("")
  }</ul>`;
}

/** Overview: the shop, its dependencies, today's sales, open alerts. */
export function overviewView(lang: Lang, o: OverviewData): string {
  const w = words(lang);
  const h = o.health;
  const components = (["database", "mqtt", "payment", "odoo"] as const).map((name) => {
    const c = h[name];
    return `<tr data-component="${name}"><td>${esc(w[name])}</td><td>${stateWord(w, c.state)}</td>
<td>${esc(c.detail ?? "")}</td></tr>`;
  });
  const sales = o.sales
    ? (["pending", "paid", "failed", "expired"] as const).map((s) =>
      `<tr><td>${esc(w[s])}</td><td>${o.sales!.byState[s]?.orders ?? 0}</td>
<td>${esc(o.sales!.byState[s]?.amount ?? "0.00")}</td></tr>`
    )
    : [];
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
<section><h2>${esc(w.state)}</h2>${
    table(w, [w.state, "", w.lastError], components, "components")
  }</section>
<section><h2>${esc(w.salesToday)}</h2>${table(w, [w.state, w.orders, w.amount], sales)}</section>`;
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

/** Labels: find, bind by barcode, and the rows (stale first). */
export function labelsView(lang: Lang, rows: LabelRow[], q: string): string {
  const w = words(lang);
  const body = rows.map((r) => {
    const fresh = r.state === "stale" ? `${esc(w.stale)} ${time(r.since)}` : esc(w[r.state]);
    return `<tr class="${r.state}" data-mac="${esc(r.mac)}" data-state="${r.state}"><td>${
      esc(r.mac)
    }</td><td>${esc(r.goodsName)} <span class="muted">#${r.goodsId}</span></td><td>${
      esc(r.barcode)
    }</td><td>${esc(r.equipId ?? "")}</td><td class="${r.state}">${fresh}${
      r.lastError ? ` <span class="muted">(${esc(r.lastError)})</span>` : ""
    }</td><td>${esc(r.shownPrice ?? "—")}</td><td>${esc(r.currentPrice)}</td></tr>`;
  });
  return `<section><h2>${esc(w.labels)}</h2>
<form class="inline" method="get" action="/console/labels"><input name="q" value="${esc(q)}"
 placeholder="${esc(w.findHint)}" aria-label="${esc(w.find)}"><button>${esc(w.find)}</button></form>
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

/** Stock and AGVs: shelf under threshold, negative stock, open refill jobs. */
export function stockView(lang: Lang, s: StockView): string {
  const w = words(lang);
  const shelf = s.shelf.map((r) =>
    `<tr data-gid="${r.goodsId}" class="${r.negative ? "negative" : r.below ? "below" : ""}"><td>${
      esc(r.name)
    } <span class="muted">#${r.goodsId}</span></td><td>${esc(r.quantity ?? "—")}</td><td>${
      esc(r.threshold)
    }</td><td>${r.negative ? esc(w.negative) : r.below ? esc(w.underThreshold) : ""}</td><td>${
      esc(r.place)
    }</td></tr>`
  );
  const negative = s.negative.map((r) =>
    `<tr class="negative"><td>${esc(r.name)} <span class="muted">#${r.goodsId}</span></td><td>${
      esc(r.quantity)
    }</td></tr>`
  );
  const jobs = s.refillJobs.map((j) =>
    `<tr data-job="${j.id}"><td>${j.id}</td><td>${
      esc(j.name)
    } <span class="muted">#${j.goodsId}</span></td><td>${esc(j.reason)}</td><td>${
      esc(j.quantity ?? "")
    }</td><td>${esc(j.equipId ?? "—")}</td><td>${j.attempts}${
      j.lastError ? ` <span class="muted">(${esc(j.lastError)})</span>` : ""
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

function errorCell(text: string): string {
  return text ? `<span class="down">${esc(text)}</span>` : "";
}

/** Money and upstream: what is still owed, with the last errors and a retry button. */
export function moneyView(lang: Lang, m: MoneyView): string {
  const w = words(lang);
  const calls = m.paymentCalls.map((c) =>
    `<tr><td>${esc(c.code)}</td><td>${esc(c.amount)}</td><td>${
      time(c.createdAt)
    }</td><td>${c.attempts}</td><td>${errorCell(c.lastError)}</td></tr>`
  );
  const results = m.payResults.map((r) =>
    `<tr><td>${esc(r.code)}</td><td>${esc(r.equipId)}</td><td>${esc(r.result)}</td><td>${
      time(r.createdAt)
    }</td><td>${r.attempts}</td><td>${errorCell(r.lastError)}</td></tr>`
  );
  const deliveries = m.deliveries.map((d) =>
    `<tr data-outbox="${d.id}" class="${d.state}"><td>${d.id}</td><td>${
      esc(d.kind)
    } ${d.localId}</td><td>${esc(d.state)}</td><td>${
      time(d.createdAt)
    }</td><td>${d.attempts}</td><td>${errorCell(d.lastError)}</td><td>${
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
          esc(o.outboxState ?? "—")
        }</td><td>${errorCell(o.lastError)}</td></tr>`
      ),
    );
  return `<section><h2>${esc(w.paymentCalls)}: ${m.paymentCallCount}</h2>${
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

/** The audit log, newest first. */
export function auditView(lang: Lang, entries: AuditEntry[]): string {
  const w: Words = words(lang);
  const rows = entries.map((e) =>
    `<tr><td>${time(e.at)}</td><td>${esc(e.actor)}</td><td>${esc(e.action)}</td><td>${
      esc(e.target)
    }</td><td class="muted">${esc(JSON.stringify(e.detail))}</td></tr>`
  );
  return `<section><h2>${esc(w.audit)}</h2>${
    table(w, [w.when, w.who, w.what, w.target, ""], rows, "audit")
  }</section>`;
}
