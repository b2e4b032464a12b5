/**
 * A small Prometheus metrics registry (counters, gauges, histograms with labels) and its text
 * exposition format. One registry per appliance, created in `main.ts` and passed in.
 *
 * @module
 */

/** Label names to values. */
export type Labels = Record<string, string>;

interface Instrument {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  render(): string[];
}

function labelText(labels: Labels, extra?: Labels): string {
  const all = { ...labels, ...extra };
  const parts = Object.entries(all).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function key(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

type Series = { labels: Labels; value: number };

/** One labelled series of a counter, bound once: counting into it skips the label look-up. */
export interface CounterSeries {
  /** Adds `by` (default 1). */
  inc(by?: number): void;
}

/** One labelled series of a histogram, bound once. */
export interface HistogramSeries {
  /** Records one observation. */
  observe(value: number): void;
}

/** What a counter and a gauge share: labelled values kept here or collected at scrape time. */
abstract class LabelledValues {
  #values = new Map<string, Series>();
  #collect?: () => Series[];

  constructor(readonly name: string, readonly help: string, collect?: () => Series[]) {
    this.#collect = collect;
  }

  /** The current value of one series (0 when never set). */
  get(labels: Labels = {}): number {
    if (this.#collect) {
      const k = key(labels);
      return this.#collect().find((s) => key(s.labels) === k)?.value ?? 0;
    }
    return this.#values.get(key(labels))?.value ?? 0;
  }

  /** Exposition lines. */
  render(): string[] {
    const series = this.#collect ? this.#collect() : [...this.#values.values()];
    return series.map((e) => `${this.name}${labelText(e.labels)} ${formatNumber(e.value)}`);
  }

  protected addTo(labels: Labels, by: number): void {
    this.entry(labels).value += by;
  }

  /** The series with these labels (created at 0). */
  protected entry(labels: Labels): Series {
    const k = key(labels);
    let entry = this.#values.get(k);
    if (!entry) this.#values.set(k, entry = { labels, value: 0 });
    return entry;
  }

  protected put(labels: Labels, value: number): void {
    this.#values.set(key(labels), { labels, value });
  }
}

/** A monotonically increasing count, counted here or read from a function at scrape time. */
export class Counter extends LabelledValues implements Instrument {
  readonly type = "counter";

  /**
   * @param name metric name (ends in `_total`) @param help one line
   * @param collect optional function returning the (monotonic) series at scrape time
   */
  constructor(name: string, help: string, collect?: () => Series[]) {
    super(name, help, collect);
  }

  /** Adds `by` (default 1) to the series with these labels. */
  inc(labels: Labels = {}, by = 1): void {
    this.addTo(labels, by);
  }

  /**
   * The series with these labels, for a caller that counts into it often (every device request):
   * shown from now on, at 0 until counted.
   */
  series(labels: Labels): CounterSeries {
    const entry = this.entry(labels);
    return {
      inc: (by = 1) => {
        entry.value += by;
      },
    };
  }
}

/** A value that goes up and down, set directly or read from a function at scrape time. */
export class Gauge extends LabelledValues implements Instrument {
  readonly type = "gauge";

  /**
   * @param name metric name @param help one line
   * @param collect optional function returning the series at scrape time
   */
  constructor(name: string, help: string, collect?: () => Series[]) {
    super(name, help, collect);
  }

  /** Sets the series with these labels. */
  set(value: number, labels: Labels = {}): void {
    this.put(labels, value);
  }

  /** Adds to the series with these labels. */
  add(by: number, labels: Labels = {}): void {
    this.addTo(labels, by);
  }
}

type HistogramData = { labels: Labels; counts: number[]; sum: number; count: number };

/** Observations counted into buckets (cumulative when rendered). */
export class Histogram implements Instrument {
  readonly type = "histogram";
  #series = new Map<string, HistogramData>();

  /** @param name metric name @param help one line @param buckets upper bounds, ascending */
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}

  #data(labels: Labels): HistogramData {
    const k = key(labels);
    let s = this.#series.get(k);
    if (!s) {
      // counts[i]: observations in bucket i alone (above bucket i - 1); the last one is +Inf.
      s = { labels, counts: new Array(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    return s;
  }

  #add(s: HistogramData, value: number): void {
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]) i++;
    s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** Records one observation. */
  observe(value: number, labels: Labels = {}): void {
    this.#add(this.#data(labels), value);
  }

  /** The series with these labels, for a caller that observes into it often. */
  series(labels: Labels): HistogramSeries {
    const s = this.#data(labels);
    return { observe: (value) => this.#add(s, value) };
  }

  /** Number of observations of one series. */
  count(labels: Labels = {}): number {
    return this.#series.get(key(labels))?.count ?? 0;
  }

  /** Exposition lines. */
  render(): string[] {
    const lines: string[] = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.buckets.forEach((b, i) => {
        cumulative += s.counts[i];
        lines.push(
          `${this.name}_bucket${labelText(s.labels, { le: formatNumber(b) })} ${cumulative}`,
        );
      });
      lines.push(`${this.name}_bucket${labelText(s.labels, { le: "+Inf" })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

/** A set of instruments rendered together. */
export class MetricsRegistry {
  #instruments: Instrument[] = [];

  /** Registers and returns a counter (optionally read at scrape time). */
  counter(
    name: string,
    help: string,
    collect?: () => { labels: Labels; value: number }[],
  ): Counter {
    return this.#add(new Counter(name, help, collect));
  }

  /** Registers and returns a gauge (optionally computed at scrape time). */
  gauge(name: string, help: string, collect?: () => { labels: Labels; value: number }[]): Gauge {
    return this.#add(new Gauge(name, help, collect));
  }

  /** Registers and returns a histogram. */
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  #add<T extends Instrument>(instrument: T): T {
    if (this.#instruments.some((i) => i.name === instrument.name)) {
      throw new Error(`metric ${instrument.name} registered twice`);
    }
    this.#instruments.push(instrument);
    return instrument;
  }

  /** The Prometheus text exposition (version 0.0.4) of every instrument. */
  render(): string {
    const lines: string[] = [];
    for (const i of this.#instruments) {
      lines.push(`# HELP ${i.name} ${i.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}`);
      lines.push(`# TYPE ${i.name} ${i.type}`);
      lines.push(...i.render());
    }
    return lines.join("\n") + "\n";
  }
}

/**
 * The latest result of a database read that gauges show (their collect functions are synchronous
 * and cannot wait for a query). {@link DatabaseReading.refresh} reads it, concurrent callers
 * sharing one read so scrapes never stack up queries behind a slow database; `value` is undefined
 * until the first successful read and keeps the last one after a failed read.
 */
export class DatabaseReading<T> {
  readonly #read: () => Promise<T>;
  #value: T | undefined;
  #refreshing: Promise<void> | undefined;

  /** @param read the query, run on each refresh */
  constructor(read: () => Promise<T>) {
    this.#read = read;
  }

  /** The last successful read, or undefined before the first. */
  get value(): T | undefined {
    return this.#value;
  }

  /** Reads anew (or joins the read under way); rejects when the read fails. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#read().then((value) => {
      this.#value = value;
    }).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }
}
