/**
 * The console's HTTP side: the pages (`/` and `/console/…`, with `?part=main` for the live
 * reload of a page's main part), their assets, `GET /events` (Server-Sent Events) and
 * `GET /alerts` (JSON). Reads only: every write goes through `/api/` (api.ts).
 *
 * @module
 */
import type { Clock } from "../../clock.ts";
import type { Database } from "../../store/database.ts";
import { listDevices } from "../../store/devices.ts";
import { currentTeachIn, taughtInSince } from "../../store/teach_in.ts";
import { recentAudit } from "../../store/audit.ts";
import { labelFreshnessSince } from "../../store/label_freshness.ts";
import { labelSummary } from "../../store/label_shown.ts";
import type { HealthReport } from "../health.ts";
import { deviceView } from "../device_view.ts";
import { type ConsoleConfig, LABEL_SAMPLE_EVERY_MS, type StoreConsole } from "./console.ts";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets.ts";
import { esc, layout, type ViewName, VIEWS } from "./html.ts";
import { type Lang, pickLanguage, words } from "./i18n.ts";
import { labelRows, type LabelState } from "./labels_view.ts";
import { goodsNames, labelsPerStation } from "../../store/console_reads.ts";
import { stockView as readStock } from "./stock_view.ts";
import { moneyView as readMoney, salesSince } from "../../store/money_owed.ts";
import {
  auditGoodsIds,
  auditView,
  devicesView,
  type LabelHistory,
  labelsView,
  moneyView,
  overviewView,
  stockView,
} from "./views.ts";
import { jsonResponse } from "../json_response.ts";

/** What the console pages read. */
export interface ConsoleRouteDeps {
  db: Database;
  clock: Clock;
  config: ConsoleConfig;
  console: StoreConsole;
  health: () => Promise<HealthReport>;
}

// The page only loads its own script and style; nothing inline runs.
const HTML_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
};

function startOfLocalDay(now: Date): Date {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate());
}

const DAY_MS = 24 * 3_600_000;

async function labelHistory(db: Database, now: Date): Promise<LabelHistory> {
  const samples = await labelFreshnessSince(db, new Date(now.getTime() - DAY_MS));
  const { fresh, stale, unknown } = await labelSummary(db);
  return { samples, everyMs: LABEL_SAMPLE_EVERY_MS, current: { fresh, stale, unknown } };
}

async function renderMain(
  deps: ConsoleRouteDeps,
  view: ViewName,
  lang: Lang,
  url: URL,
  health: HealthReport,
): Promise<string> {
  const { db } = deps;
  const now = new Date(deps.clock.now());
  switch (view) {
    case "overview": {
      const up = health.database.state === "up";
      const devices = up ? await listDevices(db) : [];
      const dayStart = startOfLocalDay(now);
      return overviewView(lang, {
        shopId: deps.config.shopId,
        health,
        sales: up ? await salesSince(db, dayStart) : null,
        dayStart,
        now,
        labels: up ? await labelHistory(db, now) : null,
        alerts: await deps.console.alerts(health),
        devices: { online: devices.filter((d) => d.online).length, total: devices.length },
      });
    }
    case "devices": {
      const window = await currentTeachIn(db, now);
      return devicesView(lang, {
        devices: (await listDevices(db)).map(deviceView),
        labelsServed: await labelsPerStation(db),
        teachIn: {
          open: window !== undefined,
          closesAt: window?.closesAt.toISOString() ?? null,
          admitted: window ? (await taughtInSince(db, window.openedAt)).map(deviceView) : [],
        },
      });
    }
    case "labels": {
      const q = url.searchParams.get("q") ?? "";
      const state = url.searchParams.get("state");
      const rows = await labelRows(db, {
        q,
        state: state === "fresh" || state === "stale" || state === "unknown"
          ? state as LabelState
          : undefined,
      });
      return labelsView(lang, rows, q, await labelHistory(db, now), now);
    }
    case "stock":
      return stockView(lang, await readStock(db, deps.config));
    case "money":
      return moneyView(lang, {
        ...await readMoney(db),
        paymentConfigured: health.payment.state !== "off",
      });
    case "audit": {
      const entries = await recentAudit(db, 200);
      return auditView(lang, { entries, goodsNames: await goodsNames(db, auditGoodsIds(entries)) });
    }
  }
}

/**
 * What the console answers a caller the read guard refused (beyond loopback, no token yet): its
 * script and style (nothing secret in them), and for a browser asking for a page, that page's
 * frame with only the token field (401), so the token can be given at all. Undefined otherwise.
 */
export function consoleForStranger(request: Request, shopId: string): Response | undefined {
  const path = new URL(request.url).pathname;
  if (path === "/console/app.css" || path === "/console/app.js") return asset(path);
  const wantsPage = VIEWS.some((v) => v.path === path) &&
    (request.headers.get("accept") ?? "").includes("text/html");
  if (!wantsPage) return undefined;
  const lang = pickLanguage(request);
  const w = words(lang);
  const main = `<section id="token-needed"><h2>${esc(w.token)}</h2><p>${
    esc(w.tokenNeeded)
  }</p></section>`;
  return new Response(layout(lang, "overview", shopId, main, "login"), {
    status: 401,
    headers: HTML_HEADERS,
  });
}

function asset(path: string): Response {
  return path === "/console/app.css"
    ? new Response(CONSOLE_CSS, {
      headers: { "content-type": "text/css; charset=utf-8", "cache-control": "no-cache" },
    })
    : new Response(CONSOLE_JS, {
      headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" },
    });
}

/**
 * Answers a console request, or undefined when the path is not the console's. The caller has
 * already applied the read guard.
 */
export async function consoleRoute(
  deps: ConsoleRouteDeps,
  request: Request,
): Promise<Response | undefined> {
  const url = new URL(request.url);
  const path = url.pathname;
  if (path === "/console/app.css" || path === "/console/app.js") return asset(path);
  if (path === "/events") return deps.console.events();
  if (path === "/alerts") {
    const alerts = await deps.console.alerts();
    return jsonResponse({ alerts, bounds: deps.console.bounds });
  }
  const view = VIEWS.find((v) => v.path === path);
  if (!view) return undefined;
  const lang = pickLanguage(request);
  const health = await deps.health();
  const status = health.status === "ok" ? 200 : 503;
  const headers: Record<string, string> = { ...HTML_HEADERS };
  const asked = url.searchParams.get("lang");
  if (asked === "zh" || asked === "en") {
    headers["set-cookie"] = `lang=${asked}; Path=/; Max-Age=31536000; SameSite=Strict`;
  }
  // With the database down only the Overview can say something useful.
  const main = health.database.state === "up" || view.name === "overview"
    ? await renderMain(deps, view.name, lang, url, health)
    : overviewView(lang, {
      shopId: deps.config.shopId,
      health,
      sales: null,
      dayStart: startOfLocalDay(new Date(deps.clock.now())),
      now: new Date(deps.clock.now()),
      labels: null,
      alerts: await deps.console.alerts(health),
      devices: { online: 0, total: 0 },
    });
  const html = url.searchParams.get("part") === "main"
    ? main
    : layout(lang, view.name, deps.config.shopId, main);
  return new Response(html, { status, headers });
}
