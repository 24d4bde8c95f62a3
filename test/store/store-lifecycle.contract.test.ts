import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashSecret, newId } from '../../src/crypto/secrets.js';
import type { AuditEvent } from '../../src/domain/audit.js';
import type { Api } from '../../src/domain/apis.js';
import type { Revocation } from '../../src/domain/clients.js';
import type { ApiKey } from '../../src/domain/keys/key.js';
import type { Tenant } from '../../src/domain/tenants.js';
import type { RevocationFactory, Store } from '../../src/store/store.js';
import { BACKENDS, createBackend, type Backend } from '../helpers/backends.js';

/**
 * The admin lifecycle's writes (delete a tenant, delete an API, replace a catalog) are each one
 * transaction on every backend: when the last statement (the audit event) fails, every row
 * the earlier statements deleted or narrowed is back; refused without force, nothing is written.
 */
describe.each(BACKENDS)('Store lifecycle contract (%s)', (backendName) => {
  let backend: Backend;
  let store: Store;
  let tenant: Tenant;
  let api: Api;
  let key: ApiKey;
  let n = 0;
  /**
   * An event id taken already, by another tenant's event (the tenant's own go with it): the
   * insert of the audit event, the transaction's last statement, fails.
   */
  let takenId: string;
  const now = Date.UTC(2026, 10, 23, 12);

  const event = (action: string, id: string = newId('event', now)): AuditEvent => ({
    id, tenantId: tenant.id, at: now, actor: 'test', action, target: null, requestId: null, ip: null, data: {},
  });
  const revocation: RevocationFactory = (input): Revocation => ({ id: newId('revocation', now), tenantId: tenant.id, createdAt: now, ...input });

  /** Everything the tests touch, as the store reads it back. */
  async function state(): Promise<string> {
    return JSON.stringify({
      tenant: await store.directory.findTenantBySlug(tenant.slug),
      api: await store.directory.findApiById(api.id),
      key: await store.keys.find(tenant.id, key.id),
      audit: (await store.audit.list(tenant.id, {}, { after: null, limit: 1000 })).items.map((e) => e.id),
      revocations: (await store.tokens.listRevocations(tenant.id, { after: null, limit: 1000 })).items.length,
    });
  }

  beforeAll(async () => {
    backend = await createBackend(backendName);
    store = backend.openStore();
    await store.migrate();
    const other: Tenant = { id: newId('tenant', now), slug: 'life-other', name: 'Other', signingAlg: 'EdDSA', selfSignup: false, hs256MaxLifetime: 86_400, createdAt: now };
    takenId = newId('event', now);
    await store.directory.createTenant(other, { id: takenId, tenantId: other.id, at: now, actor: 'test', action: 'tenant.create', target: null, requestId: null, ip: null, data: {} });
  });

  beforeEach(async () => {
    n += 1;
    tenant = { id: newId('tenant', now), slug: `life-${n}`, name: 'Life', signingAlg: 'EdDSA', selfSignup: false, hs256MaxLifetime: 86_400, createdAt: now };
    await store.directory.createTenant(tenant, event('tenant.create'));
    api = {
      id: newId('api', now), tenantId: tenant.id, identifier: `https://life-${n}.test`, name: 'Life', keyPrefix: 'kg',
      scopes: [{ name: 'read:users', description: 'r' }, { name: 'write:users', description: 'w' }],
      accessTokenTtl: 3600, refreshTokens: { enabled: false, idleTtl: 60, absoluteTtl: 120, reuseInterval: 0 }, createdAt: now,
    };
    await store.directory.createApi(api, event('api.create'));
    key = {
      id: newId('key', now), tenantId: tenant.id, apiId: api.id, parentId: null, start: 'kg_abcd', name: null, consumer: 'cus_1',
      scopes: ['read:users', 'write:users'], meta: {}, expiresAt: null, enabled: true, revokedAt: null, ratelimits: [], credits: null,
      creditsRefilledAt: null, ipAllowlist: null, createdAt: now, updatedAt: now, lastUsedAt: null,
    };
    await store.keys.create(key, hashSecret(`life-${n}`), event('key.create'));
  });

  afterAll(async () => {
    await store.close();
    await backend.destroy();
  });


  it('deletes a tenant all or nothing', async () => {
    const before = await state();
    await expect(store.directory.deleteTenant(tenant, now, event('tenant.delete', takenId))).rejects.toThrow();
    expect(await state()).toBe(before);
    expect(await store.keys.findBySecret(hashSecret(`life-${n}`))).not.toBeNull();
  });

  it('deletes an API all or nothing, and not at all while in use without force', async () => {
    const before = await state();
    expect(await store.directory.deleteApi(api, { force: false, at: now, revocation }, event('api.delete'))).toMatchObject({ deleted: false, inUse: { keys: 1 } });
    expect(await state()).toBe(before);
    await expect(store.directory.deleteApi(api, { force: true, at: now, revocation }, event('api.delete', takenId))).rejects.toThrow();
    expect(await state()).toBe(before);
  });

  it('replaces a catalog all or nothing, and not at all while a dropped scope is held without force', async () => {
    const before = await state();
    const narrowed = { ...api, scopes: [api.scopes[0]!] };
    expect(await store.directory.replaceCatalog(narrowed, ['write:users'], { force: false, at: now, revocation }, event('api.update'))).toMatchObject({ applied: false, keyIds: [key.id] });
    expect(await state()).toBe(before);
    await expect(store.directory.replaceCatalog(narrowed, ['write:users'], { force: true, at: now, revocation }, event('api.update', takenId))).rejects.toThrow();
    expect(await state()).toBe(before);
    expect((await store.keys.find(tenant.id, key.id))!.scopes).toEqual(['read:users', 'write:users']);
  });
});
