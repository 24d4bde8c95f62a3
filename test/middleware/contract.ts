import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, importJWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/domain/keys/format.js';
import type { DenialReason, KeygateVerifierOptions, ScopeMatch } from '../../src/middleware/core/index.js';
import { cursorAfter } from '../../src/middleware/core/revocation-feed.js';
import { ORDERS_API, basic, postForm, registerMachineClient } from '../helpers/oauth.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { freePort } from '../helpers/free-port.js';

/**
 * One contract for every framework adapter (Express, Fastify, Hono), in the manner of Hono's
 * `common.case.test.ts`: each `<framework>.test.ts` starts a real app of its framework that
 * serves ROUTES through its `keygateAuth`, and this suite talks HTTP to it, next to a real
 * Keygate. A framework that cannot run a case lists it in `skip` with the reason.
 */

export interface GuardedRoute {
  method: 'GET' | 'PUT';
  path: string;
  scopes: string[];
  match?: ScopeMatch;
}

/** Every app under test serves these; each handler answers 200 `{ identity }` from the request. */
export const ROUTES: readonly GuardedRoute[] = [
  { method: 'GET', path: '/users', scopes: ['read:users'] },
  { method: 'PUT', path: '/users', scopes: ['read:users', 'write:users'] },
  { method: 'GET', path: '/reports', scopes: ['read:billing', 'write:users'], match: 'any' },
  { method: 'GET', path: '/whoami', scopes: [] },
];

export interface AppUnderTest {
  url: string;
  /** Closes only the verifier (as `keygateAuth(…).close()`), leaving the server up. */
  closeVerifier(): Promise<void>;
  /** Closes the server and the verifier. */
  close(): Promise<void>;
}

export interface MiddlewareUnderTest {
  name: string;
  /** Starts a real app on an ephemeral 127.0.0.1 port serving ROUTES through `keygateAuth(options)`. */
  start(options: KeygateVerifierOptions): Promise<AppUnderTest>;
  /** The framework's `keygateAuth`, for the option checks. */
  keygateAuth(options: KeygateVerifierOptions): { requireScopes(scopes: readonly string[], options?: { match?: ScopeMatch }): unknown; close(): Promise<void> };
  /** Cases (by title) this framework cannot run, each with the reason. */
  skip?: Record<string, string>;
}

const INVALID_CHALLENGE = 'Bearer realm="keygate", error="invalid_token", error_description="The access token is invalid"';
const INVALID_BODY = { error: 'invalid_token', error_description: 'The access token is invalid' };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds, polling; fails after `timeoutMs`. Returns how long it took. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 3000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
  return Date.now() - started;
}

/** A fetch that logs `METHOD /path` of every call the verifier makes to Keygate. */
function recordingFetch(log: string[]): typeof fetch {
  return (input, init) => {
    log.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
    return fetch(input, init);
  };
}

const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export function runMiddlewareContract(subject: MiddlewareUnderTest): void {
  const test = (title: string, fn: () => Promise<void>): void => {
    const reason = subject.skip?.[title];
    if (reason === undefined) it(title, fn);
    else it.skip(`${title} (skipped: ${reason})`, fn);
  };

  describe(`keygate middleware contract: ${subject.name}`, () => {
    let t: TestServer;
    let api: string;
    let issuer: string;
    let verifyKey: string;
    let app: AppUnderTest;
    const apps: AppUnderTest[] = [];
    const fetchLog: string[] = [];
    const denials: DenialReason[] = [];
    const warnings: string[] = [];

    /** Options as an API owner would write them, short intervals so the tests need not wait. */
    const options = (overrides: Partial<KeygateVerifierOptions> = {}): KeygateVerifierOptions => ({
      issuer,
      audience: api,
      rootKey: verifyKey,
      apiKeyCacheMs: 100,
      revocationPollMs: 100,
      onWarning: (message) => warnings.push(message),
      ...overrides,
    });
    const startApp = async (overrides: Partial<KeygateVerifierOptions> = {}): Promise<AppUnderTest> => {
      const started = await subject.start(options(overrides));
      apps.push(started);
      return started;
    };

    const call = async (target: AppUnderTest, method: string, path: string, authorization?: string) => {
      const response = await fetch(target.url + path, { method, headers: authorization === undefined ? {} : { authorization } });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text === '' ? null : JSON.parse(text) };
    };
    const get = (path: string, token: string, target = app) => call(target, 'GET', path, `Bearer ${token}`);
    /** GET with an `X-Forwarded-For` header, as a proxy in front of the app (or a caller forging one) sends it. */
    const getVia = async (target: AppUnderTest, token: string, forwardedFor: string): Promise<number> => {
      const response = await fetch(`${target.url}/users`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': forwardedFor } });
      await response.text();
      return response.status;
    };

    const mintJwt = async (scopes: string[], body: Record<string, unknown> = {}, slug = 'acme'): Promise<{ jti: string; token: string }> => {
      const issued = await t.call('POST', `/v1/tenants/${slug}/tokens`, { api, consumer: 'customer_1', scopes, ...body });
      expectStatus(issued, 201);
      return issued.body;
    };
    const createKey = async (body: Record<string, unknown> = {}, slug = 'acme'): Promise<{ id: string; key: string }> => {
      const created = await t.call('POST', `/v1/tenants/${slug}/keys`, { api, scopes: ['read:users'], ...body });
      expectStatus(created, 201);
      return created.body;
    };
    const newClient = async (): Promise<{ clientId: string; token: () => Promise<string> }> => {
      const { clientId, clientSecret } = await registerMachineClient(t, { scopes: { [api]: ['read:users', 'read:billing'] } });
      const token = async (): Promise<string> => {
        const issued = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: api }, { authorization: basic(clientId, clientSecret!) });
        expectStatus(issued, 200);
        return issued.body.access_token;
      };
      return { clientId, token };
    };

    beforeAll(async () => {
      t = await startTestServer('sqlite');
      ({ api } = await seedTenant(t));
      // A second tenant with an API of the same identifier: credentials of one must not pass for the other.
      await seedTenant(t, 'globex');
      await registerMachineClient(t); // adds the orders API, for tokens of another audience
      issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
      // Least privilege: the middleware's root key only verifies (and reads the revocation feed).
      const root = await t.call('POST', '/v1/root-keys', { scopes: ['keys:verify'] });
      expectStatus(root, 201);
      verifyKey = root.body.key;
      app = await startApp({ fetch: recordingFetch(fetchLog), onDenied: (reason) => denials.push(reason) });
    });
    afterAll(async () => {
      await Promise.all(apps.map((a) => a.close()));
      await t?.close();
    });

    describe('accepts', () => {
      test('a JWT API key, and the handler sees the identity', async () => {
        const { jti, token } = await mintJwt(['read:users']);
        const response = await get('/users', token);
        expect(response.status).toBe(200);
        expect(response.body.identity).toEqual({
          kind: 'jwt',
          subject: 'customer_1',
          tenant: 'acme',
          api,
          scopes: ['read:users'],
          tokenId: jti,
          expiresAt: new Date(decodeJwt(token).exp! * 1000).toISOString(),
          meta: {},
        });
        expect((await get('/whoami', token)).status).toBe(200);
      });

      test('a client-credentials access token, with its client id', async () => {
        const { clientId, token } = await newClient();
        const response = await get('/users', await token());
        expect(response.status).toBe(200);
        expect(response.body.identity).toMatchObject({ kind: 'jwt', subject: clientId, clientId, scopes: ['read:users', 'read:billing'] });
      });

      test('a JWT with the structured scopes claim', async () => {
        const { token } = await mintJwt(['read:users'], { claimsFormat: 'scopes' });
        const response = await get('/users', token);
        expect(response.status).toBe(200);
        expect(response.body.identity.scopes).toEqual(['read:users']);
      });

      test('an API key, verified by Keygate', async () => {
        const { id, key } = await createKey({ consumer: 'cus_42', meta: { plan: 'pro' } });
        const response = await get('/users', key);
        expect(response.status).toBe(200);
        expect(response.body.identity).toEqual({
          kind: 'api_key',
          subject: 'cus_42',
          tenant: 'acme',
          api,
          scopes: ['read:users'],
          tokenId: id,
          expiresAt: null,
          meta: { plan: 'pro' },
        });
      });

      test('a self-issued HS256 token, verified by Keygate', async () => {
        const { kid, secret } = (await t.call('POST', '/v1/tenants/acme/hs256-secrets')).body;
        const jti = randomUUID();
        const token = await new SignJWT({ scope: 'read:users' })
          .setProtectedHeader({ alg: 'HS256', kid })
          .setIssuer(issuer)
          .setAudience(api)
          .setSubject('svc-reports')
          .setIssuedAt()
          .setJti(jti)
          .setExpirationTime('5m')
          .sign(Buffer.from(secret));
        const before = fetchLog.filter((line) => line === 'POST /v1/verify').length;
        const response = await get('/users', token);
        expect(response.status).toBe(200);
        expect(response.body.identity).toMatchObject({ kind: 'jwt', subject: 'svc-reports', tokenId: jti, scopes: ['read:users'] });
        expect(fetchLog.filter((line) => line === 'POST /v1/verify').length).toBe(before + 1);
      });
    });

    describe('refuses', () => {
      test('a request without a token with a bare challenge (RFC 6750 §3.1)', async () => {
        for (const authorization of [undefined, 'Basic dXNlcjpwYXNz']) {
          const response = await call(app, 'GET', '/users', authorization);
          expect(response.status).toBe(401);
          expect(response.headers.get('www-authenticate')).toBe('Bearer realm="keygate"');
          expect(response.body).toEqual({ error: 'unauthorized', error_description: 'A bearer token is required' });
        }
      });

      test('every invalid token with the same generic answer, the exact reason going to onDenied only', async () => {
        const { token: good } = await mintJwt(['read:users']);
        const [header, payload, signature] = good.split('.') as [string, string, string];
        const claims = decodeJwt(good);
        const { kid } = decodeProtectedHeader(good);
        const jwks = (await t.call('GET', '/t/acme/.well-known/jwks.json', undefined, { auth: null })).body;
        const publicPem = (await import('node:crypto')).createPublicKey({ key: jwks.keys[0], format: 'jwk' }).export({ format: 'pem', type: 'spki' });
        const cases: [string, string, DenialReason['code']][] = [
          ['garbage', 'not-a-token', 'MALFORMED'],
          ['three garbage segments', 'abc.def.ghi', 'MALFORMED'],
          ['a tampered payload', `${header}.${part({ ...claims, scope: 'read:users write:users' })}.${signature}`, 'MALFORMED'],
          ['a stripped signature', `${header}.${payload}.`, 'MALFORMED'],
          ['alg none', `${part({ alg: 'none', typ: 'at+jwt', kid })}.${payload}.`, 'MALFORMED'],
          [
            'HS256 signed with the public key (algorithm confusion)',
            await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: kid! }).sign(Buffer.from(publicPem)),
            'MALFORMED',
          ],
          ['a token for another API', (await mintJwt(['read:orders'], { api: ORDERS_API })).token, 'WRONG_AUDIENCE'],
          ["another tenant's token", (await mintJwt(['read:users'], {}, 'globex')).token, 'NOT_FOUND'],
          ['an API key never issued', generateKey('kg', randomBytes), 'NOT_FOUND'],
          ["another tenant's API key for an API of the same name", (await createKey({}, 'globex')).key, 'NOT_FOUND'],
        ];
        for (const [name, token, code] of cases) {
          denials.length = 0;
          const response = await get('/users', token);
          expect(response.status, name).toBe(401);
          expect(response.headers.get('www-authenticate'), name).toBe(INVALID_CHALLENGE);
          expect(response.body, name).toEqual(INVALID_BODY);
          expect(denials.map((d) => d.code), name).toEqual([code]);
          expect(JSON.stringify(denials), name).not.toContain(token);
        }
        const empty = await call(app, 'GET', '/users', 'Bearer ');
        expect([empty.status, empty.headers.get('www-authenticate')]).toEqual([401, INVALID_CHALLENGE]);
      });

      test('an expired token', async () => {
        const { token } = await mintJwt(['read:users'], { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
        expect((await get('/users', token)).status).toBe(200);
        const reasons: DenialReason[] = [];
        const later = await startApp({ clock: () => Date.now() + 2 * 3_600_000, onDenied: (reason) => reasons.push(reason) });
        const response = await get('/users', token, later);
        expect([response.status, response.headers.get('www-authenticate'), response.body]).toEqual([401, INVALID_CHALLENGE, INVALID_BODY]);
        expect(reasons.map((r) => r.code)).toEqual(['EXPIRED']);
      });

      test('a token that is not strict base64url (RFC 7515 §2), and a self-issued token outside its bounds', async () => {
        let good = (await mintJwt(['read:users'])).token;
        while (!/[-_]/.test(good.split('.')[2]!)) good = (await mintJwt(['read:users'])).token;
        const [header, payload, signature] = good.split('.') as [string, string, string];
        const at = signature.search(/[-_]/);
        const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(signature.at(-1)!);
        const { kid, secret } = (await t.call('POST', '/v1/tenants/acme/hs256-secrets')).body;
        const selfIssued = (lifetime: string, withIat: boolean): Promise<string> => {
          const jwt = new SignJWT({ scope: 'read:users' }).setProtectedHeader({ alg: 'HS256', kid }).setIssuer(issuer).setAudience(api).setSubject('svc').setExpirationTime(lifetime);
          return (withIat ? jwt.setIssuedAt() : jwt).sign(Buffer.from(secret));
        };
        const cases: [string, string][] = [
          ['a padded signature', `${header}.${payload}.${signature}==`],
          ['+ or / in the signature', `${header}.${payload}.${signature.slice(0, at)}${signature[at] === '-' ? '+' : '/'}${signature.slice(at + 1)}`],
          ['a space in the signature', `${header}.${payload}.${signature.slice(0, 8)} ${signature.slice(8)}`],
          ['non-zero unused bits in the signature', `${header}.${payload}.${signature.slice(0, -1)}${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[last | 1]}`],
          ['an HS256 token living two days', await selfIssued('2d', true)],
          ['an HS256 token without iat', await selfIssued('5m', false)],
        ];
        expect((await get('/users', good)).status).toBe(200);
        for (const [name, token] of cases) {
          denials.length = 0;
          const response = await get('/users', token);
          expect([response.status, response.body], name).toEqual([401, INVALID_BODY]);
          expect(denials.map((d) => d.code), name).toEqual(['MALFORMED']);
        }
      });
    });

    describe('scopes', () => {
      test('a valid token without the scopes gets 403 insufficient_scope naming them', async () => {
        const { token } = await mintJwt(['read:users']);
        const response = await call(app, 'PUT', '/users', `Bearer ${token}`);
        expect(response.status).toBe(403);
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="keygate", error="insufficient_scope", scope="read:users write:users"');
        expect(response.body).toEqual({ error: 'insufficient_scope', error_description: 'The access token lacks the scope this request needs' });
      });

      test("match: 'any' lets one of the scopes do", async () => {
        expect((await get('/reports', (await mintJwt(['read:billing'])).token)).status).toBe(200);
        expect((await get('/reports', (await mintJwt(['read:users', 'write:users'])).token)).status).toBe(200);
        const none = await get('/reports', (await mintJwt(['read:users'])).token);
        expect(none.status).toBe(403);
        expect(none.headers.get('www-authenticate')).toBe('Bearer realm="keygate", error="insufficient_scope", scope="read:billing write:users"');
      });

      test('implications count for API keys and for JWTs alike: Keygate writes implied scopes into the tokens it issues', async () => {
        const { key } = await createKey({ scopes: ['write:users'] });
        expect((await get('/users', key)).status).toBe(200);
        expect((await call(app, 'PUT', '/users', `Bearer ${key}`)).status).toBe(200);
        const { token } = await mintJwt(['write:users']);
        expect((await get('/users', token)).status).toBe(200);
        expect((await call(app, 'PUT', '/users', `Bearer ${token}`)).status).toBe(200);
        expect((await call(app, 'PUT', '/users', `Bearer ${(await mintJwt(['read:users'])).token}`)).status).toBe(403);
      });

      test('an API key over its rate limit gets 429, counted on every request despite the cache', async () => {
        const { key } = await createKey({ ratelimits: [{ name: 'burst', limit: 2, duration: 60_000 }] });
        expect((await get('/users', key)).status).toBe(200);
        expect((await get('/users', key)).status).toBe(200);
        const limited = await get('/users', key);
        expect(limited.status).toBe(429);
        expect(limited.body).toEqual({ error: 'rate_limited', error_description: 'Too many requests with this credential' });
        expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(limited.headers.get('www-authenticate')).toBeNull();
      });
    });

    describe('revocation', () => {
      test('a revoked API key gets 401 once its cached answer expires', async () => {
        const { id, key } = await createKey();
        expect((await get('/users', key)).status).toBe(200);
        expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${id}/revoke`), 200);
        const waited = await eventually(async () => (await get('/users', key)).status === 401);
        expect(waited).toBeLessThan(1000);
      });

      test('a revoked jti gets 401 after the next poll, although the token was cached', async () => {
        const first = await mintJwt(['read:users']);
        const second = await mintJwt(['read:users']);
        for (const { token } of [first, second]) expect((await get('/users', token)).status).toBe(200);
        expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${first.jti}/revoke`), 200);
        await eventually(async () => (await get('/users', first.token)).status === 401, 2000);
        expect((await get('/users', second.token)).status).toBe(200);
        // A second revocation is read from where the first poll stopped.
        expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${second.jti}/revoke`), 200);
        await eventually(async () => (await get('/users', second.token)).status === 401, 2000);
      });

      test('resumes the feed with the cursor Keygate itself hands out', async () => {
        for (let i = 0; i < 2; i++) expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/tok_never_issued_${i}/revoke`), 200);
        const page = await t.call('GET', '/v1/tenants/acme/revocations?limit=1', undefined, { auth: verifyKey });
        expectStatus(page, 200);
        expect(page.body.nextCursor).toBe(cursorAfter(page.body.items[0].id));
      });

      test("a client cut-off revokes the client's tokens", async () => {
        const { clientId, token } = await newClient();
        const access = await token();
        expect((await get('/users', access)).status).toBe(200);
        expectStatus(await t.call('POST', `/v1/tenants/acme/clients/${clientId}/revoke-tokens`), 200);
        await eventually(async () => (await get('/users', access)).status === 401, 2000);
      });

      test('a token exchanged from a revoked token gets 401 (RFC 8693: it dies with its subject)', async () => {
        const subject = await mintJwt(['read:users']);
        const service = await registerMachineClient(t, { grantTypes: ['urn:ietf:params:oauth:grant-type:token-exchange'], scopes: { [api]: ['read:users'] } });
        const exchanged = await postForm(
          t,
          '/t/acme/oauth/token',
          { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subject.token, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', resource: api },
          { authorization: basic(service.clientId, service.clientSecret!) },
        );
        expectStatus(exchanged, 200);
        expect((await get('/users', exchanged.body.access_token)).status).toBe(200);
        expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${subject.jti}/revoke`), 200);
        await eventually(async () => (await get('/users', exchanged.body.access_token)).status === 401, 2000);
      });

      test("a consumer cut-off revokes the consumer's tokens", async () => {
        const { token } = await mintJwt(['read:users'], { consumer: 'customer_cut' });
        expect((await get('/users', token)).status).toBe(200);
        expectStatus(await t.call('POST', '/v1/tenants/acme/consumers/customer_cut/revoke-tokens'), 200);
        await eventually(async () => (await get('/users', token)).status === 401, 2000);
      });
    });

    describe('caller address (keys with an IP allowlist)', () => {
      test('by default the socket peer is the caller: an allowlisted key passes from it, and a forged X-Forwarded-For changes nothing', async () => {
        const local = await createKey({ ipAllowlist: ['127.0.0.0/8'] });
        const remote = await createKey({ ipAllowlist: ['203.0.113.0/24'] });
        expect((await get('/users', local.key)).status).toBe(200);
        expect(await getVia(app, local.key, '198.51.100.1')).toBe(200);
        denials.length = 0;
        expect(await getVia(app, remote.key, '203.0.113.5')).toBe(401);
        expect(denials.map((d) => d.code)).toEqual(['IP_NOT_ALLOWED']);
      });

      test('with trustProxy, the caller is the first hop of X-Forwarded-For that is not a trusted proxy', async () => {
        const reasons: DenialReason[] = [];
        // A long cache: an answer for one address must never be reused for another.
        const proxied = await startApp({ trustProxy: 'loopback', apiKeyCacheMs: 60_000, onDenied: (reason) => reasons.push(reason) });
        const { key } = await createKey({ ipAllowlist: ['203.0.113.0/24'] });
        const open = (await createKey()).key;
        expect(await getVia(proxied, key, '203.0.113.5')).toBe(200);
        // The left-most entry is whatever the caller sent: only the hop the trusted proxy saw counts.
        expect(await getVia(proxied, key, '198.51.100.1, 203.0.113.5')).toBe(200);
        expect(await getVia(proxied, key, '203.0.113.5, 198.51.100.1')).toBe(401);
        expect((await get('/users', key, proxied)).status).toBe(401);
        expect(await getVia(proxied, key, 'not-an-address')).toBe(401);
        expect(reasons.map((r) => r.code)).toEqual(['IP_NOT_ALLOWED', 'IP_NOT_ALLOWED', 'IP_NOT_ALLOWED']);
        expect(await getVia(proxied, open, 'not-an-address')).toBe(200);

        const oneHop = await startApp({ trustProxy: 1 });
        expect(await getVia(oneHop, key, '198.51.100.1, 203.0.113.5')).toBe(200);
        const twoHops = await startApp({ trustProxy: 2 });
        expect(await getVia(twoHops, key, '198.51.100.1, 203.0.113.5')).toBe(401);
      });
    });

    describe('signing keys', () => {
      test('a token signed by a freshly rotated key is accepted after one JWKS refetch', async () => {
        const log: string[] = [];
        const globex = await startApp({
          issuer: (await t.call('GET', '/v1/tenants/globex')).body.issuer,
          jwksRefetchCooldownMs: 0,
          fetch: recordingFetch(log),
        });
        const old = (await mintJwt(['read:users'], {}, 'globex')).token;
        expect((await get('/users', old, globex)).status).toBe(200);
        const rotated = await t.call('POST', '/v1/tenants/globex/signing-keys/rotate', { activateAfterSeconds: 0 });
        expectStatus(rotated, 201);
        const fresh = (await mintJwt(['read:users'], {}, 'globex')).token;
        expect(decodeProtectedHeader(fresh).kid).toBe(rotated.body.kid);
        expect((await get('/users', fresh, globex)).status).toBe(200);
        expect((await get('/users', old, globex)).status).toBe(200);
        expect(log.filter((line) => line.endsWith('/jwks.json'))).toHaveLength(2);
      });

      test('a flood of tokens with invented kids causes at most one more JWKS fetch', async () => {
        const log: string[] = [];
        const guarded = await startApp({ fetch: recordingFetch(log) });
        const { token } = await mintJwt(['read:users']);
        expect((await get('/users', token, guarded)).status).toBe(200);
        const stranger = await importJWK(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as never, 'EdDSA');
        const claims: JWTPayload = { ...decodeJwt(token), jti: randomUUID() };
        const forged = await Promise.all(
          Array.from({ length: 50 }, () =>
            new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: `sk_${randomBytes(12).toString('hex')}` }).sign(stranger),
          ),
        );
        const responses = await Promise.all(forged.map((f) => get('/users', f, guarded)));
        expect(responses.map((r) => r.status)).toEqual(forged.map(() => 401));
        const fetches = log.filter((line) => line.endsWith('/jwks.json')).length;
        expect(fetches).toBeGreaterThanOrEqual(1);
        expect(fetches).toBeLessThanOrEqual(2);
        expect((await get('/users', token, guarded)).status).toBe(200);
      });
    });

    describe('configuration', () => {
      test('without a root key: JWTs pass, API keys get 401, and it warns once', async () => {
        const seen: string[] = [];
        const { rootKey: _omitted, ...withoutRoot } = options({ onWarning: (message) => seen.push(message) });
        const started = await subject.start(withoutRoot);
        apps.push(started);
        expect((await get('/users', (await mintJwt(['read:users'])).token, started)).status).toBe(200);
        const { key } = await createKey();
        expect((await get('/users', key, started)).status).toBe(401);
        expect((await get('/users', key, started)).status).toBe(401);
        expect(seen).toHaveLength(1);
        expect(seen[0]).toMatch(/no rootKey: revoked JWTs are accepted/);
      });

      test('Keygate unreachable: 503 temporarily_unavailable, never a pass', async () => {
        const port = await freePort();
        const seen: string[] = [];
        const cut = await startApp({ keygateUrl: `http://127.0.0.1:${port}`, onWarning: (message) => seen.push(message) });
        const { key } = await createKey();
        const response = await get('/users', key, cut);
        expect(response.status).toBe(503);
        expect(response.body).toEqual({ error: 'temporarily_unavailable', error_description: 'The credential could not be checked; try again later' });
        // The revocation feed was never read either, so JWTs cannot be trusted yet.
        expect((await get('/users', (await mintJwt(['read:users'])).token, cut)).status).toBe(503);
        expect(seen.some((message) => message.includes('revocation feed could not be read'))).toBe(true);
      });

      test('close() stops the revocation poll; later requests get 503', async () => {
        const log: string[] = [];
        const closing = await startApp({ revocationPollMs: 20, fetch: recordingFetch(log) });
        const { token } = await mintJwt(['read:users']);
        expect((await get('/users', token, closing)).status).toBe(200);
        await eventually(async () => log.filter((line) => line.endsWith('/revocations')).length >= 3);
        await closing.closeVerifier();
        const polls = log.length;
        await sleep(100);
        expect(log.length).toBe(polls);
        expect((await get('/users', token, closing)).status).toBe(503);
      });

      test('bad options and bad scopes are TypeErrors at creation', async () => {
        const good = options({ rootKey: 'kg_unused' });
        expect(() => subject.keygateAuth({ ...good, issuer: 'https://keygate.example.com' })).toThrow(TypeError);
        expect(() => subject.keygateAuth({ ...good, audience: '' })).toThrow(TypeError);
        expect(() => subject.keygateAuth({ ...good, apiKeyCacheMs: -1 })).toThrow(TypeError);
        for (const trustProxy of ['10.0.0.0/33', 'proxy.example.com', -1, 1.5, {}]) {
          expect(() => subject.keygateAuth({ ...good, trustProxy } as KeygateVerifierOptions), String(trustProxy)).toThrow(TypeError);
        }
        expect(() => subject.keygateAuth({ ...good, audiance: api } as KeygateVerifierOptions)).toThrow(/unknown option "audiance"/);
        const auth = subject.keygateAuth(good);
        try {
          expect(() => auth.requireScopes(['read users'])).toThrow(TypeError);
          expect(() => auth.requireScopes(['read:users'], { match: 'some' as ScopeMatch })).toThrow(TypeError);
        } finally {
          await auth.close();
        }
      });
    });
  });
}

/** A port nothing listens on: bound once by us, then released. */
