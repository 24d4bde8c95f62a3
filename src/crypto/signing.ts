import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import type { SigningAlgorithm } from '../domain/tokens/jwt.js';

/**
 * Key pairs and compact-JWS signing and verifying, on node:crypto through fast-jwt: synchronous,
 * so the token endpoint and verify never wait on WebCrypto promises. jose is used where speed
 * does not matter (JWKS import/export in tests and clients).
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

export type SignatureVerifier = (token: string) => Record<string, unknown>;

/**
 * Verifies the signature only (claims are checked by `domain/tokens/jwt.ts`, with Keygate's
 * own clock and result codes). Throws on a bad signature.
 */
export function signatureVerifier(options: { alg: SigningAlgorithm | 'HS256'; key: string | Buffer }): SignatureVerifier {
  return createVerifier({
    key: options.key,
    algorithms: [options.alg],
    ignoreExpiration: true,
    ignoreNotBefore: true,
  }) as SignatureVerifier;
}

/** PEM of the public key for a JWK (fast-jwt takes PEM). */
export function publicPemFromJwk(jwk: Record<string, unknown>): string {
  return createPublicKey({ key: jwk as never, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
}

