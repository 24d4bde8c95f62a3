import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { basic, postForm } from '../helpers/oauth.js';
import { Person } from '../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const CALLBACK = 'http://127.0.0.1:9/callback';
const PERSON = { email: 'ada@example.com', password: 'correct horse battery staple' };

/** The authorization-code flow with PKCE, driven by openid-client as the app and a Person as the user. */
describe.each(BACKENDS)('people delegating access (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let issuer: string;
  let publicClientId: string;
  let config: client.Configuration;
  let userId: string;

  async function runFlow(options: { scope?: string; untick?: string[]; person?: Person } = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: options.scope ?? 'read:users write:users',
      resource: api,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const person = options.person ?? new Person(t.url);
    const callback = await person.authorize(url.toString(), PERSON, { untick: options.untick ?? [] });
    const tokens = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
    return { tokens, callback, verifier, person };
  }

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { refreshTokens: { enabled: true, idleTtl: 3600, absoluteTtl: 86_400 } }), 200);
    userId = (await t.call('POST', '/v1/tenants/acme/users', { ...PERSON, name: 'Ada' })).body.id;
    const registered = await t.call('POST', '/v1/tenants/acme/clients', {
      name: 'Photo Printer',
      grantTypes: ['authorization_code', 'refresh_token'],
      tokenEndpointAuthMethod: 'none',
      redirectUris: [CALLBACK],
      scopes: { [api]: ['read:users', 'write:users', 'read:billing'] },
    });
    expectStatus(registered, 201);
    publicClientId = registered.body.clientId;
    config = await client.discovery(new URL(issuer), publicClientId, { redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' }, client.None(), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(() => t.close());

  it('signs in, consents with a scope unticked, returns iss and state, and the app gets tokens and refreshes them', async () => {
    const { tokens, callback } = await runFlow({ untick: ['write:users'] });
    expect(new URL(callback).searchParams.get('iss')).toBe(issuer);
    expect(tokens.scope).toBe('read:users');
    expect(tokens.refresh_token).toMatch(/^kgrt_/);
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ sub: userId, client_id: publicClientId, aud: api, scope: 'read:users' });
    const verified = await t.call('POST', '/v1/verify', { credential: tokens.access_token, api, scopes: ['read:users'] });
    expect(verified.body.code).toBe('VALID');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(decodeJwt(refreshed.access_token).scope).toBe('read:users');
  });

  it('skips consent when a remembered grant covers the request, and asks again for new scopes', async () => {
    const person = new Person(t.url);
    await runFlow({ scope: 'read:users', person });
    const again = await runFlow({ scope: 'read:users', person });
    expect(again.tokens.scope).toBe('read:users');
    const url = client.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'read:billing', resource: api, code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const first = await person.get(url.toString());
    const consent = await person.get(first.location!);
    expect(consent.status).toBe(200);
    expect(consent.html).toContain('read:billing');
    expect(consent.html).toContain('Read invoices');
  });

  it('lists the connected app and revokes it: the next refresh and the old access token fail', async () => {
    const { tokens } = await runFlow();
    const apps = await t.call('GET', `/v1/tenants/acme/users/${userId}/grants`);
    const grant = apps.body.items.find((g: { clientId: string }) => g.clientId === publicClientId);
    expect(grant).toMatchObject({ clientId: publicClientId, scopes: expect.arrayContaining(['read:users']) });
    expect(grant.lastUsedAt).not.toBeNull();
    expectStatus(await t.call('DELETE', `/v1/tenants/acme/users/${userId}/grants/${grant.id}`), 204);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await t.call('POST', '/v1/verify', { credential: tokens.access_token, api })).body.code).toBe('REVOKED');
    expect((await t.call('GET', `/v1/tenants/acme/users/${userId}/grants`)).body.items.find((g: { id: string }) => g.id === grant.id)).toBeUndefined();
  });

  it('revokes a refresh token through RFC 7009, and with it the access tokens of its grant', async () => {
    const { tokens } = await runFlow();
    await client.tokenRevocation(config, tokens.refresh_token!);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await t.call('POST', '/v1/verify', { credential: tokens.access_token, api })).body.code).toBe('REVOKED');
  });

  describe('RFC 9700 checklist', () => {
    const authorizeUrl = (params: Record<string, string>) => `${issuer}/oauth/authorize?${new URLSearchParams(params)}`;
    const challenge = () => client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier());

    it('has no implicit grant: response_type=token goes back as unsupported_response_type', async () => {
      const response = await new Person(t.url).get(authorizeUrl({ client_id: publicClientId, redirect_uri: CALLBACK, response_type: 'token' }));
      const location = new URL(response.location!);
      expect(location.origin + location.pathname).toBe(CALLBACK);
      expect(location.searchParams.get('error')).toBe('unsupported_response_type');
      expect(location.searchParams.get('iss')).toBe(issuer);
    });

    it('has no password grant', async () => {
      const response = await postForm(t, '/t/acme/oauth/token', { grant_type: 'password', client_id: publicClientId, username: PERSON.email, password: PERSON.password });
      expect(response.body.error).toBe('unsupported_grant_type');
    });

    it('matches redirect URIs exactly and never redirects to an unregistered one, on any error', async () => {
      for (const redirect of [`${CALLBACK}/extra`, `${CALLBACK}?x=1`, CALLBACK.replace('127.0.0.1', 'localhost'), 'https://evil.example/callback']) {
        for (const extra of [{}, { response_type: 'token' }, { scope: 'admin:everything' }] as Record<string, string>[]) {
          const response = await new Person(t.url).get(authorizeUrl({ client_id: publicClientId, redirect_uri: redirect, response_type: 'code', ...extra }));
          expect(response.status).toBe(400);
          expect(response.location).toBeNull();
        }
      }
      const unknownClient = await new Person(t.url).get(authorizeUrl({ client_id: 'cli_unknown', redirect_uri: CALLBACK, response_type: 'code' }));
      expect(unknownClient.status).toBe(400);
      expect(unknownClient.location).toBeNull();
    });

    it('returns state, and requires PKCE S256 from a public client (plain refused)', async () => {
      const missing = new URL((await new Person(t.url).get(authorizeUrl({ client_id: publicClientId, redirect_uri: CALLBACK, response_type: 'code', state: 'st-1' }))).location!);
      expect(missing.searchParams.get('error')).toBe('invalid_request');
      expect(missing.searchParams.get('state')).toBe('st-1');
      const plain = new URL((await new Person(t.url).get(authorizeUrl({ client_id: publicClientId, redirect_uri: CALLBACK, response_type: 'code', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }))).location!);
      expect(plain.searchParams.get('error')).toBe('invalid_request');
    });

    it('refuses a wrong code_verifier and a replayed code, and the replay revokes what the code produced', async () => {
      const { tokens, callback, verifier } = await runFlow();
      const code = new URL(callback).searchParams.get('code')!;
      const replay = await postForm(t, '/t/acme/oauth/token', { grant_type: 'authorization_code', client_id: publicClientId, code, redirect_uri: CALLBACK, code_verifier: verifier });
      expect(replay.status).toBe(400);
      expect(replay.body.error).toBe('invalid_grant');
      expect((await t.call('POST', '/v1/verify', { credential: tokens.access_token, api })).body.code).toBe('REVOKED');
      await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

      const second = client.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'read:users', resource: api, code_challenge: await challenge(), code_challenge_method: 'S256' });
      const secondCode = new URL(await new Person(t.url).authorize(second.toString(), PERSON)).searchParams.get('code')!;
      const wrong = await postForm(t, '/t/acme/oauth/token', { grant_type: 'authorization_code', client_id: publicClientId, code: secondCode, redirect_uri: CALLBACK, code_verifier: client.randomPKCECodeVerifier() });
      expect(wrong.body.error).toBe('invalid_grant');
    });

    it('refuses a PKCE downgrade: a verifier for a code requested without a challenge', async () => {
      const confidential = await t.call('POST', '/v1/tenants/acme/clients', { name: 'Server app', grantTypes: ['authorization_code'], redirectUris: [CALLBACK], scopes: { [api]: ['read:users'] } });
      const url = `${issuer}/oauth/authorize?${new URLSearchParams({ client_id: confidential.body.clientId, redirect_uri: CALLBACK, response_type: 'code', scope: 'read:users' })}`;
      const code = new URL(await new Person(t.url).authorize(url, PERSON)).searchParams.get('code')!;
      const response = await postForm(t, '/t/acme/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: client.randomPKCECodeVerifier() }, { authorization: basic(confidential.body.clientId, confidential.body.clientSecret) });
      expect(response.body.error).toBe('invalid_grant');
    });

    it('rotates refresh tokens: reuse of a rotated one revokes the whole family', async () => {
      const { tokens } = await runFlow();
      const next = await client.refreshTokenGrant(config, tokens.refresh_token!);
      // The API's reuse interval is 0 (the default): any reuse is a replay, however soon.
      await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(client.refreshTokenGrant(config, next.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect((await t.call('POST', '/v1/verify', { credential: next.access_token, api })).body.code).toBe('REVOKED');
    });

    it('answers concurrent refreshes of one token with one success and invalid_grant, never a 500', async () => {
      // Concurrent refreshes are what the reuse interval is for; with the default 0 the losers
      // would count as replays and end the grant, which later tests here still use.
      const settings = (reuseInterval: number) => t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { refreshTokens: { reuseInterval } });
      expectStatus(await settings(30), 200);
      try {
        const { tokens } = await runFlow();
        const results = await Promise.all(
          Array.from({ length: 8 }, () => postForm(t, '/t/acme/oauth/token', { grant_type: 'refresh_token', client_id: publicClientId, refresh_token: tokens.refresh_token! })),
        );
        expect(results.filter((r) => r.status === 200)).toHaveLength(1);
        for (const r of results.filter((x) => x.status !== 200)) expect(r.body.error).toBe('invalid_grant');
      } finally {
        expectStatus(await settings(0), 200);
      }
    });

    it('refuses a consent post without the CSRF token, and rotates the session id at sign-in (no fixation)', async () => {
      const person = new Person(t.url);
      const url = client.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'read:users', resource: api, code_challenge: await challenge(), code_challenge_method: 'S256' });
      const first = await person.get(url.toString());
      const login = await person.get(first.location!);
      const interaction = Person.hidden(login.html, 'interaction');
      const forged = await person.post(`${t.url}/t/acme/login`, { csrf: 'forged', interaction, ...PERSON });
      expect(forged.status).toBe(403);
      await person.post(`${t.url}/t/acme/login`, { csrf: Person.hidden(login.html, 'csrf'), interaction, ...PERSON });
      const before = person.cookie('kg_session');
      await person.post(`${t.url}/t/acme/login`, { csrf: Person.hidden(login.html, 'csrf'), interaction, ...PERSON });
      expect(person.cookie('kg_session')).not.toBe(before);
      const consentPost = await person.post(`${t.url}/t/acme/consent`, { interaction, decision: 'allow', scope: 'read:users' });
      expect(consentPost.status).toBe(403);
      expect(consentPost.location).toBeNull();
    });

    it('returns access_denied when the person denies', async () => {
      // A scope never granted before, so the consent page is shown rather than skipped.
      const url = client.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'read:billing', resource: api, code_challenge: await challenge(), code_challenge_method: 'S256', state: 'deny-me' });
      const callback = new URL(await new Person(t.url).authorize(url.toString(), PERSON, { deny: true }));
      expect(callback.searchParams.get('error')).toBe('access_denied');
      expect(callback.searchParams.get('state')).toBe('deny-me');
    });

    it('throttles sign-in per account', async () => {
      await t.call('POST', '/v1/tenants/acme/users', { email: 'victim@example.com', password: 'a-long-enough-password' });
      const person = new Person(t.url);
      const page = await person.get(`${t.url}/t/acme/login`);
      const csrf = Person.hidden(page.html, 'csrf');
      for (let i = 0; i < 5; i++) expect((await person.post(`${t.url}/t/acme/login`, { csrf, email: 'victim@example.com', password: `wrong-${i}` })).status).toBe(401);
      expect((await person.post(`${t.url}/t/acme/login`, { csrf, email: 'victim@example.com', password: 'a-long-enough-password' })).status).toBe(429);
    });
  });

  it('exchanges a token for a down-scoped one for a downstream API, naming the actor (RFC 8693)', async () => {
    const { tokens } = await runFlow({ scope: 'read:users write:users' });
    const downstream = await t.call('POST', '/v1/tenants/acme/clients', { name: 'gateway', grantTypes: ['urn:ietf:params:oauth:grant-type:token-exchange'], scopes: { [api]: ['read:users', 'write:users'] } });
    const exchange = (scope: string) =>
      postForm(t, '/t/acme/oauth/token', { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: tokens.access_token, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', resource: api, scope }, { authorization: basic(downstream.body.clientId, downstream.body.clientSecret) });
    const ok = await exchange('read:users');
    expectStatus(ok, 200);
    expect(decodeJwt(ok.body.access_token)).toMatchObject({ sub: userId, scope: 'read:users', act: { sub: downstream.body.clientId } });
    expect(ok.body.issued_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
    expect((await exchange('read:billing')).body.error).toBe('invalid_scope');
  });
});
