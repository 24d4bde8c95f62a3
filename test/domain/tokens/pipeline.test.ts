import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CompactSign } from 'jose';
import { describe, expect, it } from 'vitest';
import { signatureVerifier } from '../../../src/crypto/signing.js';
import type { JwtHeader } from '../../../src/domain/tokens/jwt.js';
import {
  admitJwt,
  authenticateJwt,
  type AdmissionSources,
  isRejection,
  type JwtKey,
  type JwtSource,
  type TokenProfile,
} from '../../../src/domain/tokens/pipeline.js';

/** The pipeline with an in-memory issuer: RFC 9068 and RFC 7515 cases kept as data (test/vectors/). */
const vectors = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../../vectors/${name}`, import.meta.url), 'utf8')) as T;

const ISSUER = 'https://keygate.example/t/acme';
const API = 'https://api.example';
const now = Date.UTC(2026, 5, 15, 12) + 400;
const nowSec = Math.floor(now / 1000);
const PROFILE: TokenProfile = { algorithms: ['EdDSA', 'ES256', 'RS256'], requireAtJwt: true, requireKid: true, clockToleranceSec: 0 };

const k1 = generateKeyPairSync('ed25519');
const keys = new Map<string, JwtKey>([['k1', { alg: 'EdDSA', verify: signatureVerifier({ alg: 'EdDSA', key: k1.publicKey }) }]]);
const signers = {
  k1: k1.privateKey,
  'other-ed25519': generateKeyPairSync('ed25519').privateKey,
  'other-es256': generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  'public-key-as-hmac-secret': k1.publicKey.export({ format: 'der', type: 'spki' }),
};

const lookups: string[] = [];
const source: JwtSource<null> = {
  issuer: (iss) => (iss === ISSUER ? { issuer: ISSUER, profile: PROFILE, context: null } : null),
  key: (_issuer, header) => {
    lookups.push(String(header.kid));
    return keys.get(header.kid as string) ?? null;
  },
};

type Value = unknown;
interface Case {
  title: string;
  rfc: string;
  header?: Record<string, Value>;
  claims?: Record<string, Value>;
  signWith?: keyof typeof signers;
  unsigned?: boolean;
  required?: string[];
  code: string;
}

function merge(base: Record<string, Value>, changes: Record<string, Value> = {}): Record<string, Value> {
  const merged = { ...base };
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) delete merged[name];
    else merged[name] = typeof value === 'object' && value !== null && 'now' in value ? nowSec + (value as { now: number }).now : value;
  }
  return merged;
}

async function tokenFor(testCase: Case): Promise<string> {
  const header = merge({ alg: 'EdDSA', typ: 'at+jwt', kid: 'k1' }, testCase.header);
  const claims = merge({ iss: ISSUER, sub: 'svc', aud: API, iat: nowSec, exp: nowSec + 300, jti: 'j1', client_id: 'cli_1', scope: 'read:users' }, testCase.claims);
  const payload = new TextEncoder().encode(JSON.stringify(claims));
  if (testCase.unsigned === true) {
    return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(payload).toString('base64url')}.`;
  }
  const key = signers[testCase.signWith ?? 'k1'];
  // jose refuses to sign a `crit` it does not understand, as a signer should: sign that one by hand.
  if ('crit' in header) {
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
    return `${input}.${sign(null, Buffer.from(input), k1.privateKey).toString('base64url')}`;
  }
  return new CompactSign(payload).setProtectedHeader(header as JwtHeader).sign(key as never);
}

async function verify(token: string, required: readonly string[] = ['read:users']): Promise<string> {
  const authenticated = await authenticateJwt(token, source);
  if (isRejection(authenticated)) return authenticated.code;
  const rejection = await admitJwt(authenticated.payload, ISSUER, {
    profile: PROFILE,
    audience: API,
    now,
    required,
    match: 'all',
    sources: { held: (scope: string) => new Set(scope.split(' ')), revocations: () => ({ jtis: new Set(['revoked-jti']), notBefore: new Map() }) },
    subject: String(authenticated.payload.scope),
  });
  return rejection === null ? 'VALID' : rejection.code;
}

describe('the JWT pipeline against RFC 9068 / RFC 7519 / RFC 8725 rules (test/vectors/access-token-rules.json)', () => {
  const { cases } = vectors<{ cases: Case[] }>('access-token-rules.json');

  it.each(cases)('$title ($rfc): $code', async (testCase) => {
    expect(await verify(await tokenFor(testCase), testCase.required)).toBe(testCase.code);
  });
});

describe('the pipeline refuses the published non-JWS forms (test/vectors/jws-refused.json)', () => {
  const refused = vectors<{ title: string; jws: string; code: string }[]>('jws-refused.json');
  const joe: JwtSource<null> = { issuer: (iss) => ({ issuer: iss, profile: { ...PROFILE, requireAtJwt: false, requireKid: false }, context: null }), key: () => null };

  it.each(refused)('$title', async ({ jws, code }) => {
    const outcome = await authenticateJwt(jws, joe);
    expect(isRejection(outcome) && outcome.code).toBe(code);
  });
});

/** Sources that answer from memory: the token's held scopes are read:users, nothing is revoked. */
const MEMORY: AdmissionSources<null> = { held: () => new Set(['read:users']), revocations: () => null };

describe('the pipeline order', () => {
  it('looks up no key for a token that can never pass: unknown issuer, bad header, claims of the wrong shape', async () => {
    lookups.length = 0;
    for (const testCase of [{ claims: { iss: 'https://elsewhere.example' } }, { header: { typ: 'JWT' } }, { claims: { exp: null } }, { claims: { sub: 7 } }]) {
      expect(await verify(await tokenFor({ title: '', rfc: '', code: '', ...testCase }))).not.toBe('VALID');
    }
    expect(lookups).toEqual([]);
    expect(await verify(await tokenFor({ title: '', rfc: '', code: '' }))).toBe('VALID');
    expect(lookups).toEqual(['k1']);
  });

  it('checks the signature before the clock and the audience, so a refusal for either names a genuine token', async () => {
    expect(await verify(await tokenFor({ title: '', rfc: '', code: '', claims: { exp: { now: -5 } } }))).toBe('EXPIRED');
    expect(await verify(await tokenFor({ title: '', rfc: '', code: '', claims: { exp: { now: -5 } }, signWith: 'other-ed25519' }))).toBe('MALFORMED');
    expect(await verify(await tokenFor({ title: '', rfc: '', code: '', claims: { aud: 'https://other.example' }, signWith: 'other-ed25519' }))).toBe('MALFORMED');
  });

  it('lets a source that cannot answer throw its own error', async () => {
    const failing: JwtSource<null> = { ...source, key: () => Promise.reject(new Error('JWKS unreachable')) };
    const token = await tokenFor({ title: '', rfc: '', code: '' });
    await expect(authenticateJwt(token, failing)).rejects.toThrow('JWKS unreachable');
  });

  it('checks the clock again when a kept token is presented later', async () => {
    const authenticated = await authenticateJwt(await tokenFor({ title: '', rfc: '', code: '' }), source);
    if (isRejection(authenticated)) throw new Error(authenticated.detail);
    const later = { profile: PROFILE, audience: API, required: [], match: 'all' as const, sources: MEMORY, subject: null };
    expect(await admitJwt(authenticated.payload, ISSUER, { ...later, now: now + 299_000 })).toBeNull();
    expect((await admitJwt(authenticated.payload, ISSUER, { ...later, now: now + 300_000 }))?.code).toBe('EXPIRED');
  });

  it('answers synchronously when every source answers from memory', () => {
    const payload = { iss: ISSUER, sub: 's', aud: API, exp: nowSec + 60 };
    const answer = admitJwt(payload, ISSUER, { profile: PROFILE, audience: API, now, required: [], match: 'all', sources: MEMORY, subject: null });
    expect(answer).toBeNull();
  });
});
