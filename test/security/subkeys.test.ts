import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { random } from '../../src/crypto/secrets.js';
import { generateKey } from '../../src/domain/keys/format.js';
import { SYSTEM_ACTOR } from '../../src/services/context.js';
import { BACKENDS } from '../helpers/backends.js';
import { startTwoInstances, verifyUntil, type TwoInstances } from '../helpers/instances.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Invariant 3 of issue 7: a sub-key never holds more than its ancestors. Every rule is tried
 * through verify over HTTP and through the in-process verifier of the same instance, and
 * minting through the root-key route and the key-holder route, on SQLite and PostgreSQL.
 */
const MAX_SUBKEYS = 5;
const SURFACES = ['http', 'in-process'] as const;
type Surface = (typeof SURFACES)[number];

interface IssuedKey {
  id: string;
  key: string;
}

describe.each(BACKENDS)('sub-keys never hold more than their ancestors (%s)', (backend) => {
  let t: TestServer;
  let api: string;

  beforeAll(async () => {
    // A small cache shows that invented secrets cannot push real keys out of it.
    t = await startTestServer(backend, { maxSubkeys: MAX_SUBKEYS, cacheMaxEntries: 4 });
    ({ api } = await seedTenant(t));
  });
  afterAll(async () => {
    await t.close();
  });

  const verify = async (surface: Surface, credential: string, extra: { scopes?: string[]; ip?: string } = {}): Promise<any> => {
    if (surface === 'http') {
      const response = await t.call('POST', '/v1/verify', { credential, api, ...extra });
      expectStatus(response, 200);
      return response.body;
    }
    return t.server.keygate.verify({ credential, api, ...extra });
  };
  const createKey = async (body: Record<string, unknown>): Promise<IssuedKey> => {
    const response = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['write:users'], ...body });
    expectStatus(response, 201);
    return response.body;
  };
  const mint = (parent: IssuedKey, body: Record<string, unknown>, route: 'root-key' | 'key-holder'): Promise<{ status: number; body: any }> =>
    t.call('POST', `/v1/tenants/acme/keys/${parent.id}/subkeys`, body, route === 'key-holder' ? { auth: parent.key } : {});
  const subkey = async (parent: IssuedKey, body: Record<string, unknown> = {}): Promise<IssuedKey> => {
    const response = await mint(parent, { scopes: ['read:users'], ...body }, 'root-key');
    expectStatus(response, 201);
    return response.body;
  };
  const patch = async (key: IssuedKey, body: Record<string, unknown>): Promise<void> => {
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/keys/${key.id}`, body), 200);
  };
  /** Every key of the tenant as the management API shows it: "nothing changed" compares these. */
  const snapshot = async (): Promise<any[]> => {
    // Usage is written in batches: write what is pending, so that only a change shows.
    await t.server.keygate.flush();
    const items = [];
    for (let cursor = ''; ; ) {
      const response = await t.call('GET', `/v1/tenants/acme/keys?limit=100&cursor=${cursor}`);
      expectStatus(response, 200);
      items.push(...response.body.items);
      if (response.body.nextCursor === null) return items;
      cursor = response.body.nextCursor;
    }
  };

  describe.each(SURFACES)('verify (%s)', (surface) => {
    it('a disabled parent disables its children and grandchildren, also when they are cached', async () => {
      const parent = await createKey({});
      const child = await subkey(parent, { scopes: ['write:users'] });
      const grandchild = (await t.call('POST', `/v1/tenants/acme/keys/${child.id}/subkeys`, { scopes: ['read:users'] }, { auth: child.key })).body;
      expect((await verify(surface, child.key)).code).toBe('VALID');
      expect((await verify(surface, grandchild.key)).code).toBe('VALID');
      await patch(parent, { enabled: false });
      expect((await verify(surface, child.key)).code).toBe('DISABLED');
      expect((await verify(surface, grandchild.key)).code).toBe('DISABLED');
      await patch(parent, { enabled: true });
      expect((await verify(surface, grandchild.key)).code).toBe('VALID');
    });

    it('an allowlist added to the parent later binds its existing children; a child may narrow it, never widen it', async () => {
      const parent = await createKey({});
      const child = await subkey(parent);
      expect((await verify(surface, child.key, { ip: '192.0.2.7' })).code).toBe('VALID');
      await patch(parent, { ipAllowlist: ['10.0.0.0/8'] });
      expect((await verify(surface, child.key, { ip: '192.0.2.7' })).code).toBe('IP_NOT_ALLOWED');
      expect((await verify(surface, child.key, { ip: '10.1.2.3' })).code).toBe('VALID');
      await patch(child, { ipAllowlist: ['0.0.0.0/0'] });
      expect((await verify(surface, child.key, { ip: '192.0.2.7' })).code).toBe('IP_NOT_ALLOWED');
      await patch(child, { ipAllowlist: ['10.9.0.0/16'] });
      expect((await verify(surface, child.key, { ip: '10.1.2.3' })).code).toBe('IP_NOT_ALLOWED');
      expect((await verify(surface, child.key, { ip: '10.9.2.3' })).code).toBe('VALID');
    });

    it('a revoked ancestor revokes, and the scopes and expiry of every ancestor bind', async () => {
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      const parent = await createKey({ scopes: ['write:users', 'read:billing'], expiresAt });
      const child = await subkey(parent, { scopes: ['read:users', 'read:billing'] });
      const result = await verify(surface, child.key, { scopes: ['read:billing'] });
      expect(result).toMatchObject({ code: 'VALID', expiresAt });
      await patch(parent, { scopes: ['write:users'] });
      expect((await verify(surface, child.key, { scopes: ['read:billing'] })).code).toBe('INSUFFICIENT_SCOPE');
      expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${parent.id}/revoke`), 200);
      expect((await verify(surface, child.key)).code).toBe('REVOKED');
    });

    it('a family never spends more than the parent had: two children of a parent with 2 credits get 2 VALID in all', async () => {
      const parent = await createKey({ credits: { remaining: 2 } });
      const children = [await subkey(parent), await subkey(parent)];
      const results = await Promise.all([...children, ...children, ...children].map((c) => verify(surface, c.key)));
      expect(results.filter((r) => r.code === 'VALID')).toHaveLength(2);
      expect(results.filter((r) => r.code === 'USAGE_EXCEEDED')).toHaveLength(4);
      expect(results.find((r) => r.code === 'USAGE_EXCEEDED').credits).toEqual({ remaining: 0 });
      expect((await t.call('GET', `/v1/tenants/acme/keys/${parent.id}`)).body.credits.remaining).toBe(0);
      expect((await verify(surface, parent.key)).code).toBe('USAGE_EXCEEDED');
    });

    it('a child with its own credits spends from them and from its parent, all or nothing; remaining is the smallest', async () => {
      const parent = await createKey({ credits: { remaining: 5 } });
      const child = await subkey(parent);
      await patch(child, { credits: { remaining: 1 } });
      expect(await verify(surface, child.key)).toMatchObject({ code: 'VALID', credits: { remaining: 0 } });
      expect(await verify(surface, child.key)).toMatchObject({ code: 'USAGE_EXCEEDED', credits: { remaining: 0 } });
      // The refused request took nothing from the parent: 5 - 1 left.
      expect((await t.call('GET', `/v1/tenants/acme/keys/${parent.id}`)).body.credits.remaining).toBe(4);
      expect(await verify(surface, parent.key)).toMatchObject({ code: 'VALID', credits: { remaining: 3 } });
    });

    it('children count against the parent\'s rate limit: five children of a 3-per-minute parent get 3 VALID in the window', async () => {
      const parent = await createKey({ ratelimits: [{ name: 'family', limit: 3, duration: 60_000 }] });
      const children = [];
      for (let i = 0; i < 5; i++) children.push(await subkey(parent));
      const results = await Promise.all(children.map((c) => verify(surface, c.key)));
      expect(results.filter((r) => r.code === 'VALID')).toHaveLength(3);
      const limited = results.find((r) => r.code === 'RATE_LIMITED');
      expect(limited.ratelimits).toEqual([expect.objectContaining({ name: 'family', limit: 3, remaining: 0 })]);
      expect((await verify(surface, parent.key)).code).toBe('RATE_LIMITED');
    });

    it('meta is inherited and an ancestor wins: verify returns the merged meta', async () => {
      const parent = await createKey({ meta: { plan: 'pro' } });
      const child = await subkey(parent, { meta: { team: 'ci' } });
      expect((await verify(surface, child.key)).meta).toEqual({ team: 'ci', plan: 'pro' });
      // The parent sets a name the child already had: the parent's value is what the API owner sees.
      await patch(parent, { meta: { plan: 'free', team: 'billing' } });
      expect((await verify(surface, child.key)).meta).toEqual({ team: 'billing', plan: 'free' });
    });
  });

  describe.each(['root-key', 'key-holder'] as const)('minting through the %s route', (route) => {
    it('refuses a child that overrides a parent\'s meta name (creation and update), writing nothing', async () => {
      const parent = await createKey({ meta: { plan: 'pro' } });
      const before = await snapshot();
      const refused = await mint(parent, { scopes: [], meta: { plan: 'enterprise' } }, route);
      expect(refused.status).toBe(400);
      expect(refused.body.code).toBe('META_KEY_INHERITED');
      expect(await snapshot()).toEqual(before);
      const child = await subkey(parent, { meta: { team: 'ci' } });
      const update = await t.call('PATCH', `/v1/tenants/acme/keys/${child.id}`, { meta: { plan: 'enterprise' } });
      expect(update.status).toBe(400);
      expect(update.body.code).toBe('META_KEY_INHERITED');
      expect((await t.call('GET', `/v1/tenants/acme/keys/${child.id}`)).body.meta).toEqual({ team: 'ci' });
    });

    it('refuses to mint for a parent out of credits', async () => {
      const parent = await createKey({ credits: { remaining: 0 } });
      const before = await snapshot();
      const refused = await mint(parent, { scopes: [] }, route);
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('KEY_CANNOT_MINT');
      expect(await snapshot()).toEqual(before);
    });

    it('refuses to mint for a rate-limited parent, and for a child of one', async () => {
      const parent = await createKey({ ratelimits: [{ name: 'one', limit: 1, duration: 60_000 }] });
      const child = await subkey(parent);
      expect((await verify('http', parent.key)).code).toBe('VALID');
      const before = await snapshot();
      for (const key of [parent, child]) {
        const refused = await mint(key, { scopes: [] }, route);
        expect(refused.status).toBe(409);
        expect(refused.body.code).toBe('KEY_CANNOT_MINT');
      }
      expect(await snapshot()).toEqual(before);
    });

    it('refuses to mint under a disabled ancestor', async () => {
      const parent = await createKey({});
      const child = await subkey(parent);
      await patch(parent, { enabled: false });
      const before = await snapshot();
      for (const key of [parent, child]) {
        const refused = await mint(key, { scopes: [] }, route);
        // The key holder's own key no longer authenticates; the root key is told why.
        expect(refused.status).toBe(route === 'key-holder' ? 401 : 409);
        if (route === 'root-key') expect(refused.body.code).toBe('KEY_CANNOT_MINT');
      }
      expect(await snapshot()).toEqual(before);
    });

    it(`caps a key's unrevoked children at KEYGATE_MAX_SUBKEYS (${MAX_SUBKEYS}), even when minted in parallel`, async () => {
      const parent = await createKey({});
      const attempts = await Promise.all(Array.from({ length: 9 }, () => mint(parent, { scopes: [] }, route)));
      expect(attempts.filter((a) => a.status === 201)).toHaveLength(MAX_SUBKEYS);
      for (const refused of attempts.filter((a) => a.status !== 201)) {
        expect(refused.status).toBe(409);
        expect(refused.body.code).toBe('SUBKEY_LIMIT_REACHED');
      }
      const children = (await snapshot()).filter((k) => k.parentId === parent.id);
      expect(children).toHaveLength(MAX_SUBKEYS);
      expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${attempts.find((a) => a.status === 201)!.body.id}/revoke`), 200);
      expectStatus(await mint(parent, { scopes: [] }, route), 201);
    });
  });

  describe('bounded parsers and lookups (invariant 10)', () => {
    it('refuses a key meta nested too deep with 400 INVALID_REQUEST, on create, update and sub-key, changing nothing', async () => {
      const deep = (levels: number, name = 'n'): Record<string, unknown> => {
        let value: unknown = 'bottom';
        for (let i = 0; i < levels; i++) value = { [name]: value };
        return value as Record<string, unknown>;
      };
      const parent = await createKey({ meta: deep(10) });
      const before = await snapshot();
      const attempts = [
        await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: [], meta: deep(17) }),
        await t.call('PATCH', `/v1/tenants/acme/keys/${parent.id}`, { meta: deep(17) }),
        await t.call('POST', `/v1/tenants/acme/keys/${parent.id}/subkeys`, { scopes: [], meta: deep(17, 'c') }),
      ];
      for (const response of attempts) {
        expect(response.status).toBe(400);
        expect(response.body.code).toBe('INVALID_REQUEST');
      }
      // Far deeper than any stack: a 400, never a 500.
      const abyss = `{"api":"${api}","scopes":[],"meta":{"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`;
      const response = await t.call('POST', '/v1/tenants/acme/keys', abyss);
      expect(response.status).toBe(400);
      expect(await snapshot()).toEqual(before);
    });

    it('checks a management bearer\'s shape and checksum before any lookup', async () => {
      const store = t.server.keygate.store.keys;
      const original = store.findBySecret.bind(store);
      let lookups = 0;
      store.findBySecret = async (hash) => {
        lookups += 1;
        return original(hash);
      };
      try {
        // A real key's last character changed, never to itself (that was a 1-in-62 chance of a valid key).
        const issued = generateKey('kg', random);
        const invented = ['x'.repeat(40), 'kg_' + 'A'.repeat(28), issued.slice(0, -1) + (issued.endsWith('0') ? '1' : '0')];
        for (const bearer of invented) expect((await t.call('GET', '/v1/tenants/acme/keys', undefined, { auth: bearer })).status).toBe(401);
        expect(lookups).toBe(0);
        // A well-formed key that was never issued is looked up (and refused): the spy sees lookups.
        expect((await t.call('GET', '/v1/tenants/acme/keys', undefined, { auth: generateKey('kg', random) })).status).toBe(401);
        expect(lookups).toBe(1);
      } finally {
        store.findBySecret = original;
      }
    });

    it('does not let not-found lookups evict real keys from the verify cache', async () => {
      const real = await createKey({});
      expect((await verify('in-process', real.key)).code).toBe('VALID');
      const store = t.server.keygate.store.keys;
      const original = store.findBySecret.bind(store);
      const looked: string[] = [];
      store.findBySecret = async (hash) => {
        looked.push(hash);
        return original(hash);
      };
      try {
        for (let i = 0; i < 20; i++) {
          const invented = generateKey('kg', random);
          expect((await verify(i % 2 === 0 ? 'http' : 'in-process', invented)).code).toBe('NOT_FOUND');
          expect((await t.call('GET', '/v1/tenants/acme/keys', undefined, { auth: invented })).status).toBe(401);
        }
        const lookups = looked.length;
        expect(lookups).toBe(20);
        expect((await verify('in-process', real.key)).code).toBe('VALID');
        expect((await verify('http', real.key)).code).toBe('VALID');
        expect(looked).toHaveLength(lookups);
      } finally {
        store.findBySecret = original;
      }
    });
  });
});

describe('two instances on PostgreSQL and Redis: a family is one family everywhere', () => {
  const API = 'https://api.family.test';
  let instances: TwoInstances;

  beforeAll(async () => {
    instances = await startTwoInstances();
    const tenant = await instances.a.tenants.create(SYSTEM_ACTOR, { slug: 'family', name: 'Family' });
    await instances.a.apis.create(SYSTEM_ACTOR, tenant, { identifier: API, name: 'API', scopes: [{ name: 'read:users', description: 'r' }] });
  });
  afterAll(async () => {
    await instances.close();
  });

  it('counts every child against the parent\'s limit in Redis, whichever instance verifies', async () => {
    const { a, b } = instances;
    const tenant = await a.tenants.get('family');
    const parent = await a.keys.create(SYSTEM_ACTOR, tenant, { api: API, scopes: [], ratelimits: [{ name: 'family', limit: 3, duration: 60_000 }] });
    const children = [];
    for (let i = 0; i < 5; i++) children.push(await a.keys.createSubkey(SYSTEM_ACTOR, tenant, parent.key.id, { scopes: [] }));
    const results = await Promise.all(children.map((c, i) => (i % 2 === 0 ? a : b).verify({ credential: c.secret, api: API })));
    expect(results.filter((r) => r.valid)).toHaveLength(3);
    expect(results.filter((r) => r.code === 'RATE_LIMITED')).toHaveLength(2);
  });

  it('drops a cached child on the other instance when its parent changes', async () => {
    const { a, b } = instances;
    const tenant = await a.tenants.get('family');
    const parent = await a.keys.create(SYSTEM_ACTOR, tenant, { api: API, scopes: [] });
    const child = await a.keys.createSubkey(SYSTEM_ACTOR, tenant, parent.key.id, { scopes: [] });
    expect((await b.verify({ credential: child.secret, api: API })).code).toBe('VALID'); // now cached in b
    await a.keys.update(SYSTEM_ACTOR, tenant, parent.key.id, { enabled: false });
    expect(await verifyUntil(b, { credential: child.secret, api: API }, 'DISABLED')).toBe('DISABLED');
  });
});
