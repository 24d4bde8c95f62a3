import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

describe.each(BACKENDS)('management API (%s)', (backend) => {
  let t: TestServer;
  let api: string;

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
  });
  afterAll(() => t.close());

  const keysOf = async (): Promise<number> => (await t.call('GET', '/v1/tenants/acme/keys?limit=100')).body.items.length;

  it('serves health, the OpenAPI 3.1 document and the docs page', async () => {
    expect((await t.call('GET', '/healthz', undefined, { auth: null })).body).toEqual({ status: 'ok', store: backend, cluster: 'memory' });
    const doc = await t.call('GET', '/openapi.json', undefined, { auth: null });
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/verify', '/v1/tenants/{slug}/keys', '/v1/root-keys']));
    expect(doc.body.paths['/v1/tenants/{slug}/keys'].post.requestBody.content['application/json'].schema.properties.scopes).toBeDefined();
    const page = await fetch(`${t.url}/docs/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger');
  });

  it('creates, reads and lists tenants and APIs; duplicates are 409', async () => {
    const again = await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme again' });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('TENANT_EXISTS');
    expect((await t.call('GET', '/v1/tenants/acme')).body).toMatchObject({ slug: 'acme', name: 'Acme' });
    expect((await t.call('GET', '/v1/tenants/missing')).body.code).toBe('TENANT_NOT_FOUND');
    const dupApi = await t.call('POST', '/v1/tenants/acme/apis', { identifier: api, name: 'x', scopes: [] });
    expect(dupApi.body.code).toBe('API_EXISTS');
    const apis = await t.call('GET', '/v1/tenants/acme/apis');
    expect(apis.body.items.map((a: { identifier: string }) => a.identifier)).toEqual([api]);
    const one = await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`);
    expect(one.body.scopes).toContainEqual({ name: 'repo', description: 'Full repository access', implies: ['public_repo'] });
  });

  it('refuses bad API catalogs and tenant slugs with stable codes', async () => {
    const cases: [string, unknown, string][] = [
      ['/v1/tenants', { slug: 'Bad Slug', name: 'x' }, 'INVALID_REQUEST'],
      ['/v1/tenants', { slug: '_system', name: 'x' }, 'INVALID_REQUEST'],
      ['/v1/tenants/acme/apis', { identifier: 'https://x', name: 'x', scopes: [{ name: 'a b', description: '' }] }, 'INVALID_REQUEST'],
      ['/v1/tenants/acme/apis', { identifier: 'https://x', name: 'x', scopes: [{ name: 'a', description: '', implies: ['ghost'] }] }, 'UNKNOWN_SCOPE'],
      ['/v1/tenants/acme/apis', { identifier: 'https://x', name: 'x', scopes: [{ name: 'a', description: '' }, { name: 'a', description: '' }] }, 'INVALID_SCOPE'],
      ['/v1/tenants/acme/apis', { identifier: 'https://x', name: 'x', scopes: [], keyPrefix: 'Has_Underscore' }, 'INVALID_REQUEST'],
      ['/v1/tenants/nope/apis', { identifier: 'https://x', name: 'x', scopes: [] }, 'TENANT_NOT_FOUND'],
    ];
    for (const [path, body, code] of cases) {
      const response = await t.call('POST', path, body);
      expect(response.body.code, JSON.stringify(body)).toBe(code);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
    }
    expect((await t.call('GET', '/v1/tenants')).body.items.map((x: { slug: string }) => x.slug)).toEqual(['acme']);
  });

  it('refuses invalid key settings with a 4xx and writes nothing', async () => {
    const before = await keysOf();
    const past = new Date(Date.now() - 60_000).toISOString();
    const cases: [Record<string, unknown>, string][] = [
      [{ api, scopes: ['delete:everything'] }, 'UNKNOWN_SCOPE'],
      [{ api: 'https://nope', scopes: [] }, 'API_NOT_FOUND'],
      [{ api, scopes: [], expiresAt: past }, 'EXPIRY_IN_PAST'],
      [{ api, scopes: [], expiresAt: 'tomorrow' }, 'INVALID_REQUEST'],
      [{ api, scopes: [], credits: { remaining: -1 } }, 'INVALID_REQUEST'],
      [{ api, scopes: [], credits: { remaining: 1, refill: { amount: 0, interval: 'daily' } } }, 'INVALID_REQUEST'],
      [{ api, scopes: [], credits: { remaining: 1, refill: { amount: 1, interval: 'weekly' } } }, 'INVALID_REQUEST'],
      [{ api, scopes: [], ratelimits: [{ name: 'x', limit: -5, duration: 1000 }] }, 'INVALID_REQUEST'],
      [{ api, scopes: [], ratelimits: [{ name: 'x', limit: 5, duration: 0 }] }, 'INVALID_REQUEST'],
      [{ api, scopes: [], ratelimits: [{ name: 'x', limit: 5, duration: 10 }, { name: 'x', limit: 6, duration: 10 }] }, 'INVALID_REQUEST'],
      [{ api, scopes: [], ipAllowlist: ['10.0.0.0/33'] }, 'INVALID_CIDR'],
      [{ api, scopes: [], ipAllowlist: ['example.com'] }, 'INVALID_CIDR'],
      [{ api, scopes: [], meta: { big: 'x'.repeat(20_000) } }, 'INVALID_REQUEST'],
      [{ api, scopes: 'read:users' }, 'INVALID_REQUEST'],
    ];
    for (const [body, code] of cases) {
      const response = await t.call('POST', '/v1/tenants/acme/keys', body);
      expect(response.body.code, JSON.stringify(body).slice(0, 200)).toBe(code);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
    }
    expect(await keysOf()).toBe(before);
  });

  it('shows the secret once, stores only its start, and never lists it', async () => {
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], name: 'ci' });
    expectStatus(created, 201);
    const { key, id, start } = created.body;
    expect(key.startsWith(start)).toBe(true);
    expect(start).toMatch(/^kg_[0-9A-Za-z]{4}$/);
    const fetched = await t.call('GET', `/v1/tenants/acme/keys/${id}`);
    expect(fetched.body.key).toBeUndefined();
    expect(JSON.stringify((await t.call('GET', '/v1/tenants/acme/keys?limit=100')).body)).not.toContain(key);
    expect(JSON.stringify((await t.call('GET', '/v1/tenants/acme/audit?limit=100')).body)).not.toContain(key);
  });

  it('lists keys by API and consumer with cursor pagination; a forged cursor is 400', async () => {
    for (let i = 0; i < 5; i++) expectStatus(await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: [], consumer: 'cus_paged' }), 201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `consumer=cus_paged&api=${encodeURIComponent(api)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await t.call('GET', `/v1/tenants/acme/keys?${query}`);
      expectStatus(page, 200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((k: { id: string }) => k.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    const forged = await t.call('GET', '/v1/tenants/acme/keys?cursor=bm9wZQ');
    expect(forged.status).toBe(400);
    expect(forged.body.code).toBe('INVALID_CURSOR');
    expect((await t.call('GET', '/v1/tenants/acme/keys?limit=1000')).status).toBe(400);
    expect((await t.call('GET', '/v1/tenants/acme/keys?api=https%3A%2F%2Fnope')).body.code).toBe('API_NOT_FOUND');
  });

  it('updates every setting, clears with null, and refuses changes to a revoked key', async () => {
    const { id } = (await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] })).body;
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const patched = await t.call('PATCH', `/v1/tenants/acme/keys/${id}`, {
      scopes: ['read:users', 'read:billing'],
      expiresAt,
      meta: { tier: 'gold' },
      name: 'renamed',
      consumer: 'cus_9',
      ratelimits: [{ name: 'rps', limit: 10, duration: 1000 }],
      credits: { remaining: 100, refill: { amount: 100, interval: 'monthly' } },
      ipAllowlist: ['192.168.0.0/16'],
    });
    expectStatus(patched, 200);
    expect(patched.body).toMatchObject({ scopes: ['read:users', 'read:billing'], expiresAt, meta: { tier: 'gold' }, name: 'renamed', consumer: 'cus_9', credits: { remaining: 100, refill: { amount: 100, interval: 'monthly' } }, ipAllowlist: ['192.168.0.0/16'] });
    const cleared = await t.call('PATCH', `/v1/tenants/acme/keys/${id}`, { expiresAt: null, credits: null, ipAllowlist: null });
    expect(cleared.body).toMatchObject({ expiresAt: null, credits: null, ipAllowlist: null });
    expect((await t.call('PATCH', `/v1/tenants/acme/keys/${id}`, {})).status).toBe(400);
    expect((await t.call('PATCH', `/v1/tenants/acme/keys/${id}`, { scopes: ['nope:nope'] })).body.code).toBe('UNKNOWN_SCOPE');
    expect((await t.call('PATCH', '/v1/tenants/acme/keys/key_doesnotexist', { enabled: true })).body.code).toBe('KEY_NOT_FOUND');
    expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${id}/revoke`), 200);
    const afterRevoke = await t.call('PATCH', `/v1/tenants/acme/keys/${id}`, { enabled: true });
    expect(afterRevoke.status).toBe(409);
    expect(afterRevoke.body.code).toBe('KEY_REVOKED');
    expect((await t.call('POST', `/v1/tenants/acme/keys/${id}/roll`, { gracePeriodMs: 0 })).body.code).toBe('KEY_REVOKED');
  });

  describe('sub-keys', () => {
    const verify = async (credential: string, scopes: string[] = []) =>
      (await t.call('POST', '/v1/verify', { credential, api, scopes })).body;

    it('lets the key holder create a narrower child that inherits expiry, consumer and allowlist', async () => {
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      const parent = (await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['write:users', 'read:billing'], consumer: 'cus_p', expiresAt })).body;
      const child = await t.call('POST', `/v1/tenants/acme/keys/${parent.id}/subkeys`, { scopes: ['read:users'], name: 'ci job' }, { auth: parent.key });
      expectStatus(child, 201);
      expect(child.body).toMatchObject({ parentId: parent.id, scopes: ['read:users'], expiresAt, consumer: 'cus_p', name: 'ci job' });
      expect((await verify(child.body.key, ['read:users'])).code).toBe('VALID');
      expect((await verify(child.body.key, ['read:billing'])).code).toBe('INSUFFICIENT_SCOPE');
    });

    it('holds a key-holder to its own IP allowlist when it mints sub-keys', async () => {
      const fenced = (await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], ipAllowlist: ['10.0.0.0/8'] })).body;
      const fromLoopback = await t.call('POST', `/v1/tenants/acme/keys/${fenced.id}/subkeys`, { scopes: [] }, { auth: fenced.key });
      expect(fromLoopback.status).toBe(401);
      const open = (await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], ipAllowlist: ['127.0.0.1', '::1'] })).body;
      expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${open.id}/subkeys`, { scopes: [] }, { auth: open.key }), 201);
    });

    it('refuses a child with more scopes than its parent (403) or outliving it (400), writing nothing', async () => {
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      const parent = (await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], expiresAt })).body;
      const before = await keysOf();
      const more = await t.call('POST', `/v1/tenants/acme/keys/${parent.id}/subkeys`, { scopes: ['read:users', 'write:users'] }, { auth: parent.key });
      expect(more.status).toBe(403);
      expect(more.body.code).toBe('SCOPE_NOT_ALLOWED');
      const longer = await t.call('POST', `/v1/tenants/acme/keys/${parent.id}/subkeys`, { scopes: [], expiresAt: new Date(Date.now() + 7_200_000).toISOString() });
      expect(longer.status).toBe(400);
      expect(longer.body.code).toBe('EXPIRY_AFTER_PARENT');
      const forever = await t.call('POST', `/v1/tenants/acme/keys/${parent.id}/subkeys`, { scopes: [], expiresAt: null });
      expect(forever.body.code).toBe('EXPIRY_AFTER_PARENT');
      expect(await keysOf()).toBe(before);
    });

    it('lets a key create sub-keys only of itself, and a child its own grandchildren', async () => {
      const a = (await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['write:users'] })).body;
      const b = (await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['write:users'] })).body;
      const denied = await t.call('POST', `/v1/tenants/acme/keys/${b.id}/subkeys`, { scopes: [] }, { auth: a.key });
      expect(denied.status).toBe(403);
      expect((await t.call('POST', '/v1/tenants/other/keys', { api, scopes: [] }, { auth: a.key })).status).toBe(403);
      const child = (await t.call('POST', `/v1/tenants/acme/keys/${a.id}/subkeys`, { scopes: ['write:users'] }, { auth: a.key })).body;
      const grandchild = await t.call('POST', `/v1/tenants/acme/keys/${child.id}/subkeys`, { scopes: ['read:users'] }, { auth: child.key });
      expectStatus(grandchild, 201);
      expect(grandchild.body.parentId).toBe(child.id);
    });

    it('revoking a key revokes its whole subtree', async () => {
      const root = (await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['write:users'] })).body;
      const child = (await t.call('POST', `/v1/tenants/acme/keys/${root.id}/subkeys`, { scopes: ['write:users'] })).body;
      const grandchild = (await t.call('POST', `/v1/tenants/acme/keys/${child.id}/subkeys`, { scopes: ['read:users'] })).body;
      expect((await verify(grandchild.key)).code).toBe('VALID');
      const revoked = await t.call('POST', `/v1/tenants/acme/keys/${root.id}/revoke`);
      expect(revoked.body.revoked.sort()).toEqual([root.id, child.id, grandchild.id].sort());
      for (const k of [root, child, grandchild]) expect((await verify(k.key)).code).toBe('REVOKED');
      const late = await t.call('POST', `/v1/tenants/acme/keys/${child.id}/subkeys`, { scopes: [] }, { auth: child.key });
      expect(late.status).toBe(401);
    });

    it('narrowing a parent narrows its descendants, so no child ever holds more', async () => {
      const root = (await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['write:users', 'read:billing'] })).body;
      const child = (await t.call('POST', `/v1/tenants/acme/keys/${root.id}/subkeys`, { scopes: ['read:users', 'read:billing'] })).body;
      expect((await verify(child.key, ['read:billing'])).code).toBe('VALID');
      const expiresAt = new Date(Date.now() + 600_000).toISOString();
      expectStatus(await t.call('PATCH', `/v1/tenants/acme/keys/${root.id}`, { scopes: ['write:users'], expiresAt }), 200);
      const after = await verify(child.key, ['read:billing']);
      expect(after.code).toBe('INSUFFICIENT_SCOPE');
      expect(after.scopes).toEqual(['read:users']);
      expect(after.expiresAt).toBe(expiresAt);
      const widen = await t.call('PATCH', `/v1/tenants/acme/keys/${child.id}`, { scopes: ['read:billing'] });
      expect(widen.body.code).toBe('SCOPE_NOT_ALLOWED');
    });
  });

  it('limits a root key to its scopes and tenant: it cannot mint a broader one', async () => {
    const narrow = (await t.call('POST', '/v1/root-keys', { scopes: ['keys:read', 'root_keys:write'], tenant: 'acme' })).body;
    expect(narrow).toMatchObject({ scopes: ['keys:read', 'root_keys:write'], tenant: 'acme' });
    expect((await t.call('POST', '/v1/root-keys', { scopes: ['keys:write'] }, { auth: narrow.key })).status).toBe(403);
    expect((await t.call('POST', '/v1/root-keys', { scopes: ['keys:read'] }, { auth: narrow.key })).body.tenant).toBe('acme');
    expect((await t.call('POST', '/v1/root-keys', { scopes: ['keys:read'], tenant: 'other' }, { auth: narrow.key })).status).toBe(403);
    expect((await t.call('POST', '/v1/root-keys', { scopes: ['not:a:scope'] })).body.code).toBe('UNKNOWN_SCOPE');
    expect((await t.call('POST', '/v1/root-keys', { scopes: ['keys:read'], tenant: 'ghost' })).body.code).toBe('TENANT_NOT_FOUND');
    expect((await t.call('GET', '/v1/tenants/acme/keys', undefined, { auth: narrow.key })).status).toBe(200);
  });

  it('records every change in the audit log with actor, target, time and request id', async () => {
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: [] });
    const requestId = created.body.id;
    await t.call('POST', `/v1/tenants/acme/keys/${requestId}/revoke`);
    const events: { action: string; target: string; actor: string; at: string; requestId: string }[] = [];
    let cursor: string | null = null;
    do {
      const page = await t.call('GET', `/v1/tenants/acme/audit?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      events.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    const mine = events.filter((e) => e.target === requestId);
    // Newest first.
    expect(mine.map((e) => e.action)).toEqual(['key.revoke', 'key.create']);
    for (const e of mine) {
      expect(e.actor).toMatch(/^key_/);
      expect(e.requestId).toMatch(/^req_/);
      expect(Date.parse(e.at)).toBeGreaterThan(Date.now() - 60_000);
    }
  });
});
