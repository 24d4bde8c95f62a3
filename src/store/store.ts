import type { AuditEvent } from '../domain/audit.js';
import type { Api, ApiKey, Tenant } from '../domain/keys/key.js';

export interface PageRequest {
  /** The id of the last item of the previous page; null for the first page. */
  after: string | null;
  limit: number;
}

export interface Page<T> {
  items: T[];
  /** The id to pass as `after` for the next page; null on the last page. */
  next: string | null;
}

/** A key found by the hash of a presented secret, with what verify needs around it. */
export interface KeyBySecret {
  key: ApiKey;
  api: Api;
  tenantSlug: string;
  secretRetiredAt: number | null;
}

export interface KeyFilter {
  apiId?: string;
  consumer?: string;
}

export interface UsageEntry {
  keyId: string;
  lastUsedAt: number;
  count: number;
}

/**
 * The one persistence interface. Backends: `sqlite/` (default, embedded) and `postgres/`.
 * Every method that changes data takes the audit event describing the change and writes
 * both in one transaction. Faults (store unreachable) surface as STORE_UNAVAILABLE;
 * unique violations as the matching `*_EXISTS` code.
 */
export interface Store {
  readonly backend: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;

  createTenant(tenant: Tenant, event: AuditEvent): Promise<void>;
  findTenantBySlug(slug: string): Promise<Tenant | null>;
  listTenants(page: PageRequest): Promise<Page<Tenant>>;

  createApi(api: Api, event: AuditEvent): Promise<void>;
  findApi(tenantId: string, identifier: string): Promise<Api | null>;
  findApiById(id: string): Promise<Api | null>;
  listApis(tenantId: string, page: PageRequest): Promise<Page<Api>>;

  createKey(key: ApiKey, secretHash: string, event: AuditEvent): Promise<void>;
  findKey(tenantId: string, id: string): Promise<ApiKey | null>;
  findKeyBySecret(hash: string): Promise<KeyBySecret | null>;
  listKeys(tenantId: string, filter: KeyFilter, page: PageRequest): Promise<Page<ApiKey>>;
  /** The key and all its descendants (the key first); empty when the key is unknown. */
  findKeyTree(tenantId: string, id: string): Promise<ApiKey[]>;
  /** Writes the changed fields of several keys of one tenant and the event in one transaction. */
  updateKeys(keys: readonly ApiKey[], event: AuditEvent): Promise<void>;
  /** Revokes the key and all its descendants; returns the ids revoked now. */
  revokeKeyTree(tenantId: string, id: string, at: number, event: AuditEvent): Promise<string[]>;
  /** Deletes the key, its descendants and their secrets; returns the ids deleted. */
  deleteKeyTree(tenantId: string, id: string, event: AuditEvent): Promise<string[]>;
  /** Adds a new current secret; older secrets retire at `retireAt`. */
  rollKeySecret(keyId: string, newHash: string, start: string, retireAt: number, event: AuditEvent): Promise<void>;
  /**
   * Atomically spends `cost` credits, first refilling to the refill amount when the last refill
   * happened before `refillDueBefore`. Returns the credits left, or null when too few remain.
   */
  spendCredits(keyId: string, cost: number, now: number, refillDueBefore: number | null): Promise<number | null>;
  readCredits(keyId: string): Promise<number | null>;
  recordUsage(entries: readonly UsageEntry[]): Promise<void>;

  appendAudit(events: readonly AuditEvent[]): Promise<void>;
  listAudit(tenantId: string, page: PageRequest): Promise<Page<AuditEvent>>;
}
