import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/domain/keys/format.js';
import { BACKENDS } from '../helpers/backends.js';
import { testClock } from '../helpers/clock.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

describe.each(BACKENDS)('POST /v1/verify (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  const clock = testClock();

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: clock.now });
    ({ api } = await seedTenant(t));
  });
  afterAll(() => t.close());

  async function createKey(body: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
    const response = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], ...body });
    expectStatus(response, 201);
    return response.body;
  }

  const verify = async (body: Record<string, unknown>) => {
    const response = await t.call('POST', '/v1/verify', { api, ...body });
    expectStatus(response, 200);
    return response.body;
  };

  it('answers VALID with the full result shape', async () => {
    const { id, key } = await createKey({ consumer: 'cus_42', meta: { plan: 'pro' }, scopes: ['write:users'] });
    expect(await verify({ credential: key, scopes: ['read:users'] })).toEqual({
      valid: true,
      code: 'VALID',
      keyId: id,
      tenant: 'acme',
      api,
      consumer: 'cus_42',
      scopes: ['write:users'],
      meta: { plan: 'pro' },
      expiresAt: null,
      ratelimits: [],
      credits: null,
    });
  });

  it('applies scope implications and all/any matching', async () => {
    const { key } = await createKey({ scopes: ['repo'] });
    expect((await verify({ credential: key, scopes: ['public_repo'] })).code).toBe('VALID');
    expect((await verify({ credential: key, scopes: ['public_repo', 'read:users'] })).code).toBe('INSUFFICIENT_SCOPE');
    expect((await verify({ credential: key, scopes: ['public_repo', 'read:users'], match: 'any' })).code).toBe('VALID');
  });

  it('answers MALFORMED for garbage, a 10 KB string, and a key with a bad checksum', async () => {
    const { key } = await createKey();
    const typo = key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a');
    for (const credential of ['', 'garbage', 'x'.repeat(10_240), typo, '{"a":1}', 'eyJ.eyJ.sig']) {
      expect((await verify({ credential })).code).toBe('MALFORMED');
    }
  });

  it('answers NOT_FOUND for a well-formed key that was never issued', async () => {
    expect((await verify({ credential: generateKey('kg', randomBytes) })).code).toBe('NOT_FOUND');
  });

  it('never reveals root keys: verifying one is NOT_FOUND', async () => {
    const root = await t.call('POST', '/v1/root-keys', { scopes: ['keys:read'] });
    expect((await verify({ credential: root.body.key, api: 'keygate:management' })).code).toBe('NOT_FOUND');
  });

  it('answers WRONG_AUDIENCE for a key of another API', async () => {
    const { key } = await createKey();
    expect((await verify({ credential: key, api: 'https://other.example' })).code).toBe('WRONG_AUDIENCE');
  });

  it('answers EXPIRED once expiresAt has passed', async () => {
    const { key } = await createKey({ expiresAt: new Date(clock.now() + 800).toISOString() });
    expect((await verify({ credential: key })).code).toBe('VALID');
    clock.advance(900);
    expect((await verify({ credential: key })).code).toBe('EXPIRED');
  });

  it('answers DISABLED after a PATCH and VALID again after re-enabling, without stale cache', async () => {
    const { id, key } = await createKey();
    expect((await verify({ credential: key })).code).toBe('VALID');
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/keys/${id}`, { enabled: false }), 200);
    expect((await verify({ credential: key })).code).toBe('DISABLED');
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/keys/${id}`, { enabled: true, scopes: ['read:billing'] }), 200);
    const after = await verify({ credential: key, scopes: ['read:users'] });
    expect(after.code).toBe('INSUFFICIENT_SCOPE');
    expect(after.scopes).toEqual(['read:billing']);
  });

  it('answers REVOKED after revoke, and NOT_FOUND after delete', async () => {
    const a = await createKey();
    expect((await verify({ credential: a.key })).code).toBe('VALID');
    expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${a.id}/revoke`), 200);
    expect((await verify({ credential: a.key })).code).toBe('REVOKED');
    const b = await createKey();
    expect((await verify({ credential: b.key })).code).toBe('VALID');
    expectStatus(await t.call('DELETE', `/v1/tenants/acme/keys/${b.id}`), 204);
    expect((await verify({ credential: b.key })).code).toBe('NOT_FOUND');
  });

  it('rolls a key: both secrets work during the grace period, then the old one is REVOKED', async () => {
    const { id, key: old } = await createKey();
    const rolled = await t.call('POST', `/v1/tenants/acme/keys/${id}/roll`, { gracePeriodMs: 700 });
    expectStatus(rolled, 200);
    expect(rolled.body.id).toBe(id);
    expect(rolled.body.key).not.toBe(old);
    expect((await verify({ credential: old })).code).toBe('VALID');
    expect((await verify({ credential: rolled.body.key })).keyId).toBe(id);
    clock.advance(800);
    expect((await verify({ credential: old })).code).toBe('REVOKED');
    expect((await verify({ credential: rolled.body.key })).code).toBe('VALID');
  });

  it('enforces the IP allowlist, IPv4 and IPv6, and refuses a missing ip', async () => {
    const { key } = await createKey({ ipAllowlist: ['10.0.0.0/8', '2001:db8::/32'] });
    expect((await verify({ credential: key, ip: '10.1.2.3' })).code).toBe('VALID');
    expect((await verify({ credential: key, ip: '2001:db8::7' })).code).toBe('VALID');
    expect((await verify({ credential: key, ip: '11.1.2.3' })).code).toBe('IP_NOT_ALLOWED');
    expect((await verify({ credential: key })).code).toBe('IP_NOT_ALLOWED');
    expect((await verify({ credential: key, ip: 'not-an-ip' })).code).toBe('IP_NOT_ALLOWED');
  });

  it('rate-limits exactly under 200 concurrent verifies (no overshoot)', async () => {
    const { key } = await createKey({ ratelimits: [{ name: 'per-minute', limit: 50, duration: 60_000 }] });
    const results = await Promise.all(Array.from({ length: 200 }, () => verify({ credential: key })));
    expect(results.filter((r) => r.code === 'VALID')).toHaveLength(50);
    expect(results.filter((r) => r.code === 'RATE_LIMITED')).toHaveLength(150);
    const limited = results.find((r) => r.code === 'RATE_LIMITED');
    expect(limited.ratelimits[0]).toMatchObject({ name: 'per-minute', limit: 50, remaining: 0 });
    expect(Date.parse(limited.ratelimits[0].reset)).toBeGreaterThan(clock.now());
  });

  it('spends credits exactly under 200 concurrent verifies, with remaining after the cost', async () => {
    const { key } = await createKey({ credits: { remaining: 30 } });
    const results = await Promise.all(Array.from({ length: 200 }, () => verify({ credential: key })));
    const valid = results.filter((r) => r.code === 'VALID');
    expect(valid).toHaveLength(30);
    expect(valid.map((r) => r.credits.remaining).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    const exceeded = results.filter((r) => r.code === 'USAGE_EXCEEDED');
    expect(exceeded).toHaveLength(170);
    expect(exceeded[0].credits).toEqual({ remaining: 0 });
  });

  it('spends `cost` credits, checks without spending at cost 0, and refuses a cost above what is left', async () => {
    const { key } = await createKey({ credits: { remaining: 10, refill: { amount: 10, interval: 'daily' } } });
    expect((await verify({ credential: key, cost: 4 })).credits).toEqual({ remaining: 6 });
    expect((await verify({ credential: key, cost: 0 })).credits).toEqual({ remaining: 6 });
    const refused = await verify({ credential: key, cost: 7 });
    expect(refused.code).toBe('USAGE_EXCEEDED');
    expect(refused.credits).toEqual({ remaining: 6 });
    expect((await verify({ credential: key, cost: 6 })).credits).toEqual({ remaining: 0 });
  });

  it('rejects malformed verify requests with 400 problems, a body over the limit with 413', async () => {
    const bad = [
      ['{"credential":', 'MALFORMED_JSON'],
      [{ credential: 1, api }, 'INVALID_REQUEST'],
      [{ credential: 'x', api, extra: true }, 'INVALID_REQUEST'],
      [{ credential: 'x', api, match: 'some' }, 'INVALID_REQUEST'],
      [{ credential: 'x', api, cost: -1 }, 'INVALID_REQUEST'],
      [{ credential: 'x', api, scopes: ['has space'] }, 'INVALID_REQUEST'],
    ] as const;
    for (const [body, code] of bad) {
      const response = await t.call('POST', '/v1/verify', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.code).toBe(code);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
    }
    const huge = await t.call('POST', '/v1/verify', { credential: 'x'.repeat(1_100_000), api });
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe('BODY_TOO_LARGE');
  });

  it('records denied verifications in the audit log, without the secret', async () => {
    const { id, key } = await createKey();
    await verify({ credential: key, scopes: ['read:billing'] });
    // The denial is queued before the answer; flushing writes it now instead of on the writer's timer.
    await t.server.keygate.flush();
    const page = await t.call('GET', '/v1/tenants/acme/audit?limit=100');
    let events: { action: string; target: string; data: { code: string } }[] = page.body.items;
    let cursor = page.body.nextCursor;
    while (cursor) {
      const next = await t.call('GET', `/v1/tenants/acme/audit?limit=100&cursor=${cursor}`);
      events = events.concat(next.body.items);
      cursor = next.body.nextCursor;
    }
    const denied = events.find((e) => e.target === id && e.action === 'key.verify.denied');
    expect(denied?.data.code).toBe('INSUFFICIENT_SCOPE');
    expect(JSON.stringify(events)).not.toContain(key);
  });

  it('lets a tenant-limited root key verify only its own tenant\'s keys', async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'other', name: 'Other' }), 201);
    const limited = await t.call('POST', '/v1/root-keys', { scopes: ['keys:verify'], tenant: 'other' });
    expectStatus(limited, 201);
    const { key } = await createKey();
    const response = await t.call('POST', '/v1/verify', { api, credential: key }, { auth: limited.body.key });
    expect(response.body.code).toBe('NOT_FOUND');
  });
});
