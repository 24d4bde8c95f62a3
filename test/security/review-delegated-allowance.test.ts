import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { discoverAs } from '../helpers/oauth.js';
import { Person } from '../helpers/person.js';
import { snapshotAll } from '../helpers/snapshot.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const CALLBACK = 'http://127.0.0.1:9/callback';
const PERSON = { email: 'ada@example.com', password: 'correct horse battery staple' };

/**
 * Review of invariant 4 (issue 7): a token never carries more than the client is allowed for its
 * audience now. Refresh (and the code exchange) took the scopes from the person's grant alone, so
 * after an operator narrowed or removed a client's allowance for an API, its refresh tokens kept
 * minting access tokens with what it may no longer have.
 */
describe.each(BACKENDS)("delegated tokens follow the client's current allowance (%s)", (backend) => {
  let t: TestServer;
  let api: string;
  let app: client.Configuration;
  let clientPath: string;

  async function tokens(): Promise<client.TokenEndpointResponse> {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(app, { redirect_uri: CALLBACK, scope: 'read:users read:billing', resource: api, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const callback = await new Person(t.url).authorize(url.toString(), PERSON);
    return client.authorizationCodeGrant(app, new URL(callback), { pkceCodeVerifier: verifier });
  }
  const allow = async (scopes: Record<string, string[]>): Promise<void> => expectStatus(await t.call('PATCH', clientPath, { scopes }), 200);

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { refreshTokens: { enabled: true } }), 200);
    expectStatus(await t.call('POST', '/v1/tenants/acme/users', PERSON), 201);
    const registered = await t.call('POST', '/v1/tenants/acme/clients', { name: 'Phone app', grantTypes: ['authorization_code', 'refresh_token'], tokenEndpointAuthMethod: 'none', redirectUris: [CALLBACK], scopes: { [api]: ['read:users', 'read:billing'] } });
    expectStatus(registered, 201);
    clientPath = `/v1/tenants/acme/clients/${registered.body.clientId}`;
    app = await discoverAs((await t.call('GET', '/v1/tenants/acme')).body.issuer, registered.body.clientId, { redirectUri: CALLBACK });
  });
  afterAll(() => t?.close());

  it('a refresh after the allowance was narrowed gets only what is still allowed', async () => {
    const first = await tokens();
    expect(first.scope).toBe('read:users read:billing');
    await allow({ [api]: ['read:users'] });
    const refreshed = await client.refreshTokenGrant(app, first.refresh_token!);
    expect(refreshed.scope).toBe('read:users');
    expect(decodeJwt(refreshed.access_token).scope).toBe('read:users');
    await expect(client.refreshTokenGrant(app, refreshed.refresh_token!, { scope: 'read:billing' })).rejects.toMatchObject({ error: 'invalid_scope' });
  });

  it('a refresh after the API was taken out of the allowance is invalid_grant, issues nothing, and the token stays dead', async () => {
    await allow({ [api]: ['read:users', 'read:billing'] });
    const first = await tokens();
    await allow({});
    // The presented token is used up (it was rotated before the grant was looked at); nothing is issued.
    const refreshTokens = async (): Promise<number> => (JSON.parse(await snapshotAll(t.backend)) as Record<string, string[]>)['refresh_tokens']!.length;
    const before = await refreshTokens();
    await expect(client.refreshTokenGrant(app, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await refreshTokens()).toBe(before);
    await allow({ [api]: ['read:users'] });
    await expect(client.refreshTokenGrant(app, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
