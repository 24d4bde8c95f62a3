import type { AuditEvent } from '../../domain/audit.js';
import { isoOrNull } from '../../domain/clock.js';
import type { Api } from '../../domain/apis.js';
import type { ApiDocument } from '../../store/store.js';
import type { ApiKey } from '../../domain/keys/key.js';
import type { Tenant } from '../../domain/tenants.js';
import { issuerOf } from '../../services/tokens-service.js';
import type { KeyViewType } from '../schemas.js';

/** Domain objects as the management API shows them: ISO times, API identifiers, no secrets. */
export function keyView(key: ApiKey, api: Api, tenantSlug: string): KeyViewType {
  return {
    id: key.id,
    start: key.start,
    api: api.identifier,
    tenant: tenantSlug,
    parentId: key.parentId,
    name: key.name,
    consumer: key.consumer,
    scopes: key.scopes,
    meta: key.meta,
    expiresAt: isoOrNull(key.expiresAt),
    enabled: key.enabled,
    revokedAt: isoOrNull(key.revokedAt),
    ratelimits: key.ratelimits,
    credits: key.credits,
    ipAllowlist: key.ipAllowlist,
    createdAt: new Date(key.createdAt).toISOString(),
    updatedAt: new Date(key.updatedAt).toISOString(),
    lastUsedAt: isoOrNull(key.lastUsedAt),
  };
}

export function apiView(api: Api, tenantSlug: string) {
  return {
    id: api.id,
    tenant: tenantSlug,
    identifier: api.identifier,
    name: api.name,
    keyPrefix: api.keyPrefix,
    scopes: api.scopes,
    accessTokenTtl: api.accessTokenTtl,
    refreshTokens: api.refreshTokens,
    ...api.gateway,
    createdAt: new Date(api.createdAt).toISOString(),
  };
}

export function apiDocumentView(document: ApiDocument, api: string) {
  return {
    api,
    format: document.format,
    size: document.size,
    uploadedAt: new Date(document.uploadedAt).toISOString(),
    basePath: document.routes.basePath,
    operations: document.routes.operations.map((operation) => ({
      method: operation.method,
      path: operation.path,
      operationId: operation.operationId,
      public: operation.requirement.public,
      anyOf: operation.requirement.anyOf.map((scopes) => [...scopes]),
      cost: operation.cost,
    })),
  };
}

export function tenantView(tenant: Tenant, publicUrl: string) {
  return {
    id: tenant.id,
    slug: tenant.slug,
    name: tenant.name,
    signingAlg: tenant.signingAlg,
    issuer: issuerOf(publicUrl, tenant.slug),
    selfSignup: tenant.selfSignup,
    hs256MaxLifetime: tenant.hs256MaxLifetime,
    createdAt: new Date(tenant.createdAt).toISOString(),
  };
}

export function eventView(event: AuditEvent) {
  return {
    id: event.id,
    at: new Date(event.at).toISOString(),
    actor: event.actor,
    action: event.action,
    target: event.target,
    requestId: event.requestId,
    ip: event.ip,
    data: event.data,
    count: event.aggregate?.count ?? 1,
    lastAt: event.aggregate === undefined ? null : new Date(event.aggregate.lastAt).toISOString(),
    lastRequestId: event.aggregate?.lastRequestId ?? null,
  };
}
