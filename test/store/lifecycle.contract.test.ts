import { beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/crypto/secrets.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS } from '../helpers/backends.js';
import { NOW as now, contractStore, makeEvent, makeTenant } from './fixtures.js';

/** The store's own lifecycle on every backend: migrations, ping, the master-key check, pruning. */
describe.each(BACKENDS)('Store contract: lifecycle (%s)', (backendName) => {
  const opened = contractStore(backendName);
  let store: Store;

  beforeAll(() => {
    store = opened();
  });

  it('migrates again without change, answers ping and reports its backend and pool', async () => {
    await store.migrate();
    await store.ping();
    expect(store.backend).toBe(backendName);
    const pool = store.poolUsage();
    if (backendName === 'postgres') expect(pool).toMatchObject({ total: expect.any(Number), idle: expect.any(Number), waiting: 0 });
    else expect(pool).toBeNull();
  });

  it('keeps the first master-key check saved, and tells an empty database', async () => {
    expect(await store.isEmpty()).toBe(true);
    expect(await store.masterKeyCheck()).toBeNull();
    expect(await store.anySealedSigningKey()).toBeNull();
    expect(await store.saveMasterKeyCheck('sealed-first', now)).toBe('sealed-first');
    // Another instance's first start lost the race: the stored check is the one it must use.
    expect(await store.saveMasterKeyCheck('sealed-second', now + 1)).toBe('sealed-first');
    expect(await store.masterKeyCheck()).toBe('sealed-first');
    const tenant = makeTenant('first');
    const signingKey = { kid: 'kid_1', tenantId: tenant.id, alg: 'EdDSA' as const, publicJwk: {}, sealedPrivateKey: 'sealed-key', createdAt: now, activatesAt: now, retiredAt: null, publishUntil: null };
    await store.directory.createTenant(tenant, makeEvent(tenant.id, 'tenant.create'), signingKey);
    expect(await store.isEmpty()).toBe(false);
    expect(await store.anySealedSigningKey()).toEqual({ kid: 'kid_1', sealedPrivateKey: 'sealed-key' });
  });

  it('prunes what has expired and nothing else', async () => {
    const tenant = makeTenant('pruned');
    const event = (action: string) => makeEvent(tenant.id, action);
    await store.directory.createTenant(tenant, event('tenant.create'));
    await store.people.createUser({ id: 'usr_1', tenantId: tenant.id, email: 'a@b.c', name: null, createdAt: now, disabledAt: null }, 'hash', event('user.create'));
    const later = now + 10 * 86_400_000;
    await store.people.createSession('session-old', tenant.id, 'usr_1', now, now + 1000);
    await store.people.createSession('session-live', tenant.id, 'usr_1', now, later + 1000);
    await store.people.createRefreshToken({ hash: 'rt-dead', familyId: 'fam_dead', tenantId: tenant.id, grantId: 'grt_x', clientId: 'cli_1', userId: 'usr_1', apiId: 'api_1', scopes: [], createdAt: now, expiresAt: now + 10, familyExpiresAt: now + 20, rotatedAt: null, revokedAt: null });
    await store.tokens.addRevocation({ id: newId('revocation', now + 1), tenantId: tenant.id, kind: 'jti', subject: 'jti-dead', notBefore: null, expiresAt: now + 1000, createdAt: now }, event('token.revoke'));
    await store.tokens.addRevocation({ id: newId('revocation', now + 5), tenantId: tenant.id, kind: 'client', subject: 'cli_1', notBefore: 1, expiresAt: null, createdAt: now }, event('client.tokens.revoke'));
    expect(await store.pruneExpired(later)).toBe(3);
    expect(await store.people.findSession('session-old')).toBeNull();
    expect(await store.people.findSession('session-live')).not.toBeNull();
    expect(await store.people.findRefreshToken('rt-dead')).toBeNull();
    const feed = await store.tokens.listRevocations(tenant.id, { after: null, limit: 10 });
    expect(feed.items.map((r) => r.kind)).toEqual(['client']);
  });
});
