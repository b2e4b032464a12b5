/**
 * Small HTML helpers of the console pages (escaping, times, states) and the page layout.
 *
 * @module
 */
import type { Lang, Words } from "./i18n.ts";
import { reasonTable, reasonWords, words } from "./i18n.ts";

/** Escapes text for HTML content and attribute values. */
export function esc(text: unknown): string {
  return String(text ?? "").replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/**
 * A moment: ISO text in `datetime`, worded by the script in the browser's time zone ("2 min
 * ago", the exact local time on hover; `exact`: the local time itself); without the script the
 * ISO text shows.
 */
export function time(d: Date | string | null | undefined, fallback = "", exact = false): string {
  if (d === null || d === undefined) return esc(fallback);
  const iso = (d instanceof Date ? d : new Date(d)).toISOString();
  return `<time datetime="${iso}"${exact ? " data-exact" : ""}>${iso}</time>`;
}

/** Text shown as it came (a peer's own words, an unknown code): marked, never translated. */
export function raw(text: string): string {
  return `<span class="raw">${esc(text)}</span>`;
}

/** A stored reason or error in words ({@link reasonWords}); a peer's own text as it came. */
export function reason(lang: Lang, text: string | null | undefined): string {
  if (!text) return "";
  const worded = reasonWords(lang, text);
  return worded.known ? esc(worded.text) : raw(worded.text);
}

/** A dependency state in words, classed for colour. */
export function stateWord(w: Words, state: string): string {
  const known: Record<string, string> = {
    up: w.up,
    down: w.down,
    off: w.off,
    connecting: w.connecting,
  };
  return `<span class="${esc(state)}">${
    Object.hasOwn(known, state) ? esc(known[state]) : raw(state)
  }</span>`;
}

/** A table, or the "none" line when there are no rows. */
export function table(w: Words, head: string[], rows: string[], id?: string): string {
  if (rows.length === 0) return `<p class="muted"${id ? ` id="${id}"` : ""}>${esc(w.none)}</p>`;
  return `<table${id ? ` id="${id}"` : ""}><thead><tr>${
    head.map((h) => `<th>${esc(h)}</th>`).join("")
  }</tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>`;
}

/** A button that POSTs to the admin API (the script adds the token). */
export function postButton(label: string, path: string, body?: unknown, extra = ""): string {
  return `<button type="button" data-post="${esc(path)}"${
    body === undefined ? "" : ` data-body="${esc(JSON.stringify(body))}"`
  }${extra}>${esc(label)}</button>`;
}

/** The views, in navigation order, with their paths. */
export const VIEWS = [
  { name: "overview", path: "/" },
  { name: "devices", path: "/console/devices" },
  { name: "labels", path: "/console/labels" },
  { name: "stock", path: "/console/stock" },
  { name: "money", path: "/console/money" },
  { name: "audit", path: "/console/audit" },
] as const;

/** A view's name. */
export type ViewName = (typeof VIEWS)[number]["name"];

/** The whole page around a view's main part. */
export function layout(
  lang: Lang,
  view: ViewName,
  shopId: string,
  main: string,
  mode: "page" | "login" = "page",
): string {
  const w = words(lang);
  const nav = VIEWS.map((v) =>
    `<a href="${v.path}"${v.name === view ? ' class="here"' : ""}>${esc(w[v.name])}</a>`
  ).join("");
  const scriptWords = {
    refused: w.refused,
    done: w.done,
    notDone: w.notDone,
    live: w.live,
    liveOff: w.liveOff,
    reasons: reasonTable(lang),
  };
  return `<!doctype html>
<html lang="${lang === "zh" ? "zh-CN" : "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(w.title)} · ${esc(shopId)}</title>
<link rel="stylesheet" href="/console/app.css"></head>
<body data-lang="${lang}" data-view="${view}" data-mode="${mode}" data-words="${
    esc(JSON.stringify(scriptWords))
  }">
<header><h1>${esc(w.title)} · ${esc(shopId)}</h1><nav>${nav}</nav>
<div class="tools"><span id="live">${esc(w.liveOff)}</span>
<form id="token-form" class="inline"><input name="token" type="password" autocomplete="off"
 aria-label="${esc(w.token)}" title="${esc(w.tokenHint)}" placeholder="${esc(w.token)}">
<button>${esc(w.tokenSave)}</button></form>
<a id="lang-switch" href="?lang=${lang === "zh" ? "en" : "zh"}">${esc(w.language)}</a></div>
</header>
<main><p id="notice" role="status"></p><div id="view">${main}</div></main>
<script src="/console/app.js"></script>
</body></html>
`;
}
