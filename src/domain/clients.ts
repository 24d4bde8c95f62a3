import { AUTH_METHOD_REGISTRY, GRANT_TYPE_REGISTRY, type GrantType, type TokenEndpointAuthMethod } from './oauth/registry.js';

/** An OAuth client: a machine (client credentials, token exchange) or an app people delegate to. */
export interface Client {
  id: string;
  tenantId: string;
  name: string;
  grantTypes: GrantType[];
  /** API identifier → the scopes the client may get for it. */
  scopes: Record<string, string[]>;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** Public keys for private_key_jwt. */
  jwks: { keys: Record<string, unknown>[] } | null;
  redirectUris: string[];
  /** May introspect any token of its tenant, not only its own. */
  canIntrospect: boolean;
  createdAt: number;
  updatedAt: number;
}

/**
 * The scopes a client may have for an API, or undefined when the API is not in its allowance.
 * The one lookup every OAuth endpoint uses: an own entry only, so an API named after an
 * Object.prototype member (`constructor`, `toString`) is not in everyone's allowance.
 *
 * @example
 * allowanceFor({ 'https://a': ['read'] }, 'https://a') // ['read']
 * allowanceFor({ 'https://a': ['read'] }, 'constructor') // undefined
 */
export function allowanceFor(scopes: Readonly<Record<string, readonly string[]>>, identifier: string): readonly string[] | undefined {
  return Object.hasOwn(scopes, identifier) ? scopes[identifier] : undefined;
}

/**
 * What a client may try to do: use a grant type at the token endpoint, or introspect tokens (its
 * own, or with `canIntrospect` any of its tenant). Revocation (RFC 7009) is not a power: every
 * client may revoke the tokens issued to itself, and only those.
 */
export type ClientPower = { grant: GrantType } | { introspect: 'own' | 'any' };

/** A client that authenticates with nothing but its id (RFC 6749 §2.1): anyone can claim to be it. */
function isPublicClient(client: Pick<Client, 'tokenEndpointAuthMethod'>): boolean {
  return AUTH_METHOD_REGISTRY[client.tokenEndpointAuthMethod].proof === 'nothing';
}

/**
 * The one decision on what a client may do, used at registration and update (every power the
 * client would hold) and by every OAuth endpoint at use (so a stored client registered before a
 * rule existed is held to it too). Returns why the power is refused, or null when it is allowed.
 * A public client proves nothing about who calls, so it holds no power that acts on the
 * client's own authority: client credentials, token exchange, introspection.
 *
 * @example
 * clientPowerRefusal({ tokenEndpointAuthMethod: 'none', grantTypes: [], canIntrospect: true }, { introspect: 'any' })
 * // 'a public client (tokenEndpointAuthMethod "none") cannot introspect tokens'
 */
export function clientPowerRefusal(client: Pick<Client, 'tokenEndpointAuthMethod' | 'grantTypes' | 'canIntrospect'>, power: ClientPower): string | null {
  const publicClient = isPublicClient(client);
  if ('grant' in power) {
    if (!client.grantTypes.includes(power.grant)) return `the client may not use the ${power.grant} grant`;
    if (publicClient && GRANT_TYPE_REGISTRY[power.grant].confidentialOnly) return `a public client (tokenEndpointAuthMethod "none") cannot use ${power.grant}`;
    return null;
  }
  if (publicClient) return 'a public client (tokenEndpointAuthMethod "none") cannot introspect tokens';
  if (power.introspect === 'any' && !client.canIntrospect) return 'the client may introspect only its own tokens';
  return null;
}

/**
 * Every power a client's registration asks for, for `clientPowerRefusal` to check at registration.
 *
 * @example
 * powersHeld({ grantTypes: ['client_credentials'], canIntrospect: true })
 * // [{ grant: 'client_credentials' }, { introspect: 'any' }]
 */
export function powersHeld(client: Pick<Client, 'grantTypes' | 'canIntrospect'>): ClientPower[] {
  return [...client.grantTypes.map((grant): ClientPower => ({ grant })), ...(client.canIntrospect ? [{ introspect: 'any' as const }] : [])];
}

/** Hosts for which RFC 8252 §7.3 allows plain `http:` redirects: the device itself. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Why a redirect URI cannot be registered, or null when it can. The one rule for registration
 * and update: `https:`; `http:` only to the loopback interface (RFC 8252 §7.3); other schemes
 * only as private-use schemes in reverse-domain form (RFC 8252 §7.1, `com.example.app:/cb`),
 * which leaves out `javascript:`, `data:`, `file:`, `vbscript:`, `blob:`, `about:` and every other
 * scheme a browser would act on itself. No fragment (RFC 6749 §3.1.2), no user info.
 *
 * @example
 * redirectUriRefusal('com.example.app:/oauth/callback') // null
 * redirectUriRefusal('javascript:alert(1)') // 'redirect URI "javascript:alert(1)" must use https:, …'
 */
export function redirectUriRefusal(uri: string): string | null {
  if (!URL.canParse(uri)) return `redirect URI "${uri}" must be an absolute URL`;
  if (uri.includes('#')) return `redirect URI "${uri}" must not have a fragment`;
  const url = new URL(uri);
  if (url.username !== '' || url.password !== '') return `redirect URI "${uri}" must not carry user information`;
  const scheme = url.protocol.slice(0, -1);
  // The URL parser gives every https: URL a host, so the scheme is all there is to check.
  if (scheme === 'https') return null;
  if (scheme === 'http') return LOOPBACK_HOSTS.has(url.hostname) ? null : `redirect URI "${uri}" may use http: only for 127.0.0.1, [::1] or localhost`;
  // Reverse-domain form: at least two dot-separated labels, e.g. com.example.app.
  if (/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/.test(scheme)) return null;
  return `redirect URI "${uri}" must use https:, http: to a loopback address, or a private-use scheme in reverse-domain form such as com.example.app:`;
}

/** A JWT issued as a long-lived API key for a consumer; listable and revocable by jti. */
export interface IssuedToken {
  jti: string;
  tenantId: string;
  apiId: string;
  consumer: string;
  scopes: string[];
  claimsFormat: 'scope' | 'scopes';
  kid: string;
  issuedAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

/** A revocation: one jti, or a not-before mark on a client's, consumer's, grant's or deleted API's tokens. */
export interface Revocation {
  id: string;
  tenantId: string;
  kind: 'jti' | 'client' | 'consumer' | 'grant' | 'api';
  subject: string;
  /** For marks: tokens with iat (s) at or before this are revoked. */
  notBefore: number | null;
  /** For jtis: when the token expires anyway (ms), after which the entry can be forgotten. */
  expiresAt: number | null;
  createdAt: number;
}

/** A tenant-held HS256 secret with which the tenant's own services mint tokens. */
export interface Hs256Secret {
  kid: string;
  tenantId: string;
  createdAt: number;
  revokedAt: number | null;
}
