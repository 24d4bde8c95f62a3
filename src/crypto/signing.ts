import { createHmac, createPublicKey, createSecretKey, generateKeyPairSync, timingSafeEqual, verify } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import { decodeBase64url, type SigningAlgorithm } from '../domain/tokens/jwt.js';

/**
 * Key pairs, compact-JWS signing (fast-jwt) and signature checks (node:crypto): synchronous, so
 * the token endpoint and verify never wait on WebCrypto promises. jose is used where speed does
 * not matter (private_key_jwt assertions, clients, tests).
 */
export interface GeneratedKeyPair {
  privatePem: string;
  publicJwk: Record<string, unknown>;
}

/** A new key pair for the algorithm: Ed25519, P-256 or RSA-2048. */
export function generateSigningKeyPair(alg: SigningAlgorithm): GeneratedKeyPair {
  const pair =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicJwk: pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
  };
}

/** The public JWK for a JWKS: key material plus kid, alg and use. */
export function publicJwkFor(kid: string, alg: SigningAlgorithm, jwk: Record<string, unknown>): Record<string, unknown> {
  return { ...jwk, kid, alg, use: 'sig' };
}

export type TokenSigner = (payload: Record<string, unknown>) => string;

/**
 * @example
 * const sign = tokenSigner({ alg: 'EdDSA', kid, privatePem, typ: 'at+jwt' });
 * const jwt = sign({ iss, sub, aud, exp, iat, jti, client_id, scope });
 */
export function tokenSigner(options: { alg: SigningAlgorithm | 'HS256'; kid: string; key: string | Buffer; typ: string }): TokenSigner {
  return createSigner({
    key: options.key,
    algorithm: options.alg,
    kid: options.kid,
    header: { alg: options.alg, typ: options.typ },
  }) as TokenSigner;
}

/** True when the compact JWS's signature is valid for the key; never throws for a bad token. */
export type SignatureVerifier = (token: string) => boolean;

/**
 * Checks the signature of a compact JWS only — header and claims are decided by
 * `domain/tokens/jwt.ts`, which has already decoded them, so nothing is parsed twice. A direct
 * node:crypto call per algorithm (RFC 7518 §3): HMAC compared in constant time; ECDSA in the
 * JOSE (IEEE P1363) signature encoding; Ed25519 per RFC 8037.
 *
 * @example
 * signatureVerifier({ alg: 'EdDSA', key: publicPem })(token) // true or false
 */
export function signatureVerifier(options: { alg: SigningAlgorithm | 'HS256'; key: string | Buffer }): SignatureVerifier {
  const check = (token: string, verify: (input: Buffer, signature: Buffer) => boolean): boolean => {
    const dot = token.lastIndexOf('.');
    if (dot < 0 || dot === token.length - 1) return false;
    // Node's base64url decoder skips `=`, `+`, `/` and whitespace: a signature must be strict (RFC 7515 §2).
    const bytes = decodeBase64url(token, dot + 1);
    if (bytes === null) return false;
    const signature = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      return verify(Buffer.from(token.slice(0, dot)), signature);
    } catch {
      return false;
    }
  };
  if (options.alg === 'HS256') {
    const secret = createSecretKey(typeof options.key === 'string' ? Buffer.from(options.key) : options.key);
    return (token) =>
      check(token, (input, signature) => {
        const expected = createHmac('sha256', secret).update(input).digest();
        return signature.length === expected.length && timingSafeEqual(signature, expected);
      });
  }
  const key = createPublicKey(options.key);
  if (options.alg === 'EdDSA') return (token) => check(token, (input, signature) => verify(null, input, key, signature));
  if (options.alg === 'ES256') return (token) => check(token, (input, signature) => verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature));
  return (token) => check(token, (input, signature) => verify('sha256', input, key, signature));
}

/** PEM of the public key for a JWK (fast-jwt takes PEM). */
export function publicPemFromJwk(jwk: Record<string, unknown>): string {
  return createPublicKey({ key: jwk as never, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
}

