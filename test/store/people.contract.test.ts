import { beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/crypto/secrets.js';
import type { Api } from '../../src/domain/apis.js';
import type { Interaction, RefreshToken } from '../../src/domain/people.js';
import type { Tenant } from '../../src/domain/tenants.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS } from '../helpers/backends.js';
import { NOW as now, contractStore, tenantBuilders, seedTenant } from './fixtures.js';

/** The people aggregate on every backend: the atomic steps above all (one code use, one rotation, one reset). */
describe.each(BACKENDS)('Store contract: people (%s)', (backendName) => {
  const opened = contractStore(backendName);
  let store: Store;
  let tenant: Tenant;
  let api: Api;
  const { event, revocation } = tenantBuilders(() => tenant.id);

  beforeAll(async () => {
    store = opened();
    ({ tenant, api } = await seedTenant(store, 'acme', 'https://api', { accessTokenTtl: 600, refreshTokens: { enabled: true, idleTtl: 60, absoluteTtl: 120, reuseInterval: 0 } }));
    await store.people.createUser({ id: 'usr_1', tenantId: tenant.id, email: 'a@b.c', name: null, createdAt: now, disabledAt: null }, 'hash', event('user.create'));
  });

  it('finds users by email and refuses a duplicate email with USER_EXISTS', async () => {
    expect((await store.people.findUserByEmail(tenant.id, 'a@b.c'))?.user.id).toBe('usr_1');
    await expect(store.people.createUser({ id: 'usr_2', tenantId: tenant.id, email: 'a@b.c', name: null, createdAt: now, disabledAt: null }, 'h', event('x'))).rejects.toMatchObject({ code: 'USER_EXISTS' });
  });

  it('lets exactly one of several concurrent consumers use a code first', async () => {
    await store.people.createCode({ hash: 'code-1', tenantId: tenant.id, grantId: 'grt_1', clientId: 'cli_1', userId: 'usr_1', apiId: api.id, redirectUri: 'https://x', codeChallenge: null, scopes: ['a'], expiresAt: now + 60_000, usedAt: null });
    const results = await Promise.all(Array.from({ length: 6 }, () => store.people.consumeCode('code-1', now)));
    expect(results.filter((r) => r?.first)).toHaveLength(1);
    expect(results.every((r) => r?.code.scopes[0] === 'a')).toBe(true);
    expect(await store.people.consumeCode('unknown', now)).toBeNull();
  });

  it('lets exactly one of several concurrent refreshes rotate a token', async () => {
    const token: RefreshToken = { hash: 'rt-1', familyId: 'fam_1', tenantId: tenant.id, grantId: 'grt_9', clientId: 'cli_1', userId: 'usr_1', apiId: api.id, scopes: ['a'], createdAt: now, expiresAt: now + 60_000, familyExpiresAt: now + 120_000, rotatedAt: null, revokedAt: null };
    await store.people.createRefreshToken(token);
    await store.people.createRefreshToken({ ...token, hash: 'rt-2' });
    const results = await Promise.all(Array.from({ length: 6 }, () => store.people.rotateRefreshToken('rt-1', now)));
    expect(results.filter((r) => r?.won)).toHaveLength(1);
    expect((await store.people.rotateRefreshToken('rt-1', now + 1))?.won).toBe(false);
    expect((await store.people.rotateRefreshToken('rt-2', now + 1))?.won).toBe(true);
  });

  it("gives the rotation's winner its grant while live and whether the grant's person is enabled, read by the same statement", async () => {
    const person = (id: string) => ({ id, tenantId: tenant.id, email: `${id}@b.c`, name: null, createdAt: now, disabledAt: null });
    const grant = (id: string, userId: string) => ({ id, tenantId: tenant.id, userId, clientId: 'cli_1', apiId: api.id, scopes: ['a', 'b'], createdAt: now, lastUsedAt: null, revokedAt: null });
    const token = (hash: string, grantId: string, userId: string): RefreshToken => ({ hash, familyId: `fam_${hash}`, tenantId: tenant.id, grantId, clientId: 'cli_1', userId, apiId: api.id, scopes: ['a'], createdAt: now, expiresAt: now + 60_000, familyExpiresAt: now + 120_000, rotatedAt: null, revokedAt: null });
    await store.people.createUser(person('usr_rot'), 'hash', event('user.create'));
    await store.people.createUser(person('usr_rot_off'), 'hash', event('user.create'));
    await store.people.saveGrant(grant('grt_rot', 'usr_rot'), event('grant.create'));
    await store.people.saveGrant(grant('grt_rot_gone', 'usr_rot'), event('grant.create'));
    await store.people.saveGrant(grant('grt_rot_off', 'usr_rot_off'), event('grant.create'));
    await store.people.touchGrant('grt_rot', now + 7);
    expect(await store.people.revokeGrant(tenant.id, 'grt_rot_gone', now, event('grant.revoke'))).toBe(true);
    await store.people.updateUser({ ...person('usr_rot_off'), disabledAt: now }, { fields: ['disabledAt'], endAccess: null, at: now }, event('user.update'));
    for (const [hash, grantId, userId] of [['rt-live', 'grt_rot', 'usr_rot'], ['rt-gone', 'grt_rot_gone', 'usr_rot'], ['rt-off', 'grt_rot_off', 'usr_rot_off'], ['rt-none', 'grt_none', 'usr_rot']] as const) {
      await store.people.createRefreshToken(token(hash, grantId, userId));
    }

    expect(await store.people.rotateRefreshToken('rt-live', now + 10)).toEqual({
      token: { ...token('rt-live', 'grt_rot', 'usr_rot'), rotatedAt: now + 10 },
      won: true,
      grant: { id: 'grt_rot', userId: 'usr_rot', scopes: ['a', 'b'], lastUsedAt: now + 7 },
      personEnabled: true,
    });
    // The loser learns the token only: it never uses a grant.
    expect(await store.people.rotateRefreshToken('rt-live', now + 11)).toEqual({ token: { ...token('rt-live', 'grt_rot', 'usr_rot'), rotatedAt: now + 10 }, won: false });
    expect(await store.people.rotateRefreshToken('rt-gone', now + 10)).toMatchObject({ won: true, grant: null, personEnabled: false });
    expect(await store.people.rotateRefreshToken('rt-off', now + 10)).toMatchObject({ won: true, grant: { id: 'grt_rot_off' }, personEnabled: false });
    expect(await store.people.rotateRefreshToken('rt-none', now + 10)).toMatchObject({ won: true, grant: null, personEnabled: false });
  });

  it('stores the next refresh token only while its grant is live and its person enabled, touching the grant in the same step when asked', async () => {
    const token = (hash: string, grantId: string, userId: string): RefreshToken => ({ hash, familyId: 'fam_next', tenantId: tenant.id, grantId, clientId: 'cli_1', userId, apiId: api.id, scopes: ['a'], createdAt: now, expiresAt: now + 60_000, familyExpiresAt: now + 120_000, rotatedAt: null, revokedAt: null });
    expect(await store.people.createRefreshTokenOfLiveGrant(token('rt-next', 'grt_rot', 'usr_rot'))).toBe(true);
    expect(await store.people.findRefreshToken('rt-next')).toEqual(token('rt-next', 'grt_rot', 'usr_rot'));
    expect((await store.people.findGrantById(tenant.id, 'grt_rot'))?.lastUsedAt).toBe(now + 7);
    expect(await store.people.createRefreshTokenOfLiveGrant(token('rt-next-2', 'grt_rot', 'usr_rot'), { touchGrantAt: now + 20 })).toBe(true);
    expect((await store.people.findGrantById(tenant.id, 'grt_rot'))?.lastUsedAt).toBe(now + 20);
    // A revoked grant, a disabled person, an unknown grant, another tenant: nothing is written, nothing touched.
    for (const [hash, grantId, userId] of [['rt-next-gone', 'grt_rot_gone', 'usr_rot'], ['rt-next-off', 'grt_rot_off', 'usr_rot_off'], ['rt-next-none', 'grt_none', 'usr_rot']] as const) {
      expect(await store.people.createRefreshTokenOfLiveGrant(token(hash, grantId, userId), { touchGrantAt: now + 30 })).toBe(false);
      expect(await store.people.findRefreshToken(hash)).toBeNull();
    }
    expect(await store.people.createRefreshTokenOfLiveGrant({ ...token('rt-next-other', 'grt_rot', 'usr_rot'), tenantId: 'ten_other' })).toBe(false);
    expect(await store.people.findRefreshToken('rt-next-other')).toBeNull();
    expect((await store.people.findGrantById(tenant.id, 'grt_rot_off'))?.lastUsedAt).toBeNull();
  });

  it('saves, lists, extends and revokes grants, revoking their refresh tokens', async () => {
    const grant = { id: 'grt_9', tenantId: tenant.id, userId: 'usr_1', clientId: 'cli_1', apiId: api.id, scopes: ['a'], createdAt: now, lastUsedAt: null, revokedAt: null };
    await store.people.saveGrant(grant, event('grant.create'));
    await store.people.saveGrant({ ...grant, scopes: ['a', 'b'] }, event('grant.extend'));
    expect((await store.people.findGrant(tenant.id, 'usr_1', 'cli_1', api.id))?.scopes).toEqual(['a', 'b']);
    await store.people.touchGrant('grt_9', now + 5);
    expect((await store.people.listGrants(tenant.id, 'usr_1', { after: null, limit: 10 })).items.map((g) => [g.id, g.lastUsedAt])).toEqual([['grt_9', now + 5]]);
    await store.people.createRefreshToken({ hash: 'rt-3', familyId: 'fam_2', tenantId: tenant.id, grantId: 'grt_9', clientId: 'cli_1', userId: 'usr_1', apiId: api.id, scopes: ['a'], createdAt: now, expiresAt: now + 60_000, familyExpiresAt: now + 120_000, rotatedAt: null, revokedAt: null });
    expect(await store.people.revokeGrant(tenant.id, 'grt_9', now + 10, event('grant.revoke'))).toBe(true);
    expect(await store.people.revokeGrant(tenant.id, 'grt_9', now + 11, event('grant.revoke'))).toBe(false);
    expect((await store.people.findRefreshToken('rt-3'))?.revokedAt).toBe(now + 10);
    expect(await store.people.findGrant(tenant.id, 'usr_1', 'cli_1', api.id)).toBeNull();
  });

  it("uses a password reset once, with the user's other resets, and not after it expires", async () => {
    await store.people.createPasswordReset('reset-1', tenant.id, 'usr_1', now + 1000);
    await store.people.createPasswordReset('reset-1b', tenant.id, 'usr_1', now + 1000);
    await store.people.createPasswordReset('reset-2', tenant.id, 'usr_2', now + 1000);
    const complete = (hash: string, at: number) => store.people.completePasswordReset({ hash, tenantId: tenant.id, passwordHash: 'scrypt$new', at }, () => event('user.password.reset'));
    expect(await store.people.findPasswordReset('reset-1', 'ten_other', now)).toBeNull();
    expect(await complete('reset-1', now)).toEqual({ userId: 'usr_1' });
    expect(await store.people.findPasswordReset('reset-1', tenant.id, now)).toBeNull();
    expect(await complete('reset-1', now)).toBeNull();
    // The same person's other link is used up with it; another person's is not.
    expect(await store.people.findPasswordReset('reset-1b', tenant.id, now)).toBeNull();
    expect(await store.people.findPasswordReset('reset-2', tenant.id, now)).toEqual({ userId: 'usr_2' });
    expect(await complete('reset-2', now + 2000)).toBeNull();
  });

  it('completes a reset in one step: new password, every session of the user gone, every refresh token of theirs revoked, nobody else touched', async () => {
    await store.people.createUser({ id: 'usr_reset', tenantId: tenant.id, email: 'reset@b.c', name: null, createdAt: now, disabledAt: null }, 'old-hash', event('user.create'));
    await store.people.createUser({ id: 'usr_other', tenantId: tenant.id, email: 'other@b.c', name: null, createdAt: now, disabledAt: null }, 'other-hash', event('user.create'));
    const refresh = (hash: string, userId: string, grantId: string): RefreshToken => ({ hash, familyId: `fam_${hash}`, tenantId: tenant.id, grantId, clientId: 'cli_1', userId, apiId: api.id, scopes: ['a'], createdAt: now, expiresAt: now + 60_000, familyExpiresAt: now + 120_000, rotatedAt: null, revokedAt: null });
    for (const [hash, userId, grantId] of [['rt-r1', 'usr_reset', 'grt_r1'], ['rt-r2', 'usr_reset', 'grt_r2'], ['rt-o1', 'usr_other', 'grt_o1']] as const) await store.people.createRefreshToken(refresh(hash, userId, grantId));
    await store.people.createSession('session-r', tenant.id, 'usr_reset', now, now + 60_000);
    await store.people.createSession('session-o', tenant.id, 'usr_other', now, now + 60_000);
    await store.people.createPasswordReset('reset-r', tenant.id, 'usr_reset', now + 1000);
    // A token that is not live changes nothing.
    expect(await store.people.completePasswordReset({ hash: 'reset-unknown', tenantId: tenant.id, passwordHash: 'new-hash', at: now }, () => event('user.password.reset'))).toBeNull();
    expect(await store.people.findSession('session-r')).not.toBeNull();
    expect((await store.people.findUserByEmail(tenant.id, 'reset@b.c'))?.passwordHash).toBe('old-hash');

    expect(await store.people.completePasswordReset({ hash: 'reset-r', tenantId: tenant.id, passwordHash: 'new-hash', at: now + 5 }, () => event('user.password.reset'))).toEqual({ userId: 'usr_reset' });
    expect((await store.people.findUserByEmail(tenant.id, 'reset@b.c'))?.passwordHash).toBe('new-hash');
    expect(await store.people.findSession('session-r')).toBeNull();
    expect((await store.people.findRefreshToken('rt-r1'))?.revokedAt).toBe(now + 5);
    expect((await store.people.findRefreshToken('rt-r2'))?.revokedAt).toBe(now + 5);
    expect(await store.people.findSession('session-o')).not.toBeNull();
    expect((await store.people.findRefreshToken('rt-o1'))?.revokedAt).toBeNull();
    expect((await store.people.findUserByEmail(tenant.id, 'other@b.c'))?.passwordHash).toBe('other-hash');
  });

  it('keeps a bounded number of pending authorizations per source and per client, dropping the oldest', async () => {
    const interaction = (i: number, source: string, clientId: string): Interaction => ({
      id: newId('interaction', now + i), tenantId: tenant.id, clientId, apiId: api.id, redirectUri: 'https://x', state: null,
      codeChallenge: null, scopes: ['a'], source, createdAt: now + i, expiresAt: now + 60_000,
    });
    const made = [interaction(1, '192.0.2.1', 'cli_a'), interaction(2, '192.0.2.1', 'cli_b'), interaction(3, '192.0.2.1', 'cli_a'), interaction(4, '192.0.2.2', 'cli_a')];
    for (const i of made) await store.people.createInteraction(i, { perSource: 2, perClient: 2 });
    const kept = [];
    for (const i of made) if (await store.people.findInteraction(tenant.id, i.id)) kept.push(i.id);
    // 192.0.2.1 keeps its newest two; cli_a then holds two, within its bound too.
    expect(kept).toEqual([made[1]!.id, made[2]!.id, made[3]!.id]);
    await store.people.createInteraction(interaction(5, '192.0.2.3', 'cli_a'), { perSource: 2, perClient: 2 });
    expect(await store.people.findInteraction(tenant.id, made[2]!.id)).toBeNull();
    expect(await store.people.findInteraction('ten_other', made[3]!.id)).toBeNull();
    await store.people.deleteInteraction(made[3]!.id);
    expect(await store.people.findInteraction(tenant.id, made[3]!.id)).toBeNull();
  });

  it('disables a user ending their access in the same step, and deletes a user with their grants', async () => {
    const user = { id: 'usr_gone', tenantId: tenant.id, email: 'gone@b.c', name: null, createdAt: now, disabledAt: null };
    await store.people.createUser(user, 'hash', event('user.create'));
    await store.people.createSession('session-gone', tenant.id, user.id, now, now + 60_000);
    const grant = { id: 'grt_gone', tenantId: tenant.id, userId: user.id, clientId: 'cli_1', apiId: api.id, scopes: ['a'], createdAt: now, lastUsedAt: null, revokedAt: null };
    await store.people.saveGrant(grant, event('grant.create'));
    const renamed = await store.people.updateUser({ ...user, name: 'Gone' }, { fields: ['name'], endAccess: null, at: now + 1 }, event('user.update'));
    expect(renamed).toEqual([]);
    expect(await store.people.findSession('session-gone')).not.toBeNull();
    const cutOffs = await store.people.updateUser({ ...user, disabledAt: now + 2 }, { fields: ['disabledAt'], endAccess: revocation, at: now + 2 }, event('user.update'));
    expect(cutOffs.map((r) => [r.kind, r.subject])).toEqual([['grant', 'grt_gone']]);
    expect(await store.people.findSession('session-gone')).toBeNull();
    // Only the fields named were written: the rename stays.
    expect(await store.people.findUser(tenant.id, user.id)).toMatchObject({ name: 'Gone', disabledAt: now + 2 });
    await expect(store.people.updateUser({ ...user, email: 'a@b.c' }, { fields: ['email'], endAccess: null, at: now + 3 }, event('user.update'))).rejects.toMatchObject({ code: 'USER_EXISTS' });
    // A cut-off leaves the grant live: deleting the user cuts it off again, then deletes it.
    expect((await store.people.deleteUser(tenant.id, user.id, { at: now + 4, revocation }, event('user.delete')))!.map((r) => r.subject)).toEqual(['grt_gone']);
    expect(await store.people.findUser(tenant.id, user.id)).toBeNull();
    expect(await store.people.findGrantById(tenant.id, grant.id)).toBeNull();
    expect(await store.people.deleteUser(tenant.id, user.id, { at: now + 5, revocation }, event('user.delete'))).toBeNull();
  });
});
