import { beforeAll, describe, expect, it } from 'vitest';
import { hashSecret, newId } from '../../src/crypto/secrets.js';
import type { Api } from '../../src/domain/apis.js';
import type { Consumer } from '../../src/domain/consumers.js';
import type { ApiKey } from '../../src/domain/keys/key.js';
import type { Tenant } from '../../src/domain/tenants.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS } from '../helpers/backends.js';
import { NOW as now, contractStore, makeEvent, makeKey, seedTenant, tenantBuilders } from './fixtures.js';

/** The consumers aggregate on every backend: consumers with grant keys in one transaction, revocation over the grant's tree. */
describe.each(BACKENDS)('Store contract: consumers (%s)', (backendName) => {
  const opened = contractStore(backendName);
  let store: Store;
  let tenant: Tenant;
  let api: Api;
  let n = 0;
  const event = (action: string) => makeEvent(tenant.id, action);

  beforeAll(async () => {
    store = opened();
    ({ tenant, api } = await seedTenant(store, 'acme', 'https://api.acme.test'));
  });

  async function user(): Promise<string> {
    const id = newId('user', now + n++);
    await store.people.createUser({ id, tenantId: tenant.id, email: `${id}@acme.test`, name: null, createdAt: now, disabledAt: null }, 'hash', event('user.create'));
    return id;
  }

  function grantKey(consumerId: string): ApiKey {
    return makeKey(api, { id: newId('key', now + n++), consumer: consumerId, grantOf: consumerId, scopes: ['read:users'], ratelimits: [{ name: 'rpm', limit: 5, duration: 60_000 }] });
  }

  async function consumer(members: string[]): Promise<{ consumer: Consumer; grant: ApiKey }> {
    const id = newId('consumer', now + n++);
    const grant = grantKey(id);
    const created: Consumer = { id, tenantId: tenant.id, name: 'Corp', members, grants: [{ apiId: api.id, keyId: grant.id, maxKeys: 2 }], createdAt: now, updatedAt: now };
    await store.consumers.create(created, [{ key: grant, secretHash: hashSecret(`grant-${id}`) }], event('consumer.create'));
    return { consumer: created, grant };
  }

  async function child(parent: ApiKey): Promise<ApiKey> {
    const key = makeKey(api, { id: newId('key', now + n++), parentId: parent.id, consumer: parent.consumer });
    await store.keys.create(key, hashSecret(`child-${key.id}`), event('key.create'));
    return key;
  }

  it('writes a consumer with its members, grants and grant keys, and reads it back', async () => {
    const alice = await user();
    const { consumer: created, grant } = await consumer([alice]);
    expect(await store.consumers.find(tenant.id, created.id)).toEqual(created);
    expect(await store.consumers.find('ten_other', created.id)).toBeNull();
    expect(await store.keys.find(tenant.id, grant.id)).toEqual(grant);
    const ordinary = await child(grant);
    expect(await store.consumers.findGrantKeys(tenant.id, [grant.id, ordinary.id, 'key_nope'])).toEqual([grant]);
    expect(await store.consumers.findGrantKeys('ten_other', [grant.id])).toEqual([]);
    expect((await store.consumers.listOfMember(tenant.id, alice)).map((c) => c.id)).toEqual([created.id]);
    // Grant keys are not in the key list.
    const listed = await store.keys.list(tenant.id, {}, { after: null, limit: 1000 });
    expect(listed.items.map((k) => k.id)).not.toContain(grant.id);
  });

  it('writes nothing when any part fails', async () => {
    const id = newId('consumer', now + n++);
    const { grant: taken } = await consumer([]);
    const duplicate: Consumer = { id, tenantId: tenant.id, name: 'Dup', members: [], grants: [{ apiId: api.id, keyId: taken.id, maxKeys: null }], createdAt: now, updatedAt: now };
    await expect(store.consumers.create(duplicate, [{ key: { ...taken }, secretHash: hashSecret('dup') }], event('consumer.create'))).rejects.toBeDefined();
    expect(await store.consumers.find(tenant.id, id)).toBeNull();
  });

  it('paginates consumers by id', async () => {
    const ids = [(await consumer([])).consumer.id, (await consumer([])).consumer.id, (await consumer([])).consumer.id];
    const all: string[] = [];
    let after: string | null = null;
    do {
      const page = await store.consumers.list(tenant.id, { after, limit: 2 });
      all.push(...page.items.map((c) => c.id));
      after = page.next;
    } while (after !== null);
    expect(all).toEqual([...all].sort());
    expect(all).toEqual(expect.arrayContaining(ids));
  });

  it('lists the keys under the grant keys, not the grant keys', async () => {
    const { consumer: created, grant } = await consumer([]);
    const key = await child(grant);
    const sub = await child(key);
    await child(makeKey(api, { id: newId('key', now + n++) }));
    const page = await store.consumers.listKeysUnder(tenant.id, [grant.id], { after: null, limit: 1 });
    expect(page.items.map((k) => k.id)).toEqual([key.id]);
    const rest = await store.consumers.listKeysUnder(tenant.id, [grant.id], { after: page.next, limit: 10 });
    expect(rest.items.map((k) => k.id)).toEqual([sub.id]);
    expect((await store.consumers.listKeysUnder('ten_other', [grant.id], { after: null, limit: 10 })).items).toEqual([]);
    expect(created.grants[0]!.keyId).toBe(grant.id);
  });

  it('updates members, grants and keys in one go, revoking the trees of removed grants and unmarking their keys', async () => {
    const [alice, bob] = [await user(), await user()];
    const { consumer: created, grant } = await consumer([alice]);
    const key = await child(grant);
    const newGrant = grantKey(created.id);
    const narrowed = { ...key, scopes: [], updatedAt: now + 1 };
    const next: Consumer = { ...created, name: 'Renamed', members: [bob], grants: [{ apiId: api.id, keyId: newGrant.id, maxKeys: null }], updatedAt: now + 1 };
    const revoked = await store.consumers.update(next, { created: [{ key: newGrant, secretHash: hashSecret(`g-${newGrant.id}`) }], changed: [narrowed], removed: [grant.id], grantKeysRead: [grant.id], at: now + 1 }, event('consumer.update'));
    expect(revoked.sort()).toEqual([grant.id, key.id].sort());
    expect(await store.consumers.find(tenant.id, created.id)).toEqual(next);
    expect(await store.keys.find(tenant.id, key.id)).toMatchObject({ scopes: [], revokedAt: now + 1 });
    expect(await store.keys.find(tenant.id, grant.id)).toMatchObject({ grantOf: null, revokedAt: now + 1 });
    expect((await store.consumers.listOfMember(tenant.id, alice)).map((c) => c.id)).not.toContain(created.id);
    // A change computed from the grants as they were before writes nothing.
    const stale = { ...next, name: 'Stale', grants: [{ apiId: api.id, keyId: grant.id, maxKeys: null }] };
    await expect(store.consumers.update(stale, { created: [], changed: [], removed: [], grantKeysRead: [grant.id], at: now + 2 }, event('consumer.update'))).rejects.toMatchObject({ code: 'CONSUMER_CHANGED' });
    expect(await store.consumers.find(tenant.id, created.id)).toEqual(next);
  });

  it('deletes a consumer, revoking its keys; a deleted user leaves every consumer; the tenant takes the rest', async () => {
    const alice = await user();
    const { consumer: created, grant } = await consumer([alice]);
    const key = await child(grant);
    expect((await store.consumers.delete(tenant.id, created.id, now + 2, event('consumer.delete')))!.sort()).toEqual([grant.id, key.id].sort());
    expect(await store.consumers.find(tenant.id, created.id)).toBeNull();
    expect((await store.keys.find(tenant.id, key.id))!.revokedAt).toBe(now + 2);
    expect(await store.consumers.delete(tenant.id, created.id, now, event('consumer.delete'))).toBeNull();

    const kept = await consumer([alice]);
    await store.people.deleteUser(tenant.id, alice, { at: now, revocation: tenantBuilders(() => tenant.id).revocation }, event('user.delete'));
    expect((await store.consumers.find(tenant.id, kept.consumer.id))!.members).toEqual([]);

    await store.directory.deleteTenant(tenant, now, event('tenant.delete'));
    expect(await store.consumers.find(tenant.id, kept.consumer.id)).toBeNull();
  });
});
