import { allowanceFor } from '../clients.js';
import { OAuthError } from './errors.js';

/** RFC 6749 §5.1: the token endpoint's successful answer, whatever the grant. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  /** RFC 8693 §2.2.1, token exchange only. */
  issued_token_type?: string;
}

/**
 * The API identifier a token request on the client's own authority is for: RFC 8707 `resource`
 * or the `audience` parameter (Auth0's spelling); when neither is given and the client may
 * reach exactly one API, that one. Only an API in the client's allowance (`allowanceFor`) is
 * named; whether it still exists is the caller's lookup.
 *
 * @example
 * requestedApi({ 'https://a': ['read'] }, { resource: undefined, audience: undefined }) // 'https://a'
 */
export function requestedApi(
  allowance: Readonly<Record<string, readonly string[]>>,
  request: { resource: string | undefined; audience: string | undefined },
): string {
  const { resource, audience } = request;
  if (resource !== undefined && audience !== undefined && resource !== audience) {
    throw new OAuthError('invalid_target', 'resource and audience name different APIs');
  }
  let identifier = resource ?? audience;
  if (identifier === undefined) {
    const allowed = Object.keys(allowance);
    if (allowed.length !== 1) throw new OAuthError('invalid_target', 'name the API with the resource parameter');
    identifier = allowed[0]!;
  }
  if (allowanceFor(allowance, identifier) === undefined) throw new OAuthError('invalid_target', 'the client may not get tokens for this resource');
  return identifier;
}

/**
 * The `scope` parameter as a list without repeats, or null when it is absent.
 *
 * @example
 * scopeParameter('read write read') // ['read', 'write']
 */
export function scopeParameter(value: string | undefined): string[] | null {
  return value === undefined ? null : [...new Set(value.split(' ').filter((s) => s.length > 0))];
}

/**
 * Client credentials: the requested scopes, each within the client's allowance for the API;
 * none requested → all of the allowance.
 *
 * @example
 * grantedScopes(['read', 'write'], ['read']) // ['read']
 */
export function grantedScopes(allowance: readonly string[], requested: readonly string[] | null): string[] {
  if (requested === null) return [...allowance];
  for (const scope of requested) {
    if (!allowance.includes(scope)) throw new OAuthError('invalid_scope', `scope "${scope}" is not allowed for this client and resource`);
  }
  return [...requested];
}
