import { describe, expect, it } from 'vitest';
import { clientPowerRefusal, powersHeld, redirectUriRefusal } from '../../src/domain/clients.js';
import { isRefreshReplay } from '../../src/domain/people.js';
import { MAX_EXCHANGE_DEPTH, decideExchange, type SubjectToken } from '../../src/domain/tokens/exchange.js';
import { isRevoked, markKey, type RevocationState } from '../../src/domain/tokens/revocation.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** The pure OAuth rules of issue 7 (invariants 4, 5, 6, 11); the endpoints are tried in test/security/. */
describe('clientPowerRefusal', () => {
  const confidential = { tokenEndpointAuthMethod: 'client_secret_basic' as const, grantTypes: ['client_credentials' as const, TOKEN_EXCHANGE as typeof TOKEN_EXCHANGE], canIntrospect: false };
  const publicClient = { ...confidential, tokenEndpointAuthMethod: 'none' as const, canIntrospect: true };

  it('lets a confidential client use its grants and introspect its own tokens, any token only with canIntrospect', () => {
    expect(clientPowerRefusal(confidential, { grant: 'client_credentials' })).toBeNull();
    expect(clientPowerRefusal(confidential, { grant: 'authorization_code' })).toMatch(/may not use/);
    expect(clientPowerRefusal(confidential, { introspect: 'own' })).toBeNull();
    expect(clientPowerRefusal(confidential, { introspect: 'any' })).toMatch(/only its own/);
    expect(clientPowerRefusal({ ...confidential, canIntrospect: true }, { introspect: 'any' })).toBeNull();
  });

  it('gives a public client no confidential-only power, whatever it is registered with', () => {
    for (const power of [{ grant: 'client_credentials' as const }, { grant: TOKEN_EXCHANGE as typeof TOKEN_EXCHANGE }, { introspect: 'own' as const }, { introspect: 'any' as const }]) {
      expect(clientPowerRefusal(publicClient, power)).toMatch(/public client/);
    }
    expect(powersHeld(publicClient).map((power) => clientPowerRefusal(publicClient, power)).every((refusal) => refusal !== null)).toBe(true);
  });
});

describe('redirectUriRefusal (RFC 8252 §7.1, §7.3)', () => {
  it.each(['https://app.example/cb', 'http://127.0.0.1:1234/cb', 'http://[::1]/cb', 'http://localhost/cb', 'com.example.app:/cb', 'com.example.app://cb'])('accepts %s', (uri) => {
    expect(redirectUriRefusal(uri)).toBeNull();
  });
  it.each(['javascript:alert(1)', 'data:text/html,x', 'file:///etc/passwd', 'vbscript:x', 'blob:https://a.example/x', 'about:blank', 'myapp:/cb', 'http://a.example/cb', 'https://a.example/cb#x', 'https://a.example/cb#', 'https://u:p@a.example/cb', 'cb'])(
    'refuses %s',
    (uri) => {
      expect(redirectUriRefusal(uri)).toMatch(/redirect URI/);
    },
  );
});

describe('decideExchange (RFC 8693)', () => {
  const allowance = { 'https://a': ['read', 'write'], 'https://b': ['read', 'admin'] };
  const subject = (overrides: Partial<SubjectToken> = {}): SubjectToken => ({ audience: 'https://a', scopes: ['read', 'write'], claims: { jti: 's1', client_id: 'cli_app', iat: 100, exp: 200 }, ...overrides });

  it('refuses a subject token for an API the client has no allowance for (invalid_request)', () => {
    expect(decideExchange({ allowance: { 'https://b': ['read'] }, subject: subject(), target: 'https://b', requested: null })).toMatchObject({ ok: false, error: 'invalid_request' });
  });

  it("finds no allowance in Object.prototype: an API named 'constructor' is in no client's allowance but its own", () => {
    for (const audience of ['constructor', 'toString', '__proto__']) {
      expect(decideExchange({ allowance, subject: subject({ audience }), target: 'https://b', requested: null })).toMatchObject({ ok: false, error: 'invalid_request' });
    }
  });

  it("narrows to the subject's scopes ∩ the allowance on the target, and refuses anything outside", () => {
    expect(decideExchange({ allowance, subject: subject(), target: 'https://b', requested: null })).toMatchObject({ ok: true, scopes: ['read'] });
    expect(decideExchange({ allowance, subject: subject(), target: 'https://b', requested: ['admin'] })).toMatchObject({ ok: false, error: 'invalid_scope' });
    expect(decideExchange({ allowance, subject: subject(), target: 'https://b', requested: ['write'] })).toMatchObject({ ok: false, error: 'invalid_scope' });
    expect(decideExchange({ allowance, subject: subject({ scopes: ['write'] }), target: 'https://b', requested: null })).toMatchObject({ ok: false, error: 'invalid_scope' });
  });

  it('records the lineage, caps the lifetime at the subject, and stops after the maximum depth', () => {
    const first = decideExchange({ allowance, subject: subject({ claims: { jti: 's1', client_id: 'cli_app', iat: 100, exp: 200, exchanged_from: [{ jti: 's0', iat: 90 }] } }), target: 'https://b', requested: null });
    expect(first).toEqual({ ok: true, scopes: ['read'], exchangedFrom: [{ jti: 's1', client_id: 'cli_app', iat: 100 }, { jti: 's0', iat: 90 }], notAfter: 200 });
    const deep = Array.from({ length: MAX_EXCHANGE_DEPTH }, (_, i) => ({ jti: `s${i}` }));
    expect(decideExchange({ allowance, subject: subject({ claims: { exchanged_from: deep } }), target: 'https://b', requested: null })).toMatchObject({ ok: false, error: 'invalid_request' });
  });
});

describe('isRevoked with an exchanged token', () => {
  const state = (jtis: string[], marks: Record<string, number> = {}): RevocationState => ({ jtis: new Set(jtis), notBefore: new Map(Object.entries(marks)) });
  const exchanged = { jti: 'e1', iat: 150, client_id: 'cli_service', sub: 'usr_1', exchanged_from: [{ jti: 's1', client_id: 'cli_app', iat: 100 }] };

  it("is revoked with its subject's jti, or a cut-off of the subject's client at or after the subject's iat", () => {
    expect(isRevoked(exchanged, state([]))).toBe(false);
    expect(isRevoked(exchanged, state(['s1']))).toBe(true);
    expect(isRevoked(exchanged, state([], { [markKey('client', 'cli_app')]: 100 }))).toBe(true);
    expect(isRevoked(exchanged, state([], { [markKey('client', 'cli_app')]: 99 }))).toBe(false);
  });
});

describe('isRefreshReplay (RFC 9700 §4.14.2)', () => {
  it('takes any reuse for a replay with a 0 interval, and one within the interval for a concurrent refresh', () => {
    expect(isRefreshReplay({ rotatedAt: 1_000, revokedAt: null }, 1_000, 0)).toBe(true);
    expect(isRefreshReplay({ rotatedAt: 1_000, revokedAt: null }, 5_999, 5)).toBe(false);
    expect(isRefreshReplay({ rotatedAt: 1_000, revokedAt: null }, 6_000, 5)).toBe(true);
    expect(isRefreshReplay({ rotatedAt: 1_000, revokedAt: 1_000 }, 9_000, 0)).toBe(false);
  });

  it('takes a reuse whose clock was read before the rotation (a lost race) for a replay with a 0 interval', () => {
    expect(isRefreshReplay({ rotatedAt: 1_000, revokedAt: null }, 999, 0)).toBe(true);
    expect(isRefreshReplay({ rotatedAt: 1_000, revokedAt: null }, 999, 5)).toBe(false);
  });
});
