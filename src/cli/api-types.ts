/**
 * The JSON shapes the management API answers with, as the CLI reads them. The CLI is a client
 * of the HTTP API, so it declares what it relies on rather than importing the server's code;
 * the OAuth lists alone come from the one registry (domain/oauth/registry.ts, pure data), so
 * the CLI offers exactly what the server accepts.
 */
import type { GrantType, TokenEndpointAuthMethod } from '../domain/oauth/registry.js';

export type SigningAlg = 'EdDSA' | 'ES256' | 'RS256';
export const SIGNING_ALGS: readonly SigningAlg[] = ['EdDSA', 'ES256', 'RS256'];

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  signingAlg: SigningAlg;
  /** The tenant's OAuth issuer, `{PUBLIC_URL}/t/{slug}`: tokens carry it as `iss`. */
  issuer: string;
  /** Whether people may create their own accounts on the tenant's portal. */
  selfSignup: boolean;
  /** Longest lifetime (`exp - iat`, seconds) of a self-issued HS256 token. */
  hs256MaxLifetime: number;
  createdAt: string;
}

/** A person who signs in to a tenant's portal. */
export interface User {
  id: string;
  email: string;
  name: string | null;
  disabled: boolean;
  disabledAt: string | null;
  createdAt: string;
}

export interface ScopeDefinition {
  name: string;
  description: string;
  implies?: string[];
}

export interface Api {
  id: string;
  tenant: string;
  identifier: string;
  name: string;
  keyPrefix: string;
  scopes: ScopeDefinition[];
  /** Access-token lifetime in seconds. */
  accessTokenTtl: number;
  refreshTokens: RefreshTokens;
  createdAt: string;
}

/** Refresh-token settings of an API; lifetimes and the reuse interval in seconds. */
export interface RefreshTokens {
  enabled: boolean;
  idleTtl: number;
  absoluteTtl: number;
  reuseInterval: number;
}

export interface Ratelimit {
  name: string;
  limit: number;
  /** Window length in milliseconds. */
  duration: number;
}

export interface Refill {
  amount: number;
  interval: 'daily' | 'monthly';
}

export interface Credits {
  remaining: number;
  refill?: Refill | null;
}

export interface KeyView {
  id: string;
  start: string;
  api: string;
  tenant: string;
  parentId: string | null;
  name: string | null;
  consumer: string | null;
  scopes: string[];
  meta: Record<string, unknown>;
  expiresAt: string | null;
  enabled: boolean;
  revokedAt: string | null;
  ratelimits: Ratelimit[];
  credits: Credits | null;
  ipAllowlist: string[] | null;
  createdAt: string;
  updatedAt: string;
  lastUsedAt: string | null;
}

/** A key view with its secret, as create, roll and sub-key creation answer (once). */
export interface IssuedKey extends KeyView {
  key: string;
}

export interface RootKeyView {
  id: string;
  name: string | null;
  start: string;
  scopes: string[];
  tenant: string | null;
  createdAt: string;
  updatedAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface RootKeyCreated extends RootKeyView {
  key: string;
}

export interface VerificationResult {
  valid: boolean;
  code: string;
  keyId: string | null;
  tenant: string | null;
  api: string | null;
  consumer: string | null;
  scopes: string[];
  meta: Record<string, unknown>;
  expiresAt: string | null;
  ratelimits: { name: string; limit: number; remaining: number; reset: string }[];
  credits: { remaining: number } | null;
}

export interface AuditEvent {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  requestId: string | null;
  ip: string | null;
  data: Record<string, unknown>;
  /** 1 for a change; for an aggregated denial, its occurrences (`at`, `requestId`, `ip`: the first). */
  count: number;
  lastAt: string | null;
  lastRequestId: string | null;
}

/** A public JWK Set, as `private_key_jwt` clients register it. */
export interface Jwks {
  keys: Record<string, unknown>[];
}

export interface ClientView {
  clientId: string;
  tenant: string;
  name: string;
  grantTypes: GrantType[];
  /** API identifier → the scopes the client may get for it. */
  scopes: Record<string, string[]>;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  jwks: Jwks | null;
  redirectUris: string[];
  canIntrospect: boolean;
  createdAt: string;
  updatedAt: string;
}

/** A client with its secret, as create and secret rotation answer (once); null for clients without one. */
export interface IssuedClient extends ClientView {
  clientSecret: string | null;
}

/** A JWT API key as listed: the record of an issued token, never the token. */
export interface TokenView {
  jti: string;
  tenant: string;
  api: string;
  consumer: string;
  scopes: string[];
  claimsFormat: 'scope' | 'scopes';
  kid: string;
  issuedAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface IssuedToken extends TokenView {
  token: string;
}

export interface SigningKey {
  kid: string;
  alg: string;
  /** `next`: published, not signing yet; `current`: signing; `retired`: published until its tokens expire. */
  state: 'next' | 'current' | 'retired';
  activatesAt: string;
  retiredAt: string | null;
  publishUntil: string | null;
  publicJwk: Record<string, unknown>;
}

export interface Hs256Secret {
  kid: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface Hs256SecretCreated {
  kid: string;
  secret: string;
}

/** Tokens issued at or before this instant are revoked. */
export interface NotBefore {
  notBefore: string;
}

/** RFC 6749 §5.1, as the token endpoint answers. */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}
