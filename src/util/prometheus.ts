/**
 * A small Prometheus text-format (0.0.4) registry: counters, gauges and histograms with labels,
 * plus process metrics. Written for Reestr instead of prom-client, which alone added about
 * 20 MiB to the server's resident memory for features we do not use.
 */
type Labels = Record<string, string | number>;

/** Histogram buckets (seconds) for registry scan passes, from sub-second rescans to 10-minute scans. */
export const SCAN_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

interface Metric {
  render(): Promise<string> | string;
}

function escapeLabel(value: string | number): string {
  return String(value).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelText(labels: Labels | undefined, extra?: [string, string]): string {
  const pairs = Object.entries(labels ?? {}).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function labelKey(labels: Labels | undefined): string {
  return labels ? JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))) : "";
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\n/g, " ")}\n# TYPE ${name} ${type}\n`;
}

export class MetricsRegistry implements Metric {
  readonly contentType = "text/plain; version=0.0.4; charset=utf-8";
  readonly #metrics: Metric[] = [];

  register<T extends Metric>(metric: T): T {
    this.#metrics.push(metric);
    return metric;
  }

  async render(): Promise<string> {
    const parts = await Promise.all(this.#metrics.map((m) => m.render()));
    return parts.join("");
  }

  counter(name: string, help: string): Counter {
    return this.register(new Counter(name, help));
  }

  gauge(name: string, help: string, collect?: () => number | Promise<number>): Gauge {
    return this.register(new Gauge(name, help, collect));
  }

  /** A gauge set only by series (`set(value, labels)`): no unlabelled sample, just the header until set. */
  labelledGauge(name: string, help: string): Gauge {
    return this.register(new Gauge(name, help, undefined, { labelled: true }));
  }

  histogram(name: string, help: string, buckets: number[]): Histogram {
    return this.register(new Histogram(name, help, buckets));
  }
}

export class Counter implements Metric {
  readonly #values = new Map<string, { labels?: Labels; value: number }>();
  readonly name: string;
  readonly #help: string;

  constructor(name: string, help: string) {
    this.name = name;
    this.#help = help;
  }

  inc(amount = 1, labels?: Labels): void {
    if (!(amount >= 0)) return; // counters never go down
    const key = labelKey(labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += amount;
    else this.#values.set(key, { labels, value: amount });
  }

  get(labels?: Labels): number {
    return this.#values.get(labelKey(labels))?.value ?? 0;
  }

  render(): string {
    let text = header(this.name, this.#help, "counter");
    if (this.#values.size === 0) text += `${this.name} 0\n`;
    for (const { labels, value } of this.#values.values())
      text += `${this.name}${labelText(labels)} ${value}\n`;
    return text;
  }
}

export class Gauge implements Metric {
  readonly name: string;
  readonly #help: string;
  readonly #collect?: () => number | Promise<number>;
  #value = 0;
  readonly #labelled = new Map<string, { labels: Labels; value: number }>();
  readonly #labelledOnly: boolean;

  constructor(
    name: string,
    help: string,
    collect?: () => number | Promise<number>,
    options: { labelled?: boolean } = {},
  ) {
    this.name = name;
    this.#help = help;
    this.#collect = collect;
    this.#labelledOnly = options.labelled ?? false;
  }

  /** Sets the gauge, or with labels the series of those labels (a labelled gauge renders only its series). */
  set(value: number, labels?: Labels): void {
    if (labels === undefined || Object.keys(labels).length === 0) {
      this.#value = value;
      return;
    }
    const key = labelKey(labels);
    const entry = this.#labelled.get(key);
    if (entry) entry.value = value;
    else this.#labelled.set(key, { labels, value });
  }

  get(labels?: Labels): number {
    if (labels === undefined || Object.keys(labels).length === 0) return this.#value;
    return this.#labelled.get(labelKey(labels))?.value ?? 0;
  }

  /** Drops the series whose labels include all of `match` (an object that no longer exists). */
  remove(match: Labels): number {
    let removed = 0;
    for (const [key, { labels }] of this.#labelled) {
      if (Object.entries(match).every(([name, value]) => labels[name] === value)) {
        this.#labelled.delete(key);
        removed++;
      }
    }
    return removed;
  }

  async render(): Promise<string> {
    if (this.#collect) this.#value = await this.#collect();
    let text = header(this.name, this.#help, "gauge");
    if (this.#collect || (this.#labelled.size === 0 && !this.#labelledOnly)) {
      return `${text}${this.name} ${this.#value}\n`;
    }
    for (const { labels, value } of this.#labelled.values())
      text += `${this.name}${labelText(labels)} ${value}\n`;
    return text;
  }
}

export class Histogram implements Metric {
  readonly name: string;
  readonly #help: string;
  readonly #buckets: number[];
  readonly #series = new Map<string, { labels?: Labels; counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, buckets: number[]) {
    this.name = name;
    this.#help = help;
    this.#buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(value: number, labels?: Labels): void {
    const key = labelKey(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels, counts: new Array(this.#buckets.length).fill(0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    // Counts are stored per bucket and made cumulative when rendered: one increment here.
    const index = this.#buckets.findIndex((bound) => value <= bound);
    if (index !== -1) series.counts[index]!++;
    series.sum += value;
    series.count++;
  }

  render(): string {
    let text = header(this.name, this.#help, "histogram");
    for (const { labels, counts, sum, count } of this.#series.values()) {
      let cumulative = 0;
      this.#buckets.forEach((bound, i) => {
        cumulative += counts[i]!;
        text += `${this.name}_bucket${labelText(labels, ["le", String(bound)])} ${cumulative}\n`;
      });
      text += `${this.name}_bucket${labelText(labels, ["le", "+Inf"])} ${count}\n`;
      text += `${this.name}_sum${labelText(labels)} ${sum}\n`;
      text += `${this.name}_count${labelText(labels)} ${count}\n`;
    }
    return text;
  }
}

/** The standard process_* metrics and a few Node.js ones. */
export class ProcessMetrics implements Metric {
  readonly #startTime = Math.round(Date.now() / 1000 - process.uptime());

  render(): string {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    const lines: [string, string, string, number][] = [
      ["process_cpu_user_seconds_total", "counter", "User CPU time spent in seconds.", cpu.user / 1e6],
      ["process_cpu_system_seconds_total", "counter", "System CPU time spent in seconds.", cpu.system / 1e6],
      [
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        (cpu.user + cpu.system) / 1e6,
      ],
      ["process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", memory.rss],
      [
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        this.#startTime,
      ],
      ["nodejs_heap_size_total_bytes", "gauge", "Process heap size from Node.js in bytes.", memory.heapTotal],
      [
        "nodejs_heap_size_used_bytes",
        "gauge",
        "Process heap size used from Node.js in bytes.",
        memory.heapUsed,
      ],
      ["nodejs_external_memory_bytes", "gauge", "Node.js external memory size in bytes.", memory.external],
    ];
    return lines.map(([name, type, help, value]) => `${header(name, help, type)}${name} ${value}\n`).join("");
  }
}
