import type { AuditEvent } from '../domain/audit.js';
import type { Client, IssuedToken, Revocation } from '../domain/clients.js';
import { DEFAULT_REFRESH_TOKENS, type Api } from '../domain/apis.js';
import type { ApiKey, RefillInterval } from '../domain/keys/key.js';
import type { Tenant } from '../domain/tenants.js';
import type { SigningAlgorithm } from '../domain/tokens/jwt.js';
import type {
  ApisTable,
  AuditEventsTable,
  ClientsTable,
  IssuedTokensTable,
  KeysTable,
  RevocationsTable,
  SigningKeysTable,
  TenantsTable,
} from './schema.js';
import type { StoredSigningKey } from './store.js';

/** Conversions between domain objects and rows; the only place that knows the column layout. */
export function keyToRow(key: ApiKey): KeysTable {
  return {
    id: key.id,
    tenant_id: key.tenantId,
    api_id: key.apiId,
    parent_id: key.parentId,
    start: key.start,
    name: key.name,
    consumer: key.consumer,
    scopes: JSON.stringify(key.scopes),
    meta: JSON.stringify(key.meta),
    expires_at: key.expiresAt,
    enabled: key.enabled ? 1 : 0,
    revoked_at: key.revokedAt,
    ratelimits: JSON.stringify(key.ratelimits),
    credits_remaining: key.credits?.remaining ?? null,
    credits_refill_amount: key.credits?.refill?.amount ?? null,
    credits_refill_interval: key.credits?.refill?.interval ?? null,
    credits_refilled_at: key.creditsRefilledAt,
    ip_allowlist: key.ipAllowlist === null ? null : JSON.stringify(key.ipAllowlist),
    created_at: key.createdAt,
    updated_at: key.updatedAt,
    last_used_at: key.lastUsedAt,
    usage_count: 0,
  };
}

export function rowToKey(row: KeysTable): ApiKey {
  const refill =
    row.credits_refill_amount !== null && row.credits_refill_interval !== null
      ? { amount: Number(row.credits_refill_amount), interval: row.credits_refill_interval as RefillInterval }
      : null;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    apiId: row.api_id,
    parentId: row.parent_id,
    start: row.start,
    name: row.name,
    consumer: row.consumer,
    scopes: JSON.parse(row.scopes) as string[],
    meta: JSON.parse(row.meta) as Record<string, unknown>,
    expiresAt: numberOrNull(row.expires_at),
    enabled: Number(row.enabled) === 1,
    revokedAt: numberOrNull(row.revoked_at),
    ratelimits: JSON.parse(row.ratelimits) as ApiKey['ratelimits'],
    credits: row.credits_remaining === null ? null : { remaining: Number(row.credits_remaining), refill },
    creditsRefilledAt: numberOrNull(row.credits_refilled_at),
    ipAllowlist: row.ip_allowlist === null ? null : (JSON.parse(row.ip_allowlist) as string[]),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    lastUsedAt: numberOrNull(row.last_used_at),
  };
}

export function apiToRow(api: Api): ApisTable {
  return {
    id: api.id,
    tenant_id: api.tenantId,
    identifier: api.identifier,
    name: api.name,
    key_prefix: api.keyPrefix,
    scopes: JSON.stringify(api.scopes),
    access_token_ttl: api.accessTokenTtl,
    refresh_tokens: JSON.stringify(api.refreshTokens),
    created_at: api.createdAt,
  };
}

export function rowToApi(row: ApisTable): Api {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    identifier: row.identifier,
    name: row.name,
    keyPrefix: row.key_prefix,
    scopes: JSON.parse(row.scopes) as Api['scopes'],
    accessTokenTtl: Number(row.access_token_ttl),
    // APIs stored before the reuse interval existed read as 0: every reuse is a replay.
    refreshTokens: { ...DEFAULT_REFRESH_TOKENS, ...(JSON.parse(row.refresh_tokens) as Partial<Api['refreshTokens']>) },
    createdAt: Number(row.created_at),
  };
}

export function rowToTenant(row: TenantsTable): Tenant {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    signingAlg: row.signing_alg as SigningAlgorithm,
    selfSignup: Number(row.self_signup) === 1,
    hs256MaxLifetime: Number(row.hs256_max_lifetime),
    createdAt: Number(row.created_at),
  };
}

export function rowToClient(row: ClientsTable): Client {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    grantTypes: JSON.parse(row.grant_types) as Client['grantTypes'],
    scopes: JSON.parse(row.scopes) as Client['scopes'],
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as Client['tokenEndpointAuthMethod'],
    jwks: row.jwks === null ? null : (JSON.parse(row.jwks) as Client['jwks']),
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    canIntrospect: Number(row.can_introspect) === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function clientToRow(client: Client): ClientsTable {
  return {
    id: client.id,
    tenant_id: client.tenantId,
    name: client.name,
    grant_types: JSON.stringify(client.grantTypes),
    scopes: JSON.stringify(client.scopes),
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    jwks: client.jwks === null ? null : JSON.stringify(client.jwks),
    redirect_uris: JSON.stringify(client.redirectUris),
    can_introspect: client.canIntrospect ? 1 : 0,
    created_at: client.createdAt,
    updated_at: client.updatedAt,
  };
}

export function rowToIssuedToken(row: IssuedTokensTable): IssuedToken {
  return {
    jti: row.jti,
    tenantId: row.tenant_id,
    apiId: row.api_id,
    consumer: row.consumer,
    scopes: JSON.parse(row.scopes) as string[],
    claimsFormat: row.claims_format as IssuedToken['claimsFormat'],
    kid: row.kid,
    issuedAt: Number(row.issued_at),
    expiresAt: numberOrNull(row.expires_at),
    revokedAt: numberOrNull(row.revoked_at),
  };
}

export function rowToRevocation(row: RevocationsTable): Revocation {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind as Revocation['kind'],
    subject: row.subject,
    notBefore: numberOrNull(row.not_before),
    expiresAt: numberOrNull(row.expires_at),
    createdAt: Number(row.created_at),
  };
}

export function rowToSigningKey(row: SigningKeysTable): StoredSigningKey {
  return {
    kid: row.kid,
    tenantId: row.tenant_id,
    alg: row.alg as SigningAlgorithm,
    publicJwk: JSON.parse(row.public_jwk) as Record<string, unknown>,
    sealedPrivateKey: row.private_key,
    createdAt: Number(row.created_at),
    activatesAt: Number(row.activates_at),
    retiredAt: numberOrNull(row.retired_at),
    publishUntil: numberOrNull(row.publish_until),
  };
}

export function eventToRow(event: AuditEvent): AuditEventsTable {
  return {
    id: event.id,
    tenant_id: event.tenantId,
    at: event.at,
    actor: event.actor,
    action: event.action,
    target: event.target,
    request_id: event.requestId,
    ip: event.ip,
    data: JSON.stringify(event.data),
    count: event.aggregate?.count ?? 1,
    last_at: event.aggregate?.lastAt ?? null,
    last_request_id: event.aggregate?.lastRequestId ?? null,
    aggregate_key: event.aggregate?.key ?? null,
  };
}

export function rowToEvent(row: AuditEventsTable): AuditEvent {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    at: Number(row.at),
    actor: row.actor,
    action: row.action,
    target: row.target,
    requestId: row.request_id,
    ip: row.ip,
    data: JSON.parse(row.data) as Record<string, unknown>,
    ...(row.aggregate_key === null
      ? {}
      : { aggregate: { key: row.aggregate_key, count: Number(row.count), lastAt: Number(row.last_at ?? row.at), lastRequestId: row.last_request_id } }),
  };
}

function numberOrNull(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}
