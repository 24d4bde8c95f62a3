import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateSigningKeyPair, publicPemFromJwk, signatureVerifier, tokenSigner } from '../../src/crypto/signing.js';

interface Vector {
  title: string;
  alg: 'HS256' | 'EdDSA' | 'ES256';
  jwk: Record<string, string>;
  jws: string;
}

const vectors = JSON.parse(readFileSync(new URL('../vectors/jws.json', import.meta.url), 'utf8')) as Vector[];

function keyOf(vector: Vector): string | Buffer {
  return vector.alg === 'HS256' ? Buffer.from(vector.jwk['k']!, 'base64url') : publicPemFromJwk(vector.jwk);
}

describe('signature checks against RFC vectors', () => {
  it.each(vectors)('$title verifies, and fails when tampered', (vector) => {
    const verify = signatureVerifier({ alg: vector.alg, key: keyOf(vector) });
    expect(verify(vector.jws)).toBe(true);
    const [header, payload, signature] = vector.jws.split('.');
    expect(verify(`${header}.${payload}x.${signature}`)).toBe(false);
    expect(verify(`${header}.${payload}.${signature!.slice(0, -2)}AA`)).toBe(false);
    expect(verify(`${header}.${payload}.`)).toBe(false);
    expect(verify('not a token')).toBe(false);
  });
});

describe('what we sign, we verify', () => {
  it.each(['EdDSA', 'ES256', 'RS256'] as const)('%s', (alg) => {
    const pair = generateSigningKeyPair(alg);
    const token = tokenSigner({ alg, kid: 'k', key: pair.privatePem, typ: 'at+jwt' })({ sub: 'x', iat: 1 });
    expect(signatureVerifier({ alg, key: publicPemFromJwk(pair.publicJwk) })(token)).toBe(true);
    const other = generateSigningKeyPair(alg);
    expect(signatureVerifier({ alg, key: publicPemFromJwk(other.publicJwk) })(token)).toBe(false);
  });
});
