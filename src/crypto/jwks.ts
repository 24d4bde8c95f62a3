import { createHash, type KeyObject } from 'node:crypto';
import type { JwsAlgorithm, JwtHeader } from '../domain/tokens/jwt.js';
import type { JwtKey } from '../domain/tokens/pipeline.js';
import { keyFitsAlgorithm, publicKeyFromJwk, signatureVerifier } from './signing.js';

/** The members of each key type that identify the key (RFC 7638 §3.2), in the order the thumbprint hashes them. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  oct: ['k', 'kty'],
};

/**
 * The RFC 7638 thumbprint of a JWK: SHA-256 over its required members in lexicographic order,
 * base64url. Null for a key type without a thumbprint definition or a member missing.
 *
 * @example
 * jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }) // 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k'
 */
export function jwkThumbprint(jwk: Record<string, unknown>): string | null {
  const members = typeof jwk['kty'] === 'string' ? THUMBPRINT_MEMBERS[jwk['kty']] : undefined;
  if (members === undefined) return null;
  const required: Record<string, string> = {};
  for (const name of members) {
    const value = jwk[name];
    if (typeof value !== 'string') return null;
    required[name] = value;
  }
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}

interface PublicJwk {
  /** The JWK's `kid`, or its thumbprint when it has none (RFC 7638 §1: a key can be named by it). */
  kid: string;
  /** The JWK's `alg`, when it pins one. */
  alg: string | null;
  key: KeyObject;
  /** The algorithms the key can check (its type, curve and size), worked out once. */
  fits: readonly JwsAlgorithm[];
}

/** The keys of a JWK Set that can check signatures, and a lookup of the one a JWS header names. */
export interface JwksKeys {
  /** How many usable keys the set has. */
  readonly size: number;
  /**
   * The key for a header: the one its `kid` names, or, without a kid, the only key that fits
   * its algorithm. Null when none fits, or when several do (never a guess between keys).
   */
  find(header: JwtHeader): JwtKey | null;
}

/**
 * Reads a JWK Set (a client's `jwks`, a tenant's published set, an external issuer's) into
 * verification keys. A member is skipped unless it is a public key meant for signatures (`use`
 * absent or `sig`, `key_ops` absent or with `verify`), Node can import it, and its `alg`, when
 * it names one, is among `algorithms`. Private key material (`d`, or a symmetric `k`) is never
 * used, so a JWK Set pasted with its private halves does not turn into HMAC secrets.
 *
 * @example
 * const keys = jwksKeys(client.jwks, ['EdDSA', 'ES256', 'RS256']);
 * keys.find({ alg: 'EdDSA', kid: 'k1' })?.verify(token);
 */
export function jwksKeys(jwks: unknown, algorithms: readonly JwsAlgorithm[]): JwksKeys {
  const members = typeof jwks === 'object' && jwks !== null && Array.isArray((jwks as { keys?: unknown }).keys) ? (jwks as { keys: unknown[] }).keys : [];
  const keys: PublicJwk[] = [];
  for (const member of members) {
    const key = publicJwk(member, algorithms);
    if (key !== null) keys.push(key);
  }
  const verifiers = new Map<string, JwtKey>();
  return {
    size: keys.length,
    find(header) {
      const alg = header.alg as JwsAlgorithm;
      if (!algorithms.includes(alg)) return null;
      const candidates = keys.filter(
        (candidate) => (header.kid === undefined || candidate.kid === header.kid) && (candidate.alg ?? alg) === alg && candidate.fits.includes(alg),
      );
      if (candidates.length !== 1) return null;
      const [{ kid, key }] = candidates as [PublicJwk];
      const cacheKey = `${alg} ${kid}`;
      let found = verifiers.get(cacheKey);
      if (found === undefined) {
        found = { alg, verify: signatureVerifier({ alg, key }) };
        verifiers.set(cacheKey, found);
      }
      return found;
    },
  };
}

function publicJwk(member: unknown, algorithms: readonly JwsAlgorithm[]): PublicJwk | null {
  if (typeof member !== 'object' || member === null || Array.isArray(member)) return null;
  const jwk = member as Record<string, unknown>;
  if (jwk['use'] !== undefined && jwk['use'] !== 'sig') return null;
  if (jwk['key_ops'] !== undefined && !(Array.isArray(jwk['key_ops']) && jwk['key_ops'].includes('verify'))) return null;
  if (jwk['alg'] !== undefined && !(algorithms as readonly unknown[]).includes(jwk['alg'])) return null;
  if ('d' in jwk || jwk['kty'] === 'oct') return null;
  const kid = typeof jwk['kid'] === 'string' ? jwk['kid'] : jwkThumbprint(jwk);
  if (kid === null) return null;
  let key: KeyObject;
  try {
    key = publicKeyFromJwk(jwk);
  } catch {
    return null;
  }
  const fits = algorithms.filter((alg) => keyFitsAlgorithm(key, alg));
  return fits.length === 0 ? null : { kid, alg: typeof jwk['alg'] === 'string' ? jwk['alg'] : null, key, fits };
}
