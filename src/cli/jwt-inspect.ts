import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JSONWebKeySet, type JWK, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { NotAJwtError } from './cli-errors.js';
import { snippet } from './client.js';
import { EXIT_CODES, type ExitCode } from './exit-codes.js';
import { httpUrl, requestPublic } from './public-http.js';

/**
 * What `keygate decode` needs from jose: taking a token apart and checking its signature
 * against the issuer's published keys. Loaded only by `decode`, so other commands do not pay
 * for jose at start-up.
 */

export interface DecodedToken {
  header: ProtectedHeaderParameters;
  claims: JWTPayload;
}

/** The outcome of the signature check; `unreachable` means the keys could not be had. */
export type SignatureStatus = 'valid' | 'invalid' | 'unknown_kid' | 'unreachable';

/** The issuer's keys, or why they could not be had and which exit code that deserves. */
export type JwksFetch = { jwks: JSONWebKeySet; url: string } | { failure: string; url: string | null; exitCode: ExitCode };

/**
 * Takes a compact JWS apart without checking anything.
 *
 * @throws NotAJwtError when the text is not three base64url parts with a JSON header and a
 *   JSON object payload.
 * @example
 * const { header, claims } = decodeToken(token);
 */
export function decodeToken(token: string): DecodedToken {
  const parts = token.split('.');
  if (parts.length === 5) throw new NotAJwtError('not a JWT that can be decoded: this is an encrypted JWT (JWE), five parts');
  if (parts.length !== 3) throw new NotAJwtError(`not a JWT: expected three base64url parts separated by dots, found ${parts.length}`);
  try {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
  } catch (err) {
    throw new NotAJwtError(`not a JWT: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Where an issuer publishes its keys: `{iss}/.well-known/jwks.json`, as Keygate tenants do.
 *
 * @example
 * jwksUrlOf('http://127.0.0.1:4000/t/acme'); // 'http://127.0.0.1:4000/t/acme/.well-known/jwks.json'
 */
export function jwksUrlOf(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
}

/**
 * Fetches the JWKS of the token's issuer. Never throws: a token without a usable `iss`, an
 * issuer that does not answer (exit 4) and an answer that is not a JWK Set (exit 3) are
 * failures to report beside the decoded token.
 *
 * @example
 * const keys = await fetchJwks(claims.iss);
 */
export async function fetchJwks(issuer: unknown): Promise<JwksFetch> {
  if (typeof issuer !== 'string') return { failure: 'the token has no iss claim, so its issuer\'s keys cannot be found', url: null, exitCode: EXIT_CODES.notValid };
  if (httpUrl(issuer) === null) return { failure: `iss "${issuer}" is not an http(s) URL, so its keys cannot be fetched`, url: null, exitCode: EXIT_CODES.notValid };
  const url = jwksUrlOf(issuer);
  let answer;
  try {
    answer = await requestPublic(url, { method: 'GET' }, { hint: 'Is the issuer\'s server running and reachable from here?' });
  } catch (err) {
    return { failure: err instanceof Error ? err.message.split('\n')[0]! : String(err), url, exitCode: EXIT_CODES.unreachable };
  }
  const keys = (answer.json as { keys?: unknown } | undefined)?.keys;
  if (answer.status !== 200 || !Array.isArray(keys)) {
    return { failure: `HTTP_${answer.status}: ${url} did not answer with a JWK Set${answer.text ? ` (${snippet(answer.text)})` : ''}`, url, exitCode: EXIT_CODES.problem };
  }
  return { jwks: { keys: keys.filter((k): k is JWK => typeof k === 'object' && k !== null) }, url };
}

/**
 * Checks the signature with the published key the header's `kid` names. A kid the set does
 * not hold is `unknown_kid` (a retired key past its publication, or an HS256 tenant secret,
 * which is never published); a key that is there but does not verify — wrong signature, or an
 * `alg` that does not fit the key — is `invalid`. Without a kid every key is tried.
 *
 * @example
 * await checkSignature(token, header, jwks); // 'valid'
 */
export async function checkSignature(token: string, header: ProtectedHeaderParameters, jwks: JSONWebKeySet): Promise<Exclude<SignatureStatus, 'unreachable'>> {
  const candidates = header.kid === undefined ? jwks.keys : jwks.keys.filter((key) => key.kid === header.kid);
  if (candidates.length === 0) return header.kid === undefined ? 'invalid' : 'unknown_kid';
  for (const key of candidates) {
    try {
      // One key per set, so jose never has to choose between keys that share a kid.
      await compactVerify(token, createLocalJWKSet({ keys: [key] }));
      return 'valid';
    } catch {
      // The next candidate may be the one; none verifying is the answer.
    }
  }
  return 'invalid';
}
