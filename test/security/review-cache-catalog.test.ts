import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/services/context.js';
import { startTwoInstances, verifyUntil, type TwoInstances } from '../helpers/instances.js';

/**
 * Review of invariants 3 and 10: the verify cache holds each key's scopes with the catalog's
 * implications baked in. A catalog change on one instance cleared only that instance's cache;
 * the API id it published on the bus dropped nothing elsewhere, so another instance kept
 * granting a removed implication until its cache TTL.
 */
describe('two instances on PostgreSQL and Redis: a catalog change reaches every verify cache', () => {
  const API = 'https://api.catalog.test';
  let instances: TwoInstances;

  beforeAll(async () => {
    instances = await startTwoInstances();
    const tenant = await instances.a.tenants.create(SYSTEM_ACTOR, { slug: 'catalog', name: 'Catalog' });
    await instances.a.apis.create(SYSTEM_ACTOR, tenant, {
      identifier: API,
      name: 'API',
      scopes: [
        { name: 'admin', description: 'a', implies: ['read:users'] },
        { name: 'read:users', description: 'r' },
      ],
    });
  });
  afterAll(async () => {
    await instances.close();
  });

  it('an implication removed on one instance is no longer granted by the other', async () => {
    const { a, b } = instances;
    const tenant = await a.tenants.get('catalog');
    const key = await a.keys.create(SYSTEM_ACTOR, tenant, { api: API, scopes: ['admin'] });
    const request = { credential: key.secret, api: API, scopes: ['read:users'] };
    expect((await b.verify(request)).code).toBe('VALID'); // now cached in b
    await a.apis.update(SYSTEM_ACTOR, tenant, API, {
      scopes: [
        { name: 'admin', description: 'a' },
        { name: 'read:users', description: 'r' },
      ],
    });
    expect((await a.verify(request)).code).toBe('INSUFFICIENT_SCOPE');
    expect(await verifyUntil(b, request, 'INSUFFICIENT_SCOPE')).toBe('INSUFFICIENT_SCOPE');
  });
});
