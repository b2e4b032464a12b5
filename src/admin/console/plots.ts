/**
 * The console's two plots, drawn on the server as inline SVG (no script, no CDN; the style sheet
 * colours them): today's paid amount per hour, and the shelf labels by freshness over the last
 * 24 hours. Pure: each draws what it is given. Times on the axes are the appliance's local time,
 * the store's (the same day as "today's sales").
 *
 * @module
 */
import type { FreshnessSample } from "../../store/label_freshness.ts";
import type { HourSales } from "../../store/money_owed.ts";
import { type Lang, words } from "./i18n.ts";
import { esc } from "./html.ts";

const WIDTH = 560;
const HEIGHT = 180;
const LEFT = 46;
const RIGHT = 10;
const TOP = 10;
const BOTTOM = 24;
const PLOT_W = WIDTH - LEFT - RIGHT;
const PLOT_H = HEIGHT - TOP - BOTTOM;
// A non-fresh count is never thinner than this: three stale labels among 5,000 stay visible.
const MIN_VISIBLE_PX = 2;

/** The smallest 1, 2 or 5 × 10^k at or above `value` (the top of an axis). */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function round(n: number): string {
  return String(Math.round(n * 10) / 10);
}

function hhmm(d: Date): string {
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function yAxis(top: number): string {
  const ticks = [0, top / 2, top].map((v) => {
    const y = TOP + PLOT_H - (v / top) * PLOT_H;
    return `<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${round(y)}" y2="${
      round(y)
    }"/><text x="${LEFT - 6}" y="${round(y + 4)}" text-anchor="end">${v}</text>`;
  });
  return ticks.join("") +
    `<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${TOP + PLOT_H}" y2="${
      TOP + PLOT_H
    }"/>`;
}

function frame(id: string, caption: string, body: string, after = ""): string {
  return `<figure class="plot" id="${id}"><figcaption>${esc(caption)}</figcaption>
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${
    esc(caption)
  }" xmlns="http://www.w3.org/2000/svg">${body}</svg>${after}</figure>`;
}

/**
 * Today's paid amount per hour: one bar per hour since local midnight, the current hour darker,
 * each bar's exact figures on hover.
 */
export function salesPlot(lang: Lang, hours: HourSales[], dayStart: Date, now: Date): string {
  const w = words(lang);
  const slots = 24;
  const slotW = PLOT_W / slots;
  const top = niceCeiling(Math.max(0, ...hours.map((h) => Number(h.amount))));
  const nowHour = Math.floor((now.getTime() - dayStart.getTime()) / 3_600_000);
  const bars = hours.filter((h) => h.hour >= 0 && h.hour < slots).map((h) => {
    const height = Math.max(Number(h.amount) > 0 ? 1 : 0, (Number(h.amount) / top) * PLOT_H);
    const x = LEFT + h.hour * slotW + slotW * 0.15;
    const from = new Date(dayStart.getTime() + h.hour * 3_600_000);
    const until = new Date(from.getTime() + 3_600_000);
    return `<rect class="bar${h.hour === nowHour ? " now" : ""}" data-hour="${h.hour}" x="${
      round(x)
    }" y="${round(TOP + PLOT_H - height)}" width="${round(slotW * 0.7)}" height="${
      round(height)
    }"><title>${hhmm(from)}–${hhmm(until)} · ${esc(w.ordersCount)} ${h.orders} · ${
      esc(w.amountPaid)
    } ${esc(h.amount)}</title></rect>`;
  });
  const ticks = [0, 6, 12, 18, 24].map((hour) =>
    `<text x="${round(LEFT + hour * slotW)}" y="${HEIGHT - 6}" text-anchor="${
      hour === 0 ? "start" : hour === 24 ? "end" : "middle"
    }">${String(hour).padStart(2, "0")}:00</text>`
  );
  const empty = hours.length === 0
    ? `<text class="empty" x="${LEFT + PLOT_W / 2}" y="${TOP + PLOT_H / 2}" text-anchor="middle">${
      esc(w.noSalesToday)
    }</text>`
    : "";
  return frame(
    "sales-by-hour",
    w.salesByHour,
    yAxis(top) + bars.join("") + ticks.join("") + empty,
  );
}

/** What the labels are now, for the legend under the freshness plot. */
export interface LabelCounts {
  fresh: number;
  stale: number;
  unknown: number;
}

/**
 * Shelf labels by freshness over the 24 hours before `now`: one stacked column per sample (stale
 * at the bottom, then unknown, then fresh), a gap where no sample was taken (the appliance was
 * off), the counts on hover, and the labels' state now in the legend.
 */
export function freshnessPlot(
  lang: Lang,
  samples: FreshnessSample[],
  now: Date,
  everyMs: number,
  current: LabelCounts,
): string {
  const w = words(lang);
  const spanMs = 24 * 3_600_000;
  const start = now.getTime() - spanMs;
  const xOf = (t: number) => LEFT + ((t - start) / spanMs) * PLOT_W;
  const top = niceCeiling(Math.max(0, ...samples.map((s) => s.fresh + s.stale + s.unknown)));
  const columnW = Math.max(1, (everyMs / spanMs) * PLOT_W);
  const columns = samples.filter((s) => s.at.getTime() > start).map((s) => {
    const px = (n: number) => n > 0 ? Math.max(MIN_VISIBLE_PX, (n / top) * PLOT_H) : 0;
    const stale = px(s.stale);
    const unknown = px(s.unknown);
    const total = ((s.fresh + s.stale + s.unknown) / top) * PLOT_H;
    const fresh = Math.max(0, total - stale - unknown);
    const x = round(Math.max(LEFT, xOf(s.at.getTime()) - columnW));
    const width = round(columnW);
    const bottom = TOP + PLOT_H;
    const part = (cls: string, y: number, h: number) =>
      h > 0
        ? `<rect class="${cls}" x="${x}" y="${round(y)}" width="${width}" height="${round(h)}"/>`
        : "";
    return `<g class="sample" data-at="${s.at.toISOString()}" data-stale="${s.stale}"><title>${
      hhmm(s.at)
    } · ${esc(w.fresh)} ${s.fresh} · ${esc(w.staleShort)} ${s.stale} · ${
      esc(w.unknown)
    } ${s.unknown}</title>${part("stale", bottom - stale, stale)}${
      part("unknown", bottom - stale - unknown, unknown)
    }${part("fresh", bottom - stale - unknown - fresh, fresh)}</g>`;
  });
  // Ticks on whole local hours divisible by 6 (and "now" at the right edge).
  const ticks: string[] = [];
  const first = new Date(start);
  first.setMinutes(0, 0, 0);
  for (let t = first.getTime() + 3_600_000; t < now.getTime() - 3_600_000; t += 3_600_000) {
    if (new Date(t).getHours() % 6 !== 0) continue;
    ticks.push(
      `<text x="${round(xOf(t))}" y="${HEIGHT - 6}" text-anchor="middle">${
        hhmm(new Date(t))
      }</text>`,
    );
  }
  ticks.push(
    `<text x="${WIDTH - RIGHT}" y="${HEIGHT - 6}" text-anchor="end">${esc(w.labelsNow)}</text>`,
  );
  const empty = samples.length === 0
    ? `<text class="empty" x="${LEFT + PLOT_W / 2}" y="${TOP + PLOT_H / 2}" text-anchor="middle">${
      esc(w.noSamples)
    }</text>`
    : "";
  const legend = `<p class="legend">${
    (["fresh", "stale", "unknown"] as const).map((state) =>
      `<span data-state="${state}"><i class="${state}"></i>${
        esc(state === "stale" ? w.staleShort : w[state])
      } <b>${current[state]}</b></span>`
    ).join("")
  }</p>`;
  return frame(
    "labels-freshness",
    w.freshnessDay,
    yAxis(top) + columns.join("") + ticks.join("") + empty,
    legend,
  );
}
