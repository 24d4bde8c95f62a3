import { describe, expect, it } from 'vitest';
import {
  LATENCY_BOUNDS_MS,
  LATENCY_BUCKETS,
  bucketStart,
  latencyBucket,
  latencyPercentile,
  rollUp,
  statusClass,
  usageFilterProblem,
  usageSeries,
  type UsageCounts,
} from '../../src/domain/usage.js';

const at = Date.UTC(2026, 0, 1, 10, 42, 13);
const histogram = (counts: Record<number, number>): number[] => Array.from({ length: LATENCY_BUCKETS }, (_, i) => counts[i] ?? 0);
const row = (overrides: Partial<UsageCounts> = {}): UsageCounts => ({
  tenantId: 'ten_1',
  apiId: 'api_1',
  keyId: 'key_1',
  consumer: null,
  operation: null,
  outcome: 'allowed',
  statusClass: 2,
  granularity: 'minute',
  at: bucketStart(at, 'minute'),
  count: 1,
  latencySumMs: 1,
  latency: histogram({ 1: 1 }),
  ...overrides,
});

describe('usage analytics, pure parts', () => {
  it('buckets times by UTC minute, hour and day', () => {
    expect(bucketStart(at, 'minute')).toBe(Date.UTC(2026, 0, 1, 10, 42));
    expect(bucketStart(at, 'hour')).toBe(Date.UTC(2026, 0, 1, 10));
    expect(bucketStart(at, 'day')).toBe(Date.UTC(2026, 0, 1));
  });

  it('derives the status class, 0 when nothing was forwarded', () => {
    expect([null, 99, 200, 204, 301, 404, 503, 600].map(statusClass)).toEqual([0, 0, 2, 2, 3, 4, 5, 0]);
  });

  it('puts a latency in the first bucket whose bound holds it; slower than the last bound in the open one', () => {
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(0.5)).toBe(0);
    expect(latencyBucket(0.51)).toBe(1);
    expect(latencyBucket(4.2)).toBe(4);
    expect(latencyBucket(10_000)).toBe(LATENCY_BOUNDS_MS.length - 1);
    expect(latencyBucket(60_000)).toBe(LATENCY_BOUNDS_MS.length);
    expect(latencyBucket(-3)).toBe(0);
  });

  it('interpolates a percentile inside its bucket; the open bucket answers its lower bound', () => {
    expect(latencyPercentile(histogram({}), 0.5)).toBe(0);
    expect(latencyPercentile(histogram({ 1: 10 }), 0.5)).toBe(0.75);
    expect(latencyPercentile(histogram({ 0: 50, 4: 50 }), 0.99)).toBeCloseTo(4.96, 3);
    expect(latencyPercentile(histogram({ [LATENCY_BUCKETS - 1]: 3 }), 0.5)).toBe(10_000);
  });

  it('rolls minutes up into hours and days: counts, sums and histograms add, series stay apart', () => {
    const minutes = [
      row(),
      row({ at: bucketStart(at, 'minute') + 60_000, count: 2, latencySumMs: 7, latency: histogram({ 5: 2 }) }),
      row({ outcome: 'RATE_LIMITED', statusClass: 0 }),
    ];
    const hours = rollUp(minutes, 'hour');
    expect(hours).toHaveLength(2);
    expect(hours[0]).toMatchObject({ granularity: 'hour', at: Date.UTC(2026, 0, 1, 10), count: 3, latencySumMs: 8 });
    expect(hours[0]!.latency).toEqual(histogram({ 1: 1, 5: 2 }));
    expect(minutes[0]!.latency).toEqual(histogram({ 1: 1 }));
    expect(rollUp(hours, 'day').map((r) => r.count)).toEqual([3, 1]);
  });

  it('keeps a consumer or an operation whose name looks like a separator in its own series', () => {
    const rows = [row({ consumer: 'a","b', operation: null }), row({ consumer: 'a', operation: 'b' })];
    expect(rollUp(rows, 'hour')).toHaveLength(2);
  });

  it('answers one point per bucket from the one holding from up to to, zeros included', () => {
    const from = Date.UTC(2026, 0, 1, 10, 40, 30);
    const points = usageSeries([row(), row({ outcome: 'NOT_FOUND', statusClass: 0, latency: histogram({ 0: 1 }), latencySumMs: 0.2 })], { from, to: Date.UTC(2026, 0, 1, 10, 44), granularity: 'minute' });
    expect(points.map((p) => p.at)).toEqual([40, 41, 42, 43].map((m) => Date.UTC(2026, 0, 1, 10, m)));
    expect(points.map((p) => p.requests)).toEqual([0, 0, 2, 0]);
    expect(points[2]).toMatchObject({ outcomes: { allowed: 1, NOT_FOUND: 1 }, statusClasses: { '2xx': 1 }, latencyMs: { avg: 0.6 } });
  });

  it('refuses a range that is empty, backwards or longer than the bucket cap', () => {
    expect(usageFilterProblem({ from: at, to: at, granularity: 'minute' })).toMatch(/before/);
    expect(usageFilterProblem({ from: at, to: at - 1, granularity: 'hour' })).toMatch(/before/);
    expect(usageFilterProblem({ from: at, to: at + 1500 * 60_000, granularity: 'minute' })).toMatch(/at most 1500/);
    expect(usageFilterProblem({ from: bucketStart(at, 'minute'), to: bucketStart(at, 'minute') + 1500 * 60_000, granularity: 'minute' })).toBeNull();
    expect(usageFilterProblem({ from: at, to: at + 30 * 86_400_000, granularity: 'hour' })).toBeNull();
  });
});
