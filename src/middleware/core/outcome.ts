import type { ScopeMatch } from '../../domain/scopes.js';
import type { VerificationCode } from '../../domain/verification.js';

/** Who is calling, as the middleware hands it to the route handler once the credential is verified. */
export interface KeygateIdentity {
  readonly kind: 'jwt' | 'api_key';
  /** The JWT's `sub`, or the consumer an API key was issued to (null for a key without one). */
  readonly subject: string | null;
  /** The tenant slug. */
  readonly tenant: string;
  /** The API identifier (audience) the credential was accepted for. */
  readonly api: string;
  /** The scopes the credential carries, as issued (see docs/middleware.md on implications). */
  readonly scopes: readonly string[];
  /** The JWT's `jti`, or the API key's id; null for a self-issued token without a `jti`. */
  readonly tokenId: string | null;
  /** The OAuth client the token was issued to, for client-credentials tokens. */
  readonly clientId?: string;
  /** UTC ISO-8601, or null for an API key that never expires. */
  readonly expiresAt: string | null;
  /** The API key's metadata; empty for JWTs. */
  readonly meta: Readonly<Record<string, unknown>>;
}

/**
 * The error a denied caller sees. `unauthorized` is the answer to a request without a bearer
 * token (RFC 6750 §3.1: no error code in the challenge then); the others are the RFC 6750 codes,
 * plus `rate_limited` for an API key over its limit or credits and `temporarily_unavailable`
 * when Keygate could not be asked.
 */
export type DenialError = 'unauthorized' | 'invalid_token' | 'insufficient_scope' | 'rate_limited' | 'temporarily_unavailable';

export interface Denial {
  readonly ok: false;
  readonly status: 401 | 403 | 429 | 503;
  readonly error: DenialError;
  /** For `insufficient_scope`: the scopes the route asks for. */
  readonly requiredScopes?: readonly string[];
  /** For `rate_limited`: seconds until the exhausted limit resets, when known. */
  readonly retryAfterSec?: number;
}

export type VerificationOutcome = { readonly ok: true; readonly identity: KeygateIdentity } | Denial;

/**
 * Why a request was denied, for the API owner's logs (the `onDenied` hook). It never holds the
 * credential itself; the caller only ever sees the generic answer.
 */
export interface DenialReason {
  code: VerificationCode | 'MISSING_TOKEN' | 'NO_ROOT_KEY' | 'KEYGATE_UNAVAILABLE' | 'CLOSED';
  /** A human explanation, such as `kid "sk_…" is not in the JWKS`. */
  detail: string;
  /** What the credential looked like, when it got that far. */
  kind: 'jwt' | 'api_key' | null;
  /** The JWT's `jti` or the key's id, when known (only from a verified signature or from Keygate). */
  tokenId: string | null;
  status: Denial['status'];
}

/** What a route requires, validated once when the route is defined. */
export interface Requirement {
  readonly scopes: readonly string[];
  readonly match: ScopeMatch;
  /** `match` and scopes as one string, to key cached answers by requirement. */
  readonly cacheKey: string;
  /** The denial for a valid credential without the scopes, built once. */
  readonly insufficient: Denial;
}

export const MISSING_TOKEN: Denial = Object.freeze({ ok: false, status: 401, error: 'unauthorized' });
export const INVALID_TOKEN: Denial = Object.freeze({ ok: false, status: 401, error: 'invalid_token' });
export const UNAVAILABLE: Denial = Object.freeze({ ok: false, status: 503, error: 'temporarily_unavailable' });
