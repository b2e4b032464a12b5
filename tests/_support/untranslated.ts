/**
 * Finds English console messages in a page: every message of the console's English table (page
 * words, device kinds, audit actions, actors and keys, delivery kinds, the stored reasons' words
 * and the alerts' English lines) is looked for in the page's visible text (and its placeholders,
 * titles and labels), whole words (letters, digits and `_` bound a word), any case. Text marked `raw` (a peer's own words) is left out.
 * Messages that read the same in both languages ("Odoo", "AGV") are not English-only and are
 * skipped. Used by the console tests on every Chinese page.
 *
 * @module
 */
import {
  alertWords,
  CODE_TABLES,
  REASON_SAMPLES,
  reasonTable,
  reasonWords,
  words,
} from "../../src/admin/console/i18n.ts";
import {
  type Alert,
  type AlertSnapshot,
  type ComponentSnapshot,
  computeAlerts,
} from "../../src/admin/alerts.ts";

const MB = 1024 * 1024;
const BOUNDS = {
  deviceOfflineMinutes: 2,
  upstreamDownMinutes: 5,
  outboxAgeMinutes: 15,
  labelStaleMinutes: 30,
  diskWarnFreeMb: 500,
};

/**
 * Alerts of every rule, from four store snapshots (a store-wide outage holds the device alerts
 * back, so no one snapshot raises them all; the disk is full in one, low in another; the
 * machine's clock stepped in the last).
 */
export function everyAlert(at = new Date("2026-03-04T10:00:00Z")): Alert[] {
  const ago = (minutes: number) => new Date(at.getTime() - minutes * 60_000);
  const up: ComponentSnapshot = { state: "up", downSince: null };
  const down = (detail: string): ComponentSnapshot => ({
    state: "down",
    downSince: ago(60),
    detail,
  });
  const device = (equipId: string, online: boolean, labelsServed = 0) => ({
    equipId,
    kind: equipId.split("_")[0],
    enabled: true,
    online,
    offlineSince: online ? null : ago(30),
    labelsServed,
  });
  const none = { depth: 0, oldestAt: null };
  const base: AlertSnapshot = {
    at,
    database: { up: true },
    mqtt: up,
    payment: up,
    odoo: up,
    devices: [],
    outbox: { payment: none, odoo: none },
    staleLabels: [],
    negativeStock: [],
  };
  const snapshots: AlertSnapshot[] = [
    {
      ...base,
      database: { up: false, detail: "database check timed out after 2 s" },
      // A write failed for lack of space before the disk was first read: no path, no figures.
      disk: { path: null, freeBytes: null, totalBytes: null, full: true },
    },
    {
      ...base,
      mqtt: down(""),
      disk: { path: "/var/lib/newretail", freeBytes: 300 * MB, totalBytes: 8000 * MB, full: false },
    },
    {
      ...base,
      devices: [device("DZBQ_0002", false, 3), device("DZC_0001", false), device("POS_0001", true)],
      payment: down("no answer within 5 s"),
      odoo: down("Odoo at http://erp.example.com did not answer within 10 s"),
      staleLabels: [{ mac: "AC:23:3F:00:00:01", equipId: "DZBQ_0001", since: ago(45) }],
      negativeStock: [{ goodsId: 5, name: "西红柿", quantity: "-2.000 kg" }],
    },
    {
      ...base,
      devices: [device("POS_0001", false), device("DZC_0001", false)],
      outbox: { payment: { depth: 4, oldestAt: ago(40) }, odoo: { depth: 2, oldestAt: ago(20) } },
      // The machine's clock stepped a year ahead; the appliance keeps its own time.
      clock: {
        state: "held",
        offsetMs: 365 * 86_400_000,
        applianceTime: at.toISOString(),
        machineTime: new Date(at.getTime() + 365 * 86_400_000).toISOString(),
      },
    },
  ];
  return snapshots.flatMap((s) => computeAlerts(s, BOUNDS));
}

// A part the Chinese wording uses too (a unit, a protocol name: "MB", "HTTP") is not English-only.
function shared(part: string, chinese: string): string | undefined {
  return chinese.includes(part) ? part : undefined;
}

function hasLetters(text: string): boolean {
  return /[A-Za-z]{2,}/.test(text);
}

// The parts of a worded text that are not its parameters (names, IDs, numbers, ISO times).
function literalParts(text: string, params: string[]): string[] {
  const cut = "\u0000";
  let rest = text.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, cut);
  for (const p of params.filter((p) => p !== "")) {
    rest = rest.replace(
      new RegExp(`(?<![A-Za-z0-9_])${escapeRegExp(p)}(?![A-Za-z0-9_])`, "g"),
      cut,
    );
  }
  return rest.split(cut).map((p) => p.trim().replace(/^[:,.;()]+|[:,.;()]+$/g, "").trim())
    .filter(hasLetters);
}

/** Every English message of the console, as the fragments a page would show. */
export function englishMessages(): string[] {
  const en = words("en");
  const zh = words("zh");
  const out = new Set<string>();
  const add = (english: string, chinese: string | undefined) => {
    if (english === chinese) return; // the same in both: a name, not English-only
    for (const part of english.split(/\{\w+\}/)) {
      if (hasLetters(part)) out.add(part.trim());
    }
  };
  for (const key of Object.keys(en) as (keyof typeof en)[]) add(en[key], zh[key]);
  for (const table of Object.values(CODE_TABLES)) {
    for (const [code, english] of Object.entries(table.en)) add(english, table.zh[code]);
  }
  const enReasons = reasonTable("en");
  for (const [i, sample] of REASON_SAMPLES.entries()) {
    const match = new RegExp(enReasons[i][0], enReasons[i][1]).exec(sample)!;
    const english = reasonWords("en", sample).text;
    const chinese = reasonWords("zh", sample).text;
    for (const part of literalParts(english, match.slice(1))) add(part, shared(part, chinese));
  }
  for (const alert of everyAlert()) {
    const params = Object.values(alert.params).map(String);
    const chinese = alertWords("zh", alert).text;
    for (const part of literalParts(alert.message, params)) add(part, shared(part, chinese));
  }
  return [...out].sort((a, b) => b.length - a.length);
}

const ENTITIES: Record<string, string> = {
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&#39;": "'",
};

/**
 * What a reader sees of an HTML page: its text (SVG titles included, scripts and `raw` peer
 * text left out) and the placeholders, titles and labels of its elements.
 */
export function visibleText(html: string): string {
  const page = html.replace(/<script[\s\S]*?<\/script>/g, " ")
    .replace(/<style[\s\S]*?<\/style>/g, " ")
    .replace(/<span class="raw">[^<]*<\/span>/g, " ");
  const attributes = [...page.matchAll(/\s(?:placeholder|title|aria-label|alt)="([^"]*)"/g)]
    .map((m) => m[1]);
  const text = page.replace(/<[^>]*>/g, " ");
  return [text, ...attributes].join("\n").replace(/&(?:amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e]);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The English messages found in a page (whole words (letters, digits and `_` bound a word), any case). */
export function untranslated(html: string, messages = englishMessages()): string[] {
  const text = visibleText(html);
  return messages.filter((m) => {
    // A message bounded by a letter or digit is a whole word: "up" is not found in "update".
    const before = /^\w/.test(m) ? "(?<![A-Za-z0-9_])" : "";
    const after = /\w$/.test(m) ? "(?![A-Za-z0-9_])" : "";
    return new RegExp(`${before}${escapeRegExp(m)}${after}`, "i").test(text);
  });
}
