/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: every line must
 * be a `# HELP`, a `# TYPE` or a sample of a declared family; names, labels, escapes and values
 * are checked; histogram buckets must be cumulative with `+Inf` equal to `_count`. Throws on the
 * first violation with the line number.
 *
 * @module
 */

/** One sample. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition. */
export interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
  /** The value of one series (undefined when absent). Labels must match exactly. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum over every series of a name whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, where: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    throw new Error(`${where}: bad value ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`${where}: label without '='`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name ${name}`);
    if (name in labels) throw new Error(`${where}: duplicate label ${name}`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label value not quoted`);
    let j = eq + 2;
    let value = "";
    for (;;) {
      if (j >= text.length) throw new Error(`${where}: unterminated label value`);
      const c = text[j];
      if (c === "\\") {
        const n = text[j + 1];
        if (n === "\\") value += "\\";
        else if (n === '"') value += '"';
        else if (n === "n") value += "\n";
        else throw new Error(`${where}: bad escape \\${n}`);
        j += 2;
      } else if (c === '"') {
        j++;
        break;
      } else {
        value += c;
        j++;
      }
    }
    labels[name] = value;
    if (j === text.length) break;
    if (text[j] !== ",") throw new Error(`${where}: expected ',' between labels`);
    i = j + 1;
  }
  return labels;
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (types.get(base) === "histogram" || types.get(base) === "summary") return base;
    }
  }
  return undefined;
}

function matches(labels: Record<string, string>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

/** Parses (and validates) an exposition. */
export function parsePrometheus(text: string): Exposition {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.startsWith("# HELP ")) {
      const m = /^# HELP (\S+) (.*)$/.exec(line);
      if (!m || !NAME.test(m[1])) throw new Error(`${where}: bad HELP`);
      if (help.has(m[1])) throw new Error(`${where}: second HELP for ${m[1]}`);
      help.set(m[1], m[2]);
      return;
    }
    if (line.startsWith("# TYPE ")) {
      const m = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (!m || !NAME.test(m[1]) || !TYPES.has(m[2])) throw new Error(`${where}: bad TYPE`);
      if (types.has(m[1])) throw new Error(`${where}: second TYPE for ${m[1]}`);
      types.set(m[1], m[2]);
      return;
    }
    if (line.startsWith("#")) return;
    if (line.trim() === "") throw new Error(`${where}: empty line`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`${where}: not a sample: ${line}`);
    const [, name, labelText, valueText] = m;
    const family = familyOf(name, types);
    if (!family) throw new Error(`${where}: sample ${name} before its TYPE`);
    const labels = labelText ? parseLabels(labelText, where) : {};
    const id = name + JSON.stringify(Object.entries(labels).sort());
    if (seen.has(id)) throw new Error(`${where}: duplicate series ${id}`);
    seen.add(id);
    const value = parseValue(valueText, where);
    if (types.get(family) === "counter" && !(value >= 0)) {
      throw new Error(`${where}: counter ${name} is ${value}`);
    }
    samples.push({ name, labels, value });
  });

  for (const [family, type] of types) {
    if (type !== "histogram") continue;
    const groups = new Map<string, { le: number; value: number }[]>();
    for (const s of samples.filter((s) => s.name === `${family}_bucket`)) {
      if (!("le" in s.labels)) throw new Error(`${family}_bucket without le`);
      const { le, ...rest } = s.labels;
      const k = JSON.stringify(Object.entries(rest).sort());
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k)!.push({ le: parseValue(le, family), value: s.value });
    }
    for (const [k, buckets] of groups) {
      for (let i = 1; i < buckets.length; i++) {
        if (buckets[i].le <= buckets[i - 1].le) throw new Error(`${family}: buckets not ascending`);
        if (buckets[i].value < buckets[i - 1].value) {
          throw new Error(`${family}: buckets not cumulative`);
        }
      }
      const last = buckets[buckets.length - 1];
      if (last.le !== Infinity) throw new Error(`${family}: no +Inf bucket`);
      const rest = Object.fromEntries(JSON.parse(k));
      const count = samples.find((s) =>
        s.name === `${family}_count` && JSON.stringify(Object.entries(s.labels).sort()) === k
      );
      if (!count || count.value !== last.value) {
        throw new Error(`${family}${JSON.stringify(rest)}: +Inf bucket differs from _count`);
      }
    }
  }

  return {
    types,
    help,
    samples,
    value(name, labels = {}) {
      return samples.find((s) =>
        s.name === name && Object.keys(s.labels).length === Object.keys(labels).length &&
        matches(s.labels, labels)
      )?.value;
    },
    sum(name, labels = {}) {
      return samples.filter((s) => s.name === name && matches(s.labels, labels))
        .reduce((a, s) => a + s.value, 0);
    },
  };
}
