import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const READ = { name: 'read:orders', description: 'Read orders' };
const WRITE = { name: 'write:orders', description: 'Change orders' };

/**
 * Review of issue 8 against security.md §12: a catalog that drops held scopes is replaced only
 * with `force`, "which narrows the holders". API keys and clients were narrowed, but a JWT API
 * key (`POST …/tokens`) holding a dropped scope was neither counted in SCOPES_IN_USE nor touched:
 * it still answered VALID for the dropped scope, and for good once the scope came back.
 */
describe.each(BACKENDS)('JWT API keys and a narrowed catalog (%s)', (backend) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(backend);
    await seedTenant(t);
  });
  afterAll(() => t?.close());

  it('are counted as holders, and force revokes those that hold a dropped scope', async () => {
    const identifier = 'https://orders.catalog-review.test/v1';
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier, name: 'Orders', scopes: [READ, WRITE] }), 201);
    const writer = (await t.call('POST', '/v1/tenants/acme/tokens', { api: identifier, consumer: 'cust', scopes: ['write:orders'] })).body.token as string;
    const reader = (await t.call('POST', '/v1/tenants/acme/tokens', { api: identifier, consumer: 'cust2', scopes: ['read:orders'] })).body.token as string;
    const verify = async (token: string, scopes: string[]): Promise<string> => (await t.call('POST', '/v1/verify', { credential: token, api: identifier, scopes })).body.code;
    expect(await verify(writer, ['write:orders'])).toBe('VALID');

    const path = `/v1/tenants/acme/apis/${encodeURIComponent(identifier)}`;
    const refused = await t.call('PATCH', path, { scopes: [READ] });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'SCOPES_IN_USE', affected: { tokens: 1 } });

    expectStatus(await t.call('PATCH', `${path}?force=true`, { scopes: [READ] }), 200);
    expect(await verify(writer, ['write:orders'])).toBe('REVOKED');
    expectStatus(await t.call('PATCH', path, { scopes: [READ, WRITE] }), 200);
    expect(await verify(writer, ['write:orders'])).toBe('REVOKED');
    expect(await verify(reader, ['read:orders']), 'a JWT API key without a dropped scope is untouched').toBe('VALID');
  });
});
