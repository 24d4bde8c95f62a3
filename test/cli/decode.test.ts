import { SignJWT, exportJWK, generateKeyPair, type JSONWebKeySet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { NotAJwtError } from '../../src/cli/cli-errors.js';
import { decodeExitCode, type DecodeReport } from '../../src/cli/commands/decode.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { checkSignature, decodeToken, jwksUrlOf } from '../../src/cli/jwt-inspect.js';

const NOW = Date.parse('2030-01-01T00:00:00.000Z');
const NOW_SEC = NOW / 1000;

let jwks: JSONWebKeySet;
let token: string;
let sign: (header: { alg: string; kid?: string }, claims?: Record<string, unknown>) => Promise<string>;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA');
  jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' }] };
  sign = (header, claims = { sub: 'cus_1' }) => new SignJWT(claims).setProtectedHeader({ ...header, typ: 'at+jwt' }).sign(privateKey);
  token = await sign({ alg: 'EdDSA', kid: 'k1' });
});

describe('decodeToken', () => {
  it('takes a JWT apart without checking it', () => {
    expect(decodeToken(token)).toEqual({ header: { alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' }, claims: { sub: 'cus_1' } });
  });

  it.each([
    ['not-a-jwt', /three base64url parts/],
    ['a.b.c', /^not a JWT: /],
    ['a.b.c.d.e', /encrypted JWT \(JWE\)/],
    [`${'e30'}.${Buffer.from('[1]').toString('base64url')}.x`, /^not a JWT: /],
  ])('refuses %j as not a JWT, which exits 2', (text, message) => {
    expect(() => decodeToken(text)).toThrow(NotAJwtError);
    expect(() => decodeToken(text)).toThrow(message);
    expect(new NotAJwtError('x').exitCode).toBe(EXIT_CODES.usage);
  });
});

describe('checkSignature', () => {
  it('is valid with the key the kid names', async () => {
    expect(await checkSignature(token, decodeToken(token).header, jwks)).toBe('valid');
  });

  it('is invalid when the claims were changed after signing', async () => {
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from('{"sub":"admin"}').toString('base64url')}.${signature}`;
    expect(await checkSignature(forged, decodeToken(forged).header, jwks)).toBe('invalid');
  });

  it('is unknown_kid when the set does not hold the kid, e.g. an HS256 tenant secret', async () => {
    const other = await sign({ alg: 'EdDSA', kid: 'k2' });
    expect(await checkSignature(other, decodeToken(other).header, jwks)).toBe('unknown_kid');
    const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'hs_1' }).sign(new Uint8Array(32));
    expect(await checkSignature(hs, decodeToken(hs).header, jwks)).toBe('unknown_kid');
  });

  it('is invalid when a published kid comes with an algorithm that does not fit its key', async () => {
    const confused = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    expect(await checkSignature(confused, decodeToken(confused).header, jwks)).toBe('invalid');
  });

  it('tries every key when the header names none', async () => {
    const bare = await sign({ alg: 'EdDSA' });
    expect(await checkSignature(bare, decodeToken(bare).header, jwks)).toBe('valid');
  });
});

describe('jwksUrlOf', () => {
  it('appends the well-known path to the issuer, with or without a trailing slash', () => {
    expect(jwksUrlOf('http://127.0.0.1:4000/t/acme')).toBe('http://127.0.0.1:4000/t/acme/.well-known/jwks.json');
    expect(jwksUrlOf('https://id.example.com/')).toBe('https://id.example.com/.well-known/jwks.json');
  });
});

describe('decodeExitCode', () => {
  const report = (over: Partial<DecodeReport> & { claims?: Record<string, unknown> } = {}): DecodeReport => ({
    header: { alg: 'EdDSA' },
    claims: { exp: NOW_SEC + 60 },
    expiresIn: 60,
    signature: 'valid',
    revocation: null,
    ...over,
  });
  const none = { now: NOW, jwksFailure: null, revocationFailure: null };

  it('is 0 when the signature verifies, the token is in its lifetime and the server (if asked) accepts it', () => {
    expect(decodeExitCode(report(), none)).toBe(EXIT_CODES.ok);
    expect(decodeExitCode(report({ revocation: 'VALID' }), none)).toBe(EXIT_CODES.ok);
  });

  it.each<[string, Partial<DecodeReport>]>([
    ['a bad signature', { signature: 'invalid' }],
    ['an unpublished key', { signature: 'unknown_kid' }],
    ['an exp equal to now', { claims: { exp: NOW_SEC } }],
    ['an nbf still ahead', { claims: { exp: NOW_SEC + 60, nbf: NOW_SEC + 30 } }],
    ['a revoked jti', { revocation: 'REVOKED' }],
    ['any other refusal by verify', { revocation: 'NOT_FOUND' }],
  ])('is 1 for %s', (_, over) => {
    expect(decodeExitCode(report(over), none)).toBe(EXIT_CODES.notValid);
  });

  it('says the token is not valid before it says a check could not be made', () => {
    expect(decodeExitCode(report({ signature: 'unreachable', claims: { exp: NOW_SEC - 1 } }), { ...none, jwksFailure: EXIT_CODES.unreachable })).toBe(EXIT_CODES.notValid);
    expect(decodeExitCode(report({ signature: 'unreachable' }), { ...none, jwksFailure: EXIT_CODES.unreachable })).toBe(EXIT_CODES.unreachable);
    expect(decodeExitCode(report(), { ...none, revocationFailure: EXIT_CODES.problem })).toBe(EXIT_CODES.problem);
    expect(decodeExitCode(report({ signature: 'unreachable' }), { jwksFailure: EXIT_CODES.problem, revocationFailure: EXIT_CODES.unreachable, now: NOW })).toBe(EXIT_CODES.unreachable);
    expect(decodeExitCode(report({ signature: 'unreachable' }), { ...none, jwksFailure: EXIT_CODES.notValid })).toBe(EXIT_CODES.notValid);
  });
});
