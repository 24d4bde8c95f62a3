import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jwkThumbprint, jwksKeys } from '../../src/crypto/jwks.js';

const pair = (kind: 'ed25519' | 'p256' | 'p384' | 'rsa') =>
  kind === 'ed25519'
    ? generateKeyPairSync('ed25519')
    : kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: kind === 'p256' ? 'P-256' : 'P-384' });
const jwkOf = (keys: ReturnType<typeof pair>, extra: Record<string, unknown> = {}) => ({ ...keys.publicKey.export({ format: 'jwk' }), ...extra });

function signEd(privateKey: ReturnType<typeof pair>['privateKey'], header: Record<string, unknown>): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from('{}').toString('base64url')}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
}

describe('jwksKeys: the key a JWS header names in a JWK Set', () => {
  const ed = pair('ed25519');
  const ec = pair('p256');

  it('finds a key by kid, of the header algorithm only', () => {
    const keys = jwksKeys({ keys: [jwkOf(ed, { kid: 'a' }), jwkOf(ec, { kid: 'b' })] }, ['EdDSA', 'ES256']);
    expect(keys.size).toBe(2);
    const token = signEd(ed.privateKey, { alg: 'EdDSA', kid: 'a' });
    expect(keys.find({ alg: 'EdDSA', kid: 'a' })?.verify(token)).toBe(true);
    expect(keys.find({ alg: 'ES256', kid: 'a' })).toBeNull();
    expect(keys.find({ alg: 'EdDSA', kid: 'c' })).toBeNull();
    expect(keys.find({ alg: 'HS256', kid: 'a' })).toBeNull();
  });

  it('without a kid, takes the only key that fits, and never guesses between several', () => {
    expect(jwksKeys({ keys: [jwkOf(ed), jwkOf(ec)] }, ['EdDSA', 'ES256']).find({ alg: 'EdDSA' })).not.toBeNull();
    expect(jwksKeys({ keys: [jwkOf(ed), jwkOf(pair('ed25519'))] }, ['EdDSA']).find({ alg: 'EdDSA' })).toBeNull();
  });

  it('names a key without kid by its RFC 7638 thumbprint', () => {
    const jwk = jwkOf(ed);
    const keys = jwksKeys({ keys: [jwk, jwkOf(pair('ed25519'))] }, ['EdDSA']);
    expect(keys.find({ alg: 'EdDSA', kid: jwkThumbprint(jwk)! })?.verify(signEd(ed.privateKey, { alg: 'EdDSA' }))).toBe(true);
  });

  it('honours a pinned alg, and the curve an algorithm is defined on', () => {
    expect(jwksKeys({ keys: [jwkOf(ec, { kid: 'b', alg: 'ES256' })] }, ['ES256', 'ES384']).find({ alg: 'ES384', kid: 'b' })).toBeNull();
    expect(jwksKeys({ keys: [jwkOf(pair('p384'), { kid: 'c' })] }, ['ES256', 'ES384']).find({ alg: 'ES256', kid: 'c' })).toBeNull();
    expect(jwksKeys({ keys: [jwkOf(pair('p384'), { kid: 'c' })] }, ['ES256', 'ES384']).find({ alg: 'ES384', kid: 'c' })).not.toBeNull();
  });

  it('skips keys not meant for signatures, private halves, symmetric keys, algorithms not allowed and junk', () => {
    const privateJwk = { ...ed.privateKey.export({ format: 'jwk' }), kid: 'p' };
    const keys = jwksKeys(
      {
        keys: [
          jwkOf(ed, { kid: 'enc', use: 'enc' }),
          jwkOf(ed, { kid: 'ops', key_ops: ['encrypt'] }),
          privateJwk,
          { kty: 'oct', k: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI', kid: 'oct' },
          jwkOf(ed, { kid: 'rs', alg: 'RS256' }),
          { kty: 'OKP', crv: 'Ed25519', x: 'not-a-key', kid: 'junk' },
          'not an object',
          null,
        ],
      },
      ['EdDSA'],
    );
    expect(keys.size).toBe(0);
    expect(jwksKeys(null, ['EdDSA']).size).toBe(0);
    expect(jwksKeys({ keys: 'x' }, ['EdDSA']).size).toBe(0);
  });
});
