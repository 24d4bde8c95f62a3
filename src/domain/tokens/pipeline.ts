import { satisfies, satisfiesAnyOf, type ScopeMatch } from '../scopes.js';
import type { VerificationCode } from '../verification.js';
import { checkClaims, claimsAreWellFormed, decodeJwt, headerProblem, type DecodedJwt, type JwsAlgorithm, type JwtHeader, type TokenClaims } from './jwt.js';
import { isRevoked, type RevocationState } from './revocation.js';

/**
 * The one JWT verification pipeline. Every verifier — the verify service, the middleware, client
 * assertions, and the gateway's external issuers — runs these steps in this order, each a named
 * function, with its own sources of issuers, keys, revocations and scopes:
 *
 *   1. decodeStep      three strict base64url segments, JSON header and payload     MALFORMED
 *   2. issuerStep      the issuer the token names, with the rules for its tokens    NOT_FOUND
 *   3. headerStep      algorithm, kid, no self-chosen keys, typ                      MALFORMED
 *   4. shapeStep       the claims every token must have, of the right types          MALFORMED
 *   5. keyStep         the key the kid names, of the header's algorithm              NOT_FOUND, MALFORMED
 *   6. signatureStep   the signature, by that key                                    MALFORMED
 *   ─── `authenticateJwt`, steps 1–6: is it a genuine token of a known issuer? The answer does
 *       not change between presentations (keys are retired, not changed), so it may be kept ───
 *   7. claimsStep      lifetime, audience, a self-issued token's bounds (RFC 9068,   MALFORMED, EXPIRED, WRONG_AUDIENCE
 *                      RFC 7519): on every presentation, the clock has moved
 *   8. heldStep        the scopes the token holds where it is presented              WRONG_AUDIENCE, NOT_FOUND
 *   9. revocationStep  jti and not-before marks                                       REVOKED
 *  10. scopeStep       the scopes the caller requires                                INSUFFICIENT_SCOPE
 *   ─── `admitJwt`, steps 7–10: is it acceptable now, here? ───
 *
 * The signature comes before the clock and the audience: a token refused for its lifetime or
 * its audience is then known to be genuine, so the refusal can name it and be audited, and no
 * claim an attacker chose is reported as Keygate's. What needs no key — the header, the claims'
 * shape — comes before the key, so a token that can never pass costs no key lookup. The steps
 * are pure: sources are the caller's, and a source that cannot answer throws its own error,
 * which passes through.
 */

export type Awaitable<T> = T | Promise<T>;

/** A failed step: the verification code and what exactly failed (for logs and denial hooks, never for clients). */
export interface Rejection {
  code: Exclude<VerificationCode, 'VALID'>;
  detail: string;
}

/** The rules for one kind of token: Keygate's access tokens, a tenant's HS256 tokens, an external issuer's, a client assertion. */
export interface TokenProfile {
  /** The algorithms its header may name; the key's own algorithm must then be the header's. */
  algorithms: readonly JwsAlgorithm[];
  /** `typ` must be `at+jwt` (RFC 9068 §2.1). */
  requireAtJwt: boolean;
  /** Whether the header must name its key (`kid`); a client's single-key JWKS may go without. */
  requireKid: boolean;
  clockToleranceSec: number;
  /** Claims chosen by someone other than Keygate: `iat` required, and the lifetime capped. */
  selfIssued?: { maxLifetimeSec: number };
}

/** A key that checks signatures of one algorithm. */
export interface JwtKey {
  alg: JwsAlgorithm;
  verify(token: string): boolean;
}

/** The issuer a token names, as its verifier knows it. `context` is the verifier's own (a tenant, a client, a JWKS). */
export interface JwtIssuer<C> {
  /** The exact `iss` its tokens carry. */
  issuer: string;
  profile: TokenProfile;
  context: C;
}

/** Where a verifier finds issuers and their keys. */
export interface JwtSource<C> {
  /**
   * The issuer `iss` names, or null when this verifier does not know it. The header is passed
   * so an issuer with two kinds of tokens (a tenant's signing keys and its HS256 secrets) picks
   * the rules by `kid`.
   */
  issuer(iss: string, header: JwtHeader): Awaitable<JwtIssuer<C> | null>;
  /** The key the header names for this issuer; null when it has none. */
  key(issuer: JwtIssuer<C>, header: JwtHeader): Awaitable<JwtKey | null>;
}

/** A token that passed steps 1–4: decoded, of a known issuer, with an acceptable header and claims of the right shape. */
export interface PrecheckedJwt<C> {
  decoded: DecodedJwt;
  issuer: JwtIssuer<C>;
}

/** What authentication established: a genuine token of a known issuer, with claims of the right shape. */
export interface AuthenticatedJwt<C> {
  header: JwtHeader;
  payload: TokenClaims;
  issuer: JwtIssuer<C>;
  key: JwtKey;
}

/**
 * Where steps 8 and 9 look things up for one presentation (`subject`: whatever the verifier
 * needs to answer — the token, the API it is presented to). A verifier makes its sources once,
 * so a presentation allocates no functions.
 */
export interface AdmissionSources<T> {
  /** The scopes the token holds where it is presented (with the API's implications), or why it holds none. */
  held(subject: T): Awaitable<ReadonlySet<string> | Rejection>;
  /** The revocations to check, or null for a verifier without a revocation source. */
  revocations(subject: T): Awaitable<RevocationState | null>;
}

/** What is checked again on every presentation. */
export interface Admission<T> {
  /** The issuer's current rules (a tenant's HS256 cap may have been lowered since). */
  profile: TokenProfile;
  /** The audience the token must be for, any of several, or null for any. */
  audience: string | readonly string[] | null;
  now: number;
  required: readonly string[];
  match: ScopeMatch;
  /** An OpenAPI requirement (ORs of ANDs): when set, checked instead of `required`/`match`. */
  anyOf?: readonly (readonly string[])[] | undefined;
  sources: AdmissionSources<T>;
  subject: T;
}

const NOT_COMPACT: Rejection = Object.freeze({ code: 'MALFORMED', detail: 'not a compact JWS with a JSON object header and payload' });
const UNKNOWN_ISSUER: Rejection = Object.freeze({ code: 'NOT_FOUND', detail: 'iss names no issuer this verifier knows' });
const BAD_SIGNATURE: Rejection = Object.freeze({ code: 'MALFORMED', detail: 'the signature does not verify' });
const REVOKED: Rejection = Object.freeze({ code: 'REVOKED', detail: 'revoked by jti or by a client, consumer, grant or deleted-API cut-off' });
const CLAIM_PROBLEMS: Record<string, Rejection> = {
  MALFORMED: Object.freeze({ code: 'MALFORMED', detail: 'a required claim is missing, has the wrong type or breaks the bounds on self-issued tokens' }),
  NOT_FOUND: Object.freeze({ code: 'NOT_FOUND', detail: 'iss is not the issuer this token was checked for' }),
  EXPIRED: Object.freeze({ code: 'EXPIRED', detail: 'expired, or not valid yet (nbf)' }),
  WRONG_AUDIENCE: Object.freeze({ code: 'WRONG_AUDIENCE', detail: 'aud does not name this API' }),
};

/** Step 1. */
export function decodeStep(token: string): DecodedJwt | Rejection {
  return decodeJwt(token) ?? NOT_COMPACT;
}

/** Step 2. */
export function issuerStep<C>(found: JwtIssuer<C> | null): JwtIssuer<C> | Rejection {
  return found ?? UNKNOWN_ISSUER;
}

/** Step 3. */
export function headerStep(header: JwtHeader, profile: TokenProfile): Rejection | null {
  const problem = headerProblem(header, profile.algorithms, profile);
  return problem === null ? null : { code: 'MALFORMED', detail: problem };
}

/** Step 4: no clock needed, so a token that can never pass costs no key lookup. */
export function shapeStep(payload: TokenClaims, issuer: string): Rejection | null {
  if (!claimsAreWellFormed(payload)) return CLAIM_PROBLEMS['MALFORMED']!;
  return payload.iss === issuer ? null : CLAIM_PROBLEMS['NOT_FOUND']!;
}

/** Step 7. */
export function claimsStep(payload: TokenClaims, issuer: string, admission: { profile: TokenProfile; audience: string | readonly string[] | null; now: number }): Rejection | null {
  const { profile } = admission;
  const code = checkClaims(payload, { issuer, audience: admission.audience, now: admission.now, clockToleranceSec: profile.clockToleranceSec, selfIssued: profile.selfIssued });
  return code === 'VALID' ? null : CLAIM_PROBLEMS[code]!;
}

/** Step 5: the token's `alg` must be its key's (no algorithm confusion). */
export function keyStep(header: JwtHeader, key: JwtKey | null): Rejection | null {
  if (key === null) return { code: 'NOT_FOUND', detail: header.kid === undefined ? 'no key fits a token without kid' : `kid "${header.kid}" names no key of the issuer` };
  return key.alg === header.alg ? null : { code: 'MALFORMED', detail: `alg "${header.alg}" is not the algorithm of kid "${String(header.kid)}" (${key.alg})` };
}

/** Step 6. */
export function signatureStep(token: string, key: JwtKey): Rejection | null {
  return key.verify(token) ? null : BAD_SIGNATURE;
}

/** Step 9. */
export function revocationStep(payload: TokenClaims, state: RevocationState | null): Rejection | null {
  return state !== null && isRevoked(payload, state) ? REVOKED : null;
}

/** Step 10. */
export function scopeStep(held: ReadonlySet<string>, required: readonly string[], match: ScopeMatch, anyOf?: readonly (readonly string[])[]): Rejection | null {
  const met = anyOf !== undefined ? satisfiesAnyOf(held, anyOf) : satisfies(held, required, match);
  return met ? null : { code: 'INSUFFICIENT_SCOPE', detail: `holds "${[...held].join(' ')}"` };
}

export function isRejection(value: unknown): value is Rejection {
  return typeof value === 'object' && value !== null && 'code' in value && 'detail' in value;
}

/**
 * Steps 1–4: everything that needs no key. A verifier that cannot check the signature itself
 * (the middleware, for a tenant's HS256 token) runs these before asking Keygate. Answers at
 * once, not as a promise, when the source does (an issuer in memory).
 */
export function precheckJwt<C>(token: string, source: Pick<JwtSource<C>, 'issuer'>): Awaitable<PrecheckedJwt<C> | Rejection> {
  const decoded = decodeStep(token);
  if (isRejection(decoded)) return decoded;
  const { header, payload } = decoded;
  // A token whose iss is no string is MALFORMED (the shape step would say so); it names no issuer to look up.
  if (typeof payload.iss !== 'string') return CLAIM_PROBLEMS['MALFORMED']!;
  const found = source.issuer(payload.iss, header);
  return found instanceof Promise ? found.then((issuer) => afterIssuer(decoded, issuer)) : afterIssuer(decoded, found);
}

function afterIssuer<C>(decoded: DecodedJwt, found: JwtIssuer<C> | null): PrecheckedJwt<C> | Rejection {
  const issuer = issuerStep(found);
  if (isRejection(issuer)) return issuer;
  const rejection = headerStep(decoded.header, issuer.profile) ?? shapeStep(decoded.payload, issuer.issuer);
  return rejection ?? { decoded, issuer };
}

/** Steps 5–6, after `precheckJwt`: the key the header names, and the signature. At once when the key is in memory. */
export function checkSignature<C>(token: string, prechecked: PrecheckedJwt<C>, source: Pick<JwtSource<C>, 'key'>): Awaitable<AuthenticatedJwt<C> | Rejection> {
  const key = source.key(prechecked.issuer, prechecked.decoded.header);
  return key instanceof Promise ? key.then((found) => afterKey(token, prechecked, found)) : afterKey(token, prechecked, key);
}

function afterKey<C>(token: string, { decoded, issuer }: PrecheckedJwt<C>, key: JwtKey | null): AuthenticatedJwt<C> | Rejection {
  const rejection = keyStep(decoded.header, key) ?? signatureStep(token, key!);
  return rejection ?? { header: decoded.header, payload: decoded.payload, issuer, key: key! };
}

/**
 * Steps 1–6: whether the token is a genuine token of an issuer this verifier knows. The answer
 * holds until the token's `exp`, so callers may keep it, keyed by the token's hash, and run only
 * `admitJwt` on every presentation, the first included. Synchronous when the sources answer from
 * memory, so a first-seen token of a known issuer costs no promise either.
 */
export function authenticateJwt<C>(token: string, source: JwtSource<C>): Awaitable<AuthenticatedJwt<C> | Rejection> {
  const prechecked = precheckJwt(token, source);
  if (prechecked instanceof Promise) return prechecked.then((found) => (isRejection(found) ? found : checkSignature(token, found, source)));
  return isRejection(prechecked) ? prechecked : checkSignature(token, prechecked, source);
}

/**
 * Steps 7–10, on every presentation of an authenticated token. Synchronous when the sources
 * answer from memory, so a token seen again costs no promise.
 */
export function admitJwt<T>(payload: TokenClaims, issuer: string, admission: Admission<T>): Rejection | null | Promise<Rejection | null> {
  const claims = claimsStep(payload, issuer, admission);
  if (claims !== null) return claims;
  const held = admission.sources.held(admission.subject);
  if (held instanceof Promise) return held.then((found) => afterHeld(payload, found, admission));
  return afterHeld(payload, held, admission);
}

function afterHeld<T>(payload: TokenClaims, held: ReadonlySet<string> | Rejection, admission: Admission<T>): Rejection | null | Promise<Rejection | null> {
  if (isRejection(held)) return held;
  const revocations = admission.sources.revocations(admission.subject);
  if (revocations instanceof Promise) return revocations.then((state) => afterRevocations(payload, held, state, admission));
  return afterRevocations(payload, held, revocations, admission);
}

function afterRevocations<T>(payload: TokenClaims, held: ReadonlySet<string>, state: RevocationState | null, admission: Admission<T>): Rejection | null {
  return revocationStep(payload, state) ?? scopeStep(held, admission.required, admission.match, admission.anyOf);
}
