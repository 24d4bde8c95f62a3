/** An OAuth client: a machine (client credentials) or an app people delegate to (later). */
export const GRANT_TYPES = ['client_credentials', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:token-exchange'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

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

/** A revocation: one jti, or a not-before mark on a client's, consumer's or grant's tokens. */
export interface Revocation {
  id: string;
  tenantId: string;
  kind: 'jti' | 'client' | 'consumer' | 'grant';
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
