import { describe, expect, it } from 'vitest';
import type { UsageCounts } from '../../src/domain/usage.js';
import { UsageAnalytics, type UsageEvent } from '../../src/services/usage-analytics.js';

const at = Date.UTC(2026, 0, 1, 10, 42, 13);

/** A recorder over a store that keeps what it was given, with a timer too slow to fire during a test. */
function recorder(maxSeries = 1000): { analytics: UsageAnalytics; writes: UsageCounts[][]; errors: unknown[] } {
  const writes: UsageCounts[][] = [];
  const errors: unknown[] = [];
  const store = {
    add: async (rows: readonly UsageCounts[]) => {
      writes.push([...rows]);
    },
    prune: async () => 0,
  };
  const analytics = new UsageAnalytics(store, () => at, (err) => errors.push(err), { flushIntervalMs: 3_600_000, maxSeries, retentionDays: { minute: 2, hour: 35, day: 400 } });
  return { analytics, writes, errors };
}

const event = (overrides: Partial<UsageEvent> = {}): UsageEvent => ({
  tenantId: 'ten_1',
  apiId: 'api_1',
  keyId: 'key_1',
  consumer: 'cust-1',
  operation: 'getPet',
  outcome: 'allowed',
  upstreamStatus: 200,
  latencyMs: 2.5,
  at,
  ...overrides,
});

describe('UsageAnalytics', () => {
  it('folds a series\' requests of a minute into one row, written once with its hour and day rollups', async () => {
    const { analytics, writes } = recorder();
    for (let i = 0; i < 1000; i += 1) analytics.record(event());
    analytics.record(event({ at: at + 60_000 }));
    expect(analytics.queued).toBe(2);
    await analytics.flush();
    expect(writes).toHaveLength(1);
    const byGranularity = (g: string) => writes[0]!.filter((r) => r.granularity === g).map((r) => r.count);
    expect(byGranularity('minute')).toEqual([1000, 1]);
    expect(byGranularity('hour')).toEqual([1001]);
    expect(byGranularity('day')).toEqual([1001]);
    expect(analytics.queued).toBe(0);
    await analytics.flush();
    expect(writes).toHaveLength(1);
  });

  it('keeps apart series that differ in any dimension, and treats an empty name as none', async () => {
    const { analytics, writes } = recorder();
    analytics.record(event());
    analytics.record(event({ keyId: null }));
    analytics.record(event({ consumer: null }));
    analytics.record(event({ consumer: '' }));
    analytics.record(event({ operation: null }));
    analytics.record(event({ outcome: 'RATE_LIMITED', upstreamStatus: null }));
    analytics.record(event({ upstreamStatus: 201 }));
    analytics.record(event({ upstreamStatus: 404 }));
    // A consumer and an operation that would collide if joined naively.
    analytics.record(event({ consumer: 'cust-1|:getPet', operation: null }));
    analytics.record(event({ consumer: 'cust-1', operation: 'x' }));
    analytics.record(event({ consumer: 'cust-1|:x', operation: null }));
    // 201 is the same status class as 200: one series.
    expect(analytics.queued).toBe(9);
    await analytics.flush();
    const minutes = writes[0]!.filter((r) => r.granularity === 'minute');
    expect(minutes.find((r) => r.consumer === null && r.operation === 'getPet')!.count).toBe(2);
    expect(minutes.find((r) => r.consumer === 'cust-1' && r.operation === 'getPet' && r.statusClass === 2 && r.keyId === 'key_1' && r.outcome === 'allowed')!.count).toBe(2);
  });

  it('bounds memory: past maxSeries, requests of new series are counted as dropped, existing ones still count', async () => {
    const { analytics, writes } = recorder(100);
    for (let i = 0; i < 10_000; i += 1) analytics.record(event({ consumer: `random-${i}` }));
    expect(analytics.queued).toBe(100);
    expect(analytics.dropped).toBe(9_900);
    analytics.record(event({ consumer: 'random-5' }));
    expect(analytics.dropped).toBe(9_900);
    await analytics.flush();
    expect(writes[0]!.filter((r) => r.granularity === 'minute')).toHaveLength(100);
    // The next interval has room again.
    analytics.record(event({ consumer: 'newcomer' }));
    expect(analytics.queued).toBe(1);
  });

  it('records histogram and sum; a negative or non-numeric latency counts as zero', async () => {
    const { analytics, writes } = recorder();
    analytics.record(event({ latencyMs: 4 }));
    analytics.record(event({ latencyMs: -1 }));
    analytics.record(event({ latencyMs: Number.NaN }));
    await analytics.flush();
    const [minute] = writes[0]!;
    expect(minute!.latencySumMs).toBe(4);
    expect(minute!.latency[0]).toBe(2);
    expect(minute!.latency[4]).toBe(1);
  });

  it('reports a failed write and goes on: the next batch is written', async () => {
    const writes: number[] = [];
    const errors: unknown[] = [];
    let fail = true;
    const store = {
      add: async (rows: readonly UsageCounts[]) => {
        if (fail) throw new Error('store down');
        writes.push(rows.length);
      },
      prune: async () => 0,
    };
    const analytics = new UsageAnalytics(store, () => at, (err) => errors.push(err), { flushIntervalMs: 3_600_000, maxSeries: 10, retentionDays: { minute: 2, hour: 35, day: 400 } });
    analytics.record(event());
    await analytics.flush();
    expect(errors).toHaveLength(1);
    fail = false;
    analytics.record(event());
    await analytics.close();
    expect(writes).toEqual([3]);
  });

  it('prunes each granularity at its own retention', async () => {
    const cutoffs: unknown[] = [];
    const analytics = new UsageAnalytics(
      { add: async () => undefined, prune: async (before) => (cutoffs.push(before), 0) },
      () => at,
      () => undefined,
      { flushIntervalMs: 3_600_000, maxSeries: 10, retentionDays: { minute: 2, hour: 35, day: 400 } },
    );
    await analytics.prune();
    expect(cutoffs).toEqual([{ minute: at - 2 * 86_400_000, hour: at - 35 * 86_400_000, day: at - 400 * 86_400_000 }]);
    await analytics.close();
  });
});
