/**
 * Usage analytics: requests counted per series (tenant, API, key, consumer, operation, outcome,
 * upstream status class) and time bucket, each with a fixed latency histogram, so counts and
 * histograms from any number of instances and minutes add up into hours and days exactly.
 */

/** Time buckets: UTC minute, hour and day. */
export type Granularity = 'minute' | 'hour' | 'day';

export const GRANULARITIES: readonly Granularity[] = ['minute', 'hour', 'day'];

export const GRANULARITY_MS: Readonly<Record<Granularity, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * Upper bounds (ms, inclusive) of the latency buckets; one more bucket holds everything slower.
 * Fixed for ever: stored histograms are added bucket by bucket, so changing a bound needs a
 * migration. Denser below 20 ms, where a gateway's added latency lives.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = [0.5, 1, 2, 3, 5, 8, 13, 20, 30, 50, 80, 130, 200, 300, 500, 800, 1300, 2000, 5000, 10_000];

export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** The outcome of a request the gateway forwarded or a verification that passed. */
export const ALLOWED = 'allowed';

/** A status class: 2 for 2xx … 5 for 5xx, 0 when nothing was forwarded. */
export type StatusClass = 0 | 1 | 2 | 3 | 4 | 5;

/** What a request is counted under: who made it, to what, and how it ended. */
export interface UsageSeriesKey {
  tenantId: string;
  apiId: string;
  keyId: string | null;
  consumer: string | null;
  /** operationId, else "METHOD /template"; null for /v1/verify. */
  operation: string | null;
  /** 'allowed' or a VerificationCode of a denial or 'NO_ROUTE'. */
  outcome: string;
}

/** One series in one time bucket: what the recorder writes and the rollups add up. */
export interface UsageCounts extends UsageSeriesKey {
  statusClass: StatusClass;
  granularity: Granularity;
  /** Start of the bucket, ms. */
  at: number;
  count: number;
  latencySumMs: number;
  /** Requests per latency bucket, `LATENCY_BUCKETS` long. */
  latency: number[];
}

/** What a usage query may narrow to; times in ms, `from` inclusive, `to` exclusive. */
export interface UsageFilter {
  apiId?: string;
  keyId?: string;
  consumer?: string;
  operation?: string;
  from: number;
  to: number;
  granularity: Granularity;
}

/** One point of a time series: every request of the bucket that matched the filter. */
export interface UsagePoint {
  at: number;
  requests: number;
  /** Requests per outcome: `allowed`, or the denial's code. */
  outcomes: Record<string, number>;
  /** Forwarded requests per upstream status class (`2xx` … `5xx`). */
  statusClasses: Record<string, number>;
  latencyMs: { avg: number; p50: number; p90: number; p99: number };
}

/** What a query without `from` covers, ending at `to`: the last hour by minute, day by hour, month by day. */
export const DEFAULT_USAGE_SPAN_MS: Readonly<Record<Granularity, number>> = { minute: 3_600_000, hour: 86_400_000, day: 30 * 86_400_000 };

/** Buckets a query may return at most: a minute series over a day, an hour series over two months. */
export const MAX_USAGE_POINTS = 1500;

/**
 * The start of the bucket holding `at`.
 *
 * @example
 * bucketStart(Date.parse('2026-01-01T10:42:13Z'), 'hour') // Date.parse('2026-01-01T10:00:00Z')
 */
export function bucketStart(at: number, granularity: Granularity): number {
  const size = GRANULARITY_MS[granularity];
  return Math.floor(at / size) * size;
}

/**
 * The status class of an upstream status, 0 when there was none.
 *
 * @example
 * statusClass(404) // 4
 */
export function statusClass(status: number | null): StatusClass {
  if (status === null || !(status >= 100 && status < 600)) return 0;
  return Math.floor(status / 100) as StatusClass;
}

/**
 * The histogram bucket of a latency; a negative or non-numeric one counts as the fastest.
 *
 * @example
 * latencyBucket(4.2) // 4 (≤ 5 ms)
 */
export function latencyBucket(ms: number): number {
  let i = 0;
  while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]!) i += 1;
  return i;
}

/**
 * The same series added up into coarser buckets (minute → hour or day): counts, sums and
 * histograms add, so a rollup equals what recording at that granularity would have given.
 *
 * @example
 * rollUp(minuteRows, 'hour') // one row per series and hour
 */
export function rollUp(rows: readonly UsageCounts[], granularity: Granularity): UsageCounts[] {
  const merged = new Map<string, UsageCounts>();
  for (const row of rows) {
    const at = bucketStart(row.at, granularity);
    const key = seriesKey(row, at);
    const held = merged.get(key);
    if (held === undefined) merged.set(key, { ...row, granularity, at, latency: [...row.latency] });
    else addCounts(held, row);
  }
  return [...merged.values()];
}

/**
 * A row's identity within one granularity: its series and bucket start. JSON of an array, so no
 * consumer or operation name can forge a separator and land in another series.
 *
 * @example
 * seriesKey(row, row.at) // '["ten_1","api_1","key_1",null,"GET /pets","allowed",2,1767261720000]'
 */
export function seriesKey(row: UsageSeriesKey & Pick<UsageCounts, 'statusClass'>, at: number): string {
  return JSON.stringify([row.tenantId, row.apiId, row.keyId, row.consumer, row.operation, row.outcome, row.statusClass, at]);
}

function addCounts(into: UsageCounts, row: UsageCounts): void {
  into.count += row.count;
  into.latencySumMs += row.latencySumMs;
  for (let i = 0; i < LATENCY_BUCKETS; i += 1) into.latency[i]! += row.latency[i] ?? 0;
}

/**
 * The latency at quantile `q` (0..1) of a histogram, interpolated inside its bucket; the open
 * last bucket answers its lower bound. 0 for an empty histogram.
 *
 * @example
 * latencyPercentile([0, 10, 0, …], 0.5) // 0.75: half-way through the 0.5–1 ms bucket
 */
export function latencyPercentile(histogram: readonly number[], q: number): number {
  const total = histogram.reduce((sum, n) => sum + n, 0);
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < histogram.length; i += 1) {
    const n = histogram[i]!;
    if (n > 0 && seen + n >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const upper = LATENCY_BOUNDS_MS[i];
      if (upper === undefined) return lower;
      return round3(lower + ((rank - seen) / n) * (upper - lower));
    }
    seen += n;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}

/**
 * The time series of a filter from its matching rows (any series, the filter's granularity): one
 * point per bucket from the one holding `from` up to `to`, oldest first, zero where nothing came,
 * so a chart gets evenly spaced points.
 *
 * @example
 * usageSeries(rows, { from, to, granularity: 'minute' }) // [{ at, requests: 12, outcomes: { allowed: 10, RATE_LIMITED: 2 }, statusClasses: { '2xx': 10 }, latencyMs: {…} }, …]
 */
export function usageSeries(rows: readonly UsageCounts[], filter: Pick<UsageFilter, 'from' | 'to' | 'granularity'>): UsagePoint[] {
  const size = GRANULARITY_MS[filter.granularity];
  const buckets = new Map<number, { point: UsagePoint; latencySumMs: number; histogram: number[] }>();
  for (let at = bucketStart(filter.from, filter.granularity); at < filter.to; at += size) {
    buckets.set(at, {
      point: { at, requests: 0, outcomes: {}, statusClasses: {}, latencyMs: { avg: 0, p50: 0, p90: 0, p99: 0 } },
      latencySumMs: 0,
      histogram: new Array<number>(LATENCY_BUCKETS).fill(0),
    });
  }
  for (const row of rows) {
    const bucket = buckets.get(row.at);
    if (bucket === undefined) continue;
    const { point } = bucket;
    point.requests += row.count;
    point.outcomes[row.outcome] = (point.outcomes[row.outcome] ?? 0) + row.count;
    if (row.statusClass !== 0) {
      const name = `${row.statusClass}xx`;
      point.statusClasses[name] = (point.statusClasses[name] ?? 0) + row.count;
    }
    bucket.latencySumMs += row.latencySumMs;
    for (let i = 0; i < LATENCY_BUCKETS; i += 1) bucket.histogram[i]! += row.latency[i] ?? 0;
  }
  return [...buckets.values()].map(({ point, latencySumMs, histogram }) => ({
    ...point,
    latencyMs: {
      avg: point.requests === 0 ? 0 : round3(latencySumMs / point.requests),
      p50: latencyPercentile(histogram, 0.5),
      p90: latencyPercentile(histogram, 0.9),
      p99: latencyPercentile(histogram, 0.99),
    },
  }));
}

/** Requests of one key, consumer or operation (null: none, e.g. an unknown credential) over a range, by outcome. */
export interface UsageTotal<N = string> {
  name: N;
  requests: number;
  outcomes: Record<string, number>;
}

/**
 * The rows added up per name (a key, a consumer, an operation), most requests first, then by
 * name, a null name last.
 *
 * @example
 * usageTotals(rows, (row) => row.keyId) // [{ name: 'key_…', requests: 10, outcomes: { allowed: 7, INSUFFICIENT_SCOPE: 3 } }, …]
 */
export function usageTotals<N extends string | null>(rows: readonly UsageCounts[], nameOf: (row: UsageCounts) => N): UsageTotal<N>[] {
  const byName = new Map<N, UsageTotal<N>>();
  for (const row of rows) {
    const name = nameOf(row);
    const total = byName.get(name) ?? { name, requests: 0, outcomes: {} };
    total.requests += row.count;
    total.outcomes[row.outcome] = (total.outcomes[row.outcome] ?? 0) + row.count;
    byName.set(name, total);
  }
  return [...byName.values()].sort((a, b) => b.requests - a.requests || (a.name === null ? 1 : b.name === null ? -1 : a.name.localeCompare(b.name)));
}

/**
 * Why a query cannot be answered, or null: `from` before `to`, and no more than
 * `MAX_USAGE_POINTS` buckets.
 *
 * @example
 * usageFilterProblem({ from: 0, to: 86_400_000 * 30, granularity: 'minute' }) // 'a minute series spans at most …'
 */
export function usageFilterProblem(filter: Pick<UsageFilter, 'from' | 'to' | 'granularity'>): string | null {
  if (!(filter.from < filter.to)) return '`from` must be before `to`.';
  const buckets = Math.ceil((filter.to - bucketStart(filter.from, filter.granularity)) / GRANULARITY_MS[filter.granularity]);
  if (buckets > MAX_USAGE_POINTS) return `A ${filter.granularity} series spans at most ${MAX_USAGE_POINTS} buckets; narrow from/to or choose a coarser granularity.`;
  return null;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
