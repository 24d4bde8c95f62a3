import cluster, { type Worker } from 'node:cluster';
import { createServer, type AddressInfo } from 'node:net';
import { pino, type Logger as Pino } from 'pino';
import { AggregatorRegistry, Counter, Gauge, Registry, type Aggregator } from 'prom-client';
import type { Config } from '../config/schema.js';
import { prettyLogStream } from '../observability/pretty-log.js';

/*
 * `keygate start --workers N` (KEYGATE_WORKERS): a primary process that serves nothing itself and
 * N workers, each a whole Keygate on the same ports (node:cluster: the primary holds the listening
 * sockets and hands their connections to the workers in turn). Config validation refuses N > 1
 * without REDIS_URL, so everything that must agree across processes goes through Redis and the
 * database (docs/scale-out.md lists what stays per process).
 *
 * - The first worker starts alone: migrations, a generated master key file and the bootstrap root
 *   key (printed once) happen there exactly as in a single process; the others start once it is
 *   ready, so no two processes race through a first start, and the primary opens no store and no
 *   Redis connection of its own.
 * - A port given as 0 is chosen here, so that every worker listens on the same one.
 * - A worker that exits unexpectedly is replaced after a backoff (0.5 s, doubling to 30 s; back to
 *   0.5 s once a worker has served for a minute).
 * - SIGTERM or SIGINT: every worker is asked to stop (over IPC, not by a second signal, which
 *   Node's default would turn into an abrupt exit), finishes what is in flight and closes; the
 *   primary exits once all have. A second signal kills them.
 * - Metrics: whichever worker a scrape reaches (`METRICS_PORT` or the main port's /metrics) answers
 *   for the whole server: the primary collects every worker's registry and sums them.
 */

const RESTART_FIRST_DELAY_MS = 500;
const RESTART_MAX_DELAY_MS = 30_000;
/** A worker that served this long before it died starts the backoff over. */
const STABLE_AFTER_MS = 60_000;
/** How long stopping workers may take to finish their requests before they are killed. */
const STOP_TIMEOUT_MS = 30_000;
/** How long a scrape waits for one worker's registry before using that worker's previous answer. */
const SCRAPE_WORKER_TIMEOUT_MS = 2_000;
/** How long a worker waits for the primary's sum before its /metrics fails. */
const SCRAPE_TIMEOUT_MS = 10_000;

/**
 * How a metric of several workers is summed when plain addition is wrong. Counters, histograms,
 * queue sizes and pool counts add up; `keygate_redis_connected` is 0 as soon as one worker does
 * without Redis.
 */
const AGGREGATORS: Readonly<Record<string, Aggregator>> = { keygate_redis_connected: 'min' };

/** What the primary and its workers say to each other over the cluster's IPC channel. */
type Message =
  /** worker → primary: listening, ready for requests. */
  | { keygate: 'ready' }
  /** primary → worker: finish what is in flight and exit. */
  | { keygate: 'stop'; signal: string }
  /** worker → primary: the whole server's metrics, please; primary → worker: here they are. */
  | { keygate: 'metrics'; id: number; text?: string; error?: string }
  /** primary → worker: your registry, please; worker → primary: here it is. */
  | { keygate: 'registry'; id: number; metrics?: MetricJson[] };

/** One metric of `Registry.getMetricsAsJSON()`, as it crosses the IPC channel. */
interface MetricJson {
  name: string;
  type: string;
  aggregator: Aggregator;
  values: unknown[];
}

/** prom-client's typings call `type` an enum; at run time it is the metric type's name ('counter', 'histogram', …). */
function asJson(metrics: readonly object[]): MetricJson[] {
  return metrics as unknown as MetricJson[];
}

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as { keygate?: unknown }).keygate === 'string';
}

/**
 * Runs the primary of `keygate start --workers N`: chooses the ports, starts the first worker
 * alone and then the others, replaces workers that die, and stops them all on SIGTERM or SIGINT.
 * Resolves once every worker is ready (the process then lives on in its handlers).
 *
 * @example
 * if (config.workers > 1 && cluster.isPrimary) return superviseWorkers(config, { gatewayOnly: false });
 */
export async function superviseWorkers(config: Config, mode: { gatewayOnly: boolean }): Promise<void> {
  const log = primaryLogger(config);
  const { flags, url } = await choosePorts(config, mode);
  // Workers run this same command line; the ports chosen here come last, so they win.
  cluster.setupPrimary({ args: [...process.argv.slice(2), ...flags] });
  const supervisor = new Supervisor(config.workers, log);
  process.on('SIGINT', () => void supervisor.stop('SIGINT'));
  process.on('SIGTERM', () => void supervisor.stop('SIGTERM'));
  const failure = await supervisor.start();
  if (failure !== null) {
    await supervisor.stop('start-up failure');
    process.exit(failure);
  }
  if (supervisor.stopping === null) {
    log.info({ workers: config.workers, pids: supervisor.pids(), url }, `${config.workers} workers ready on ${url} (pids ${supervisor.pids().join(', ')}); SIGTERM stops them all`);
  }
}

class Supervisor {
  /** Set once a stop began: the signal (or reason) that began it. */
  stopping: string | null = null;
  private readonly alive = new Set<Worker>();
  private readonly ready = new Set<Worker>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly metrics: ClusterMetrics;
  /** Workers that died in a row, each soon after it started: the backoff's exponent. */
  private crashes = 0;
  private started = false;
  private allExited: (() => void) | null = null;

  constructor(
    private readonly count: number,
    private readonly log: Pino,
  ) {
    this.metrics = new ClusterMetrics(() => this.ready.size);
  }

  pids(): number[] {
    return [...this.ready].map((worker) => worker.process.pid!);
  }

  /** Starts the first worker, then the rest; null once all are ready, else the exit code to end with. */
  async start(): Promise<number | null> {
    this.log.info(`starting worker 1 of ${this.count} alone (migrations and first-start setup), then the others`);
    const first = await this.untilReady(this.fork());
    if (first !== null) return this.stopping === null ? this.startFailed(first) : null;
    const rest = await Promise.all(Array.from({ length: this.count - 1 }, () => this.untilReady(this.fork())));
    const failed = rest.find((outcome) => outcome !== null);
    if (failed) return this.stopping === null ? this.startFailed(failed) : null;
    this.started = true;
    return null;
  }

  /** Asks every worker to stop and resolves once all have exited; a second call kills them. */
  async stop(reason: string): Promise<void> {
    if (this.stopping !== null) {
      this.log.warn(`${reason} while stopping: killing ${this.alive.size} worker(s)`);
      for (const worker of this.alive) worker.process.kill('SIGKILL');
      return;
    }
    this.stopping = reason;
    for (const timer of this.timers) clearTimeout(timer);
    if (this.alive.size > 0) this.log.info(`${reason}: stopping ${this.alive.size} worker(s)`);
    const exited = new Promise<void>((resolve) => (this.alive.size === 0 ? resolve() : (this.allExited = resolve)));
    for (const worker of this.alive) {
      // A worker still starting has no stop handler yet, and nothing in flight: a signal ends it.
      if (!this.ready.has(worker) || !send(worker, { keygate: 'stop', signal: reason })) worker.process.kill('SIGTERM');
    }
    const deadline = setTimeout(() => {
      this.log.warn(`workers still running ${STOP_TIMEOUT_MS / 1000} s after ${reason}: killing them`);
      for (const worker of this.alive) worker.process.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(deadline);
    if (reason === 'SIGINT' || reason === 'SIGTERM') {
      this.log.info('all workers stopped');
      process.exit(0);
    }
  }

  private fork(): Worker {
    const worker = cluster.fork();
    const forkedAt = Date.now();
    this.alive.add(worker);
    worker.on('message', (message: unknown) => this.onMessage(worker, message));
    worker.once('exit', (code, signal) => this.onExit(worker, { code, signal, forkedAt }));
    return worker;
  }

  /** Null once the worker says it is ready; how it ended if it exits first. */
  private untilReady(worker: Worker): Promise<{ code: number | null; signal: string | null } | null> {
    return new Promise((resolve) => {
      const onMessage = (message: unknown): void => {
        if (isMessage(message) && message.keygate === 'ready') done(null);
      };
      const onExit = (code: number | null, signal: string | null): void => done({ code, signal });
      const done = (outcome: { code: number | null; signal: string | null } | null): void => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve(outcome);
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
    });
  }

  private startFailed(outcome: { code: number | null; signal: string | null }): number {
    // The worker has said why (a StartupError or a config problem, on stderr); this says what follows.
    this.log.error(`a worker exited during start-up (${describeExit(outcome)}): stopping`);
    return outcome.code !== null && outcome.code !== 0 ? outcome.code : 1;
  }

  private onMessage(worker: Worker, message: unknown): void {
    if (!isMessage(message)) return;
    if (message.keygate === 'ready') {
      this.ready.add(worker);
      this.log.info({ worker: worker.id, workerPid: worker.process.pid }, `worker ${worker.id} (pid ${worker.process.pid}) ready`);
      // Asked to stop while it was starting: it has a stop handler now.
      if (this.stopping !== null) send(worker, { keygate: 'stop', signal: this.stopping });
    } else if (message.keygate === 'metrics') {
      this.metrics.text([...this.ready]).then(
        (text) => send(worker, { keygate: 'metrics', id: message.id, text }),
        (err: unknown) => send(worker, { keygate: 'metrics', id: message.id, error: String(err) }),
      );
    } else if (message.keygate === 'registry' && message.metrics !== undefined) {
      this.metrics.answered(worker, message.id, message.metrics);
    }
  }

  private onExit(worker: Worker, exit: { code: number | null; signal: string | null; forkedAt: number }): void {
    const wasReady = this.ready.delete(worker);
    this.alive.delete(worker);
    this.metrics.retire(worker);
    if (this.stopping !== null) {
      if (this.alive.size === 0) this.allExited?.();
      return;
    }
    // A worker failing its first start is start()'s to report; one that had served is replaced.
    if (!this.started && !wasReady) return;
    if (Date.now() - exit.forkedAt >= STABLE_AFTER_MS) this.crashes = 0;
    const delay = Math.min(RESTART_MAX_DELAY_MS, RESTART_FIRST_DELAY_MS * 2 ** this.crashes);
    this.crashes += 1;
    this.metrics.restarts.inc();
    this.log.warn(
      { worker: worker.id, workerPid: worker.process.pid, code: exit.code, signal: exit.signal },
      `worker ${worker.id} (pid ${worker.process.pid}) exited (${describeExit(exit)}); starting another in ${delay / 1000} s`,
    );
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopping === null) this.fork();
    }, delay);
    this.timers.add(timer);
  }
}

/**
 * The whole server's metrics, made in the primary: each worker's registry (asked for over IPC),
 * summed by prom-client's cluster aggregator, with the primary's own two metrics. A worker that
 * exits leaves its counters and histograms in the sums, so they never go down (Prometheus would
 * read a drop as a counter reset and `rate()` would spike); a worker that does not answer in time
 * is counted with its previous answer, for the same reason.
 */
class ClusterMetrics {
  readonly restarts: Counter;
  private readonly own = new Registry();
  private readonly latest = new Map<Worker, MetricJson[]>();
  /** Counters and histograms of workers that have exited, summed into one registry's JSON. */
  private retired: Promise<MetricJson[]> = Promise.resolve([]);
  private readonly waiting = new Map<number, (metrics: MetricJson[]) => void>();
  private nextId = 0;

  constructor(serving: () => number) {
    this.restarts = new Counter({ name: 'keygate_worker_restarts_total', help: 'Workers that exited unexpectedly and were replaced (`keygate start --workers N`).', registers: [this.own] });
    new Gauge({
      name: 'keygate_workers',
      help: 'Worker processes ready and serving (`keygate start --workers N`).',
      registers: [this.own],
      collect() {
        this.set(serving());
      },
    });
  }

  async text(workers: Worker[]): Promise<string> {
    const answers = await Promise.all(workers.map((worker) => this.ask(worker)));
    const parts = [await this.retired, ...answers.filter((answer): answer is MetricJson[] => answer !== null), asJson(await this.own.getMetricsAsJSON())];
    return AggregatorRegistry.aggregate(parts).metrics();
  }

  answered(worker: Worker, id: number, metrics: MetricJson[]): void {
    for (const metric of metrics) metric.aggregator = AGGREGATORS[metric.name] ?? metric.aggregator;
    this.latest.set(worker, metrics);
    this.waiting.get(id)?.(metrics);
  }

  retire(worker: Worker): void {
    const last = this.latest.get(worker);
    this.latest.delete(worker);
    if (last === undefined) return;
    const counted = last.filter((metric) => metric.type === 'counter' || metric.type === 'histogram');
    this.retired = this.retired.then(async (retired) => asJson(await AggregatorRegistry.aggregate([retired, counted]).getMetricsAsJSON()));
  }

  private ask(worker: Worker): Promise<MetricJson[] | null> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const late = (): void => {
        this.waiting.delete(id);
        resolve(this.latest.get(worker) ?? null);
      };
      const timer = setTimeout(late, SCRAPE_WORKER_TIMEOUT_MS);
      this.waiting.set(id, (metrics) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(metrics);
      });
      if (!send(worker, { keygate: 'registry', id })) {
        clearTimeout(timer);
        late();
      }
    });
  }
}

/**
 * In a worker of `keygate start --workers N` (a no-op otherwise): stops when the primary asks,
 * answers the primary's requests for this worker's metrics, makes this worker's /metrics answer
 * for every worker, and tells the primary it is ready. Called once the server listens.
 *
 * @example
 * joinPrimary({ registry: server.keygate.metrics.registry, stop: (signal) => void stop(signal) });
 */
export function joinPrimary(options: { registry: Registry; stop: (signal: string) => void }): void {
  if (!cluster.isWorker) return;
  const { registry } = options;
  const asked = new Map<number, (answer: { text?: string; error?: string }) => void>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.keygate === 'stop') options.stop(message.signal);
    else if (message.keygate === 'registry') {
      void registry.getMetricsAsJSON().then((metrics) => send(process, { keygate: 'registry', id: message.id, metrics: asJson(metrics) }));
    } else if (message.keygate === 'metrics') asked.get(message.id)?.(message);
  });
  // Prometheus scrapes one port, and the connection lands on any worker: each answers for all.
  // The primary's collection asks each worker for getMetricsAsJSON(), never metrics(), so this
  // does not recurse.
  registry.metrics = () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        asked.delete(id);
        reject(new Error(`the primary did not answer with the workers' metrics within ${SCRAPE_TIMEOUT_MS} ms`));
      }, SCRAPE_TIMEOUT_MS);
      asked.set(id, (answer) => {
        clearTimeout(timer);
        asked.delete(id);
        if (answer.text !== undefined) resolve(answer.text);
        else reject(new Error(`the primary could not sum the workers' metrics: ${answer.error}`));
      });
      if (!send(process, { keygate: 'metrics', id })) {
        clearTimeout(timer);
        asked.delete(id);
        reject(new Error('no channel to the primary'));
      }
    });
  send(process, { keygate: 'ready' });
}

/** Sends over the IPC channel; false when it is closed (the other side has exited). */
function send(to: { send?(message: Message): boolean }, message: Message): boolean {
  try {
    return to.send?.(message) ?? false;
  } catch {
    return false;
  }
}

/**
 * Chooses every port given as 0 (workers must all listen on the same one) and says where the
 * server answers: the flags that pass the chosen ports on, and the URL of the main listener (the
 * gateway's for `keygate gateway`).
 */
async function choosePorts(config: Config, mode: { gatewayOnly: boolean }): Promise<{ flags: string[]; url: string }> {
  const flags: string[] = [];
  let { port, gatewayPort, metricsPort } = config;
  if (port === 0) flags.push('--port', String((port = await freePort(config.host))));
  if (gatewayPort === 0) flags.push('--gateway-port', String((gatewayPort = await freePort(config.gatewayHost ?? config.host))));
  if (metricsPort === 0) flags.push('--metrics-port', String((metricsPort = await freePort(config.metricsHost))));
  const url = mode.gatewayOnly ? `http://${hostForUrl(config.gatewayHost ?? config.host)}:${gatewayPort}` : `http://${hostForUrl(config.host)}:${port}`;
  return { flags, url };
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function describeExit(exit: { code: number | null; signal: string | null }): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
}

/** The primary logs as the workers do: JSON lines on stdout, or readable lines (LOG_FORMAT, a terminal). */
function primaryLogger(config: Pick<Config, 'logLevel' | 'logFormat'>): Pino {
  const pretty = config.logFormat === undefined ? process.stdout.isTTY === true : config.logFormat === 'pretty';
  return pino({ level: config.logLevel }, pretty ? prettyLogStream(process.stdout) : pino.destination({ dest: 1, sync: true }));
}
