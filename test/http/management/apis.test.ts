import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';

const CATALOG = [
  { name: 'read:orders', description: 'Read orders' },
  { name: 'write:orders', description: 'Change orders', implies: ['read:orders'] },
];

describe.each(BACKENDS)('API lifecycle (%s)', (backend) => {
  let t: TestServer;
  let n = 0;

  /** A fresh API of tenant acme with a key holding write:orders and a client allowed it. */
  async function apiInUse(): Promise<{ identifier: string; id: string; path: string; keyId: string; key: string; clientId: string; jwt: string }> {
    n += 1;
    const identifier = `https://orders-${n}.acme.test/v1`;
    const created = await t.call('POST', '/v1/tenants/acme/apis', { identifier, name: 'Orders', scopes: CATALOG });
    expectStatus(created, 201);
    const key = (await t.call('POST', '/v1/tenants/acme/keys', { api: identifier, scopes: ['write:orders'] })).body;
    const client = (await t.call('POST', '/v1/tenants/acme/clients', { name: 'svc', grantTypes: ['client_credentials'], scopes: { [identifier]: ['read:orders', 'write:orders'] } })).body;
    const jwt = (await t.call('POST', '/v1/tenants/acme/tokens', { api: identifier, consumer: 'cust', scopes: ['read:orders'] })).body.token;
    return { identifier, id: created.body.id, path: `/v1/tenants/acme/apis/${encodeURIComponent(identifier)}`, keyId: key.id, key: key.key, clientId: client.clientId, jwt };
  }

  const verify = async (credential: string, api: string, scopes: string[] = []): Promise<string> => (await t.call('POST', '/v1/verify', { credential, api, scopes })).body.code;

  beforeAll(async () => {
    t = await startTestServer(backend);
    await seedTenant(t);
    await seedTenant(t, 'beta');
  });
  afterAll(() => t.close());

  it('is addressed by its id as well as by its URL-encoded identifier, never across tenants', async () => {
    const api = await apiInUse();
    expect((await t.call('GET', `/v1/tenants/acme/apis/${api.id}`)).body.identifier).toBe(api.identifier);
    expect((await t.call('PATCH', `/v1/tenants/acme/apis/${api.id}`, { name: 'Orders v1' })).body.name).toBe('Orders v1');
    expect((await t.call('GET', api.path)).body.name).toBe('Orders v1');
    const before = await snapshotState(t);
    expect((await t.call('GET', `/v1/tenants/beta/apis/${api.id}`)).body.code).toBe('API_NOT_FOUND');
    expect((await t.call('PATCH', `/v1/tenants/beta/apis/${api.id}`, { name: 'x' })).body.code).toBe('API_NOT_FOUND');
    expect((await t.call('DELETE', `/v1/tenants/beta/apis/${api.id}?force=true`)).body.code).toBe('API_NOT_FOUND');
    expect(await snapshotState(t)).toBe(before);
  });

  it('reads back the operations compiled from the OpenAPI document, each with the scopes it requires, only in its tenant', async () => {
    const api = await apiInUse();
    const missing = await t.call('GET', `${api.path}/operations`);
    expect([missing.status, missing.body.code]).toEqual([404, 'DOCUMENT_NOT_FOUND']);
    const document = {
      openapi: '3.1.0',
      info: { title: 'Orders', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: ['read:orders'] }],
      paths: { '/orders': { get: { operationId: 'listOrders', responses: { '200': { description: 'ok' } } }, post: { security: [{ bearer: ['write:orders'] }], 'x-keygate-cost': 3, responses: { '201': { description: 'made' } } } } },
    };
    const uploaded = await t.call('PUT', `${api.path}/openapi`, JSON.stringify(document), { headers: { 'content-type': 'application/json' } });
    expectStatus(uploaded, 200);
    const operations = await t.call('GET', `${api.path}/operations`);
    expectStatus(operations, 200);
    expect(operations.body).toEqual(uploaded.body);
    expect(operations.body.operations).toEqual([
      { method: 'GET', path: '/orders', operationId: 'listOrders', public: false, anyOf: [['read:orders']], cost: 1 },
      { method: 'POST', path: '/orders', operationId: null, public: false, anyOf: [['write:orders']], cost: 3 },
    ]);
    expect((await t.call('GET', `/v1/tenants/acme/apis/${api.id}/operations`)).body.operations).toHaveLength(2);
    expect((await t.call('GET', `/v1/tenants/beta/apis/${api.id}/operations`)).status).toBe(404);
    const reader = (await t.call('POST', '/v1/root-keys', { scopes: ['keys:read'] })).body.key;
    expect((await t.call('GET', `${api.path}/operations`, undefined, { auth: reader })).status).toBe(403);
  });

  it('lists the APIs whose identifier or name contains ?search=, in any case, in the tenant only', async () => {
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://ledger.acme.test', name: 'General Ledger', scopes: [] }), 201);
    const identifiers = async (slug: string, query: string): Promise<string[]> => {
      const listed = await t.call('GET', `/v1/tenants/${slug}/apis?${query}`);
      expectStatus(listed, 200);
      return listed.body.items.map((a: { identifier: string }) => a.identifier);
    };
    expect(await identifiers('acme', 'search=LEDGER')).toEqual(['https://ledger.acme.test']);
    expect(await identifiers('acme', 'search=general%20l')).toEqual(['https://ledger.acme.test']);
    expect(await identifiers('beta', 'search=ledger')).toEqual([]);
    expect((await identifiers('acme', '')).length).toBeGreaterThan(1);
  });

  it('answers an unencoded identifier with a 404 that says to encode it', async () => {
    const api = await apiInUse();
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const answer = await t.call(method, `/v1/tenants/acme/apis/${api.identifier}`, method === 'PATCH' ? { name: 'x' } : undefined);
      expect(answer.status).toBe(404);
      expect(answer.body.code).toBe('ROUTE_NOT_FOUND');
      expect(answer.body.detail).toContain('URL-encoded');
    }
    expect((await t.call('GET', '/v1/tenants/acme/nothing/here')).body.detail).not.toContain('URL-encoded');
  });

  it('refuses a catalog that drops scopes keys or clients hold (409 with the counts, nothing changed) and narrows them with force', async () => {
    const api = await apiInUse();
    const narrower = { scopes: [{ name: 'read:orders', description: 'Read orders' }] };
    const before = await snapshotState(t);
    const refused = await t.call('PATCH', api.path, narrower);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'SCOPES_IN_USE', affected: { keys: 1, clients: 1 } });
    expect(refused.body.detail).toContain('write:orders');
    expect(await snapshotState(t)).toBe(before);
    expect(await verify(api.key, api.identifier, ['write:orders'])).toBe('VALID');

    const forced = await t.call('PATCH', `${api.path}?force=true`, narrower);
    expect(forced.status).toBe(200);
    expect(forced.body.scopes.map((s: { name: string }) => s.name)).toEqual(['read:orders']);
    expect((await t.call('GET', `/v1/tenants/acme/keys/${api.keyId}`)).body.scopes).toEqual([]);
    expect((await t.call('GET', `/v1/tenants/acme/clients/${api.clientId}`)).body.scopes).toEqual({ [api.identifier]: ['read:orders'] });
    expect(await verify(api.key, api.identifier, ['write:orders'])).toBe('INSUFFICIENT_SCOPE');
    const audit = (await t.call('GET', '/v1/tenants/acme/audit?limit=100')).body.items;
    expect(audit).toContainEqual(expect.objectContaining({ action: 'api.update', target: api.id, data: expect.objectContaining({ narrowedKeys: 1, narrowedClients: 1 }) }));

    expect((await t.call('PATCH', api.path, { scopes: [...narrower.scopes, { name: 'admin:orders', description: 'All' }] })).status, 'adding scopes needs no force').toBe(200);
  });

  it('refuses to delete an API in use (409 with the counts, nothing changed); force deletes it with its keys, revokes its JWT API keys and drops the clients\' allowance', async () => {
    const api = await apiInUse();
    const before = await snapshotState(t);
    const refused = await t.call('DELETE', api.path);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'API_IN_USE', affected: { keys: 1, tokens: 1, clients: 1 } });
    expect(await snapshotState(t)).toBe(before);
    expect(await verify(api.key, api.identifier)).toBe('VALID');

    expect((await t.call('DELETE', `${api.path}?force=true`)).status).toBe(204);
    expect((await t.call('GET', api.path)).body.code).toBe('API_NOT_FOUND');
    expect((await t.call('GET', `/v1/tenants/acme/keys/${api.keyId}`)).body.code).toBe('KEY_NOT_FOUND');
    expect((await t.call('GET', `/v1/tenants/acme/clients/${api.clientId}`)).body.scopes).toEqual({});
    expect(await verify(api.key, api.identifier)).not.toBe('VALID');

    // The same identifier again: nothing issued for the deleted API comes back to life.
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: api.identifier, name: 'Orders again', scopes: CATALOG }), 201);
    expect(await verify(api.key, api.identifier)).toBe('NOT_FOUND');
    expect(await verify(api.jwt, api.identifier)).toBe('REVOKED');
    const audit = (await t.call('GET', '/v1/tenants/acme/audit?limit=100')).body.items;
    expect(audit).toContainEqual(expect.objectContaining({ action: 'api.delete', target: api.id, data: expect.objectContaining({ forced: true, keys: 1, tokens: 1, clients: 1 }) }));
  });

  it('deletes an API nothing uses without force, revoked keys and all', async () => {
    n += 1;
    const identifier = `https://unused-${n}.acme.test`;
    const created = (await t.call('POST', '/v1/tenants/acme/apis', { identifier, name: 'Unused', scopes: CATALOG })).body;
    const key = (await t.call('POST', '/v1/tenants/acme/keys', { api: identifier, scopes: [] })).body;
    expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${key.id}/revoke`), 200);
    expect((await t.call('DELETE', `/v1/tenants/acme/apis/${created.id}`)).status).toBe(204);
    expect((await t.call('GET', `/v1/tenants/acme/apis/${created.id}`)).body.code).toBe('API_NOT_FOUND');
  });
});
