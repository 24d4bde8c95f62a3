import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { testClock } from '../helpers/clock.js';
import { basic, postForm } from '../helpers/oauth.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const CATALOG = [
  { name: 'read:orders', description: 'Read orders' },
  { name: 'write:orders', description: 'Change orders' },
];

/**
 * Review of issue 8 against security.md §12 ("what is deleted stays dead"): a forced API delete
 * revoked its JWT API keys by jti and cut off people's grants, but the access tokens its clients
 * got by client credentials (and any token exchanged for it) carried only `aud` = the identifier,
 * so they stayed valid wherever a Keygate verifier reads them, and an API created again under the
 * identifier took them back with their old scopes until their `exp` (up to a year).
 */
describe.each(BACKENDS)('tokens of a deleted API (%s)', (backend) => {
  let t: TestServer;
  const clock = testClock();

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: clock.now });
    await seedTenant(t);
  });
  afterAll(() => t?.close());

  it('die with it: an API created again under the identifier does not revive its client-credentials tokens', async () => {
    const identifier = 'https://orders.review.test/v1';
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier, name: 'Orders', scopes: CATALOG, accessTokenTtl: 86_400 }), 201);
    const client = await t.call('POST', '/v1/tenants/acme/clients', { name: 'svc', grantTypes: ['client_credentials'], scopes: { [identifier]: ['read:orders', 'write:orders'] } });
    expectStatus(client, 201);
    const issued = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: identifier }, { authorization: basic(client.body.clientId, client.body.clientSecret) });
    expectStatus(issued, 200);
    const token = issued.body.access_token as string;
    const verify = async (): Promise<string> => (await t.call('POST', '/v1/verify', { credential: token, api: identifier, scopes: ['write:orders'] })).body.code;
    expect(await verify()).toBe('VALID');

    expectStatus(await t.call('DELETE', `/v1/tenants/acme/apis/${encodeURIComponent(identifier)}?force=true`), 204);
    expect(await verify()).not.toBe('VALID');

    // Seconds later someone makes an API under the same identifier.
    clock.advance(1100);
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier, name: 'Orders again', scopes: CATALOG }), 201);
    expect(await verify()).toBe('REVOKED');
    // The feed that middleware instances read says so too.
    const feed = (await t.call('GET', '/v1/tenants/acme/revocations')).body;
    expect(JSON.stringify(feed)).toContain(identifier);

    // A token issued for the new API is unaffected.
    const again = await t.call('POST', '/v1/tenants/acme/clients', { name: 'svc2', grantTypes: ['client_credentials'], scopes: { [identifier]: ['read:orders'] } });
    const fresh = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: identifier }, { authorization: basic(again.body.clientId, again.body.clientSecret) });
    expectStatus(fresh, 200);
    clock.advance(1100);
    expect((await t.call('POST', '/v1/verify', { credential: fresh.body.access_token, api: identifier, scopes: ['read:orders'] })).body.code).toBe('VALID');
  });
});
