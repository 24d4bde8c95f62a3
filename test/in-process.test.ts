import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../src/server.js';
import { SYSTEM_ACTOR } from '../src/services/context.js';
import { createBackend, type Backend } from './helpers/backends.js';
import { startTwoInstances, verifyUntil, type TwoInstances } from './helpers/instances.js';

const API = 'https://api.inproc.test';

async function seed(keygate: Keygate): Promise<void> {
  const tenant = await keygate.tenants.create(SYSTEM_ACTOR, { slug: 'inproc', name: 'In-process' });
  await keygate.apis.create(SYSTEM_ACTOR, tenant, { identifier: API, name: 'API', scopes: [{ name: 'read:users', description: 'r' }] });
}

describe('in-process verifier (createKeygate)', () => {
  let backend: Backend;
  let keygate: Keygate;

  beforeAll(async () => {
    backend = await createBackend('sqlite');
    keygate = await createKeygate({ config: { ...backend.config, cacheMaxEntries: 3 } });
    await seed(keygate);
  });
  afterAll(async () => {
    await keygate.close();
    await backend.destroy();
  });

  it('verifies like the HTTP route and never serves state older than the last change', async () => {
    const tenant = await keygate.tenants.get('inproc');
    const issued = await keygate.keys.create(SYSTEM_ACTOR, tenant, { api: API, scopes: ['read:users'] });
    const ok = await keygate.verify({ credential: issued.secret, api: API, scopes: ['read:users'] });
    expect(ok).toMatchObject({ valid: true, code: 'VALID', keyId: issued.key.id, tenant: 'inproc' });
    await keygate.keys.update(SYSTEM_ACTOR, tenant, issued.key.id, { scopes: [] });
    expect((await keygate.verify({ credential: issued.secret, api: API, scopes: ['read:users'] })).code).toBe('INSUFFICIENT_SCOPE');
    await keygate.keys.revoke(SYSTEM_ACTOR, tenant, issued.key.id);
    expect((await keygate.verify({ credential: issued.secret, api: API })).code).toBe('REVOKED');
  });

  it('hands out results that cannot corrupt the cache', async () => {
    const tenant = await keygate.tenants.get('inproc');
    const issued = await keygate.keys.create(SYSTEM_ACTOR, tenant, { api: API, scopes: ['read:users'], meta: { plan: 'pro' } });
    const first = await keygate.verify({ credential: issued.secret, api: API });
    expect(() => (first.scopes as string[]).push('admin')).toThrow(TypeError);
    expect(() => {
      (first.meta as Record<string, unknown>)['plan'] = 'free';
    }).toThrow(TypeError);
    expect((await keygate.verify({ credential: issued.secret, api: API })).meta).toEqual({ plan: 'pro' });
  });

  it('stays correct when the bounded cache evicts', async () => {
    const tenant = await keygate.tenants.get('inproc');
    const keys = [];
    for (let i = 0; i < 6; i++) keys.push(await keygate.keys.create(SYSTEM_ACTOR, tenant, { api: API, scopes: [] }));
    for (let round = 0; round < 2; round++) {
      for (const k of keys) expect((await keygate.verify({ credential: k.secret, api: API })).keyId).toBe(k.key.id);
    }
  });

  it('batches usage: lastUsedAt appears after a flush', async () => {
    const tenant = await keygate.tenants.get('inproc');
    const issued = await keygate.keys.create(SYSTEM_ACTOR, tenant, { api: API, scopes: [] });
    await keygate.verify({ credential: issued.secret, api: API });
    expect((await keygate.keys.get(tenant, issued.key.id)).key.lastUsedAt).toBeNull();
    await keygate.flush();
    expect((await keygate.keys.get(tenant, issued.key.id)).key.lastUsedAt).not.toBeNull();
  });
});

describe('scale-out: two instances on PostgreSQL and Redis', () => {
  let instances: TwoInstances;

  beforeAll(async () => {
    instances = await startTwoInstances();
    await seed(instances.a);
  });
  afterAll(async () => {
    await instances.close();
  });

  it('shares rate limits and drops a revoked key from the other instance\'s cache', async () => {
    const { a, b } = instances;
    const tenant = await a.tenants.get('inproc');
    const issued = await a.keys.create(SYSTEM_ACTOR, tenant, { api: API, scopes: [], ratelimits: [{ name: 'total', limit: 4, duration: 60_000 }] });
    const results = await Promise.all([a, b, a, b, a, b].map((k) => k.verify({ credential: issued.secret, api: API })));
    expect(results.filter((r) => r.valid)).toHaveLength(4);

    const plain = await a.keys.create(SYSTEM_ACTOR, tenant, { api: API, scopes: [] });
    expect((await b.verify({ credential: plain.secret, api: API })).code).toBe('VALID'); // now cached in b
    await a.keys.revoke(SYSTEM_ACTOR, tenant, plain.key.id);
    expect(await verifyUntil(b, { credential: plain.secret, api: API }, 'REVOKED')).toBe('REVOKED');
  });
});
