/**
 * What the tenant authorization servers support, written once: the grant types the token
 * endpoint serves, the client authentication methods, and the algorithms of `private_key_jwt`
 * assertions. The token dispatcher, the client authenticator, the RFC 8414 metadata, the OpenAPI
 * description, the client schema and the CLI take their lists from here
 * (test/domain/oauth/registry.test.ts holds every surface to it). Adding a grant type is an entry
 * here and one file in http/oauth/grants/, whose handler the dispatcher's table (typed by this
 * registry) then requires.
 */

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

interface GrantTypeEntry {
  /** Where the grant is specified, for the API description. */
  readonly spec: string;
  /**
   * The client acts on its own authority, without a person. A public client proves nothing about
   * who calls, so `clientPowerRefusal` keeps these grants from it.
   */
  readonly confidentialOnly: boolean;
}

/** The grant types, in the order the client schema and the CLI list them. Implicit and password are deliberately absent. */
export const GRANT_TYPE_REGISTRY = {
  client_credentials: { spec: 'RFC 6749 §4.4', confidentialOnly: true },
  authorization_code: { spec: 'RFC 6749 §4.1 with PKCE (RFC 7636)', confidentialOnly: false },
  refresh_token: { spec: 'RFC 6749 §6', confidentialOnly: false },
  [TOKEN_EXCHANGE]: { spec: 'RFC 8693', confidentialOnly: true },
} as const satisfies Record<string, GrantTypeEntry>;

export type GrantType = keyof typeof GRANT_TYPE_REGISTRY;
export const GRANT_TYPES = Object.keys(GRANT_TYPE_REGISTRY) as readonly GrantType[];

/**
 * Whether a `grant_type` parameter names a registered grant: an own entry only, so
 * `constructor` or `toString` is not a grant type.
 *
 * @example
 * isGrantType('client_credentials') // true
 * isGrantType('password') // false
 */
export function isGrantType(value: string): value is GrantType {
  return Object.hasOwn(GRANT_TYPE_REGISTRY, value);
}

interface AuthMethodEntry {
  /** Where the method is specified, for the API description. */
  readonly spec: string;
  /** What the client proves: a shared secret, a signed assertion, or nothing (a public client). */
  readonly proof: 'secret' | 'assertion' | 'nothing';
}

/** Client authentication at the token, revocation and introspection endpoints. */
export const AUTH_METHOD_REGISTRY = {
  client_secret_basic: { spec: 'RFC 6749 §2.3.1, HTTP Basic', proof: 'secret' },
  client_secret_post: { spec: 'RFC 6749 §2.3.1, in the form', proof: 'secret' },
  private_key_jwt: { spec: 'RFC 7523 §2.2, a JWT signed with a key of the client\'s JWKS', proof: 'assertion' },
  none: { spec: 'RFC 6749 §2.1, a public client: its id only', proof: 'nothing' },
} as const satisfies Record<string, AuthMethodEntry>;

export type TokenEndpointAuthMethod = keyof typeof AUTH_METHOD_REGISTRY;
export const TOKEN_ENDPOINT_AUTH_METHODS = Object.keys(AUTH_METHOD_REGISTRY) as readonly TokenEndpointAuthMethod[];

/** The method a client registered without one uses. */
export const DEFAULT_AUTH_METHOD: TokenEndpointAuthMethod = 'client_secret_basic';

/** The methods that present a client secret: a client registered for one is issued a secret. */
export const SECRET_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = TOKEN_ENDPOINT_AUTH_METHODS.filter((method) => AUTH_METHOD_REGISTRY[method].proof === 'secret');

/** RFC 7523 §2.2: the `client_assertion_type` of a `private_key_jwt` assertion. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The `alg` values a `private_key_jwt` assertion may be signed with; `none` and HMAC never. */
export const ASSERTION_ALGORITHMS = ['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'] as const;
