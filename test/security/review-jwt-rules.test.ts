import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jwkThumbprint, jwksKeys } from '../../src/crypto/jwks.js';
import { keyFitsAlgorithm, signatureVerifier } from '../../src/crypto/signing.js';
import { MAX_TOKEN_LENGTH, checkClaims, decodeJwt, headerProblem } from '../../src/domain/tokens/jwt.js';
import { authenticateJwt, isRejection, type JwtKey, type JwtSource, type TokenProfile } from '../../src/domain/tokens/pipeline.js';

/**
 * Review of issue 9.1 (one JWT pipeline, one JOSE stack on node:crypto), as an attacker, on the
 * pure rules: keys and algorithms (`keyFitsAlgorithm`, `jwksKeys`), the decoder, the header and
 * the claims. Tokens are made by hand here, since the point is what jose would refuse to make.
 */

const part = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const ISSUER = 'https://keygate.example/t/acme';
const API = 'https://api.example';
const now = Date.UTC(2026, 5, 15, 12);
const nowSec = now / 1000;
const CLAIMS = { iss: ISSUER, sub: 'svc', aud: API, iat: nowSec, exp: nowSec + 300, jti: 'j1' };

const ed = generateKeyPairSync('ed25519');
const PROFILE: TokenProfile = { algorithms: ['EdDSA', 'ES256', 'RS256'], requireAtJwt: true, requireKid: true, clockToleranceSec: 0 };
const keys = new Map<string, JwtKey>([['k1', { alg: 'EdDSA', verify: signatureVerifier({ alg: 'EdDSA', key: ed.publicKey }) }]]);
const source: JwtSource<null> = {
  issuer: (iss) => (iss === ISSUER ? { issuer: ISSUER, profile: PROFILE, context: null } : null),
  key: (_issuer, header) => keys.get(header.kid as string) ?? null,
};

function signedEd(header: Record<string, unknown>, payload: string): string {
  const input = `${part(header)}.${payload}`;
  return `${input}.${sign(null, Buffer.from(input), ed.privateKey).toString('base64url')}`;
}

async function code(token: string): Promise<string> {
  const outcome = await authenticateJwt(token, source);
  return isRejection(outcome) ? outcome.code : 'VALID';
}

describe('review 9.1: keys must fit their algorithm (keyFitsAlgorithm, security.md §10: "RSA of 2048 bits or more")', () => {
  it('refuses an RSA key of 2047 bits for RS256 and PS256', () => {
    // n of a 2041..2047-bit modulus still takes 256 bytes: counting bytes, not bits, lets it through.
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2047 });
    expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(2047);
    expect(keyFitsAlgorithm(publicKey, 'RS256')).toBe(false);
    expect(keyFitsAlgorithm(publicKey, 'PS256')).toBe(false);
  });

  it('held: refuses RSA-1024, ES256 with a P-384 key, EdDSA with Ed448, a private or secret key for a public algorithm', () => {
    expect(keyFitsAlgorithm(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey, 'RS256')).toBe(false);
    expect(keyFitsAlgorithm(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey, 'ES256')).toBe(false);
    expect(keyFitsAlgorithm(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey, 'ES256')).toBe(false);
    expect(keyFitsAlgorithm(generateKeyPairSync('ed448').publicKey, 'EdDSA')).toBe(false);
    expect(keyFitsAlgorithm(ed.privateKey, 'EdDSA')).toBe(false);
    expect(() => signatureVerifier({ alg: 'HS256', key: Buffer.alloc(31) })).toThrow(TypeError);
    expect(keyFitsAlgorithm(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, 'RS256')).toBe(true);
  });

  it('held: an ES256 verifier refuses a DER-encoded signature and an EdDSA verifier a signature of another key', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const input = `${part({ alg: 'ES256', kid: 'e' })}.${part(CLAIMS)}`;
    const der = sign('sha256', Buffer.from(input), ec.privateKey).toString('base64url');
    const p1363 = sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    const verify = signatureVerifier({ alg: 'ES256', key: ec.publicKey });
    expect(verify(`${input}.${p1363}`)).toBe(true);
    expect(verify(`${input}.${der}`)).toBe(false);
    const other = generateKeyPairSync('ed25519');
    expect(signatureVerifier({ alg: 'EdDSA', key: other.publicKey })(signedEd({ alg: 'EdDSA', kid: 'k1' }, part(CLAIMS)))).toBe(false);
  });
});

describe('review 9.1: a JWK Set never hands out a key the header did not fit (jwksKeys)', () => {
  const a = generateKeyPairSync('ed25519');
  const b = generateKeyPairSync('ed25519');
  const jwk = (pair: typeof a, extra: Record<string, unknown> = {}) => ({ ...pair.publicKey.export({ format: 'jwk' }), ...extra });

  it('held: a kid equal to another key\'s thumbprint names no key (two candidates), never the wrong one', () => {
    const bare = jwk(b);
    const thumbprint = jwkThumbprint(bare)!;
    const set = jwksKeys({ keys: [jwk(a, { kid: thumbprint }), bare] }, ['EdDSA']);
    expect(set.find({ alg: 'EdDSA', kid: thumbprint })).toBeNull();
  });

  it('held: a set pasted with its private halves, or an oct key, yields no HMAC secret and no key', () => {
    const set = jwksKeys({ keys: [{ ...a.privateKey.export({ format: 'jwk' }), kid: 'p' }, { kty: 'oct', k: Buffer.alloc(32, 1).toString('base64url'), kid: 'o' }] }, ['EdDSA', 'HS256']);
    expect(set.size).toBe(0);
    expect(set.find({ alg: 'HS256', kid: 'o' })).toBeNull();
  });

  it('held: an RSA key without alg checks RS256 and PS256 but a pinned one only its own', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaJwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'r', alg: 'RS256' };
    const set = jwksKeys({ keys: [rsaJwk] }, ['RS256', 'PS256']);
    expect(set.find({ alg: 'RS256', kid: 'r' })).not.toBeNull();
    expect(set.find({ alg: 'PS256', kid: 'r' })).toBeNull();
  });
});

describe('review 9.1: decoder, header and claims', () => {
  it('held: the genuine token passes (control)', async () => {
    expect(await code(signedEd({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' }, part(CLAIMS)))).toBe('VALID');
  });

  it('held: alg none in any spelling, and HS256 keyed with the public key, are refused', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      expect(await code(`${part({ alg, kid: 'k1', typ: 'at+jwt' })}.${part(CLAIMS)}.`)).toBe('MALFORMED');
      expect(await code(`${part({ alg, kid: 'k1', typ: 'at+jwt' })}.${part(CLAIMS)}.AAAA`)).toBe('MALFORMED');
    }
    const input = `${part({ alg: 'HS256', kid: 'k1', typ: 'at+jwt' })}.${part(CLAIMS)}`;
    for (const secret of [ed.publicKey.export({ format: 'der', type: 'spki' }), Buffer.from(ed.publicKey.export({ format: 'pem', type: 'spki' }))]) {
      expect(await code(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`)).toBe('MALFORMED');
    }
  });

  it('held: jwk, jku, x5c, x5u and crit are refused, with b64:false too; typ must be at+jwt', async () => {
    for (const extra of [{ jwk: ed.publicKey.export({ format: 'jwk' }) }, { jku: 'https://evil.example/jwks' }, { x5c: ['AA'] }, { x5u: 'https://evil.example/c' }, { crit: ['b64'], b64: false }, { crit: [] }]) {
      expect(await code(signedEd({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt', ...extra }, part(CLAIMS)))).toBe('MALFORMED');
    }
    // b64:false without crit is ignored (RFC 7797 §6): the signature is over the encoded payload, so a raw one fails.
    const raw = JSON.stringify(CLAIMS);
    const input = `${part({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt', b64: false })}.${part(CLAIMS)}`;
    const overRaw = sign(null, Buffer.from(`${part({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt', b64: false })}.${raw}`), ed.privateKey).toString('base64url');
    expect(await code(`${input}.${overRaw}`)).toBe('MALFORMED');
    for (const typ of ['JWT', 'jwt', undefined, 'at+jwt ', ['at+jwt']]) {
      expect(await code(signedEd({ alg: 'EdDSA', kid: 'k1', typ }, part(CLAIMS)))).toBe('MALFORMED');
    }
    expect(headerProblem({ alg: 'EdDSA', kid: 7 as unknown as string }, ['EdDSA'], { requireAtJwt: false, requireKid: false })).not.toBeNull();
    expect(headerProblem({ alg: 'EdDSA', kid: '' }, ['EdDSA'], { requireAtJwt: false })).not.toBeNull();
  });

  it('held: a __proto__ member in the header hides no forbidden parameter and sets no kid', async () => {
    const header = `{"alg":"EdDSA","typ":"at+jwt","__proto__":{"kid":"k1"}}`;
    const input = `${part(header)}.${part(CLAIMS)}`;
    expect(await code(`${input}.${sign(null, Buffer.from(input), ed.privateKey).toString('base64url')}`)).toBe('MALFORMED');
  });

  it('held: duplicate members decode as JSON.parse does (the last one), the same for every verifier', () => {
    const payload = `{"iss":"${ISSUER}","sub":"svc","aud":"https://other.example","aud":"${API}","exp":${nowSec + 300}}`;
    const decoded = decodeJwt(`${part({ alg: 'EdDSA', kid: 'k1' })}.${part(payload)}.AAAA`);
    expect(decoded?.payload.aud).toBe(API);
  });

  it('held: non-UTF-8, padded, over-long and non-object payloads are MALFORMED', async () => {
    const header = part({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' });
    const badUtf8 = Buffer.concat([Buffer.from('{"iss":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]).toString('base64url');
    expect(await code(signedEd({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' }, badUtf8))).toBe('MALFORMED');
    expect(await code(`${header}.${part(CLAIMS)}=.AAAA`)).toBe('MALFORMED');
    expect(await code(signedEd({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' }, part('[1]')))).toBe('MALFORMED');
    const long = signedEd({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' }, part({ ...CLAIMS, pad: 'x'.repeat(MAX_TOKEN_LENGTH) }));
    expect(await code(long)).toBe('MALFORMED');
  });

  it('held: exp as a string, a float, 1e15, negative or missing; iss or sub not a string; aud without the API', () => {
    const check = (changes: Record<string, unknown>) => checkClaims({ ...CLAIMS, ...changes } as never, { issuer: ISSUER, audience: API, now });
    for (const exp of [String(nowSec + 300), nowSec + 300.5, 1e15, -1, undefined, Infinity, null]) expect(check({ exp })).toBe('MALFORMED');
    for (const iss of [7, [ISSUER], null]) expect(check({ iss })).toBe('MALFORMED');
    expect(check({ sub: undefined })).toBe('MALFORMED');
    for (const aud of [[7], [{ 0: API }], `${API}/`, [null], { toString: () => API }]) expect(check({ aud })).toBe('WRONG_AUDIENCE');
    expect(check({ nbf: nowSec + 1 })).toBe('EXPIRED');
    expect(check({ exp: nowSec })).toBe('EXPIRED');
  });
});
