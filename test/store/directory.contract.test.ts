import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashSecret, newId } from '../../src/crypto/secrets.js';
import type { AuditEvent } from '../../src/domain/audit.js';
import type { Api } from '../../src/domain/apis.js';
import { DEFAULT_GATEWAY_SETTINGS } from '../../src/domain/gateway/settings.js';
import type { Client, Revocation } from '../../src/domain/clients.js';
import type { ApiKey } from '../../src/domain/keys/key.js';
import type { Tenant } from '../../src/domain/tenants.js';
import type { RevocationFactory, Store } from '../../src/store/store.js';
import { BACKENDS } from '../helpers/backends.js';
import { NOW as now, contractStore, makeApi, makeKey, seedTenant, tenantBuilders } from './fixtures.js';

/** The directory aggregate on every backend: tenants, APIs, clients and their secrets. */
describe.each(BACKENDS)('Store contract: directory (%s)', (backendName) => {
  const opened = contractStore(backendName);
  let store: Store;
  let tenant: Tenant;
  let api: Api;
  const { event, revocation } = tenantBuilders(() => tenant.id);
  const client = (id: string, scopes: Client['scopes'] = {}): Client => ({
    id, tenantId: tenant.id, name: 'c', grantTypes: ['client_credentials'], scopes, tokenEndpointAuthMethod: 'client_secret_basic', jwks: null,
    redirectUris: [], canIntrospect: false, createdAt: now, updatedAt: now,
  });

  beforeAll(async () => {
    store = opened();
    ({ tenant, api } = await seedTenant(store, 'acme', 'https://api.acme.test'));
  });

  it('finds tenants and APIs, and reports duplicates with stable codes', async () => {
    expect(await store.directory.findTenantBySlug('acme')).toEqual(tenant);
    expect(await store.directory.findTenantBySlug('nope')).toBeNull();
    await expect(store.directory.createTenant({ ...tenant, id: newId('tenant', now) }, event('dup'))).rejects.toMatchObject({ code: 'TENANT_EXISTS' });
    await expect(store.directory.createApi({ ...api, id: newId('api', now) }, event('dup'))).rejects.toMatchObject({ code: 'API_EXISTS' });
    expect(await store.directory.findApi(tenant.id, api.identifier)).toEqual(api);
    expect(await store.directory.findApiById(api.id)).toEqual(api);
  });

  it('keeps the internal system tenant out of tenant listings', async () => {
    await store.directory.createTenant({ id: newId('tenant', now), slug: '_system', name: 'system', signingAlg: 'EdDSA', selfSignup: false, hs256MaxLifetime: 86_400, createdAt: now }, event('tenant.create'));
    const slugs = (await store.directory.listTenants({ after: null, limit: 100 })).items.map((t) => t.slug);
    expect(slugs).toContain('acme');
    expect(slugs).not.toContain('_system');
    // The gateway's "the only API takes every Host" holds only for one tenant (review 2, #6).
    expect(await store.directory.countTenants()).toBe(slugs.length);
  });

  it('finds tenants by a part of their slug or name, ignoring case, and takes % and _ literally', async () => {
    const make = (slug: string, name: string): Tenant => ({ id: newId('tenant', now), slug, name, signingAlg: 'EdDSA', selfSignup: false, hs256MaxLifetime: 86_400, createdAt: now });
    await store.directory.createTenant(make('search-one', 'Initech Europe'), event('tenant.create'));
    await store.directory.createTenant(make('search-two', '100% Widgets_Co'), event('tenant.create'));
    const found = async (search: string): Promise<string[]> => (await store.directory.listTenants({ after: null, limit: 100 }, { search })).items.map((t) => t.slug).sort();
    expect(await found('INITECH')).toEqual(['search-one']);
    expect(await found('search-')).toEqual(['search-one', 'search-two']);
    expect(await found('0% w')).toEqual(['search-two']);
    expect(await found('%')).toEqual(['search-two']);
    expect(await found('s_arch')).toEqual([]);
    expect(await found('nothing like it')).toEqual([]);
    // A page of one, then the next, under the same search.
    const first = await store.directory.listTenants({ after: null, limit: 1 }, { search: 'search-' });
    expect(first.items).toHaveLength(1);
    const second = await store.directory.listTenants({ after: first.next, limit: 1 }, { search: 'search-' });
    expect(second.items.map((t) => t.slug)).not.toEqual(first.items.map((t) => t.slug));
    expect(second.next).toBeNull();
  });

  it('keeps two client secrets during a rotation, the old one expiring', async () => {
    const client = { id: 'cli_s', tenantId: tenant.id, name: 'c', grantTypes: ['client_credentials' as const], scopes: {}, tokenEndpointAuthMethod: 'client_secret_basic' as const, jwks: null, redirectUris: [], canIntrospect: false, createdAt: now, updatedAt: now };
    await store.directory.createClient(client, hashSecret('old'), event('client.create'));
    await store.directory.addClientSecret('cli_s', hashSecret('new'), now + 500, event('client.secret.rotate'));
    const secrets = await store.directory.clientSecrets('cli_s');
    expect(secrets.find((s) => s.hash === hashSecret('old'))?.expiresAt).toBe(now + 500);
    expect(secrets.find((s) => s.hash === hashSecret('new'))?.expiresAt).toBeNull();
    expect(await store.directory.deleteClient(tenant.id, 'cli_s', event('client.delete'))).toBe(true);
    expect(await store.directory.clientSecrets('cli_s')).toEqual([]);
  });

  it('writes only the tenant fields named, so a concurrent change of another stays', async () => {
    await store.directory.updateTenant({ ...tenant, name: 'Renamed', selfSignup: true }, ['name'], event('tenant.update'));
    expect(await store.directory.findTenantBySlug('acme')).toEqual({ ...tenant, name: 'Renamed' });
    await store.directory.updateTenant({ ...tenant, hs256MaxLifetime: 60 }, ['hs256MaxLifetime'], event('tenant.update'));
    expect(await store.directory.findTenantBySlug('acme')).toEqual({ ...tenant, name: 'Renamed', hs256MaxLifetime: 60 });
    await store.directory.updateTenant({ ...tenant, signingAlg: 'RS256', name: 'Not this' }, ['signingAlg'], event('tenant.update'));
    expect(await store.directory.findTenantBySlug('acme')).toEqual({ ...tenant, name: 'Renamed', hs256MaxLifetime: 60, signingAlg: 'RS256' });
    await store.directory.updateTenant({ ...tenant, signingAlg: tenant.signingAlg }, ['signingAlg'], event('tenant.update'));
  });

  it('pages a tenant\'s APIs, updates one, and reports the longest access-token lifetime', async () => {
    const second = makeApi(tenant, 'https://second.acme.test', { id: newId('api', now + 1), accessTokenTtl: 7200 });
    await store.directory.createApi(second, event('api.create'));
    const first = await store.directory.listApis(tenant.id, { after: null, limit: 1 });
    expect(first.items).toEqual([api]);
    expect(await store.directory.listApis(tenant.id, { after: first.next, limit: 1 })).toEqual({ items: [second], next: null });
    expect(await store.directory.maxAccessTokenTtl(tenant.id)).toBe(7200);
    const found = async (search: string): Promise<string[]> => (await store.directory.listApis(tenant.id, { after: null, limit: 10 }, { search })).items.map((a) => a.identifier);
    expect(await found('SECOND.acme')).toEqual(['https://second.acme.test']);
    expect(await found('acme.test')).toEqual([api.identifier, second.identifier]);
    expect(await found('_')).toEqual([]);
    expect((await store.directory.listApis('ten_other', { after: null, limit: 10 }, { search: 'acme' })).items).toEqual([]);
    expect(await store.directory.maxAccessTokenTtl('ten_other')).toBe(0);
    const renamed = { ...second, name: 'Second', accessTokenTtl: 60, identifier: 'https://not-changed.test' };
    await store.directory.updateApi(renamed, event('api.update'));
    expect(await store.directory.findApiById(second.id)).toEqual({ ...renamed, identifier: second.identifier });
  });

  it('finds, pages and updates clients within their tenant', async () => {
    await store.directory.createClient(client('cli_a'), null, event('client.create'));
    await store.directory.createClient(client('cli_b'), null, event('client.create'));
    expect(await store.directory.findClient(tenant.id, 'cli_a')).toEqual(client('cli_a'));
    expect(await store.directory.findClient('ten_other', 'cli_a')).toBeNull();
    expect(await store.directory.clientSecrets('cli_a')).toEqual([]);
    const first = await store.directory.listClients(tenant.id, { after: null, limit: 1 });
    expect(first.items.map((c) => c.id)).toEqual(['cli_a']);
    expect((await store.directory.listClients(tenant.id, { after: first.next, limit: 1 })).items.map((c) => c.id)).toEqual(['cli_b']);
    const changed = { ...client('cli_b'), name: 'B', canIntrospect: true, updatedAt: now + 1 };
    await store.directory.updateClient(changed, event('client.update'));
    expect(await store.directory.findClient(tenant.id, 'cli_b')).toEqual(changed);
    expect(await store.directory.deleteClient('ten_other', 'cli_b', event('client.delete'))).toBe(false);
  });

  it('deletes an API in use with force: its keys go, its live JWT API keys and the API are revoked, clients lose it', async () => {
    const doomed = makeApi(tenant, 'https://doomed.acme.test', { id: newId('api', now + 2) });
    await store.directory.createApi(doomed, event('api.create'));
    const key = makeKey(doomed, { id: newId('key', now + 2) });
    await store.keys.create(key, hashSecret('doomed'), event('key.create'));
    await store.tokens.createIssuedToken({ jti: 'jti-doomed', tenantId: tenant.id, apiId: doomed.id, consumer: 'cus_1', scopes: [], claimsFormat: 'scope', kid: 'kid_1', issuedAt: now, expiresAt: null, revokedAt: null }, event('token.create'));
    await store.directory.createClient(client('cli_doomed', { [doomed.identifier]: ['read:users'], other: ['x'] }), null, event('client.create'));
    const result = await store.directory.deleteApi(doomed, { force: true, at: now + 3, revocation }, event('api.delete'));
    expect(result).toMatchObject({ deleted: true, keyIds: [key.id], clientIds: ['cli_doomed'] });
    expect(result.deleted && result.revocations.map((r) => [r.kind, r.subject])).toEqual([['jti', 'jti-doomed'], ['api', doomed.identifier]]);
    expect(await store.directory.findApiById(doomed.id)).toBeNull();
    expect(await store.keys.findBySecret(hashSecret('doomed'))).toBeNull();
    expect(await store.tokens.findIssuedToken(tenant.id, 'jti-doomed')).toBeNull();
    expect((await store.directory.findClient(tenant.id, 'cli_doomed'))!.scopes).toEqual({ other: ['x'] });
  });

});

/**
 * The admin lifecycle's writes (delete a tenant, delete an API, replace a catalog) are each one
 * transaction on every backend: when the last statement (the audit event) fails, every row
 * the earlier statements deleted or narrowed is back; refused without force, nothing is written.
 */
describe.each(BACKENDS)('Store contract: directory, changes across aggregates (%s)', (backendName) => {
  const opened = contractStore(backendName);
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
    store = opened();
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
      accessTokenTtl: 3600, refreshTokens: { enabled: false, idleTtl: 60, absoluteTtl: 120, reuseInterval: 0 }, gateway: DEFAULT_GATEWAY_SETTINGS, createdAt: now,
    };
    await store.directory.createApi(api, event('api.create'));
    key = {
      id: newId('key', now), tenantId: tenant.id, apiId: api.id, parentId: null, start: 'kg_abcd', name: null, consumer: 'cus_1', grantOf: null,
      scopes: ['read:users', 'write:users'], meta: {}, expiresAt: null, enabled: true, revokedAt: null, ratelimits: [], credits: null,
      creditsRefilledAt: null, ipAllowlist: null, createdAt: now, updatedAt: now, lastUsedAt: null,
    };
    await store.keys.create(key, hashSecret(`life-${n}`), event('key.create'));
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
