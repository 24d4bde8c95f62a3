import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { snapshotState } from '../helpers/snapshot.js';

/**
 * docs/errors.md promises that INVALID_REQUEST lists every problem in `errors[]`, each with its
 * JSON path: all of them at once, one line per field and reason, without the branch-by-branch
 * noise of a union (`must be equal to constant` ×3, `must match a schema in anyOf`).
 */
describe.each(BACKENDS)('validation errors (%s)', (backendName) => {
  let t: TestServer;
  let api: string;
  beforeAll(async () => {
    t = await startTestServer(backendName, { bodyLimit: 2048 });
    ({ api } = await seedTenant(t));
  });
  afterAll(() => t.close());

  it('lists every problem of a body at once, each union as one line', async () => {
    const before = await snapshotState(t);
    const refused = await t.call('POST', '/v1/tenants', { slug: 5, name: 7, signingAlg: 'HS512', bogus: 1 });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('INVALID_REQUEST');
    expect(refused.body.errors).toEqual([
      { path: '/bogus', message: 'unknown field' },
      { path: '/slug', message: 'must be string' },
      { path: '/name', message: 'must be string' },
      { path: '/signingAlg', message: 'must be "EdDSA", "ES256" or "RS256"' },
    ]);
    expect(refused.body.detail).toBe('body /bogus: unknown field (and 3 more: see errors[])');
    expect(await snapshotState(t)).toBe(before);
  });

  it('reports the fields inside a nullable object, and what a nullable field must be', async () => {
    const before = await snapshotState(t);
    const refused = await t.call('POST', '/v1/tenants/acme/keys', {
      api,
      scopes: ['read:users'],
      name: 5,
      credits: { remaining: 5, refill: { amount: 0, interval: 'weekly' } },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      { path: '/name', message: 'must be string or null' },
      { path: '/credits/refill/amount', message: 'must be >= 1' },
      { path: '/credits/refill/interval', message: 'must be "daily" or "monthly"' },
    ]);
    expect(JSON.stringify(refused.body)).not.toMatch(/anyOf|equal to constant/);
    expect(await snapshotState(t)).toBe(before);
  });

  it('says what the body limit is', async () => {
    const before = await snapshotState(t);
    const refused = await t.call('POST', '/v1/tenants', { slug: 'big', name: 'x'.repeat(4096) });
    expect(refused.status).toBe(413);
    expect(refused.body).toMatchObject({ code: 'BODY_TOO_LARGE', detail: 'the request body is larger than the limit of 2 KiB (2048 bytes), set by KEYGATE_BODY_LIMIT' });
    expect(await snapshotState(t)).toBe(before);
  });
});
