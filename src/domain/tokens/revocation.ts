import { EXCHANGED_FROM_CLAIM, subjectLinks, type SubjectLink } from './exchange.js';
import { CLOCK_SKEW_SEC } from './jwt.js';

/**
 * How a JWT is revoked without changing it: by its `jti`, or by a not-before mark on everything
 * a client, a consumer, a person's grant or a deleted API was issued before an instant.
 * Verifiers hold this state in memory.
 */
export interface RevocationState {
  /** Revoked jtis (a Set, or a Map keyed by jti). */
  jtis: { has(jti: string): boolean };
  /**
   * `client:{id}`, `consumer:{id}`, `grant:{id}` (the `gid` claim of tokens a person's grant
   * produced) or `api:{identifier}` (the `aud` of tokens for an API since deleted) → tokens whose `iat` (seconds) is at or before this second are
   * revoked. `iat` has one-second resolution, so the mark's own second counts as before: a token
   * issued in that second after the mark is revoked too, never the other way round.
   */
  notBefore: ReadonlyMap<string, number>;
}

/**
 * The longest a token of a tenant that Keygate has no record of can stay valid, so a revocation
 * of its jti can be forgotten after that: a self-issued HS256 token (the tenant's cap, with an
 * `iat` up to the clock skew ahead) or an access token of the longest-lived API, whichever is
 * longer.
 *
 * @example
 * longestTokenLifetimeSec({ hs256MaxLifetimeSec: 86_400, maxAccessTokenTtlSec: 3600 }) // 86_460
 */
export function longestTokenLifetimeSec(tenant: { hs256MaxLifetimeSec: number; maxAccessTokenTtlSec: number }): number {
  return Math.max(tenant.hs256MaxLifetimeSec, tenant.maxAccessTokenTtlSec) + CLOCK_SKEW_SEC;
}

export type MarkKind = 'client' | 'consumer' | 'grant' | 'api';

export function markKey(kind: MarkKind, subject: string): string {
  return `${kind}:${subject}`;
}

/**
 * What revoked a token: its own jti (or that of a token it was exchanged from), or a not-before
 * mark (`client:…`, `consumer:…`, `grant:…`, `api:…`) with the second it cuts off at.
 */
export type RevocationCause = { kind: 'jti' } | { kind: 'mark'; mark: string; notBefore: number };

type RevocableClaims = { jti?: string; iat?: number; client_id?: string; sub?: string; gid?: unknown; aud?: unknown; [EXCHANGED_FROM_CLAIM]?: unknown };

const BY_JTI: RevocationCause = { kind: 'jti' };

/**
 * @example
 * isRevoked({ jti: 'a', iat: 10, client_id: 'cli_1' }, state) // true if cli_1 was cut off after 10
 */
export function isRevoked(claims: RevocableClaims, state: RevocationState): boolean {
  return revocationCause(claims, state) !== null;
}

/**
 * The one revocation rule: why a token with these claims is revoked, or null when it is not.
 * `isRevoked` is this answer as a boolean; listings use the cause to say since when.
 *
 * @example
 * revocationCause({ jti: 'a', iat: 10, sub: 'acme' }, state) // { kind: 'mark', mark: 'consumer:acme', notBefore: 12 }
 */
export function revocationCause(claims: RevocableClaims, state: RevocationState): RevocationCause | null {
  const own = linkRevocation(claims, state);
  if (own !== null) return own;
  // An exchanged token dies with every token it was exchanged from (RFC 8693 subject tokens).
  if (claims[EXCHANGED_FROM_CLAIM] !== undefined) {
    for (const link of subjectLinks(claims[EXCHANGED_FROM_CLAIM])) {
      const cause = linkRevocation(link, state);
      if (cause !== null) return cause;
    }
  }
  if (state.notBefore.size === 0) return null;
  const iat = claims.iat ?? 0;
  if (claims.sub !== undefined) {
    const cause = markAfter(markKey('consumer', claims.sub), iat, state);
    if (cause !== null) return cause;
  }
  if (typeof claims.gid === 'string') {
    const cause = markAfter(markKey('grant', claims.gid), iat, state);
    if (cause !== null) return cause;
  }
  // A deleted API's tokens stay dead when an API is created again under its identifier.
  const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
  return typeof aud === 'string' ? markAfter(markKey('api', aud), iat, state) : null;
}

/** A token's own jti, or its client's cut-off at or after its iat. */
function linkRevocation(link: SubjectLink, state: RevocationState): RevocationCause | null {
  if (link.jti !== undefined && state.jtis.has(link.jti)) return BY_JTI;
  if (link.client_id === undefined || state.notBefore.size === 0) return null;
  return markAfter(markKey('client', link.client_id), link.iat ?? 0, state);
}

function markAfter(mark: string, iat: number, state: RevocationState): RevocationCause | null {
  const notBefore = state.notBefore.get(mark);
  return notBefore !== undefined && iat <= notBefore ? { kind: 'mark', mark, notBefore } : null;
}

/**
 * How far back a revocation-feed reader looks again after catching up: a revocation whose id was
 * minted earlier but whose row committed later (another instance, a slow transaction) is then
 * still read. Applying an entry twice changes nothing.
 */
export const FEED_LOOKBACK_MS = 10_000;
