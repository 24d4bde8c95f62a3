import type { AuditEvent } from '../domain/audit.js';
import type { Api, ApiKey, RefillInterval } from '../domain/keys/key.js';
import type { ApisTable, AuditEventsTable, KeysTable } from './schema.js';

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
    createdAt: Number(row.created_at),
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
  };
}

function numberOrNull(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}
