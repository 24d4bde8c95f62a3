import type { ClusterConnection, FallbackCause } from '../cluster/cluster.js';
import { GRANT_TYPES, type GrantType } from '../domain/oauth/registry.js';
import { VERIFICATION_CODES, type VerificationCode } from '../domain/verification.js';
import type { PoolUsage, StoreFailure, StoreObserver } from '../store/store-observer.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

type CounterChild = ReturnType<Counter['labels']>;
type HistogramChild = ReturnType<Histogram['labels']>;

/**
 * A counter for the hot paths: one property increment (a prom-client child's `inc()` costs ~100 ns,
 * a fifth of a cached verify). The registry reads the values when it is scraped.
 */
export class HotCounter {
  value = 0;

  inc(): void {
    this.value += 1;
  }
}

/**
 * A prom-client counter whose children are `HotCounter`s, one per label value of `keys`, copied
 * into the registry at scrape time.
 */
function hotCounters<K extends string>(
  options: { name: string; help: string; labelName: string; registers: Registry[] },
  keys: readonly K[],
): Record<K, HotCounter> {
  const counters = fromKeys(keys, () => new HotCounter());
  new Counter({
    name: options.name,
    help: options.help,
    labelNames: [options.labelName],
    registers: options.registers,
    collect() {
      this.reset();
      for (const key of keys) this.inc({ [options.labelName]: key }, counters[key].value);
    },
  });
  return counters;
}

/**
 * A histogram for the hot paths (verify, the token endpoint): `observe` adds to plain numbers,
 * where a prom-client child allocates a label object and a closure per call (about 0.7 µs of a
 * verify request that costs 30). The registry reads it at scrape time in prom-client's
 * histogram format (cumulative `_bucket` series with `le`, `_sum`, `_count`), summed across
 * workers like any histogram.
 */
export class HotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** Observations per bucket, not cumulative; the last one is +Inf. */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    registers: readonly Registry[],
  ) {
    this.counts = new Float64Array(buckets.length + 1);
    // prom-client reads a metric through get() and reset(); this one is made for that.
    for (const registry of registers) registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** One observation, in seconds; a value that is no finite number is not counted. */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    let bucket = 0;
    while (bucket < this.buckets.length && value > this.buckets[bucket]!) bucket++;
    this.counts[bucket]! += 1;
    this.sum += value;
    this.count += 1;
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: { labels: Record<string, string | number>; value: number; metricName: string }[] }> {
    const bucketName = `${this.name}_bucket`;
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += this.counts[i]!;
      values.push({ labels: { le: this.buckets[i]! }, value: cumulative, metricName: bucketName });
    }
    values.push(
      { labels: { le: '+Inf' }, value: this.count, metricName: bucketName },
      { labels: {}, value: this.sum, metricName: `${this.name}_sum` },
      { labels: {}, value: this.count, metricName: `${this.name}_count` },
    );
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** How a credential presented to verify was read. */
export type CredentialKind = 'api_key' | 'jwt';

/** The Redis work Keygate times: rate-limit checks, shared counters, invalidation messages. */
export type RedisOperation = 'ratelimit' | 'counters' | 'publish';
const REDIS_OPERATIONS: readonly RedisOperation[] = ['ratelimit', 'counters', 'publish'];
const FALLBACK_CAUSES: readonly FallbackCause[] = ['away', 'timeout', 'error'];
const STORE_FAILURES: readonly StoreFailure[] = ['unavailable', 'conflict', 'other'];

/** What the gauges read at scrape time. */
export interface MetricSources {
  /** Audit events waiting for their batched write. */
  auditQueue(): number;
  /** Keys whose usage counts wait for their batched write. */
  usageQueue(): number;
  /** Usage analytics series waiting for their batched write. */
  analyticsQueue(): number;
  /** Requests usage analytics did not count since start (its series cap was reached). */
  analyticsDropped(): number;
  store: { poolUsage(): PoolUsage | null };
}

/** A pre-bound child per verification code. */
export type VerificationCounters = Readonly<Record<VerificationCode, HotCounter>>;

// Verify is answered in microseconds from the cache and in milliseconds from the store.
const FAST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
// A token request signs a JWT and may hash a client secret.
const TOKEN_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Keygate's metrics, in one registry per instance (`GET /metrics`, docs/observability.md).
 * Every label value comes from a closed set (result codes, grant types, operations): no key id,
 * tenant or secret ever becomes a label, so cardinality is fixed and nothing in a scrape
 * identifies a customer. Hot paths hold children bound here once and only call `inc()` or
 * `observe()`.
 *
 * @example
 * const metrics = new KeygateMetrics();
 * metrics.verifications.api_key.VALID.inc();
 * const text = await metrics.registry.metrics();
 */
export class KeygateMetrics implements StoreObserver {
  readonly registry = new Registry();
  readonly verifications: Readonly<Record<CredentialKind, VerificationCounters>>;
  /** Duration of `POST /v1/verify` requests, from request to response. */
  readonly verifyDuration: HotHistogram;
  /** Duration of token endpoint requests, from request to response. */
  readonly tokenDuration: HotHistogram;
  readonly tokensIssued: Readonly<Record<GrantType, HotCounter>>;
  /** HTTP responses by status class: index 0 for 1xx up to 4 for 5xx. */
  readonly httpResponses: readonly HotCounter[];
  readonly keyCacheHit: HotCounter;
  readonly keyCacheMiss: HotCounter;
  private readonly storeDuration: HistogramChild;
  private readonly storeFailures: Readonly<Record<StoreFailure, CounterChild>>;
  private readonly redisDurations: Readonly<Record<RedisOperation, HistogramChild>>;
  private readonly redisFallbacks: Readonly<Record<FallbackCause, CounterChild>>;
  private sources: MetricSources | null = null;

  constructor() {
    const registers = [this.registry];
    const verifications = { api_key: fromKeys(VERIFICATION_CODES, () => new HotCounter()), jwt: fromKeys(VERIFICATION_CODES, () => new HotCounter()) };
    new Counter({
      name: 'keygate_verifications_total',
      help: 'Credentials verified (POST /v1/verify and the in-process verifier), by credential kind and result code.',
      labelNames: ['kind', 'code'],
      registers,
      collect() {
        this.reset();
        for (const kind of ['api_key', 'jwt'] as const) {
          for (const code of VERIFICATION_CODES) this.inc({ kind, code }, verifications[kind][code].value);
        }
      },
    });
    this.verifications = verifications;
    this.verifyDuration = new HotHistogram('keygate_verify_request_duration_seconds', 'Duration of POST /v1/verify requests, from request to response.', FAST_BUCKETS, registers);
    this.tokenDuration = new HotHistogram(
      'keygate_token_request_duration_seconds',
      'Duration of token endpoint requests (POST /t/{tenant}/oauth/token), from request to response.',
      TOKEN_BUCKETS,
      registers,
    );
    const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
    const responses = hotCounters({ name: 'keygate_http_responses_total', help: 'HTTP responses of the main listener, by status class (2xx, 4xx, 5xx…).', labelName: 'class', registers }, STATUS_CLASSES);
    this.httpResponses = STATUS_CLASSES.map((statusClass) => responses[statusClass]);
    this.tokensIssued = hotCounters({ name: 'keygate_tokens_issued_total', help: 'Access tokens issued by the token endpoint, by grant type.', labelName: 'grant_type', registers }, GRANT_TYPES);
    const cache = hotCounters(
      { name: 'keygate_key_cache_lookups_total', help: 'Key cache lookups by verify and management authentication, by result (hit or miss).', labelName: 'result', registers },
      ['hit', 'miss'] as const,
    );
    this.keyCacheHit = cache.hit;
    this.keyCacheMiss = cache.miss;
    this.storeDuration = new Histogram({ name: 'keygate_store_query_duration_seconds', help: 'Duration of SQL statements.', buckets: FAST_BUCKETS, registers }).labels();
    const storeErrors = new Counter({
      name: 'keygate_store_errors_total',
      help: 'Store calls that failed, by reason: unavailable (database unreachable or overloaded), conflict (unique violation), other.',
      labelNames: ['reason'],
      registers,
    });
    this.storeFailures = fromKeys(STORE_FAILURES, (reason) => storeErrors.labels(reason));
    const redisDuration = new Histogram({
      name: 'keygate_redis_duration_seconds',
      help: 'Duration of cluster calls with REDIS_URL set, by operation, fallbacks included (a Redis known to be away answers at once from the fallback).',
      labelNames: ['operation'],
      buckets: FAST_BUCKETS,
      registers,
    });
    const redisFallbacks = new Counter({
      name: 'keygate_redis_fallbacks_total',
      help: 'Cluster calls that did without Redis (KEYGATE_REDIS_FAILURE decides how), by cause: away (known to be gone), timeout (no answer within KEYGATE_REDIS_TIMEOUT_MS), error (an error reply).',
      labelNames: ['cause'],
      registers,
    });
    this.redisDurations = fromKeys(REDIS_OPERATIONS, (operation) => redisDuration.labels(operation));
    this.redisFallbacks = fromKeys(FALLBACK_CAUSES, (cause) => redisFallbacks.labels(cause));

    const metrics = this;
    new Gauge({
      name: 'keygate_store_pool_clients',
      help: 'PostgreSQL pool (PostgreSQL only): total = open connections, idle = open and unused, waiting = queries waiting for a connection.',
      labelNames: ['state'],
      registers,
      collect() {
        const usage = metrics.sources?.store.poolUsage() ?? null;
        if (usage === null) return;
        this.labels('total').set(usage.total);
        this.labels('idle').set(usage.idle);
        this.labels('waiting').set(usage.waiting);
      },
    });
    new Gauge({
      name: 'keygate_audit_queue_events',
      help: 'Audit events waiting for their batched write.',
      registers,
      collect() {
        this.set(metrics.sources?.auditQueue() ?? 0);
      },
    });
    new Gauge({
      name: 'keygate_usage_queue_keys',
      help: 'Keys whose usage counts wait for their batched write.',
      registers,
      collect() {
        this.set(metrics.sources?.usageQueue() ?? 0);
      },
    });
    new Gauge({
      name: 'keygate_usage_analytics_queue_series',
      help: 'Usage analytics series waiting for their batched write.',
      registers,
      collect() {
        this.set(metrics.sources?.analyticsQueue() ?? 0);
      },
    });
    let droppedSeen = 0;
    new Counter({
      name: 'keygate_usage_dropped_total',
      help: 'Requests usage analytics did not count because KEYGATE_USAGE_MAX_SERIES series were already waiting for their write.',
      registers,
      collect() {
        const dropped = metrics.sources?.analyticsDropped() ?? 0;
        this.inc(dropped - droppedSeen);
        droppedSeen = dropped;
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Where the gauges read from, once the instance is wired. */
  readFrom(sources: MetricSources): void {
    this.sources = sources;
  }

  onQuery(durationSeconds: number): void {
    this.storeDuration.observe(durationSeconds);
  }

  onFailure(failure: StoreFailure): void {
    this.storeFailures[failure].inc();
  }

  /** The pre-bound duration child of one Redis operation. */
  redisDuration(operation: RedisOperation): HistogramChild {
    return this.redisDurations[operation];
  }

  /** Counts the link's fallbacks and reports whether it is connected (with REDIS_URL only). */
  watchRedis(connection: Pick<ClusterConnection, 'connected' | 'onFallback'>): void {
    connection.onFallback((cause) => this.redisFallbacks[cause].inc());
    new Gauge({
      name: 'keygate_redis_connected',
      help: '1 while Redis answers, 0 while this instance does without it (rate limits and counters as KEYGATE_REDIS_FAILURE says).',
      registers: [this.registry],
      collect() {
        this.set(connection.connected ? 1 : 0);
      },
    });
  }
}

function fromKeys<K extends string, V>(keys: readonly K[], value: (key: K) => V): Record<K, V> {
  return Object.fromEntries(keys.map((key) => [key, value(key)])) as Record<K, V>;
}
