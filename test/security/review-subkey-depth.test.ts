import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_KEY_CHAIN } from '../../src/domain/keys/effective-key.js';
import { MAX_META_BYTES } from '../../src/domain/keys/meta.js';
import { BACKENDS } from '../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of invariant 3: the per-key child cap alone let a key holder nest sub-keys without
 * end (mint a child, mint with the child's secret, …), so every lookup of the deepest key walked
 * an unbounded chain and verify answered the meta of every generation merged — each adding up to
 * MAX_META_BYTES — to the API owner for a one-line request. A chain is now bounded, and so is the
 * meta verify returns.
 */
interface IssuedKey {
  id: string;
  key: string;
}

describe.each(BACKENDS)('a family of keys is bounded in depth and in merged meta (%s)', (backend) => {
  let t: TestServer;
  let api: string;

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
  });
  afterAll(async () => {
    await t.close();
  });

  const keyCount = async (): Promise<number> => {
    let count = 0;
    for (let cursor = ''; ; ) {
      const response = await t.call('GET', `/v1/tenants/acme/keys?limit=100&cursor=${cursor}`);
      expectStatus(response, 200);
      count += response.body.items.length;
      if (response.body.nextCursor === null) return count;
      cursor = response.body.nextCursor;
    }
  };
  const mintAsHolder = (parent: IssuedKey, body: Record<string, unknown>): Promise<{ status: number; body: any }> =>
    t.call('POST', `/v1/tenants/acme/keys/${parent.id}/subkeys`, { scopes: [], ...body }, { auth: parent.key });

  it(`a key holder cannot nest sub-keys more than ${MAX_KEY_CHAIN} keys deep, through either route`, async () => {
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] });
    expectStatus(created, 201);
    let deepest: IssuedKey = created.body;
    for (let length = 2; length <= MAX_KEY_CHAIN; length++) {
      const child = await mintAsHolder(deepest, {});
      expectStatus(child, 201);
      deepest = child.body;
    }
    const before = await keyCount();
    const asHolder = await mintAsHolder(deepest, {});
    expect(asHolder.status).toBe(409);
    expect(asHolder.body.code).toBe('KEY_CANNOT_MINT');
    const asRoot = await t.call('POST', `/v1/tenants/acme/keys/${deepest.id}/subkeys`, { scopes: [] });
    expect(asRoot.status).toBe(409);
    expect(asRoot.body.code).toBe('KEY_CANNOT_MINT');
    expect(await keyCount()).toBe(before);
    // The deepest key itself still works.
    expect((await t.call('POST', '/v1/verify', { credential: deepest.key, api })).body.code).toBe('VALID');
  });

  it('the meta verify returns for a sub-key stays within MAX_META_BYTES: a child cannot add past it', async () => {
    const half = 'x'.repeat(Math.ceil(MAX_META_BYTES / 2));
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: [], meta: { a: half } });
    expectStatus(created, 201);
    const before = await keyCount();
    const refused = await mintAsHolder(created.body, { meta: { b: half } });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('INVALID_REQUEST');
    expect(await keyCount()).toBe(before);
    // Through an update as well: the child's own meta may not take the family past the bound.
    const child = await mintAsHolder(created.body, { meta: { b: 'small' } });
    expectStatus(child, 201);
    const update = await t.call('PATCH', `/v1/tenants/acme/keys/${child.body.id}`, { meta: { b: half } });
    expect(update.status).toBe(400);
    expect(update.body.code).toBe('INVALID_REQUEST');
    expect((await t.call('GET', `/v1/tenants/acme/keys/${child.body.id}`)).body.meta).toEqual({ b: 'small' });
  });
});
