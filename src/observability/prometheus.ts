import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * The part of prom-client's API Keygate uses (`Registry`, `Counter`, `Gauge`, `Histogram`,
 * `collectDefaultMetrics`), with the same names, options and text output, so that
 * `metrics.ts` moves to prom-client by changing its import and deleting this file. Kept here
 * while prom-client is not among the installed dependencies.
 *
 * Children made by `labels(...)` are kept per label-value tuple: callers on hot paths bind them
 * once and call `inc()` / `observe()` on the child, which allocates nothing.
 */

type Collect = () => void | Promise<void>;

interface MetricOptions<T extends string> {
  name: string;
  help: string;
  labelNames?: readonly T[];
  registers?: Registry[];
}

interface Metric {
  readonly name: string;
  render(): Promise<string>;
}

/**
 * Holds metrics and renders them in the Prometheus text exposition format 0.0.4.
 *
 * @example
 * const registry = new Registry();
 * new Counter({ name: 'jobs_total', help: 'Jobs done.', registers: [registry] }).inc();
 * await registry.metrics(); // "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 1\n"
 */
export class Registry {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  private readonly metricsByName = new Map<string, Metric>();

  registerMetric(metric: Metric): void {
    if (this.metricsByName.has(metric.name)) throw new Error(`A metric with the name ${metric.name} has already been registered.`);
    this.metricsByName.set(metric.name, metric);
  }

  async metrics(): Promise<string> {
    const parts: string[] = [];
    for (const metric of this.metricsByName.values()) parts.push(await metric.render());
    return parts.join('\n') + '\n';
  }
}

abstract class BaseMetric<T extends string, Child> implements Metric {
  readonly name: string;
  protected readonly help: string;
  protected readonly labelNames: readonly T[];
  protected readonly children = new Map<string, { values: readonly string[]; child: Child }>();
  private readonly collectFn: Collect | undefined;

  constructor(options: MetricOptions<T> & { collect?: Collect }, private readonly type: string) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    this.collectFn = options.collect;
    for (const registry of options.registers ?? []) registry.registerMetric(this);
  }

  /** The child for these label values (in `labelNames` order), made at its first use. */
  labels(...values: string[]): Child {
    if (values.length !== this.labelNames.length) throw new Error(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
    const key = values.join('\u0000');
    let entry = this.children.get(key);
    if (entry === undefined) {
      entry = { values: [...values], child: this.newChild() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  async render(): Promise<string> {
    if (this.collectFn) await this.collectFn.call(this);
    const lines = [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} ${this.type}`];
    for (const { values, child } of this.children.values()) this.renderChild(lines, values, child);
    return lines.join('\n');
  }

  protected labelText(values: readonly string[], extra?: [string, string]): string {
    const pairs = this.labelNames.map((name, i) => `${name}="${escapeLabel(values[i]!)}"`);
    if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
    return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
  }

  protected abstract newChild(): Child;
  protected abstract renderChild(lines: string[], values: readonly string[], child: Child): void;
}

interface CounterChild {
  inc(value?: number): void;
}

/** A monotonic count. */
export class Counter<T extends string = string> extends BaseMetric<T, CounterChild & { value: number }> {
  constructor(options: MetricOptions<T> & { collect?: Collect }) {
    super(options, 'counter');
    if (this.labelNames.length === 0) this.labels();
  }

  inc(value = 1): void {
    this.labels().inc(value);
  }

  protected newChild(): CounterChild & { value: number } {
    return {
      value: 0,
      inc(by = 1) {
        if (by < 0) throw new Error('It is not possible to decrease a counter');
        this.value += by;
      },
    };
  }

  protected renderChild(lines: string[], values: readonly string[], child: { value: number }): void {
    lines.push(`${this.name}${this.labelText(values)} ${formatNumber(child.value)}`);
  }
}

interface GaugeChild {
  set(value: number): void;
}

/** A value read at scrape time (usually set by `collect`). */
export class Gauge<T extends string = string> extends BaseMetric<T, GaugeChild & { value: number }> {
  constructor(options: MetricOptions<T> & { collect?: (this: Gauge<T>) => void | Promise<void> }) {
    super(options as MetricOptions<T> & { collect?: Collect }, 'gauge');
    if (this.labelNames.length === 0) this.labels();
  }

  set(value: number): void {
    this.labels().set(value);
  }

  protected newChild(): GaugeChild & { value: number } {
    return {
      value: 0,
      set(value: number) {
        this.value = value;
      },
    };
  }

  protected renderChild(lines: string[], values: readonly string[], child: { value: number }): void {
    lines.push(`${this.name}${this.labelText(values)} ${formatNumber(child.value)}`);
  }
}

interface HistogramChild {
  observe(value: number): void;
}

interface HistogramState extends HistogramChild {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into fixed buckets (upper bounds, seconds for durations). */
export class Histogram<T extends string = string> extends BaseMetric<T, HistogramState> {
  private readonly buckets: readonly number[];

  constructor(options: MetricOptions<T> & { buckets?: readonly number[] }) {
    super(options, 'histogram');
    this.buckets = [...(options.buckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])].sort((a, b) => a - b);
    if (this.labelNames.length === 0) this.labels();
  }

  observe(value: number): void {
    this.labels().observe(value);
  }

  protected newChild(): HistogramState {
    const buckets = this.buckets;
    return {
      counts: buckets.map(() => 0),
      sum: 0,
      count: 0,
      observe(value: number) {
        // Counted in the first bucket that holds it; the output accumulates.
        let i = 0;
        while (i < buckets.length && value > buckets[i]!) i++;
        if (i < buckets.length) this.counts[i]! += 1;
        this.sum += value;
        this.count += 1;
      },
    };
  }

  protected renderChild(lines: string[], values: readonly string[], child: HistogramState): void {
    let cumulative = 0;
    this.buckets.forEach((bound, i) => {
      cumulative += child.counts[i]!;
      lines.push(`${this.name}_bucket${this.labelText(values, ['le', formatNumber(bound)])} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket${this.labelText(values, ['le', '+Inf'])} ${child.count}`);
    lines.push(`${this.name}_sum${this.labelText(values)} ${formatNumber(child.sum)}`);
    lines.push(`${this.name}_count${this.labelText(values)} ${child.count}`);
  }
}

/**
 * The process metrics prom-client calls default metrics, under the same names: CPU seconds,
 * resident memory, heap, start time, event-loop delay and the Node.js version.
 *
 * @example
 * const registry = new Registry();
 * collectDefaultMetrics({ register: registry });
 */
export function collectDefaultMetrics(options: { register: Registry }): void {
  const registers = [options.register];
  const startedAt = Math.round(Date.now() / 1000 - process.uptime());
  // Totals since the process started, as prom-client reports them.
  let cpuBefore = { user: 0, system: 0 };
  // Rendered in registration order: the first of the three reads the CPU for all of them.
  const user: Counter = new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers,
    collect() {
      const usage = process.cpuUsage();
      const userSeconds = (usage.user - cpuBefore.user) / 1e6;
      const systemSeconds = (usage.system - cpuBefore.system) / 1e6;
      cpuBefore = usage;
      user.inc(userSeconds);
      system.inc(systemSeconds);
      total.inc(userSeconds + systemSeconds);
    },
  });
  const system = new Counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', registers });
  const total = new Counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', registers });
  new Gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.', registers }).set(startedAt);
  new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes.',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: 'nodejs_heap_size_total_bytes',
    help: 'Process heap size from Node.js in bytes.',
    registers,
    collect() {
      const memory = process.memoryUsage();
      this.set(memory.heapTotal);
      heapUsed.set(memory.heapUsed);
    },
  });
  const heapUsed = new Gauge({ name: 'nodejs_heap_size_used_bytes', help: 'Process heap size used from Node.js in bytes.', registers });
  const delay = eventLoopDelay();
  new Gauge({
    name: 'nodejs_eventloop_lag_p99_seconds',
    help: 'The 99th percentile of the event loop delays recorded since the last scrape, in seconds.',
    registers,
    collect() {
      this.set(delay.count === 0 ? 0 : delay.percentile(99) / 1e9);
      delay.reset();
    },
  });
  new Gauge({ name: 'nodejs_version_info', help: 'Node.js version info.', labelNames: ['version', 'major', 'minor', 'patch'], registers })
    .labels(process.version, ...process.versions.node.split('.'))
    .set(1);
}

let processDelay: IntervalHistogram | undefined;

/** One event-loop delay monitor per process, however many registries read it. */
function eventLoopDelay(): IntervalHistogram {
  if (processDelay === undefined) {
    processDelay = monitorEventLoopDelay({ resolution: 10 });
    processDelay.enable();
  }
  return processDelay;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
