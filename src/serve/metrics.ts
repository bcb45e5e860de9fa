/**
 * The few Prometheus metric types the server needs (counter, gauge,
 * histogram), rendered in the text exposition format 0.0.4.
 */

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

/** The identity of a label set, whatever the order of its names (cheap for none or one label: this runs per request). */
function key(labels: Labels): string {
  let names: string[] | null = null;
  for (const name in labels) {
    if (names) names.push(name);
    else names = [name];
  }
  if (!names) return '';
  // Label names are identifiers, so a single-label key never starts with '[' as the general one does.
  if (names.length === 1) return `${names[0]}\u0000${labels[names[0]]}`;
  return JSON.stringify(names.sort().map((n) => [n, labels[n]]));
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels).value += by;
  }
  /** The series of a label set, to keep and `inc` without looking it up again (it shows once incremented). */
  child(labels: Labels = {}): { inc(by?: number): void } {
    const k = key(labels);
    let e = this.values.get(k);
    return {
      inc: (by = 1) => {
        e ??= this.entry(labels, k);
        e.value += by;
      },
    };
  }
  private entry(labels: Labels, k = key(labels)): { labels: Labels; value: number } {
    let e = this.values.get(k);
    if (!e) {
      e = { labels: { ...labels }, value: 0 };
      this.values.set(k, e);
    }
    return e;
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels))?.value ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelText(labels)} ${num(value)}`);
    return lines.join('\n');
  }
}

export class Gauge implements Metric {
  private values = new Map<string, { labels: Labels; value: number | (() => number) }>();
  constructor(readonly name: string, readonly help: string) {}
  set(value: number | (() => number), labels: Labels = {}): void {
    this.values.set(key(labels), { labels, value });
  }
  inc(by = 1, labels: Labels = {}): void {
    const e = this.values.get(key(labels));
    if (e && typeof e.value === 'number') e.value += by;
    else this.set(this.get(labels) + by, labels);
  }
  dec(by = 1, labels: Labels = {}): void {
    this.inc(-by, labels);
  }
  get(labels: Labels = {}): number {
    const e = this.values.get(key(labels));
    if (!e) return 0;
    return typeof e.value === 'function' ? e.value() : e.value;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelText(labels)} ${num(typeof value === 'function' ? value() : value)}`);
    return lines.join('\n');
  }
}

interface HistogramSeries {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram implements Metric {
  private series = new Map<string, HistogramSeries>();
  readonly buckets: number[];
  constructor(readonly name: string, readonly help: string, buckets: number[]) {
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  observe(value: number, labels: Labels = {}): void {
    this.record(this.seriesOf(labels, key(labels)), value);
  }
  /** The series of a label set, to keep and `observe` without looking it up again (it shows once observed). */
  child(labels: Labels = {}): { observe(value: number): void } {
    const k = key(labels);
    let series = this.series.get(k);
    return {
      observe: (value: number) => this.record((series ??= this.seriesOf(labels, k)), value),
    };
  }
  private seriesOf(labels: Labels, k: string): HistogramSeries {
    let s = this.series.get(k);
    if (!s) {
      s = { labels: { ...labels }, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    return s;
  }
  private record(s: HistogramSeries, value: number): void {
    const buckets = this.buckets;
    // Buckets are cumulative and sorted: count from the first one the value fits (none for NaN).
    let i = 0;
    while (i < buckets.length && !(value <= buckets[i])) i++;
    for (; i < buckets.length; i++) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  count(labels: Labels = {}): number {
    return this.series.get(key(labels))?.count ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${labelText(s.labels, ['le', num(b)])} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

/** A summary-like gauge family computed at scrape time (quantiles of a node:perf_hooks histogram). */
export class Computed implements Metric {
  constructor(readonly name: string, readonly help: string, readonly type: 'gauge' | 'summary', private readonly sample: () => Array<[Labels, number]>) {}
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [labels, v] of this.sample()) lines.push(`${this.name}${labelText(labels)} ${num(v)}`);
    return lines.join('\n');
  }
}

export class Registry {
  private metrics: Metric[] = [];
  add<T extends Metric>(m: T): T {
    this.metrics.push(m);
    return m;
  }
  render(): string {
    return this.metrics.map((m) => m.render()).join('\n') + '\n';
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
