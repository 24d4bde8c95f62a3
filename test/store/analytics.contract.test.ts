import { describe, expect, it } from 'vitest';
import { newId } from '../../src/crypto/secrets.js';
import { LATENCY_BUCKETS, rollUp, type UsageCounts } from '../../src/domain/usage.js';
import { BACKENDS } from '../helpers/backends.js';
import { contractStore, makeEvent, makeTenant, NOW } from './fixtures.js';

/**
 * The analytics part of the store contract, on every backend: every writer adds to the row of
 * its series and bucket (counts, sums and histograms), none stays none, listings are one
 * tenant's rows of one granularity in a time range narrowed by the filter, the tenant cascade
 * takes a tenant's usage, and retention deletes each granularity by its own cutoff.
 */
describe.each(BACKENDS)('Store contract: analytics (%s)', (backendName) => {
  const opened = contractStore(backendName);
  const minute = Date.UTC(2026, 0, 1, 10, 7);

  const histogram = (bucket: number, n: number): number[] => Array.from({ length: LATENCY_BUCKETS }, (_, i) => (i === bucket ? n : 0));
  const row = (overrides: Partial<UsageCounts> = {}): UsageCounts => ({
    tenantId: 'ten_a',
    apiId: 'api_1',
    keyId: 'key_1',
    consumer: 'cust-1',
    operation: 'getPet',
    outcome: 'allowed',
    statusClass: 2,
    granularity: 'minute',
    at: minute,
    count: 3,
    latencySumMs: 4.5,
    latency: histogram(2, 3),
    ...overrides,
  });
  const list = (tenantId: string, filter: Partial<Parameters<ReturnType<typeof opened>['analytics']['list']>[1]> = {}) =>
    opened().analytics.list(tenantId, { from: 0, to: Date.UTC(2027, 0, 1), granularity: 'minute', ...filter });

  it('adds every writer\'s batch to the row of its series and bucket', async () => {
    await opened().analytics.add([row()]);
    // A second instance's batch for the same series and minute, and one of another series.
    await opened().analytics.add([row({ count: 2, latencySumMs: 30, latency: histogram(9, 2) }), row({ outcome: 'RATE_LIMITED', statusClass: 0, count: 1, latencySumMs: 0.2, latency: histogram(0, 1) })]);
    const rows = await list('ten_a');
    expect(rows).toHaveLength(2);
    const allowed = rows.find((r) => r.outcome === 'allowed')!;
    expect(allowed).toMatchObject({ count: 5, latencySumMs: 34.5, keyId: 'key_1', consumer: 'cust-1', operation: 'getPet', statusClass: 2 });
    expect(allowed.latency[2]).toBe(3);
    expect(allowed.latency[9]).toBe(2);
    expect(allowed.latency.reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('keeps a none as none (no key, consumer or operation), apart from any named one', async () => {
    await opened().analytics.add([row({ tenantId: 'ten_none', keyId: null, consumer: null, operation: null })]);
    await opened().analytics.add([row({ tenantId: 'ten_none', keyId: null, consumer: null, operation: null }), row({ tenantId: 'ten_none' })]);
    const rows = await list('ten_none');
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.keyId === null)).toMatchObject({ consumer: null, operation: null, count: 6 });
  });

  it('writes minute, hour and day rows of one batch side by side, and lists one granularity at a time', async () => {
    const minutes = [row({ tenantId: 'ten_roll', at: minute }), row({ tenantId: 'ten_roll', at: minute + 60_000, count: 4, latency: histogram(2, 4) })];
    await opened().analytics.add([...minutes, ...rollUp(minutes, 'hour'), ...rollUp(minutes, 'day')]);
    expect((await list('ten_roll')).map((r) => r.count)).toEqual([3, 4]);
    expect(await list('ten_roll', { granularity: 'hour' })).toMatchObject([{ at: Date.UTC(2026, 0, 1, 10), count: 7, granularity: 'hour' }]);
    expect(await list('ten_roll', { granularity: 'day' })).toMatchObject([{ at: Date.UTC(2026, 0, 1), count: 7, granularity: 'day' }]);
  });

  it('lists a time range [from, to) of one tenant, narrowed by API, key, consumer and operation', async () => {
    const t = 'ten_filter';
    await opened().analytics.add([
      row({ tenantId: t }),
      row({ tenantId: t, apiId: 'api_2' }),
      row({ tenantId: t, keyId: 'key_2' }),
      row({ tenantId: t, consumer: 'cust-2' }),
      row({ tenantId: t, operation: 'POST /pets' }),
      row({ tenantId: t, at: minute + 60_000 }),
    ]);
    expect(await list(t)).toHaveLength(6);
    expect(await list(t, { apiId: 'api_2' })).toHaveLength(1);
    expect(await list(t, { keyId: 'key_2' })).toHaveLength(1);
    expect(await list(t, { consumer: 'cust-2' })).toHaveLength(1);
    expect(await list(t, { operation: 'POST /pets' })).toHaveLength(1);
    expect(await list(t, { apiId: 'api_1', keyId: 'key_1', consumer: 'cust-1', operation: 'getPet' })).toHaveLength(2);
    expect(await list(t, { from: minute + 60_000 })).toHaveLength(1);
    expect(await list(t, { to: minute + 60_000 })).toHaveLength(5);
    expect(await list('ten_nobody')).toEqual([]);
  });

  it('deletes a tenant\'s usage with the tenant, and no other tenant\'s', async () => {
    const tenant = makeTenant('usage-cascade');
    await opened().directory.createTenant(tenant, makeEvent(tenant.id, 'tenant.create'));
    await opened().analytics.add([row({ tenantId: tenant.id })]);
    expect(await list(tenant.id)).toHaveLength(1);
    await opened().directory.deleteTenant(tenant, NOW, makeEvent(tenant.id, 'tenant.delete', { id: newId('event', NOW + 1) }));
    expect(await list(tenant.id)).toEqual([]);
    expect(await list('ten_a')).toHaveLength(2);
  });

  it('prunes each granularity by its own cutoff, and nothing later', async () => {
    const t = 'ten_prune';
    const minutes = [row({ tenantId: t })];
    await opened().analytics.add([...minutes, ...rollUp(minutes, 'hour'), ...rollUp(minutes, 'day')]);
    // Minute rows before minute + 1 go; hour and day rows are kept by earlier cutoffs.
    const cut = { minute: minute + 1, hour: Date.UTC(2026, 0, 1, 10), day: Date.UTC(2026, 0, 1) };
    const deleted = await opened().analytics.prune(cut);
    expect(deleted).toBeGreaterThanOrEqual(1);
    expect(await list(t)).toEqual([]);
    expect(await list(t, { granularity: 'hour' })).toHaveLength(1);
    expect(await list(t, { granularity: 'day' })).toHaveLength(1);
    await opened().analytics.prune({ minute: 0, hour: Date.UTC(2026, 0, 2), day: Date.UTC(2026, 0, 2) });
    expect(await list(t, { granularity: 'hour' })).toEqual([]);
    expect(await list(t, { granularity: 'day' })).toEqual([]);
  });
});
