import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { basic, postForm } from '../helpers/oauth.js';
import { snapshotState } from '../helpers/snapshot.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const CALLBACK = 'https://app.example.com/callback';

/**
 * Review of invariants 4 and 5 (issue 7): a client's allowance is looked up by own entries only
 * (`allowanceFor`). An API may be named anything, `constructor` too, and `client.scopes[identifier]`
 * then found Object.prototype's member in every client's allowance: any exchange-capable client
 * exchanged tokens for that API, and a client-credentials or authorize request for it was a 500.
 */
describe.each(BACKENDS)('an API named after an Object.prototype member (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let outsider: { id: string; secret: string };
  let ownersToken: string;

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'constructor', name: 'Odd', scopes: [{ name: 'read:users', description: 'Users' }] }), 201);
    const owner = await t.call('POST', '/v1/tenants/acme/clients', { name: 'owner', grantTypes: ['client_credentials'], scopes: { constructor: ['read:users'] } });
    expectStatus(owner, 201);
    const issued = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: 'constructor' }, { authorization: basic(owner.body.clientId, owner.body.clientSecret) });
    expectStatus(issued, 200);
    ownersToken = issued.body.access_token;
    const created = await t.call('POST', '/v1/tenants/acme/clients', { name: 'outsider', grantTypes: ['client_credentials', TOKEN_EXCHANGE, 'authorization_code'], redirectUris: [CALLBACK], scopes: { [api]: ['read:users'] } });
    expectStatus(created, 201);
    outsider = { id: created.body.clientId, secret: created.body.clientSecret };
  });
  afterAll(() => t?.close());

  it('is in no allowance but its own: client credentials, token exchange and authorize refuse the outsider, and nothing changes', async () => {
    const before = await snapshotState(t);
    const auth = { authorization: basic(outsider.id, outsider.secret) };
    const credentials = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: 'constructor' }, auth);
    expect(credentials.status).toBe(400);
    expect(credentials.body.error).toBe('invalid_target');
    const exchanged = await postForm(t, '/t/acme/oauth/token', { grant_type: TOKEN_EXCHANGE, subject_token: ownersToken, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', resource: api }, auth);
    expect(exchanged.status).toBe(400);
    expect(exchanged.body.error).toBe('invalid_request');
    const query = new URLSearchParams({ response_type: 'code', client_id: outsider.id, redirect_uri: CALLBACK, resource: 'constructor', scope: 'read:users' });
    const authorize = await fetch(`${t.url}/t/acme/oauth/authorize?${query}`, { redirect: 'manual' });
    expect(authorize.status).toBe(303);
    expect(new URL(authorize.headers.get('location')!).searchParams.get('error')).toBe('invalid_target');
    expect(await snapshotState(t)).toBe(before);
  });
});
