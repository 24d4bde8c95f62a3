import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testClock } from '../helpers/clock.js';
import { ORDERS_API, basic, postForm, registerMachineClient } from '../helpers/oauth.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

describe('JWTs as API keys, self-issued tokens, private_key_jwt and key rotation', () => {
  let t: TestServer;
  let api: string;
  let issuer: string;
  /** Stands still within a test; catches up between tests, since the self-issued tokens here carry the real iat. */
  const clock = testClock();
  beforeEach(() => clock.catchUp());

  const verify = async (credential: string, scopes: string[] = [], audience = api) =>
    (await t.call('POST', '/v1/verify', { credential, api: audience, scopes })).body;

  beforeAll(async () => {
    t = await startTestServer('sqlite', {}, { clock: clock.now });
    ({ api } = await seedTenant(t));
    issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
  });
  afterAll(() => t.close());

  describe('JWT API keys', () => {
    it('issues a token with the RFC scope claim that verifies like a key, implications included', async () => {
      const issued = await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'customer_7', scopes: ['write:users'] });
      expectStatus(issued, 201);
      const payload = decodeJwt(issued.body.token);
      expect(payload).toMatchObject({ iss: issuer, sub: 'customer_7', aud: api, scope: 'write:users read:users', jti: issued.body.jti });
      expect(payload.exp).toBeGreaterThan(Date.now() / 1000 + 300 * 86_400);
      expect(decodeProtectedHeader(issued.body.token).typ).toBe('at+jwt');
      expect(await verify(issued.body.token, ['read:users'])).toMatchObject({ valid: true, keyId: issued.body.jti, consumer: 'customer_7' });
    });

    it('issues the structured scopes claim on request', async () => {
      const issued = await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'c', scopes: ['read:users', 'read:billing'], claimsFormat: 'scopes' });
      expect(decodeJwt(issued.body.token).scopes).toEqual({ users: { actions: ['read'] }, billing: { actions: ['read'] } });
      expect((await verify(issued.body.token, ['read:billing'])).code).toBe('VALID');
    });

    it('lists, revokes by jti, and cuts a consumer off', async () => {
      const a = (await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'customer_9', scopes: [] })).body;
      const b = (await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'customer_9', scopes: [] })).body;
      const listed = await t.call('GET', '/v1/tenants/acme/tokens?consumer=customer_9');
      expect(listed.body.items.map((x: { jti: string }) => x.jti).sort()).toEqual([a.jti, b.jti].sort());
      expect(JSON.stringify(listed.body)).not.toContain(a.token);
      expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${a.jti}/revoke`), 200);
      expect((await verify(a.token)).code).toBe('REVOKED');
      expect((await verify(b.token)).code).toBe('VALID');
      expect((await t.call('GET', '/v1/tenants/acme/tokens?consumer=customer_9')).body.items.find((x: { jti: string }) => x.jti === a.jti).revokedAt).not.toBeNull();
      expectStatus(await t.call('POST', '/v1/tenants/acme/consumers/customer_9/revoke-tokens'), 200);
      expect((await verify(b.token)).code).toBe('REVOKED');
    });

    it('refuses unknown scopes, APIs and past expiries, writing nothing', async () => {
      const before = (await t.call('GET', '/v1/tenants/acme/tokens?limit=100')).body.items.length;
      expect((await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'c', scopes: ['nope:nope'] })).body.code).toBe('UNKNOWN_SCOPE');
      expect((await t.call('POST', '/v1/tenants/acme/tokens', { api: 'https://x', consumer: 'c', scopes: [] })).body.code).toBe('API_NOT_FOUND');
      expect((await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'c', scopes: [], expiresAt: '2000-01-01T00:00:00Z' })).body.code).toBe('EXPIRY_IN_PAST');
      expect((await t.call('GET', '/v1/tenants/acme/tokens?limit=100')).body.items.length).toBe(before);
    });
  });

  describe('self-issued HS256 tokens', () => {
    it('verify like Keygate\'s own, with the same claim checks and revocation', async () => {
      const { kid, secret } = (await t.call('POST', '/v1/tenants/acme/hs256-secrets')).body;
      const key = Buffer.from(secret);
      const mint = (claims: Record<string, unknown>, withExp = true) => {
        const jwt = new SignJWT({ scope: 'read:users', ...claims }).setProtectedHeader({ alg: 'HS256', kid }).setIssuer(issuer).setAudience(api).setSubject('svc-reports').setIssuedAt().setJti(crypto.randomUUID());
        return (withExp ? jwt.setExpirationTime('5m') : jwt).sign(key);
      };
      expect(await verify(await mint({}), ['read:users'])).toMatchObject({ valid: true, consumer: 'svc-reports' });
      expect((await verify(await mint({}, false))).code).toBe('MALFORMED');
      expect((await verify(await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid }).setIssuer(issuer).setAudience(api).setSubject('s').setExpirationTime('5m').sign(Buffer.from('not-the-secret')))).code).toBe('MALFORMED');
      const revokedJti = await mint({});
      expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${decodeJwt(revokedJti).jti}/revoke`), 200);
      expect((await verify(revokedJti)).code).toBe('REVOKED');
      expect((await t.call('GET', '/v1/tenants/acme/hs256-secrets')).body.items.map((s: { kid: string }) => s.kid)).toContain(kid);
      expect(JSON.stringify((await t.call('GET', '/v1/tenants/acme/hs256-secrets')).body)).not.toContain(secret);
      expectStatus(await t.call('POST', `/v1/tenants/acme/hs256-secrets/${kid}/revoke`), 204);
      expect((await verify(await mint({}))).code).toBe('NOT_FOUND');
      expect((await t.call('POST', '/v1/tenants/acme/hs256-secrets/hs_nope/revoke')).body.code).toBe('SECRET_NOT_FOUND');
    });
  });

  describe('private_key_jwt (RFC 7523)', () => {
    it('authenticates with a signed assertion through openid-client, and refuses a replayed one', async () => {
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      const registered = await registerMachineClient(t, { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] } });
      expect(registered.clientSecret).toBeNull();
      const config = await client.discovery(new URL(issuer), registered.clientId, undefined, client.PrivateKeyJwt({ key: privateKey, kid: 'k1' }), {
        algorithm: 'oauth2',
        execute: [client.allowInsecureRequests],
      });
      const tokens = await client.clientCredentialsGrant(config, { resource: ORDERS_API });
      expect(decodeJwt(tokens.access_token).client_id).toBe(registered.clientId);

      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(registered.clientId)
        .setSubject(registered.clientId)
        .setAudience(`${issuer}/oauth/token`)
        .setJti(crypto.randomUUID())
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(privateKey);
      const form = { grant_type: 'client_credentials', resource: ORDERS_API, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion };
      expect((await postForm(t, '/t/acme/oauth/token', form)).status).toBe(200);
      const replay = await postForm(t, '/t/acme/oauth/token', form);
      expect(replay.status).toBe(401);
      expect(replay.body.error).toBe('invalid_client');
    });
  });

  describe('client secret rotation', () => {
    it('keeps the old secret working through the grace period only', async () => {
      const registered = await registerMachineClient(t);
      const rotated = await t.call('POST', `/v1/tenants/acme/clients/${registered.clientId}/secret`, { gracePeriodMs: 600 });
      expectStatus(rotated, 200);
      const token = (secret: string) => postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(registered.clientId, secret) });
      expect((await token(registered.clientSecret!)).status).toBe(200);
      expect((await token(rotated.body.clientSecret)).status).toBe(200);
      clock.advance(700);
      expect((await token(registered.clientSecret!)).status).toBe(401);
      expect((await token(rotated.body.clientSecret)).status).toBe(200);
    });
  });

  describe('signing key rotation', () => {
    it('publishes the next key before it signs, and keeps the old one while its tokens live', async () => {
      const before = (await t.call('GET', '/t/acme/.well-known/jwks.json', undefined, { auth: null })).body.keys.map((k: { kid: string }) => k.kid);
      const old = (await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'c', scopes: [] })).body.token;
      const rotated = await t.call('POST', '/v1/tenants/acme/signing-keys/rotate', { activateAfterSeconds: 1 });
      expectStatus(rotated, 201);
      expect(rotated.body.state).toBe('next');
      expect(Date.parse(rotated.body.activatesAt) - Date.parse(rotated.body.createdAt)).toBe(1000);
      const jwks = await fetch(`${t.url}/t/acme/.well-known/jwks.json`);
      expect(jwks.headers.get('cache-control')).toMatch(/max-age=\d+/);
      const published = ((await jwks.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      expect(published).toEqual(expect.arrayContaining([...before, rotated.body.kid]));
      const stillOld = (await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'c', scopes: [] })).body.token;
      expect(decodeProtectedHeader(stillOld).kid).toBe(before[0]);
      clock.advance(1100);
      const fresh = (await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'c', scopes: [] })).body.token;
      expect(decodeProtectedHeader(fresh).kid).toBe(rotated.body.kid);
      expect((await verify(old)).code).toBe('VALID');
      expect((await verify(fresh)).code).toBe('VALID');
      const states = (await t.call('GET', '/v1/tenants/acme/signing-keys')).body.items.map((k: { kid: string; state: string }) => [k.kid, k.state]);
      expect(states).toEqual(expect.arrayContaining([[before[0], 'retired'], [rotated.body.kid, 'current']]));
    });

    it('signs with the algorithm the tenant chose (ES256, RS256)', async () => {
      for (const signingAlg of ['ES256', 'RS256']) {
        const slug = `alg-${signingAlg.toLowerCase()}`;
        expectStatus(await t.call('POST', '/v1/tenants', { slug, name: signingAlg, signingAlg }), 201);
        expectStatus(await t.call('POST', `/v1/tenants/${slug}/apis`, { identifier: api, name: 'x', scopes: [] }), 201);
        const token = (await t.call('POST', `/v1/tenants/${slug}/tokens`, { api, consumer: 'c', scopes: [] })).body.token;
        expect(decodeProtectedHeader(token).alg).toBe(signingAlg);
        expect((await verify(token)).code).toBe('VALID');
      }
    });
  });
});
