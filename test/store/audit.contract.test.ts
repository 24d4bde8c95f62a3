import { describe, expect, it } from 'vitest';
import { newId } from '../../src/crypto/secrets.js';
import { aggregationKey, type AuditEvent } from '../../src/domain/audit.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS } from '../helpers/backends.js';
import { contractStore, makeEvent, makeTenant } from './fixtures.js';

/**
 * The audit part of the store contract, on every backend: an aggregated denial is one row that
 * every writer adds to (keeping the earliest first and the latest last occurrence, whichever
 * batch arrives first), listings are newest first and filter on the row's whole span, and
 * retention deletes by time and nothing newer.
 */
describe.each(BACKENDS)('Store contract: audit (%s)', (backendName) => {
  const opened = contractStore(backendName);
  const tenantId = newId('tenant', Date.UTC(2026, 0, 1));
  const minute = Date.UTC(2026, 0, 1, 10, 0);

  /** One writer's batch: `count` denials of key_1 for RATE_LIMITED, from `first` to `last`. */
  const folded = (first: number, last: number, count: number, requestIds: [string, string]): AuditEvent => {
    const base = { id: newId('event', first), tenantId, at: first, actor: 'verify', action: 'key.verify.denied', target: 'key_1', requestId: requestIds[0], ip: '192.0.2.1', data: { code: 'RATE_LIMITED' } };
    return { ...base, aggregate: { key: aggregationKey(base)!, count, lastAt: last, lastRequestId: requestIds[1] } };
  };
  const change = (at: number, action: string): AuditEvent => ({ id: newId('event', at), tenantId, at, actor: 'key_root', action, target: 'key_1', requestId: null, ip: null, data: {} });
  const list = async (filter: Parameters<Store['audit']['list']>[1] = {}): Promise<AuditEvent[]> => (await opened().audit.list(tenantId, filter, { after: null, limit: 100 })).items;


  it('adds every writer\'s batch to one row, keeping the earliest first and the latest last occurrence', async () => {
    await opened().audit.append([folded(minute + 20_000, minute + 30_000, 5, ['b-first', 'b-last'])]);
    // A second writer whose batch began earlier and ended later, written after the first.
    await opened().audit.append([folded(minute + 10_000, minute + 50_000, 7, ['a-first', 'a-last'])]);
    await opened().audit.append([folded(minute + 25_000, minute + 26_000, 1, ['c-first', 'c-last'])]);
    const rows = await list({ action: 'key.verify.denied' });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ at: minute + 10_000, requestId: 'a-first', aggregate: { count: 13, lastAt: minute + 50_000, lastRequestId: 'a-last' } });
  });

  it('lists newest first and filters on an aggregated row\'s whole span', async () => {
    await opened().audit.append([change(minute + 5_000, 'key.create'), change(minute + 70_000, 'key.update')]);
    expect((await list()).map((e) => e.action)).toEqual(['key.update', 'key.verify.denied', 'key.create']);
    // From after the row's first denial but before its last: the row still has denials in range.
    expect((await list({ from: minute + 40_000 })).map((e) => e.action)).toEqual(['key.update', 'key.verify.denied']);
    expect((await list({ from: minute + 50_001 })).map((e) => e.action)).toEqual(['key.update']);
    expect((await list({ to: minute + 10_000 })).map((e) => e.action)).toEqual(['key.create']);
    expect((await list({ actor: 'key_root', to: minute + 70_001 })).map((e) => e.action)).toEqual(['key.update', 'key.create']);
    expect(await opened().audit.list('ten_other', {}, { after: null, limit: 10 })).toEqual({ items: [], next: null });
  });

  it('prunes events that happened before the cut-off, and nothing later', async () => {
    expect(await opened().audit.prune(minute + 10_000)).toBe(1);
    expect((await list()).map((e) => e.action)).toEqual(['key.update', 'key.verify.denied']);
    expect(await opened().audit.prune(minute + 10_000)).toBe(0);
    expect(await opened().audit.prune(minute + 70_001)).toBe(2);
    expect(await list()).toEqual([]);
  });

  it('lists the events about any of several targets, and none for an empty list', async () => {
    const other = 'ten_targets';
    const about = (target: string, i: number): AuditEvent => ({ ...makeEvent(other, 'key.verify.denied', { id: newId('event', minute + 200_000 + i), at: minute + 200_000 + i }), target });
    await opened().audit.append([about('key_a', 0), about('key_b', 1), about('key_c', 2)]);
    const targets = async (ids: string[]): Promise<(string | null)[]> => (await opened().audit.list(other, { targets: ids }, { after: null, limit: 10 })).items.map((e) => e.target);
    expect(await targets(['key_a', 'key_c', 'key_z'])).toEqual(['key_c', 'key_a']);
    expect(await targets([])).toEqual([]);
    expect(await opened().audit.list(tenantId, { targets: ['key_a'] }, { after: null, limit: 10 })).toEqual({ items: [], next: null });
  });

  it('lists one tenant\'s events newest first, a page at a time', async () => {
    const other = 'ten_paged';
    const events = Array.from({ length: 5 }, (_, i) => makeEvent(other, `paged.${i}`, { id: newId('event', minute + 100_000 + i), at: minute + 100_000 + i }));
    await opened().audit.append(events);
    const ids = events.map((e) => e.id).reverse();
    const first = await opened().audit.list(other, {}, { after: null, limit: 2 });
    expect(first.items.map((e) => e.id)).toEqual(ids.slice(0, 2));
    const second = await opened().audit.list(other, {}, { after: first.next, limit: 2 });
    expect(second.items.map((e) => e.id)).toEqual(ids.slice(2, 4));
    const last = await opened().audit.list(other, {}, { after: second.next, limit: 2 });
    expect(last).toEqual({ items: [events[0]], next: null });
  });

  it('writes a change and its audit event in one transaction: a failed change leaves no event', async () => {
    const tenant = makeTenant('audited');
    await opened().directory.createTenant(tenant, makeEvent(tenant.id, 'tenant.create'));
    const before = await opened().audit.list(tenant.id, {}, { after: null, limit: 100 });
    await expect(opened().directory.createTenant({ ...tenant, id: newId('tenant', minute) }, makeEvent(tenant.id, 'should.not.exist'))).rejects.toThrow();
    expect(await opened().audit.list(tenant.id, {}, { after: null, limit: 100 })).toEqual(before);
  });
});
