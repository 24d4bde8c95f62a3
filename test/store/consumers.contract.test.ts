import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret, newId } from '../../src/crypto/secrets.js';
import type { Api } from '../../src/domain/apis.js';
import type { Consumer } from '../../src/domain/consumers.js';
import type { ApiKey } from '../../src/domain/keys/key.js';
import type { Tenant } from '../../src/domain/tenants.js';
import type { Store } from '../../src/store/store.js';
import { migrationProvider } from '../../src/store/migrations.js';
import { BACKENDS, createBackend, type Backend } from '../helpers/backends.js';
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

  it('refuses a second consumer of the same id in the tenant with CONSUMER_EXISTS, writing nothing', async () => {
    const { consumer: first } = await consumer([]);
    const grant = grantKey(first.id);
    const again: Consumer = { ...first, name: 'Again', grants: [{ apiId: api.id, keyId: grant.id, maxKeys: null }] };
    await expect(store.consumers.create(again, [{ key: grant, secretHash: hashSecret(`again-${grant.id}`) }], event('consumer.create'))).rejects.toMatchObject({ code: 'CONSUMER_EXISTS' });
    expect(await store.consumers.find(tenant.id, first.id)).toEqual(first);
    expect(await store.keys.find(tenant.id, grant.id)).toBeNull();
  });

  it('keeps the same chosen id apart in two tenants: each reads, changes and deletes only its own', async () => {
    const { tenant: other, api: otherApi } = await seedTenant(store, `globex-${n++}`, 'https://api.globex.test');
    const alice = await user();
    const mine = grantKey('initech');
    const theirs = makeKey(otherApi, { id: newId('key', now + n++), consumer: 'initech', grantOf: 'initech' });
    const ours: Consumer = { id: 'initech', tenantId: tenant.id, name: 'Ours', members: [alice], grants: [{ apiId: api.id, keyId: mine.id, maxKeys: 1 }], createdAt: now, updatedAt: now };
    const their: Consumer = { id: 'initech', tenantId: other.id, name: 'Theirs', members: [], grants: [{ apiId: otherApi.id, keyId: theirs.id, maxKeys: null }], createdAt: now, updatedAt: now };
    await store.consumers.create(ours, [{ key: mine, secretHash: hashSecret('ours') }], event('consumer.create'));
    await store.consumers.create(their, [{ key: theirs, secretHash: hashSecret('theirs') }], makeEvent(other.id, 'consumer.create'));
    expect(await store.consumers.find(tenant.id, 'initech')).toEqual(ours);
    expect(await store.consumers.find(other.id, 'initech')).toEqual(their);
    expect((await store.consumers.list(other.id, { after: null, limit: 100 })).items).toEqual([their]);
    expect(await store.consumers.listOfMember(other.id, alice)).toEqual([]);

    const renamed: Consumer = { ...ours, name: 'Ours, renamed', members: [], updatedAt: now + 1 };
    await store.consumers.update(renamed, { created: [], changed: [], removed: [], grantKeysRead: [mine.id], at: now + 1 }, event('consumer.update'));
    expect(await store.consumers.find(tenant.id, 'initech')).toEqual(renamed);
    expect(await store.consumers.find(other.id, 'initech')).toEqual(their);
    // A change computed from the other tenant's grants is refused, not mixed with them.
    await expect(store.consumers.update({ ...their, tenantId: tenant.id }, { created: [], changed: [], removed: [], grantKeysRead: [theirs.id], at: now + 2 }, event('consumer.update'))).rejects.toMatchObject({ code: 'CONSUMER_CHANGED' });

    expect(await store.consumers.delete(tenant.id, 'initech', now + 3, event('consumer.delete'))).toEqual([mine.id]);
    expect(await store.consumers.find(tenant.id, 'initech')).toBeNull();
    expect(await store.consumers.find(other.id, 'initech')).toEqual(their);
    expect(await store.keys.find(other.id, theirs.id)).toMatchObject({ grantOf: 'initech', revokedAt: null });
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

/**
 * Migration 0016 on a database that already holds consumers: the store is migrated to
 * 0015_consumers only, given consumers through the store as it was, then migrated to the latest.
 */
describe.each(BACKENDS)('Store migration: consumer ids per tenant (%s)', (backendName) => {
  let backend: Backend;
  let store: Store;

  beforeAll(async () => {
    backend = await createBackend(backendName);
    const db = ownConnection(backend);
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateTo('0015_consumers');
    await db.destroy();
    if (error) throw error;
    store = backend.openStore();
  });
  afterAll(async () => {
    await store?.close();
    await backend?.destroy();
  });

  it('keeps every consumer with its members, grants and keys, and then tells tenants apart', async () => {
    const { tenant, api } = await seedTenant(store, 'acme', 'https://api.acme.test');
    const { tenant: other, api: otherApi } = await seedTenant(store, 'globex', 'https://api.globex.test');
    const consumers: Consumer[] = [];
    for (const [i, owner, ownerApi] of [[0, tenant, api], [1, tenant, api], [2, other, otherApi]] as const) {
      const id = newId('consumer', now + i);
      const grant = makeKey(ownerApi, { id: newId('key', now + i), consumer: id, grantOf: id });
      const created: Consumer = { id, tenantId: owner.id, name: `Corp ${i}`, members: [`usr_member${i}`], grants: [{ apiId: ownerApi.id, keyId: grant.id, maxKeys: i }], createdAt: now, updatedAt: now };
      await store.consumers.create(created, [{ key: grant, secretHash: hashSecret(`grant-${i}`) }], makeEvent(owner.id, 'consumer.create'));
      consumers.push(created);
    }
    const child = makeKey(api, { id: newId('key', now + 9), parentId: consumers[0]!.grants[0]!.keyId, consumer: consumers[0]!.id });
    await store.keys.create(child, hashSecret('child'), makeEvent(tenant.id, 'key.create'));

    await store.migrate();

    for (const c of consumers) expect(await store.consumers.find(c.tenantId, c.id)).toEqual(c);
    expect((await store.consumers.list(tenant.id, { after: null, limit: 10 })).items).toEqual([consumers[0], consumers[1]].sort((a, b) => a!.id.localeCompare(b!.id)));
    expect((await store.consumers.listOfMember(tenant.id, 'usr_member1')).map((c) => c.id)).toEqual([consumers[1]!.id]);
    expect((await store.consumers.listKeysUnder(tenant.id, [consumers[0]!.grants[0]!.keyId], { after: null, limit: 10 })).items.map((k) => k.id)).toEqual([child.id]);

    // The id of one tenant's consumer is free in another, and taken in its own.
    const reused: Consumer = { ...consumers[0]!, tenantId: other.id, members: [], grants: [] };
    await store.consumers.create(reused, [], makeEvent(other.id, 'consumer.create'));
    expect(await store.consumers.find(other.id, reused.id)).toEqual(reused);
    await expect(store.consumers.create({ ...consumers[1]!, grants: [] }, [], makeEvent(tenant.id, 'consumer.create'))).rejects.toMatchObject({ code: 'CONSUMER_EXISTS' });

    expect(await store.consumers.delete(tenant.id, consumers[0]!.id, now + 1, makeEvent(tenant.id, 'consumer.delete'))).toEqual(expect.arrayContaining([consumers[0]!.grants[0]!.keyId, child.id]));
    expect(await store.consumers.find(other.id, reused.id)).toEqual(reused);
    await store.directory.deleteTenant(tenant, now + 2, makeEvent(tenant.id, 'tenant.delete'));
    expect(await store.consumers.find(tenant.id, consumers[1]!.id)).toBeNull();
    expect(await store.consumers.find(other.id, consumers[2]!.id)).toEqual(consumers[2]);

    // The foreign keys are the composite ones: a member must name a consumer of its own tenant,
    // and members and grants leave with their consumer.
    const db = ownConnection(backend);
    try {
      await expect(db.insertInto('consumer_members').values({ tenant_id: other.id, consumer_id: consumers[1]!.id, user_id: 'usr_x' }).execute()).rejects.toBeDefined();
      await db.deleteFrom('consumers').where('tenant_id', '=', other.id).where('id', '=', consumers[2]!.id).execute();
      expect(await db.selectFrom('consumer_members').selectAll().where('consumer_id', '=', consumers[2]!.id).execute()).toEqual([]);
      expect(await db.selectFrom('consumer_grants').selectAll().where('consumer_id', '=', consumers[2]!.id).execute()).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});

/** A connection of the test's own to the backend's database, foreign keys on as the store has them. */
function ownConnection(backend: Backend): Kysely<any> {
  if (backend.name === 'sqlite') {
    const database = new SQLite(join(backend.config.dataDir, 'keygate.db'));
    database.pragma('journal_mode = WAL');
    database.pragma('foreign_keys = ON');
    return new Kysely({ dialect: new SqliteDialect({ database }) });
  }
  return new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: backend.config.databaseUrl }) }) });
}
