import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { SignJWT, importJWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { hashSecret } from '../../src/crypto/secrets.js';
import { generateKey } from '../../src/domain/keys/format.js';
import type { VerificationResult } from '../../src/domain/verification.js';
import { bearerToken, createKeygateVerifier, denialResponse, type KeygateVerifier, type KeygateVerifierOptions } from '../../src/middleware/core/index.js';

/**
 * The verifier's own rules, against a scripted Keygate (an injected fetch): what the contract
 * suite cannot see from outside — what is cached and under which key, when Keygate is asked
 * again, how options and headers are read. The HTTP behaviour is in contract.ts.
 */

const ISSUER = 'https://keygate.test/t/acme';
const API = 'https://api.acme.test';

interface Scripted {
  fetch: typeof fetch;
  calls: string[];
  answer: Map<string, () => Response>;
}

function scriptedKeygate(): Scripted {
  const calls: string[] = [];
  const answer = new Map<string, () => Response>([
    ['GET /v1/tenants/acme/revocations', () => Response.json({ items: [], nextCursor: null })],
  ]);
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const line = `${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`;
    calls.push(line);
    const respond = answer.get(line);
    if (respond === undefined) throw new TypeError(`fetch failed: nothing scripted for ${line}`);
    return respond();
  };
  return { fetch, calls, answer };
}

function validResult(overrides: Partial<VerificationResult> = {}): VerificationResult {
  return {
    valid: true,
    code: 'VALID',
    keyId: 'key_1',
    tenant: 'acme',
    api: API,
    consumer: 'cus_1',
    scopes: ['read:users'],
    meta: {},
    expiresAt: null,
    ratelimits: [],
    credits: null,
    ...overrides,
  };
}

describe('the framework-neutral verifier', () => {
  const open: KeygateVerifier[] = [];
  let now = Date.parse('2030-01-01T00:00:00Z');
  const create = (options: Partial<KeygateVerifierOptions> & { fetch: typeof fetch }): KeygateVerifier => {
    const verifier = createKeygateVerifier({ issuer: ISSUER, audience: API, rootKey: 'kg_root', clock: () => now, onWarning: () => {}, ...options });
    open.push(verifier);
    return verifier;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((v) => v.close()));
  });

  describe('reads the Authorization header as RFC 6750 does', () => {
    it.each([
      [undefined, null],
      ['Basic dXNlcjpwYXNz', null],
      ['Bearerish abc', null],
      ['Bearer', ''],
      ['Bearer ', ''],
      ['Bearer abc.def.ghi', 'abc.def.ghi'],
      ['bearer  kg_abc ', 'kg_abc'],
    ])('%j → %j', (header, token) => {
      expect(bearerToken(header)).toBe(token);
    });
  });

  it('answers each denial with its status, challenge and generic body', () => {
    expect(denialResponse({ ok: false, status: 401, error: 'unauthorized' }).headers['www-authenticate']).toBe('Bearer realm="keygate"');
    expect(denialResponse({ ok: false, status: 429, error: 'rate_limited', retryAfterSec: 7 }).headers).toMatchObject({ 'retry-after': '7' });
    const unavailable = denialResponse({ ok: false, status: 503, error: 'temporarily_unavailable' });
    expect(unavailable.headers['www-authenticate']).toBeUndefined();
    expect(unavailable.body.error).toBe('temporarily_unavailable');
  });

  describe('options', () => {
    const base: KeygateVerifierOptions = { issuer: ISSUER, audience: API, onWarning: () => {} };
    it.each<[string, Record<string, unknown>]>([
      ['an issuer without /t/{tenant}', { issuer: 'https://keygate.test' }],
      ['an issuer with a query', { issuer: `${ISSUER}?x=1` }],
      ['an issuer that is not http(s)', { issuer: 'ftp://keygate.test/t/acme' }],
      ['an empty audience', { audience: '' }],
      ['an empty root key', { rootKey: ' ' }],
      ['a zero poll interval', { revocationPollMs: 0 }],
      ['a fractional cache time', { apiKeyCacheMs: 1.5 }],
      ['a clock that is not a function', { clock: 5 }],
      ['an unknown option', { rootkey: 'kg_x' }],
    ])('refuse %s with a TypeError', (_name, change) => {
      expect(() => createKeygateVerifier({ ...base, ...change } as KeygateVerifierOptions)).toThrow(TypeError);
    });

    it('never echo the root key in an error', () => {
      expect(() => createKeygateVerifier({ ...base, rootKey: 'kg_secret_value', keygateUrl: 'nope' })).toThrow(/keygateUrl/);
      try {
        createKeygateVerifier({ ...base, rootKey: 'kg_secret_value', keygateUrl: 'nope' });
      } catch (error) {
        expect(String(error)).not.toContain('kg_secret_value');
      }
    });

    it('find Keygate next to the issuer unless told, and warn once about plain http off loopback', async () => {
      const { fetch, calls, answer } = scriptedKeygate();
      answer.set('GET /base/v1/tenants/acme/revocations', () => Response.json({ items: [], nextCursor: null }));
      const warnings: string[] = [];
      create({ issuer: 'http://keygate.internal:8080/base/t/acme', fetch, onWarning: (message) => warnings.push(message) });
      await expect.poll(() => calls).toContain('GET /base/v1/tenants/acme/revocations');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/plain http/);
      const quiet: string[] = [];
      create({ issuer: 'http://127.0.0.1:8080/t/acme', fetch, onWarning: (message) => quiet.push(message) });
      expect(quiet).toEqual([]);
    });
  });

  describe('API keys', () => {
    it('reuse an answer per requirement for apiKeyCacheMs, keyed by the hash of the key', async () => {
      const keygate = scriptedKeygate();
      keygate.answer.set('POST /v1/verify', () => Response.json(validResult()));
      const verifier = create({ fetch: keygate.fetch, apiKeyCacheMs: 1000 });
      const key = generateKey('kg', randomBytes);
      const asked = (): number => keygate.calls.filter((line) => line === 'POST /v1/verify').length;

      expect((await verifier.verify(key, { scopes: ['read:users'] })).ok).toBe(true);
      expect((await verifier.verify(key, { scopes: ['read:users'] })).ok).toBe(true);
      expect(asked()).toBe(1);
      await verifier.verify(key, { scopes: ['read:users'], match: 'any' });
      expect(asked()).toBe(2);
      now += 1000;
      await verifier.verify(key, { scopes: ['read:users'] });
      expect(asked()).toBe(3);

      // The cache holds digests, never the key (white-box: the keys of the private cache).
      const cacheKeys = [...(verifier as unknown as { remote: { cache: { keys(): IterableIterator<string> } } }).remote.cache.keys()];
      expect(cacheKeys.length).toBeGreaterThan(0);
      for (const cacheKey of cacheKeys) {
        expect(cacheKey).not.toContain(key);
        expect(cacheKey.startsWith(hashSecret(key))).toBe(true);
      }
    });

    it('never reuse an answer past the key expiry, nor one with rate limits or credits', async () => {
      const keygate = scriptedKeygate();
      let result = validResult({ expiresAt: new Date(now + 100).toISOString() });
      keygate.answer.set('POST /v1/verify', () => Response.json(result));
      const verifier = create({ fetch: keygate.fetch, apiKeyCacheMs: 5000 });
      const key = generateKey('kg', randomBytes);
      const asked = (): number => keygate.calls.filter((line) => line === 'POST /v1/verify').length;
      await verifier.verify(key);
      now += 150;
      await verifier.verify(key);
      expect(asked()).toBe(2);

      result = validResult({ credits: { remaining: 9 } });
      const metered = generateKey('kg', randomBytes);
      await verifier.verify(metered);
      await verifier.verify(metered);
      expect(asked()).toBe(4);
    });

    it('answer 503 when Keygate refuses the root key, and warn once', async () => {
      const keygate = scriptedKeygate();
      keygate.answer.set('POST /v1/verify', () => Response.json({ code: 'FORBIDDEN' }, { status: 403 }));
      const warnings: string[] = [];
      const verifier = create({ fetch: keygate.fetch, onWarning: (message) => warnings.push(message) });
      for (let i = 0; i < 2; i++) {
        expect(await verifier.verify(generateKey('kg', randomBytes))).toEqual({ ok: false, status: 503, error: 'temporarily_unavailable' });
      }
      expect(warnings.filter((w) => w.includes('keys:verify'))).toHaveLength(1);
    });
  });

  describe('JWTs', () => {
    /** An EdDSA access token of ISSUER for API, subject cli_1, issued now, with the public JWK that checks it. */
    const signedToken = async (claims: Record<string, unknown>, jti: string, exp: number): Promise<{ jwk: Record<string, unknown>; token: string }> => {
      const pair = generateKeyPairSync('ed25519');
      const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid: 'sk_test', alg: 'EdDSA', use: 'sig' };
      const signer = await importJWK(pair.privateKey.export({ format: 'jwk' }) as never, 'EdDSA');
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'sk_test' })
        .setIssuer(ISSUER)
        .setAudience(API)
        .setSubject('cli_1')
        .setIssuedAt(Math.floor(now / 1000))
        .setJti(jti)
        .setExpirationTime(exp)
        .sign(signer);
      return { jwk, token };
    };

    it('answer 503 until the JWKS can be read, retry at most once a second, then verify offline', async () => {
      const exp = Math.floor(now / 1000) + 600;
      const { jwk, token } = await signedToken({ scope: 'read:users', client_id: 'cli_1' }, 'tok_1', exp);
      const keygate = scriptedKeygate();
      const verifier = create({ fetch: keygate.fetch });
      const fetchedJwks = (): number => keygate.calls.filter((line) => line.endsWith('/jwks.json')).length;

      expect((await verifier.verify(token)).ok).toBe(false);
      expect(await verifier.verify(token)).toEqual({ ok: false, status: 503, error: 'temporarily_unavailable' });
      expect(fetchedJwks()).toBe(1);

      keygate.answer.set('GET /t/acme/.well-known/jwks.json', () => Response.json({ keys: [jwk] }, { headers: { 'cache-control': 'public, max-age=300' } }));
      now += 1000;
      const outcome = await verifier.verify(token, { scopes: ['read:users'] });
      expect(outcome).toEqual({
        ok: true,
        identity: { kind: 'jwt', subject: 'cli_1', tenant: 'acme', api: API, scopes: ['read:users'], tokenId: 'tok_1', clientId: 'cli_1', expiresAt: new Date(exp * 1000).toISOString(), meta: {} },
      });
      expect(fetchedJwks()).toBe(2);
      expect(Object.isFrozen(outcome.ok && outcome.identity)).toBe(true);
      expect(await verifier.verify(token, { scopes: ['write:users'] })).toMatchObject({ status: 403, requiredScopes: ['write:users'] });
      now += 601_000;
      expect(await verifier.verify(token)).toEqual({ ok: false, status: 401, error: 'invalid_token' });
    });

    it('never resolve the caller address, which only a check through Keygate reads', async () => {
      const { jwk, token } = await signedToken({ scope: 'read:users' }, 'tok_2', Math.floor(now / 1000) + 600);
      const keygate = scriptedKeygate();
      keygate.answer.set('GET /t/acme/.well-known/jwks.json', () => Response.json({ keys: [jwk] }));
      let sentIp: unknown = 'not sent';
      keygate.answer.set('POST /v1/verify', () => Response.json(validResult()));
      const fetchSpy: typeof fetch = async (input, init) => {
        if (String(input).endsWith('/v1/verify')) sentIp = (JSON.parse(String(init?.body)) as { ip?: unknown }).ip;
        return keygate.fetch(input, init);
      };
      const guard = create({ fetch: fetchSpy, trustProxy: 'loopback' }).requireScopes(['read:users']);
      let reads = 0;
      const caller = {
        get socketAddress(): string {
          reads += 1;
          return '127.0.0.1';
        },
        forwardedFor: '203.0.113.9',
      };

      expect((await guard(`Bearer ${token}`, caller)).ok).toBe(true);
      expect((await guard(`Bearer ${token}`, caller)).ok).toBe(true);
      expect(reads).toBe(0);
      expect((await guard(`Bearer ${generateKey('kg', randomBytes)}`, caller)).ok).toBe(true);
      expect(reads).toBe(1);
      expect(sentIp).toBe('203.0.113.9');
    });
  });
});
