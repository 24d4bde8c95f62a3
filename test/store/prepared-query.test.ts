import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RefreshToken } from '../../src/domain/people.js';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { StoreObserver } from '../../src/store/store-observer.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS, createBackend, type Backend } from '../helpers/backends.js';
import { NOW as now, makeEvent, seedTenant } from './fixtures.js';

/**
 * The refresh grant's statements run straight on the connection where the backend allows it
 * (`Dialect.runPrepared`: SQLite, outside a transaction). One that is called while another
 * caller's transaction is open must not become part of it: a rotation there would be undone
 * by that transaction's rollback, and the rotated token would be good again.
 */
describe.each(BACKENDS)('prepared statements beside an open transaction (%s)', (backendName) => {
  let backend: Backend;
  let store: Store;
  /** Called after every statement, while the statement's transaction (if any) is still open. */
  let afterStatement: (() => void) | null = null;
  const observer: StoreObserver = { onQuery: () => afterStatement?.(), onFailure: () => undefined };

  beforeAll(async () => {
    backend = await createBackend(backendName);
    const url = backend.config.databaseUrl;
    store = url === undefined ? openSqliteStore({ file: `${backend.config.dataDir}/keygate.db`, observer }) : openPostgresStore({ url, observer });
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await backend?.destroy();
  });

  it('a rotation made while another transaction is open stays when that transaction rolls back', async () => {
    const { tenant, api } = await seedTenant(store, 'acme', 'https://api');
    const token: RefreshToken = { hash: 'rt-beside', familyId: 'fam_1', tenantId: tenant.id, grantId: 'grt_1', clientId: 'cli_1', userId: 'usr_1', apiId: api.id, scopes: ['a'], createdAt: now, expiresAt: now + 60_000, familyExpiresAt: now + 120_000, rotatedAt: null, revokedAt: null };
    await store.people.createRefreshToken(token);
    const event = makeEvent(tenant.id, 'user.create');
    await store.people.createUser({ id: 'usr_1', tenantId: tenant.id, email: 'a@b.c', name: null, createdAt: now, disabledAt: null }, 'hash', event);

    // The second user's transaction fails at its last statement (the event id is taken) and
    // rolls back; its first statement's report starts a rotation while it is open.
    let rotation: ReturnType<Store['people']['rotateRefreshToken']> | null = null;
    afterStatement = () => {
      afterStatement = null;
      rotation = store.people.rotateRefreshToken('rt-beside', now + 1);
    };
    await expect(store.people.createUser({ id: 'usr_2', tenantId: tenant.id, email: 'b@b.c', name: null, createdAt: now, disabledAt: null }, 'hash', event)).rejects.toBeDefined();
    expect(rotation).not.toBeNull();
    expect(await rotation).toMatchObject({ won: true });
    expect(await store.people.findUser(tenant.id, 'usr_2')).toBeNull();
    expect((await store.people.findRefreshToken('rt-beside'))?.rotatedAt).toBe(now + 1);
    expect((await store.people.rotateRefreshToken('rt-beside', now + 2))?.won).toBe(false);
  });
});
