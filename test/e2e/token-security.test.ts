import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { SignJWT, exportJWK, importJWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Envelope } from '../../src/crypto/envelope.js';
import { loadMasterKey } from '../../src/crypto/master-key.js';
import { ORDERS_API, basic, postForm, registerMachineClient } from '../helpers/oauth.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The token security list: each forged, broken or misused token or request gets the RFC error
 * (or a non-VALID verification code), never a 500 and never a valid answer.
 */
describe('token security', () => {
  let t: TestServer;
  let issuer: string;
  let clientId: string;
  let clientSecret: string;
  let good: string;
  let claims: JWTPayload;
  let kid: string;

  const verifyCode = async (credential: string, api = ORDERS_API): Promise<string> => {
    const response = await t.call('POST', '/v1/verify', { credential, api });
    expect(response.status).toBe(200);
    return response.body.code;
  };
  const introspect = (token: string) => postForm(t, '/t/acme/oauth/introspect', { token }, { authorization: basic(clientId, clientSecret) });
  const tokenRequest = (form: Record<string, string> | string, headers: Record<string, string> = { authorization: basic(clientId, clientSecret) }) =>
    postForm(t, '/t/acme/oauth/token', form, headers);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

  beforeAll(async () => {
    t = await startTestServer('sqlite');
    await seedTenant(t);
    ({ clientId, clientSecret, issuer } = (await registerMachineClient(t)) as { clientId: string; clientSecret: string; issuer: string });
    const issued = await tokenRequest({ grant_type: 'client_credentials', resource: ORDERS_API });
    expectStatus(issued, 200);
    good = issued.body.access_token;
    const [header, payload] = good.split('.');
    kid = JSON.parse(Buffer.from(header!, 'base64url').toString()).kid;
    claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
  });
  afterAll(() => t.close());

  it('accepts the genuine token (the baseline the forgeries are measured against)', async () => {
    expect(await verifyCode(good)).toBe('VALID');
    expect((await introspect(good)).body.active).toBe(true);
  });

  const forgeries: [string, () => Promise<string> | string, string][] = [
    ['alg: none', () => `${part({ alg: 'none', typ: 'at+jwt', kid })}.${part(claims)}.`, 'MALFORMED'],
    ['alg: none with a signature', () => `${part({ alg: 'none', typ: 'at+jwt', kid })}.${part(claims)}.${good.split('.')[2]}`, 'MALFORMED'],
    [
      'HS256 signed with the tenant public key (algorithm confusion)',
      async () => {
        const jwks = (await t.call('GET', '/t/acme/.well-known/jwks.json', undefined, { auth: null })).body;
        const pem = createPublicKey({ key: jwks.keys[0], format: 'jwk' }).export({ format: 'pem', type: 'spki' });
        return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid }).sign(Buffer.from(pem));
      },
      'MALFORMED',
    ],
    ['an unknown kid', () => signWithStranger({ kid: 'sk_unknown' }), 'NOT_FOUND'],
    ['a jku header', () => signWithStranger({ kid, jku: 'https://evil.example/jwks.json' }), 'MALFORMED'],
    ['an x5u header', () => signWithStranger({ kid, x5u: 'https://evil.example/cert.pem' }), 'MALFORMED'],
    ['an embedded jwk header', async () => signWithStranger({ kid, jwk: await exportJWK(createPublicKey(stranger.privateKey)) }), 'MALFORMED'],
    ['a tampered payload', () => `${good.split('.')[0]}.${part({ ...claims, scope: 'admin:orders' })}.${good.split('.')[2]}`, 'MALFORMED'],
    ['a stripped signature', () => `${good.split('.')[0]}.${good.split('.')[1]}.`, 'MALFORMED'],
    ['a token over 8 KiB', () => `${good.split('.')[0]}.${part({ ...claims, pad: 'x'.repeat(9000) })}.${good.split('.')[2]}`, 'MALFORMED'],
    ['garbage in every segment', () => 'abc.def.ghi', 'MALFORMED'],
  ];

  const stranger = generateKeyPairSync('ed25519');
  async function signWithStranger(header: Record<string, unknown>): Promise<string> {
    const key = await importJWK(stranger.privateKey.export({ format: 'jwk' }) as never, 'EdDSA');
    return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', ...header }).sign(key);
  }

  describe.each(forgeries)('refuses %s', (_name, make, code) => {
    it('in verify and introspection, without a 500', async () => {
      const token = await make();
      expect(await verifyCode(token)).toBe(code);
      const introspection = await introspect(token);
      expect(introspection.status).toBe(200);
      expect(introspection.body).toEqual({ active: false });
    });
  });

  describe('claims of a correctly signed token', () => {
    let tenantKey: KeyObject;
    let tenantKid: string;
    /** Signs with the tenant's own private key (opened with the master key from the data dir). */
    const signWithTenantKey = async (payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> => {
      const input = `${part({ alg: 'EdDSA', typ: 'at+jwt', kid: tenantKid, ...header })}.${part(payload)}`;
      return `${input}.${sign(null, Buffer.from(input), tenantKey).toString('base64url')}`;
    };

    beforeAll(async () => {
      const tenant = await t.server.keygate.tenants.get('acme');
      const [key] = await t.server.keygate.store.tokens.listSigningKeys(tenant.id);
      const envelope = new Envelope(loadMasterKey({ configured: undefined, dataDir: t.backend.config.dataDir }).key);
      tenantKey = createPrivateKey(envelope.open(key!.sealedPrivateKey, `signing-key:${key!.kid}`).toString());
      tenantKid = key!.kid;
      // The harness itself must produce a token Keygate accepts, or the cases below prove nothing.
      expect(await verifyCode(await signWithTenantKey(claims))).toBe('VALID');
    });

    const now = () => Math.floor(Date.now() / 1000);
    it.each([
      ['expired', () => ({ ...claims, exp: now() - 10 }), 'EXPIRED'],
      ['nbf in the future', () => ({ ...claims, nbf: now() + 600 }), 'EXPIRED'],
      ['wrong iss', () => ({ ...claims, iss: `${issuer}x` }), 'NOT_FOUND'],
      ['another tenant\'s iss', () => ({ ...claims, iss: issuer.replace('/t/acme', '/t/other') }), 'NOT_FOUND'],
      ['wrong aud', () => ({ ...claims, aud: 'https://elsewhere.test' }), 'WRONG_AUDIENCE'],
      ['missing exp', () => {
        const { exp: _exp, ...rest } = claims;
        return rest;
      }, 'MALFORMED'],
    ] as const)('%s', async (_name, payload, code) => {
      expect(await verifyCode(await signWithTenantKey(payload()))).toBe(code);
    });

    it('a token without typ at+jwt', async () => {
      expect(await verifyCode(await signWithTenantKey(claims, { typ: 'JWT' }))).toBe('MALFORMED');
    });

    it('a crit header, even correctly signed', async () => {
      expect(await verifyCode(await signWithTenantKey(claims, { crit: ['exp'], exp: 1 }))).toBe('MALFORMED');
    });
  });

  it('refuses a revoked jti, in verify and introspection', async () => {
    const issued = await tokenRequest({ grant_type: 'client_credentials', resource: ORDERS_API });
    const jti = JSON.parse(Buffer.from(issued.body.access_token.split('.')[1], 'base64url').toString()).jti;
    expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${jti}/revoke`), 200);
    expect(await verifyCode(issued.body.access_token)).toBe('REVOKED');
    expect((await introspect(issued.body.access_token)).body).toEqual({ active: false });
  });

  it('refuses a token of tenant A at tenant B', async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'other', name: 'Other' }), 201);
    const otherRoot = await t.call('POST', '/v1/root-keys', { scopes: ['keys:verify'], tenant: 'other' });
    const response = await t.call('POST', '/v1/verify', { credential: good, api: ORDERS_API }, { auth: otherRoot.body.key });
    expect(response.body.code).toBe('NOT_FOUND');
    const otherIntrospect = await postForm(t, '/t/other/oauth/introspect', { token: good }, { authorization: basic(clientId, clientSecret) });
    expect(otherIntrospect.status).toBe(401);
    expect(otherIntrospect.body.error).toBe('invalid_client');
  });

  describe('token requests', () => {
    it.each([
      ['a grant type the client may not use', { grant_type: 'authorization_code', code: 'x', redirect_uri: 'https://x' }, 400, 'unauthorized_client'],
      ['an unknown grant type', { grant_type: 'urn:example:magic' }, 400, 'unsupported_grant_type'],
      ['the implicit grant', { grant_type: 'implicit' }, 400, 'unsupported_grant_type'],
      ['the password grant', { grant_type: 'password', username: 'u', password: 'p' }, 400, 'unsupported_grant_type'],
      ['a scope outside the allowance', { grant_type: 'client_credentials', resource: ORDERS_API, scope: 'admin:orders' }, 400, 'invalid_scope'],
      ['an unknown resource', { grant_type: 'client_credentials', resource: 'https://unknown.test' }, 400, 'invalid_target'],
      ['resource and audience that disagree', { grant_type: 'client_credentials', resource: ORDERS_API, audience: 'https://api.acme.test' }, 400, 'invalid_target'],
      ['no grant_type', { resource: ORDERS_API }, 400, 'invalid_request'],
    ] as const)('refuses %s', async (_name, form, status, error) => {
      const response = await tokenRequest(form);
      expect(response.status).toBe(status);
      expect(response.body.error).toBe(error);
      expect(response.headers.get('cache-control')).toBe('no-store');
    });

    it('refuses duplicate parameters', async () => {
      const response = await tokenRequest(`grant_type=client_credentials&resource=${encodeURIComponent(ORDERS_API)}&scope=read:orders&scope=write:orders`);
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('invalid_request');
    });

    it('refuses a grant type the client is not registered for (unauthorized_client)', async () => {
      const narrow = await t.call('POST', '/v1/tenants/acme/clients', { name: 'exchange-only', grantTypes: ['urn:ietf:params:oauth:grant-type:token-exchange'], scopes: { [ORDERS_API]: ['read:orders'] } });
      const response = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(narrow.body.clientId, narrow.body.clientSecret) });
      expect(response.body.error).toBe('unauthorized_client');
    });

    it('refuses a non-form body and a body over the limit without a 500', async () => {
      const json = await fetch(`${t.url}/t/acme/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(clientId, clientSecret) }, body: '{"grant_type":"client_credentials"}' });
      expect(json.status).toBe(400);
      expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
      const huge = await tokenRequest({ grant_type: 'client_credentials', pad: 'x'.repeat(100_000) });
      expect(huge.status).toBe(413);
      expect(huge.body.error).toBe('invalid_request');
    });
  });

  it('answers a wrong secret with invalid_client, then makes that source wait a minute after 10 failures (security/throttles: other sources are not affected)', async () => {
    const victim = await registerMachineClient(t);
    const attempt = (secret: string) => tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(victim.clientId, secret) });
    for (let i = 0; i < 10; i++) {
      const response = await attempt(`wrong-${i}`);
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_client');
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic/);
    }
    const locked = await attempt(victim.clientSecret!);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    // Another client is not affected.
    expect((await tokenRequest({ grant_type: 'client_credentials' })).status).toBe(200);
  });

  it('answers an unknown client and the wrong method exactly like a wrong secret', async () => {
    const unknown = await tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic('cli_nobody', 'secret') });
    const post = await tokenRequest({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }, {});
    for (const response of [unknown, post]) {
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_client');
      expect(response.body.error_description).toBe('client authentication failed');
    }
  });
});
