import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../../src/domain/apis.js';
import type { RefreshToken } from '../../src/domain/people.js';
import type { Tenant } from '../../src/domain/tenants.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS, createBackend, type Backend } from '../helpers/backends.js';
import { NOW as now, seedTenant, tenantBuilders } from './fixtures.js';

/**
 * A refresh rotates its token in one statement and stores the next one in another
 * (`createRefreshTokenOfLiveGrant`). Whatever ends a person's refresh tokens (disable, password
 * reset, grant revoke) and commits between the two, or while the second runs, must leave no
 * token that works then or later.
 */
describe.each(BACKENDS)('Store contract: a refresh racing what ends its tokens (%s)', (backendName) => {
  let backend: Backend;
  let store: Store;
  let tenant: Tenant;
  let api: Api;
  const { event, revocation } = tenantBuilders(() => tenant.id);
  let serial = 0;

  beforeAll(async () => {
    backend = await createBackend(backendName);
    store = backend.openStore();
    await store.migrate();
    ({ tenant, api } = await seedTenant(store, 'acme', 'https://api', { accessTokenTtl: 600, refreshTokens: { enabled: true, idleTtl: 60, absoluteTtl: 120, reuseInterval: 0 } }));
  });
  afterAll(async () => {
    await store?.close();
    await backend?.destroy();
  });

  const token = (hash: string, userId: string, grantId: string): RefreshToken => ({ hash, familyId: `fam_${userId}`, tenantId: tenant.id, grantId, clientId: 'cli_1', userId, apiId: api.id, scopes: ['a'], createdAt: now, expiresAt: now + 60_000, familyExpiresAt: now + 120_000, rotatedAt: null, revokedAt: null });
  const person = (id: string, disabledAt: number | null = null) => ({ id, tenantId: tenant.id, email: `${id}@b.c`, name: null, createdAt: now, disabledAt });

  /** A person with a grant and a refresh token, rotated as a refresh does first: returns their ids. */
  async function rotated(): Promise<{ userId: string; grantId: string; old: string; next: RefreshToken }> {
    serial += 1;
    const userId = `usr_race_${serial}`;
    const grantId = `grt_race_${serial}`;
    await store.people.createUser(person(userId), 'old-hash', event('user.create'));
    await store.people.saveGrant({ id: grantId, tenantId: tenant.id, userId, clientId: 'cli_1', apiId: api.id, scopes: ['a'], createdAt: now, lastUsedAt: null, revokedAt: null }, event('grant.create'));
    const old = `rt-old-${serial}`;
    await store.people.createRefreshToken(token(old, userId, grantId));
    expect(await store.people.rotateRefreshToken(old, now + 1)).toMatchObject({ won: true, personEnabled: true });
    return { userId, grantId, old, next: token(`rt-next-${serial}`, userId, grantId) };
  }

  /** Whether a refresh token could be rotated now: stored, neither rotated nor revoked. */
  async function works(hash: string): Promise<boolean> {
    const found = await store.people.findRefreshToken(hash);
    return found !== null && found.rotatedAt === null && found.revokedAt === null;
  }

  it('stores no next token after a password reset that committed between the rotation and the insert', async () => {
    const { userId, old, next } = await rotated();
    await store.people.createPasswordReset(`reset-${serial}`, tenant.id, userId, now + 60_000);
    expect(await store.people.completePasswordReset({ hash: `reset-${serial}`, tenantId: tenant.id, passwordHash: 'new-hash', at: now + 2 }, () => event('user.password.reset'))).toEqual({ userId });
    expect(await store.people.createRefreshTokenOfLiveGrant(next, { replaces: old })).toBe(false);
    expect(await store.people.createRefreshTokenOfLiveGrant({ ...next, hash: `${next.hash}-touch` }, { replaces: old, touchGrantAt: now + 3 })).toBe(false);
    expect(await store.people.findRefreshToken(next.hash)).toBeNull();
    expect(await store.people.findRefreshToken(`${next.hash}-touch`)).toBeNull();
  });

  it('stores no next token after a disable and re-enable that committed between the rotation and the insert', async () => {
    const { userId, old, next } = await rotated();
    await store.people.updateUser(person(userId, now + 2), { fields: ['disabledAt'], endAccess: revocation, at: now + 2 }, event('user.update'));
    await store.people.updateUser(person(userId), { fields: ['disabledAt'], endAccess: null, at: now + 3 }, event('user.update'));
    expect(await store.people.createRefreshTokenOfLiveGrant(next, { replaces: old })).toBe(false);
    expect(await works(next.hash)).toBe(false);
  });

  it('still stores the next token when nothing ended the old one, and a code exchange (nothing replaced) as before', async () => {
    const { old, next } = await rotated();
    expect(await store.people.createRefreshTokenOfLiveGrant(next, { replaces: old })).toBe(true);
    expect(await works(next.hash)).toBe(true);
    const { next: fromCode } = await rotated();
    expect(await store.people.createRefreshTokenOfLiveGrant(fromCode, { touchGrantAt: now + 5 })).toBe(true);
    expect(await works(fromCode.hash)).toBe(true);
  });

  // PostgreSQL only: its statements read the snapshot of their start (READ COMMITTED), so the
  // order in which two transactions hold rows decides. A second connection holds one side open.
  describe.runIf(backendName === 'postgres')('interleaved on a second connection', () => {
    let raw: pg.Client;
    let watcher: pg.Client;
    beforeAll(async () => {
      raw = new pg.Client({ connectionString: backend.config.databaseUrl });
      watcher = new pg.Client({ connectionString: backend.config.databaseUrl });
      await raw.connect();
      await watcher.connect();
    });
    afterAll(async () => {
      await raw?.end();
      await watcher?.end();
    });

    /** Resolves once `count` sessions of this database wait for a lock. */
    async function waitingForLocks(count: number): Promise<void> {
      for (let i = 0; i < 200; i += 1) {
        const { rows } = await watcher.query<{ n: string }>(`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
        if (Number(rows[0]!.n) >= count) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`fewer than ${count} sessions ever waited for a lock`);
    }

    /** Settles with the promise's outcome, or 'pending' if it has not settled within `ms`. */
    const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms))]);

    for (const [what, revoke] of [
      // What updateUser(disable) and completePasswordReset write, in their order: the person's row, then the tokens.
      ['a disable', `update users set disabled_at = ${now + 2}, updated_at = ${now + 2} where tenant_id = $1 and id = $2`],
      ['a password reset', `update users set password_hash = 'new-hash', updated_at = ${now + 2} where tenant_id = $1 and id = $2`],
    ] as const) {
      it(`makes the insert wait for ${what} still committing, then write nothing`, async () => {
        const { userId, old, next } = await rotated();
        await raw.query('begin');
        try {
          await raw.query(revoke, [tenant.id, userId]);
          await raw.query(`update refresh_tokens set revoked_at = ${now + 2} where tenant_id = $1 and user_id = $2 and revoked_at is null`, [tenant.id, userId]);
          const inserting = store.people.createRefreshTokenOfLiveGrant(next, { replaces: old });
          expect(await within(inserting, 300)).toBe('pending');
          await raw.query('commit');
          expect(await inserting).toBe(false);
        } catch (err) {
          await raw.query('rollback');
          throw err;
        }
        expect(await store.people.findRefreshToken(next.hash)).toBeNull();
      });
    }

    it('makes the insert wait for a grant revoke still committing, then write nothing', async () => {
      const { grantId, old, next } = await rotated();
      await raw.query('begin');
      await raw.query(`update grants set revoked_at = ${now + 2} where tenant_id = $1 and id = $2`, [tenant.id, grantId]);
      await raw.query(`update refresh_tokens set revoked_at = ${now + 2} where grant_id = $1 and revoked_at is null`, [grantId]);
      const inserting = store.people.createRefreshTokenOfLiveGrant(next, { replaces: old });
      const early = await within(inserting, 300);
      await raw.query('commit');
      expect(early).toBe('pending');
      expect(await inserting).toBe(false);
      expect(await store.people.findRefreshToken(next.hash)).toBeNull();
    });

    for (const [what, revoke] of [
      ['a password reset', async (userId: string, _grantId: string) => {
        await store.people.createPasswordReset(`reset-a-${userId}`, tenant.id, userId, now + 60_000);
        await store.people.completePasswordReset({ hash: `reset-a-${userId}`, tenantId: tenant.id, passwordHash: 'new-hash', at: now + 2 }, () => event('user.password.reset'));
      }],
      ['a disable', async (userId: string, _grantId: string) => {
        await store.people.updateUser(person(userId, now + 2), { fields: ['disabledAt'], endAccess: revocation, at: now + 2 }, event('user.update'));
      }],
      ['a delete', async (userId: string, _grantId: string) => {
        await store.people.deleteUser(tenant.id, userId, { at: now + 2, revocation }, event('user.delete'));
      }],
      ['a grant revoke', async (_userId: string, grantId: string) => {
        await store.people.revokeGrant(tenant.id, grantId, now + 2, event('grant.revoke'));
      }],
    ] as const) {
      it(`makes ${what} that starts while the insert holds its locks wait for it, then end the new token`, async () => {
        const { userId, grantId, old, next } = await rotated();
        // The second connection holds the grant row, so the insert stops holding the person's row
        // (and, for a grant revoke, queued on the grant's) until it lets go.
        await raw.query('begin');
        await raw.query('select id from grants where id = $1 for update', [grantId]);
        const inserting = store.people.createRefreshTokenOfLiveGrant(next, { replaces: old, touchGrantAt: now + 1 });
        let revoking: Promise<void> | undefined;
        try {
          await waitingForLocks(1);
          revoking = revoke(userId, grantId);
          await waitingForLocks(2);
        } finally {
          await raw.query('rollback');
        }
        expect(await inserting).toBe(true);
        await revoking;
        expect(await works(next.hash)).toBe(false);
      });
    }
  });
});
