import { beforeAll, describe, expect, it } from 'vitest';
import { hashSecret, newId } from '../../src/crypto/secrets.js';
import type { Api } from '../../src/domain/apis.js';
import type { Tenant } from '../../src/domain/tenants.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS } from '../helpers/backends.js';
import { NOW as now, contractStore, makeEvent, makeKey, seedTenant } from './fixtures.js';

/** The keys aggregate on every backend: secrets, trees, credits under concurrency, usage. */
describe.each(BACKENDS)('Store contract: keys (%s)', (backendName) => {
  const opened = contractStore(backendName);
  let store: Store;
  let tenant: Tenant;
  let api: Api;
  const event = (action: string, target: string | null = null) => makeEvent(tenant.id, action, { target });

  beforeAll(async () => {
    store = opened();
    ({ tenant, api } = await seedTenant(store, 'acme', 'https://api.acme.test'));
  });

  it('stores a key with its secret hash and finds it by that hash, with API and tenant', async () => {
    const key = makeKey(api, { ratelimits: [{ name: 'rps', limit: 5, duration: 1000 }], ipAllowlist: ['10.0.0.0/8'], credits: { remaining: 3, refill: { amount: 10, interval: 'daily' } }, creditsRefilledAt: now });
    await store.keys.create(key, hashSecret('secret-1'), event('key.create', key.id));
    const found = await store.keys.findBySecret(hashSecret('secret-1'));
    expect(found).toEqual({ key, api, tenantSlug: 'acme', secretRetiredAt: null });
    expect(await store.keys.findBySecret(hashSecret('secret-2'))).toBeNull();
    expect(await store.keys.find(tenant.id, key.id)).toEqual(key);
    expect(await store.keys.find('ten_other', key.id)).toBeNull();
  });

  it('paginates keys by id with a filter on API and consumer', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const key = makeKey(api, { id: newId('key', now + i + 1), consumer: 'cus_page' });
      ids.push(key.id);
      await store.keys.create(key, hashSecret(`page-${i}`), event('key.create', key.id));
    }
    const first = await store.keys.list(tenant.id, { consumer: 'cus_page' }, { after: null, limit: 2 });
    expect(first.items.map((k) => k.id)).toEqual(ids.slice(0, 2));
    const second = await store.keys.list(tenant.id, { consumer: 'cus_page', apiId: api.id }, { after: first.next, limit: 2 });
    expect(second.items.map((k) => k.id)).toEqual(ids.slice(2, 4));
    const last = await store.keys.list(tenant.id, { consumer: 'cus_page' }, { after: second.next, limit: 2 });
    expect(last.items.map((k) => k.id)).toEqual(ids.slice(4));
    expect(last.next).toBeNull();
  });

  it('revokes and deletes a whole key tree, and nothing outside it', async () => {
    const root = makeKey(api, { id: newId('key', now + 100) });
    const child = makeKey(api, { id: newId('key', now + 101), parentId: root.id });
    const grandchild = makeKey(api, { id: newId('key', now + 102), parentId: child.id });
    const bystander = makeKey(api, { id: newId('key', now + 103) });
    for (const [i, key] of [root, child, grandchild, bystander].entries()) {
      await store.keys.create(key, hashSecret(`tree-${i}`), event('key.create', key.id));
    }
    expect((await store.keys.findTree(tenant.id, root.id)).map((k) => k.id)).toEqual(expect.arrayContaining([root.id, child.id, grandchild.id]));
    expect((await store.keys.findTree(tenant.id, root.id))[0]!.id).toBe(root.id);
    const revoked = await store.keys.revokeTree(tenant.id, child.id, now + 5, event('key.revoke', child.id));
    expect(revoked.sort()).toEqual([child.id, grandchild.id].sort());
    expect((await store.keys.find(tenant.id, grandchild.id))!.revokedAt).toBe(now + 5);
    expect((await store.keys.find(tenant.id, root.id))!.revokedAt).toBeNull();
    expect(await store.keys.revokeTree('ten_other', root.id, now, event('x'))).toEqual([]);

    const deleted = await store.keys.deleteTree(tenant.id, root.id, event('key.delete', root.id));
    expect(deleted.sort()).toEqual([root.id, child.id, grandchild.id].sort());
    expect(await store.keys.findBySecret(hashSecret('tree-2'))).toBeNull();
    expect(await store.keys.find(tenant.id, bystander.id)).not.toBeNull();
  });

  it('rolls a secret: the old one retires at the grace deadline, the new one is current', async () => {
    const key = makeKey(api, { id: newId('key', now + 200) });
    await store.keys.create(key, hashSecret('roll-old'), event('key.create', key.id));
    await store.keys.rollSecret(key.id, hashSecret('roll-new'), 'kg_new1', now + 60_000, event('key.roll', key.id));
    expect((await store.keys.findBySecret(hashSecret('roll-old')))!.secretRetiredAt).toBe(now + 60_000);
    const current = (await store.keys.findBySecret(hashSecret('roll-new')))!;
    expect(current.secretRetiredAt).toBeNull();
    expect(current.key.start).toBe('kg_new1');
    // A second roll with a longer grace does not extend the first secret's life.
    await store.keys.rollSecret(key.id, hashSecret('roll-newer'), 'kg_new2', now + 120_000, event('key.roll', key.id));
    expect((await store.keys.findBySecret(hashSecret('roll-old')))!.secretRetiredAt).toBe(now + 60_000);
    expect((await store.keys.findBySecret(hashSecret('roll-new')))!.secretRetiredAt).toBe(now + 120_000);
  });

  it('spends credits atomically: 40 concurrent spends of 1 from 25 leave exactly 0 and 15 refusals', async () => {
    const key = makeKey(api, { id: newId('key', now + 300), credits: { remaining: 25, refill: null } });
    await store.keys.create(key, hashSecret('credits'), event('key.create', key.id));
    const results = await Promise.all(Array.from({ length: 40 }, () => store.keys.spendCredits(key.id, 1, now, null)));
    expect(results.filter((r) => r === null)).toHaveLength(15);
    expect(results.filter((r) => r !== null).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(await store.keys.readCredits(key.id)).toBe(0);
    expect(await store.keys.spendCredits(key.id, 0, now, null)).toBe(0);
  });

  it('finds a key\'s ancestors, parent first, within its tenant', async () => {
    const root = makeKey(api, { id: newId('key', now + 600) });
    const parent = makeKey(api, { id: newId('key', now + 601), parentId: root.id });
    const child = makeKey(api, { id: newId('key', now + 602), parentId: parent.id });
    for (const [i, key] of [root, parent, child].entries()) await store.keys.create(key, hashSecret(`chain-${i}`), event('key.create', key.id));
    expect((await store.keys.findAncestors(tenant.id, child.id)).map((k) => k.id)).toEqual([parent.id, root.id]);
    expect(await store.keys.findAncestors(tenant.id, root.id)).toEqual([]);
    expect(await store.keys.findAncestors('ten_other', child.id)).toEqual([]);
  });

  it('spends a chain\'s credits all or nothing: 30 concurrent spends from a child of 10 under a parent of 25', async () => {
    const parent = makeKey(api, { id: newId('key', now + 700), credits: { remaining: 25, refill: null } });
    const child = makeKey(api, { id: newId('key', now + 701), parentId: parent.id, credits: { remaining: 10, refill: null } });
    await store.keys.create(parent, hashSecret('spend-parent'), event('key.create', parent.id));
    await store.keys.create(child, hashSecret('spend-child'), event('key.create', child.id));
    const spends = [parent, child].map((k) => ({ keyId: k.id, refillDueBefore: null }));
    const results = await Promise.all(Array.from({ length: 30 }, () => store.keys.spendChainCredits(spends, 1, now)));
    expect(results.filter((r) => r !== null)).toHaveLength(10);
    // The refused spends took nothing from the parent either.
    expect(await store.keys.readCredits(child.id)).toBe(0);
    expect(await store.keys.readCredits(parent.id)).toBe(15);
  });

  it('caps a parent\'s unrevoked children, refusing in parallel and writing nothing', async () => {
    const parent = makeKey(api, { id: newId('key', now + 800) });
    await store.keys.create(parent, hashSecret('cap-parent'), event('key.create', parent.id));
    const attempts = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => {
        const child = makeKey(api, { id: newId('key', now + 810 + i), parentId: parent.id });
        return store.keys.create(child, hashSecret(`cap-child-${i}`), event('key.subkey.create', child.id), { maxChildren: 2 });
      }),
    );
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(2);
    for (const refused of attempts.filter((a) => a.status === 'rejected')) expect((refused as PromiseRejectedResult).reason.code).toBe('SUBKEY_LIMIT_REACHED');
    expect((await store.keys.findTree(tenant.id, parent.id)).length).toBe(3);
  });

  it('refills credits when the period has turned, once', async () => {
    const key = makeKey(api, { id: newId('key', now + 400), credits: { remaining: 1, refill: { amount: 10, interval: 'daily' } }, creditsRefilledAt: now - 86_400_000 });
    await store.keys.create(key, hashSecret('refill'), event('key.create', key.id));
    expect(await store.keys.spendCredits(key.id, 3, now, now - 1000)).toBe(7);
    expect(await store.keys.spendCredits(key.id, 3, now, now - 1000)).toBe(4);
    expect(await store.keys.spendCredits(key.id, 5, now, now - 1000)).toBeNull();
    expect(await store.keys.readCredits(key.id)).toBe(4);
  });

  it('never spends below zero or on a key without credits', async () => {
    const key = makeKey(api, { id: newId('key', now + 500) });
    await store.keys.create(key, hashSecret('no-credits'), event('key.create', key.id));
    expect(await store.keys.spendCredits(key.id, 1, now, null)).toBeNull();
    expect(await store.keys.readCredits(key.id)).toBeNull();
  });

  it('updates keys and records batched usage', async () => {
    const key = makeKey(api, { id: newId('key', now + 600) });
    await store.keys.create(key, hashSecret('update'), event('key.create', key.id));
    const changed = { ...key, scopes: [], enabled: false, meta: { a: 1 }, expiresAt: now + 10, updatedAt: now + 1 };
    await store.keys.update([changed], event('key.update', key.id));
    expect(await store.keys.find(tenant.id, key.id)).toEqual(changed);
    await store.keys.recordUsage([{ keyId: key.id, lastUsedAt: now + 50, count: 3 }]);
    await store.keys.recordUsage([{ keyId: key.id, lastUsedAt: now + 20, count: 1 }]);
    expect((await store.keys.find(tenant.id, key.id))!.lastUsedAt).toBe(now + 50);
  });

  it('records usage of many keys from concurrent writers without deadlock or loss', async () => {
    const keys = [];
    for (let i = 0; i < 40; i++) {
      const key = makeKey(api, { id: newId('key', now + 700 + i) });
      keys.push(key);
      await store.keys.create(key, hashSecret(`usage-${i}`), event('key.create', key.id));
    }
    const forward = keys.map((k, i) => ({ keyId: k.id, lastUsedAt: now + i, count: 1 }));
    // Opposite orders from two writers: the classic deadlock when rows are locked one by one.
    await Promise.all([store.keys.recordUsage(forward), store.keys.recordUsage([...forward].reverse()), store.keys.recordUsage(forward)]);
    for (const [i, key] of keys.entries()) expect((await store.keys.find(tenant.id, key.id))!.lastUsedAt).toBe(now + i);
  });
});
