/**
 * The console's style sheet and script, shipped inside the program as text (no CDN, no build
 * step): served at `/console/app.css` and `/console/app.js`. The script is plain browser
 * JavaScript: it words times ("2 min ago", exact local time on hover), sends writes to `/api/`
 * with the admin token kept in the tab, and reloads the page's main part when the admin server's
 * event stream (`/events`) says something changed.
 *
 * @module
 */
import { wordReason } from "./i18n.ts";

/** `/console/app.css`. */
export const CONSOLE_CSS = `
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f6f7f9;--ok:#067647;--bad:#b42318;
--warn:#b54708;--accent:#175cd3}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,"PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;
color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;gap:.5em 1.5em;align-items:center;padding:.6em 1.2em;
background:#101828;color:#fff}
header h1{font-size:1.1em;margin:0}
header nav a{color:#d0d5dd;text-decoration:none;margin-right:1em}
header nav a.here{color:#fff;font-weight:600;border-bottom:2px solid #84adff}
header .tools{margin-left:auto;display:flex;gap:.8em;align-items:center}
header a{color:#d0d5dd}
header input{width:12em}
main{padding:1em 1.2em;max-width:1200px}
#notice:empty{display:none}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.8em 1em;margin:0 0 1em}
h2{font-size:1.05em;margin:.1em 0 .6em}
section > h2:not(:first-child){margin-top:1em}
table{border-collapse:collapse;width:100%}
th,td{padding:.35em .6em;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle}
#audit td{vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.92em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:.8em}
.card{border:1px solid var(--line);border-radius:8px;padding:.6em .8em}
.card b{display:block;font-size:1.2em}
:not(tr).up,:not(tr).online,:not(tr).fresh{color:var(--ok)}
:not(tr).down,:not(tr).offline,:not(tr).stale,:not(tr).negative,.critical{color:var(--bad)}
:not(tr).unknown,.connecting,.warning,:not(tr).below{color:var(--warn)}
.off,.muted{color:var(--muted)}
tr.disabled td{color:var(--muted)}
tr.offline td:first-child{border-left:3px solid var(--bad)}
tr.stale td:first-child{border-left:3px solid var(--bad)}
button{font:inherit;padding:.2em .8em;border:1px solid #98a2b3;border-radius:6px;background:#fff;
cursor:pointer}
button:hover{border-color:var(--accent)}
form.inline{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin:.4em 0}
input{font:inherit;padding:.2em .4em;border:1px solid #98a2b3;border-radius:6px}
#notice{margin:0 0 .8em;padding:.4em .8em;border-radius:6px;background:#ecfdf3;font-weight:600}
#notice.error{background:#fef3f2}
#notice.error{color:var(--bad)}
#live{font-size:.9em}
body[data-live="on"] #live{color:#75e0a7}
ul.alerts{margin:0;padding-left:1.2em}
.raw{font-family:ui-monospace,monospace;font-size:.92em}
input.wide{width:24em;max-width:100%}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.1em .8em;margin:0}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:1em}
figure.plot{margin:0}
figure.plot svg{width:100%;height:auto;display:block}
figure.plot figcaption{font-weight:700;font-size:1.05em;margin:.1em 0 .4em}
svg .axis{stroke:#98a2b3;stroke-width:1}
svg .grid{stroke:var(--line);stroke-width:1}
svg text{fill:var(--muted);font-size:11px}
svg .bar{fill:#2e90fa}
svg .bar.now{fill:#175cd3}
svg .fresh{fill:#32d583}
svg .stale{fill:#f04438}
svg .unknown{fill:#fdb022}
.legend{display:flex;gap:1.2em;flex-wrap:wrap;font-size:.92em;margin:.3em 0 0}
.legend i{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.3em;vertical-align:-1px}
.legend i.fresh{background:#32d583}.legend i.stale{background:#f04438}.legend i.unknown{background:#fdb022}
`;

/** `/console/app.js`. */
export const CONSOLE_JS = `"use strict";
(() => {
  const body = document.body;
  const lang = body.dataset.lang || "en";
  const say = JSON.parse(body.dataset.words || "{}");
  const TOKEN = "newretail-token";
  // The server's reason matcher itself (i18n.ts): API answers worded by the same table.
  const wordReason = ${wordReason.toString()};
  const worded = (text) => wordReason(say.reasons || [], text) ?? text;
  const notice = (text, error) => {
    const n = document.getElementById("notice");
    if (!n) return;
    n.textContent = text;
    n.className = error ? "error" : "";
  };

  function words(date) {
    const s = Math.round((Date.now() - date.getTime()) / 1000);
    const rtf = new Intl.RelativeTimeFormat(lang === "zh" ? "zh-CN" : "en", { numeric: "auto" });
    if (Math.abs(s) < 60) return rtf.format(-s, "second");
    if (Math.abs(s) < 3600) return rtf.format(-Math.round(s / 60), "minute");
    if (Math.abs(s) < 86400) return rtf.format(-Math.round(s / 3600), "hour");
    return rtf.format(-Math.round(s / 86400), "day");
  }
  function times() {
    for (const t of document.querySelectorAll("time[datetime]")) {
      const d = new Date(t.getAttribute("datetime"));
      if (Number.isNaN(d.getTime())) continue;
      t.title = d.toLocaleString(lang === "zh" ? "zh-CN" : undefined);
      t.textContent = t.hasAttribute("data-exact") ? t.title : words(d);
    }
  }

  let refreshing = false, again = false;
  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const url = new URL(location.href);
      url.searchParams.set("part", "main");
      const r = await fetch(url, { headers: { accept: "text/html" } });
      if (r.ok || r.status === 503) {
        document.getElementById("view").innerHTML = await r.text();
        times();
        body.dataset.refreshes = String(Number(body.dataset.refreshes || 0) + 1);
      }
    } catch (_) {
      // The next event or a reload tries again.
    } finally {
      refreshing = false;
      if (again) { again = false; refresh(); }
    }
  }

  async function write(path, payload, what) {
    const token = sessionStorage.getItem(TOKEN) || "";
    const headers = { "content-type": "application/json" };
    if (token) headers.authorization = "Bearer " + token;
    let r;
    try {
      r = await fetch(path, { method: "POST", headers, body: JSON.stringify(payload || {}) });
    } catch (e) {
      notice(String(e), true);
      return;
    }
    if (r.status === 401) { notice(say.refused, true); return; }
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) {
      notice(say.notDone + " (" + r.status + "): " + worded(String(answer.error || "")), true);
      return;
    }
    notice(what ? say.done + ": " + what : say.done);
    refresh();
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-post]");
    if (!button) return;
    e.preventDefault();
    write(button.dataset.post, JSON.parse(button.dataset.body || "{}"), button.textContent);
  });
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (form.id === "token-form") {
      e.preventDefault();
      const value = form.elements.token.value.trim();
      sessionStorage.setItem(TOKEN, value);
      document.cookie = "newretail_token=" + encodeURIComponent(value) + "; path=/; SameSite=Strict" +
        (location.protocol === "https:" ? "; Secure" : "");
      form.elements.token.value = "";
      form.elements.token.placeholder = value ? "••••••••" : "";
      notice(say.done);
      // Beyond loopback the page itself needed the token: now it can be read.
      if (body.dataset.mode === "login") location.reload();
      return;
    }
    if (!form.dataset.api) return;
    e.preventDefault();
    let path = form.dataset.api;
    const payload = {};
    for (const input of form.querySelectorAll("input[name]")) {
      const slot = "{" + input.name + "}";
      if (path.includes(slot)) path = path.replace(slot, encodeURIComponent(input.value.trim()));
      else if (input.value.trim() !== "") {
        payload[input.name] = input.type === "number" ? Number(input.value) : input.value.trim();
      }
    }
    const submit = form.querySelector("button");
    write(path, payload, submit ? submit.textContent : "");
  });

  if (sessionStorage.getItem(TOKEN)) {
    const input = document.querySelector("#token-form input");
    if (input) input.placeholder = "••••••••";
  }
  times();
  setInterval(times, 30000);

  const live = document.getElementById("live");
  const stream = new EventSource("/events");
  stream.onopen = () => { body.dataset.live = "on"; if (live) live.textContent = say.live; };
  stream.onerror = () => { body.dataset.live = "off"; if (live) live.textContent = say.liveOff; };
  for (const name of ["device-login", "device-offline", "label-confirmed", "order-paid",
    "alert-raised", "alert-cleared"]) {
    stream.addEventListener(name, () => {
      body.dataset.lastEvent = name;
      refresh();
    });
  }
})();
`;
