import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret, newId } from '../../src/crypto/secrets.js';
import type { AuditEvent } from '../../src/domain/audit.js';
import type { Api } from '../../src/domain/apis.js';
import type { Tenant } from '../../src/domain/tenants.js';
import type { RefreshToken } from '../../src/domain/people.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS, createBackend, type Backend } from '../helpers/backends.js';

/** The token and people side of the Store, on every backend: the atomic steps above all. */
describe.each(BACKENDS)('Store contract, tokens and people (%s)', (backendName) => {
  let backend: Backend;
  let store: Store;
  let tenant: Tenant;
  let api: Api;
  const now = Date.UTC(2026, 10, 23, 12);
  const event = (action: string): AuditEvent => ({ id: newId('event', now), tenantId: tenant.id, at: now, actor: 'test', action, target: null, requestId: null, ip: null, data: {} });

  beforeAll(async () => {
    backend = await createBackend(backendName);
    store = backend.openStore();
    await store.migrate();
    tenant = { id: newId('tenant', now), slug: 'acme', name: 'Acme', signingAlg: 'EdDSA', selfSignup: false, hs256MaxLifetime: 86_400, createdAt: now };
    await store.directory.createTenant(tenant, event('tenant.create'));
    api = { id: newId('api', now), tenantId: tenant.id, identifier: 'https://api', name: 'API', keyPrefix: 'kg', scopes: [], accessTokenTtl: 600, refreshTokens: { enabled: true, idleTtl: 60, absoluteTtl: 120, reuseInterval: 0 }, createdAt: now };
    await store.directory.createApi(api, event('api.create'));
    await store.people.createUser({ id: 'usr_1', tenantId: tenant.id, email: 'a@b.c', name: null, createdAt: now, disabledAt: null }, 'hash', event('user.create'));
  });
  afterAll(async () => {
    await store.close();
    await backend.destroy();
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

  it('records a jti revocation once and keeps the feed in id order', async () => {
    const revocation = { id: newId('revocation', now), tenantId: tenant.id, kind: 'jti' as const, subject: 'jti-1', notBefore: null, expiresAt: now + 1000, createdAt: now };
    expect(await store.tokens.addRevocation(revocation, event('token.revoke'))).toBe(true);
    expect(await store.tokens.addRevocation({ ...revocation, id: newId('revocation', now + 1) }, event('token.revoke'))).toBe(false);
    await store.tokens.addRevocation({ id: newId('revocation', now + 2), tenantId: tenant.id, kind: 'grant', subject: 'grt_9', notBefore: 12, expiresAt: null, createdAt: now + 2 }, event('grant.revoke'));
    const feed = await store.tokens.listRevocations(tenant.id, { after: null, limit: 10 });
    expect(feed.items.map((r) => r.subject)).toEqual(['jti-1', 'grt_9']);
  });

  it('prunes what has expired and nothing else', async () => {
    const later = now + 10 * 86_400_000;
    await store.people.createSession('session-old', tenant.id, 'usr_1', now, now + 1000);
    await store.people.createSession('session-live', tenant.id, 'usr_1', now, later + 1000);
    await store.people.createRefreshToken({ hash: 'rt-dead', familyId: 'fam_dead', tenantId: tenant.id, grantId: 'grt_x', clientId: 'cli_1', userId: 'usr_1', apiId: api.id, scopes: [], createdAt: now, expiresAt: now + 10, familyExpiresAt: now + 20, rotatedAt: null, revokedAt: null });
    await store.tokens.addRevocation({ id: newId('revocation', now + 5), tenantId: tenant.id, kind: 'client', subject: 'cli_1', notBefore: 1, expiresAt: null, createdAt: now }, event('client.tokens.revoke'));
    expect(await store.pruneExpired(later)).toBeGreaterThanOrEqual(3);
    expect(await store.people.findSession('session-old')).toBeNull();
    expect(await store.people.findSession('session-live')).not.toBeNull();
    expect(await store.people.findRefreshToken('rt-dead')).toBeNull();
    const feed = await store.tokens.listRevocations(tenant.id, { after: null, limit: 10 });
    expect(feed.items.map((r) => r.kind)).toEqual(['grant', 'client']);
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
});
