import type { Denial } from './outcome.js';

const REALM = 'keygate';

/** The one description every invalid token gets: unauthenticated callers learn nothing more. */
export const INVALID_TOKEN_DESCRIPTION = 'The access token is invalid';

const DESCRIPTIONS: Record<Denial['error'], string> = {
  unauthorized: 'A bearer token is required',
  invalid_token: INVALID_TOKEN_DESCRIPTION,
  insufficient_scope: 'The access token lacks the scope this request needs',
  rate_limited: 'Too many requests with this credential',
  temporarily_unavailable: 'The credential could not be checked; try again later',
};

export interface DenialResponse {
  status: Denial['status'];
  headers: Record<string, string>;
  body: { error: Denial['error']; error_description: string };
}

/**
 * The HTTP answer to a denial, the same for every framework (RFC 6750 §3): a bare challenge when
 * no token was sent, `error="invalid_token"` for a bad one, `error="insufficient_scope"` with the
 * required `scope` for a good one without the scopes.
 *
 * @example
 * denialResponse({ ok: false, status: 403, error: 'insufficient_scope', requiredScopes: ['read:users'] })
 * // { status: 403, headers: { 'www-authenticate': 'Bearer realm="keygate", error="insufficient_scope", scope="read:users"' }, body: … }
 */
export function denialResponse(denial: Denial): DenialResponse {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  switch (denial.error) {
    case 'unauthorized':
      headers['www-authenticate'] = `Bearer realm="${REALM}"`;
      break;
    case 'invalid_token':
      headers['www-authenticate'] = `Bearer realm="${REALM}", error="invalid_token", error_description="${INVALID_TOKEN_DESCRIPTION}"`;
      break;
    case 'insufficient_scope':
      // Scope tokens cannot hold `"` or `\` (RFC 6749 §3.3), so they need no escaping here.
      headers['www-authenticate'] = `Bearer realm="${REALM}", error="insufficient_scope", scope="${(denial.requiredScopes ?? []).join(' ')}"`;
      break;
    case 'rate_limited':
    case 'temporarily_unavailable':
      if (denial.retryAfterSec !== undefined) headers['retry-after'] = String(denial.retryAfterSec);
      break;
  }
  return { status: denial.status, headers, body: { error: denial.error, error_description: DESCRIPTIONS[denial.error] } };
}

/**
 * The token of an `Authorization: Bearer <token>` header. Null when there is no header or it
 * uses another scheme: to RFC 6750 that is a request without a token. `Bearer` with nothing
 * after it is a present but empty (hence invalid) token.
 *
 * @example
 * bearerToken('Bearer kg_4Fq0…') // "kg_4Fq0…"
 * bearerToken('Basic dXNlcjpwYXNz') // null
 */
export function bearerToken(authorization: string | undefined): string | null {
  if (authorization === undefined || authorization.length < 6) return null;
  if (authorization.slice(0, 6).toLowerCase() !== 'bearer') return null;
  if (authorization.length === 6) return '';
  if (authorization[6] !== ' ') return null;
  return authorization.slice(7).trim();
}
