import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jwkThumbprint } from '../../src/crypto/jwks.js';
import { verifiesChallenge } from '../../src/crypto/pkce.js';
import { generateSigningKeyPair, publicKeyFromJwk, signatureVerifier, tokenSigner } from '../../src/crypto/signing.js';
import { decodeJwt, type JwsAlgorithm } from '../../src/domain/tokens/jwt.js';

interface Vector {
  title: string;
  alg: JwsAlgorithm;
  jwk: Record<string, string>;
  jws: string;
}

const vector = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
const signed = vector<Vector[]>('jws.json');
const thumbprints = vector<{ title: string; jwk: Record<string, unknown>; thumbprint: string }[]>('jwk-thumbprints.json');
const pkce = vector<{ title: string; verifier: string; challenge: string }[]>('pkce.json');

function keyOf(vector: Vector): ReturnType<typeof publicKeyFromJwk> | Buffer {
  return vector.alg === 'HS256' ? Buffer.from(vector.jwk['k']!, 'base64url') : publicKeyFromJwk(vector.jwk);
}

describe('signature checks against the published JWS vectors (test/vectors/jws.json)', () => {
  it.each(signed)('$title verifies, and fails when tampered', (vector) => {
    const verify = signatureVerifier({ alg: vector.alg, key: keyOf(vector) });
    expect(verify(vector.jws)).toBe(true);
    const [header, payload, signature] = vector.jws.split('.');
    expect(verify(`${header}.${payload}x.${signature}`)).toBe(false);
    expect(verify(`${header}.${payload}.${signature!.slice(0, -2)}AA`)).toBe(false);
    expect(verify(`${header}.${payload}.${signature}=`)).toBe(false);
    expect(verify(`${header}.${payload}.`)).toBe(false);
    expect(verify('not a token')).toBe(false);
  });
});

describe('JWK thumbprints (RFC 7638) against the published vectors', () => {
  it.each(thumbprints)('$title', ({ jwk, thumbprint }) => {
    expect(jwkThumbprint(jwk)).toBe(thumbprint);
  });

  it('has none for an unknown key type or a missing member', () => {
    expect(jwkThumbprint({ kty: 'XYZ', x: 'a' })).toBeNull();
    expect(jwkThumbprint({ kty: 'OKP', crv: 'Ed25519' })).toBeNull();
  });
});

describe('PKCE S256 (RFC 7636) against the published vector', () => {
  it.each(pkce)('$title', ({ verifier, challenge }) => {
    expect(verifiesChallenge(verifier, challenge)).toBe(true);
    expect(verifiesChallenge(`${verifier.slice(0, -1)}A`, challenge)).toBe(false);
  });
});

describe('what we sign, we verify', () => {
  it.each(['EdDSA', 'ES256', 'RS256'] as const)('%s', async (alg) => {
    const pair = generateSigningKeyPair(alg);
    const token = await tokenSigner({ alg, kid: 'k', key: pair.privatePem, typ: 'at+jwt' })({ sub: 'x', iat: 1 });
    expect(decodeJwt(token)?.header).toEqual({ alg, typ: 'at+jwt', kid: 'k' });
    expect(signatureVerifier({ alg, key: publicKeyFromJwk(pair.publicJwk) })(token)).toBe(true);
    const other = generateSigningKeyPair(alg);
    expect(signatureVerifier({ alg, key: publicKeyFromJwk(other.publicJwk) })(token)).toBe(false);
  });

  it('HS256 with a tenant secret', async () => {
    const secret = 'a'.repeat(43);
    const token = await tokenSigner({ alg: 'HS256', kid: 'hs_1', key: secret, typ: 'JWT' })({ sub: 'x' });
    expect(signatureVerifier({ alg: 'HS256', key: secret })(token)).toBe(true);
    expect(signatureVerifier({ alg: 'HS256', key: 'b'.repeat(43) })(token)).toBe(false);
  });

  // The HS256 check computes HMAC-SHA256 from two SHA-256 digests over pads made once per key
  // (RFC 2104): it must agree with node:crypto's HMAC for every key length (a key longer than
  // the 64-byte block is hashed first: RFC 4231 test cases 6 and 7 use 131 bytes) and input.
  it.each([32, 43, 64, 65, 131])('HS256 agrees with createHmac for a %i-byte secret', (size) => {
    const secret = randomBytes(size);
    const verify = signatureVerifier({ alg: 'HS256', key: secret });
    const segment = (text: string): string => Buffer.from(text).toString('base64url');
    const inputs = ['', 'a', 'x'.repeat(55), 'x'.repeat(56), 'x'.repeat(64), 'x'.repeat(200), 'é😀 not ascii', 'y'.repeat(9_000)].map(
      (text) => `${segment('{"alg":"HS256"}')}.${segment(text)}`,
    );
    for (const input of inputs) {
      const signature = createHmac('sha256', secret).update(input).digest('base64url');
      expect(verify(`${input}.${signature}`), `${input.length} characters`).toBe(true);
      const other = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
      expect(verify(`${input}.${other}`)).toBe(false);
      expect(verify(`${input}x.${signature}`)).toBe(false);
      expect(verify(`${input}.${signature}=`)).toBe(false);
      expect(verify(`${input}.${signature.slice(0, -1)}`)).toBe(false);
    }
    // The raw-bytes text of a signature is not its base64url: only the canonical spelling verifies.
    const input = inputs[1]!;
    const digest = createHmac('sha256', secret).update(input).digest();
    expect(verify(`${input}.${digest.toString('base64')}`)).toBe(digest.toString('base64') === digest.toString('base64url'));
    expect(verify(`${input}.`)).toBe(false);
    expect(verify('no dots at all')).toBe(false);
  });
});

describe('a key must fit the algorithm (RFC 7518 §3)', () => {
  const publicOf = (pair: { publicKey: ReturnType<typeof publicKeyFromJwk> }) => pair.publicKey;

  it('refuses a key of another type or curve, once, when the verifier is made', () => {
    const ed = publicOf(generateKeyPairSync('ed25519'));
    const p384 = publicOf(generateKeyPairSync('ec', { namedCurve: 'P-384' }));
    expect(() => signatureVerifier({ alg: 'ES256', key: ed })).toThrow(TypeError);
    expect(() => signatureVerifier({ alg: 'ES256', key: p384 })).toThrow(TypeError);
    expect(() => signatureVerifier({ alg: 'RS256', key: p384 })).toThrow(TypeError);
    expect(signatureVerifier({ alg: 'ES384', key: p384 })('a.b.c')).toBe(false);
  });

  it('refuses RSA keys under 2048 bits and HMAC secrets under 256 bits', () => {
    const small = publicOf(generateKeyPairSync('rsa', { modulusLength: 1024 }));
    expect(() => signatureVerifier({ alg: 'RS256', key: small })).toThrow(TypeError);
    expect(() => signatureVerifier({ alg: 'PS256', key: small })).toThrow(TypeError);
    expect(() => signatureVerifier({ alg: 'HS256', key: 'short' })).toThrow(TypeError);
  });
});
