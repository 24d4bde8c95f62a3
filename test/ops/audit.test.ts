import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent as EventView } from '../../src/cli/api-types.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { BACKENDS } from '../helpers/backends.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Every page of a listing, newest first. */
async function allEvents(t: TestServer, query = ''): Promise<EventView[]> {
  const events: EventView[] = [];
  let cursor: string | null = null;
  do {
    const page = await t.call('GET', `/v1/tenants/acme/audit?limit=100${query}${cursor ? `&cursor=${cursor}` : ''}`);
    expectStatus(page, 200);
    events.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return events;
}

/**
 * Issue 8, item 7: an audit log that survives traffic. Denials fold into one row per key, reason
 * and minute (`aggregationKey`, domain/audit.ts; in memory in the batch writer, then upserted by
 * the store so instances add to the same row); every change stays its own event; retention
 * prunes what is older than KEYGATE_AUDIT_RETENTION_DAYS.
 */
describe.each(BACKENDS)('the audit log under denials (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  /** Keygate's clock stands still unless a test moves it: minute boundaries are exact. */
  let nowMs = Date.UTC(2026, 2, 1, 12, 0, 5);

  const createKey = async (body: Record<string, unknown> = {}): Promise<{ id: string; key: string }> => {
    const response = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], ...body });
    expectStatus(response, 201);
    return response.body;
  };
  const deny = async (key: string, times: number, options: { scopes?: string[]; prefix: string; ip?: string }): Promise<void> => {
    for (let i = 0; i < times; i++) {
      const result = await t.server.keygate.verify(
        { credential: key, api, scopes: options.scopes ?? ['read:users'], ...(options.ip ? { ip: options.ip } : {}) },
        { requestId: `${options.prefix}-${i}` },
      );
      expect(result.valid).toBe(false);
    }
  };

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: () => nowMs });
    ({ api } = await seedTenant(t));
  });
  afterAll(() => t?.close());

  it('folds denials into one row per key, reason and minute, across batches, and splits the rest', async () => {
    const limited = await createKey({ ratelimits: [{ name: 'hourly', limit: 1, duration: 3_600_000 }] });
    const other = await createKey();
    expect((await t.server.keygate.verify({ credential: limited.key, api })).code).toBe('VALID');

    await deny(limited.key, 30, { prefix: 'rl-a', ip: '198.51.100.7' });
    // A flush in the middle of the minute: the next batch adds to the row already written.
    await t.server.keygate.flush();
    nowMs += 10_000;
    await deny(limited.key, 20, { prefix: 'rl-b', ip: '198.51.100.8' });
    await deny(limited.key, 7, { prefix: 'scope', scopes: ['write:users'] });
    await deny(other.key, 5, { prefix: 'other', scopes: ['write:users'] });
    nowMs += MINUTE;
    await deny(limited.key, 3, { prefix: 'next-minute' });
    await t.server.keygate.flush();

    const rows = (await allEvents(t, '&action=key.verify.denied')).map((e) => ({
      target: e.target,
      code: e.data['code'],
      count: e.count,
      first: e.requestId,
      last: e.lastRequestId,
      ip: e.ip,
    }));
    expect(rows).toHaveLength(4);
    expect(rows).toEqual(
      expect.arrayContaining([
        { target: limited.id, code: 'RATE_LIMITED', count: 50, first: 'rl-a-0', last: 'rl-b-19', ip: '198.51.100.7' },
        { target: limited.id, code: 'INSUFFICIENT_SCOPE', count: 7, first: 'scope-0', last: 'scope-6', ip: null },
        { target: other.id, code: 'INSUFFICIENT_SCOPE', count: 5, first: 'other-0', last: 'other-4', ip: null },
        { target: limited.id, code: 'RATE_LIMITED', count: 3, first: 'next-minute-0', last: 'next-minute-2', ip: null },
      ]),
    );
    const folded = (await allEvents(t, `&action=key.verify.denied&target=${limited.id}`)).find((e) => e.count === 50)!;
    expect(Date.parse(folded.lastAt!) - Date.parse(folded.at)).toBe(10_000);
  });

  it('keeps every management change as its own event, newest first', async () => {
    const { id } = await createKey();
    for (const name of ['one', 'two', 'three']) expectStatus(await t.call('PATCH', `/v1/tenants/acme/keys/${id}`, { name }), 200);
    const events = await allEvents(t, `&target=${id}`);
    expect(events.map((e) => [e.action, e.count, e.lastAt])).toEqual([
      ['key.update', 1, null],
      ['key.update', 1, null],
      ['key.update', 1, null],
      ['key.create', 1, null],
    ]);
    const ids = (await allEvents(t)).map((e) => e.id);
    expect([...ids].sort().reverse()).toEqual(ids);
  });

  it('filters by action, actor, target and time, and refuses a bad filter without a 5xx', async () => {
    const start = nowMs;
    const { id, key } = await createKey();
    nowMs += 5 * MINUTE;
    await deny(key, 2, { prefix: 'late', scopes: ['write:users'] });
    await t.server.keygate.flush();

    const byTarget = await allEvents(t, `&target=${id}`);
    expect(byTarget.map((e) => e.action)).toEqual(['key.verify.denied', 'key.create']);
    expect((await allEvents(t, `&target=${id}&actor=verify`)).map((e) => e.action)).toEqual(['key.verify.denied']);
    expect((await allEvents(t, `&target=${id}&action=key.create`)).map((e) => e.actor)).toEqual([expect.stringMatching(/^key_/)]);
    const iso = (ms: number): string => encodeURIComponent(new Date(ms).toISOString());
    expect((await allEvents(t, `&target=${id}&from=${iso(start + MINUTE)}`)).map((e) => e.action)).toEqual(['key.verify.denied']);
    expect((await allEvents(t, `&target=${id}&to=${iso(start + MINUTE)}`)).map((e) => e.action)).toEqual(['key.create']);
    expect(await allEvents(t, `&target=${id}&from=${iso(start + MINUTE)}&to=${iso(start + 2 * MINUTE)}`)).toEqual([]);

    const before = await allEvents(t);
    for (const [query, code] of [
      [`from=${iso(start + MINUTE)}&to=${iso(start)}`, 'INVALID_TIME_RANGE'],
      [`from=${iso(start)}&to=${iso(start)}`, 'INVALID_TIME_RANGE'],
      ['from=yesterday', 'INVALID_REQUEST'],
      ['to=2026-13-45T00:00:00Z', 'INVALID_REQUEST'],
      // Valid RFC 3339, but no instant: a 500 on PostgreSQL before it was refused.
      ['from=2026-06-30T23%3A59%3A60Z', 'INVALID_REQUEST'],
      ['action=', 'INVALID_REQUEST'],
      ['actor=' + 'x'.repeat(200), 'INVALID_REQUEST'],
      ['kind=denied', 'INVALID_REQUEST'],
    ] as const) {
      const response = await t.call('GET', `/v1/tenants/acme/audit?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.code, query).toBe(code);
    }
    expect(await allEvents(t)).toEqual(before);
  });

  it('filters and orders the root-key audit log the same way', async () => {
    const created: string[] = [];
    for (const scopes of [['audit:read'], ['keys:read']]) {
      nowMs += 1000;
      const response = await t.call('POST', '/v1/root-keys', { scopes });
      expectStatus(response, 201);
      created.push(response.body.id);
    }
    const since = encodeURIComponent(new Date(nowMs - 1500).toISOString());
    const listed = await t.call('GET', `/v1/root-keys/audit?action=root_key.create&from=${since}`);
    expectStatus(listed, 200);
    expect(listed.body.items.map((e: EventView) => e.target)).toEqual([...created].reverse());
    const backwards = await t.call('GET', `/v1/root-keys/audit?from=${since}&to=${since}`);
    expect(backwards.status).toBe(400);
    expect(backwards.body.code).toBe('INVALID_TIME_RANGE');
    expect((await t.call('GET', '/v1/root-keys/audit?target=')).body.code).toBe('INVALID_REQUEST');
  });

  it('keeps cursors stable while denials keep adding to rows already listed', async () => {
    const { key } = await createKey();
    await deny(key, 1, { prefix: 'page', scopes: ['write:users'] });
    await t.server.keygate.flush();
    const everything = (await allEvents(t)).map((e) => e.id);
    const first = await t.call('GET', '/v1/tenants/acme/audit?limit=3');
    // More of the same denial in the same minute: the newest row's count grows, no row is added.
    await deny(key, 4, { prefix: 'page-more', scopes: ['write:users'] });
    await t.server.keygate.flush();
    const seen: string[] = first.body.items.map((e: EventView) => e.id);
    let cursor: string | null = first.body.nextCursor;
    while (cursor) {
      const page = await t.call('GET', `/v1/tenants/acme/audit?limit=3&cursor=${cursor}`);
      expectStatus(page, 200);
      seen.push(...page.body.items.map((e: EventView) => e.id));
      cursor = page.body.nextCursor;
    }
    expect(seen).toEqual(everything);
    expect((await allEvents(t)).find((e) => e.id === everything[0])?.count).toBe(5);
  });

  it('prunes events older than the retention (90 days by default) and nothing else', async () => {
    const old = await allEvents(t);
    expect(old.length).toBeGreaterThan(0);
    nowMs += 60 * DAY;
    const { id } = await createKey();
    await t.server.keygate.flush();
    nowMs += 31 * DAY;
    // The system tenant's events (the seeded root key) are older than the retention too.
    expect(await t.server.keygate.audit.prune()).toBeGreaterThanOrEqual(old.length);
    expect((await allEvents(t)).map((e) => [e.action, e.target])).toEqual([['key.create', id]]);
    // Retention deletes audit rows only: the keys whose events went are still there.
    for (const target of new Set(old.map((e) => e.target).filter((x): x is string => x?.startsWith('key_') ?? false))) {
      expectStatus(await t.call('GET', `/v1/tenants/acme/keys/${target}`), 200);
    }
    expect(await t.server.keygate.audit.prune()).toBe(0);
  });
});

describe('the audit log of two instances on one PostgreSQL', () => {
  let t: TestServer;
  let second: RunningServer;
  let api: string;
  const nowMs = Date.UTC(2026, 2, 1, 12, 30, 1);

  beforeAll(async () => {
    t = await startTestServer('postgres', {}, { clock: () => nowMs });
    ({ api } = await seedTenant(t));
    second = await startServer({ port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, ...t.backend.config }, { logger: false, clock: () => nowMs });
  });
  afterAll(async () => {
    await second?.close();
    await t?.close();
  });

  it('adds both instances\' denials of a key, reason and minute to one row, without deadlocks', async () => {
    const keys: { id: string; key: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: [] });
      expectStatus(response, 201);
      keys.push(response.body);
    }
    const instances = [t.server.keygate, second.keygate];
    for (const [n, keygate] of instances.entries()) {
      // Opposite orders on the two instances; each batch is written in key order regardless.
      for (const { key } of n === 0 ? keys : [...keys].reverse()) {
        for (let i = 0; i < 3; i++) await keygate.verify({ credential: key, api, scopes: ['read:users'] }, { requestId: `i${n}-${i}` });
      }
    }
    await Promise.all(instances.map((keygate) => keygate.flush()));
    const rows = await allEvents(t, '&action=key.verify.denied');
    expect(rows).toHaveLength(keys.length);
    for (const { id } of keys) expect(rows.find((e) => e.target === id)?.count).toBe(6);
  });
});
