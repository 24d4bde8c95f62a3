import { afterAll, beforeAll } from 'vitest';
import { newId } from '../../src/crypto/secrets.js';
import type { AuditEvent } from '../../src/domain/audit.js';
import type { Api } from '../../src/domain/apis.js';
import { DEFAULT_GATEWAY_SETTINGS } from '../../src/domain/gateway/settings.js';
import type { ApiKey } from '../../src/domain/keys/key.js';
import type { Revocation } from '../../src/domain/clients.js';
import type { Tenant } from '../../src/domain/tenants.js';
import type { RevocationFactory, Store } from '../../src/store/store.js';
import { createBackend, type Backend, type BackendName } from '../helpers/backends.js';

/** The time every contract suite's rows are made at. */
export const NOW = Date.UTC(2026, 10, 23, 12);

/**
 * A migrated store on a fresh database of `backendName` for the suite, closed and dropped after
 * it. Read `store()` inside the tests: it is opened in `beforeAll`.
 *
 * @example
 * const store = contractStore(backendName);
 * it('pings', async () => { await store().ping(); });
 */
export function contractStore(backendName: BackendName): () => Store {
  let backend: Backend | undefined;
  let store: Store | undefined;
  beforeAll(async () => {
    backend = await createBackend(backendName);
    store = backend.openStore();
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await backend?.destroy();
  });
  return () => store!;
}

export function makeEvent(tenantId: string, action: string, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return { id: newId('event', NOW), tenantId, at: NOW, actor: 'test', action, target: null, requestId: null, ip: null, data: {}, ...overrides };
}

/**
 * Event and revocation builders for the tenant a suite seeds in its `beforeAll`: `tenantId` is
 * read when a builder is called, not when the suite is declared.
 *
 * @example
 * const { event, revocation } = tenantBuilders(() => tenant.id);
 */
export function tenantBuilders(tenantId: () => string): { event: (action: string) => AuditEvent; revocation: RevocationFactory } {
  return {
    event: (action) => makeEvent(tenantId(), action),
    revocation: (input): Revocation => ({ id: newId('revocation', NOW), tenantId: tenantId(), createdAt: NOW, ...input }),
  };
}

export function makeTenant(slug: string, overrides: Partial<Tenant> = {}): Tenant {
  return { id: newId('tenant', NOW), slug, name: slug, signingAlg: 'EdDSA', selfSignup: false, hs256MaxLifetime: 86_400, createdAt: NOW, ...overrides };
}

export function makeApi(tenant: Tenant, identifier: string, overrides: Partial<Api> = {}): Api {
  return {
    id: newId('api', NOW),
    tenantId: tenant.id,
    identifier,
    name: 'API',
    keyPrefix: 'kg',
    scopes: [{ name: 'read:users', description: 'r' }],
    accessTokenTtl: 3600,
    refreshTokens: { enabled: false, idleTtl: 60, absoluteTtl: 120, reuseInterval: 0 },
    gateway: DEFAULT_GATEWAY_SETTINGS,
    createdAt: NOW,
    ...overrides,
  };
}

export function makeKey(api: Api, overrides: Partial<ApiKey> = {}): ApiKey {
  return {
    id: newId('key', NOW),
    tenantId: api.tenantId,
    apiId: api.id,
    parentId: null,
    start: 'kg_abcd',
    name: null,
    consumer: 'cus_1',
    grantOf: null,
    scopes: ['read:users'],
    meta: { plan: 'pro' },
    expiresAt: null,
    enabled: true,
    revokedAt: null,
    ratelimits: [],
    credits: null,
    creditsRefilledAt: null,
    ipAllowlist: null,
    createdAt: NOW,
    updatedAt: NOW,
    lastUsedAt: null,
    ...overrides,
  };
}

/** A tenant with one API, created in the store. */
export async function seedTenant(store: Store, slug: string, identifier: string, api: Partial<Api> = {}): Promise<{ tenant: Tenant; api: Api }> {
  const tenant = makeTenant(slug);
  await store.directory.createTenant(tenant, makeEvent(tenant.id, 'tenant.create'));
  const created = makeApi(tenant, identifier, api);
  await store.directory.createApi(created, makeEvent(tenant.id, 'api.create'));
  return { tenant, api: created };
}
