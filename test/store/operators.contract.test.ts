import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../src/domain/operators.js';
import type { Tenant } from '../../src/domain/tenants.js';
import { migrationProvider } from '../../src/store/migrations.js';
import type { Store } from '../../src/store/store.js';
import { BACKENDS, createBackend, type Backend } from '../helpers/backends.js';
import { NOW as now, contractStore, makeEvent, makeTenant } from './fixtures.js';

/** The operators aggregate on every backend: a user and its operator row together, sessions in the people's table. */
describe.each(BACKENDS)('Store contract: operators (%s)', (backendName) => {
  const opened = contractStore(backendName);
  let store: Store;
  let system: Tenant;
  let n = 0;
  const event = (action: string) => makeEvent(system.id, action);
  const operator = (overrides: Partial<Operator> = {}): Operator => {
    n += 1;
    return { id: `usr_op${String(n).padStart(3, '0')}`, email: `op${n}@ops.test`, name: null, scopes: ['keys:read'], tenant: null, createdAt: now, disabledAt: null, ...overrides };
  };

  beforeAll(async () => {
    store = opened();
    system = makeTenant('_system');
    await store.directory.createTenant(system, makeEvent(system.id, 'tenant.create'));
  });

  it('creates the user and the operator together, finds and lists them, and refuses a taken email with USER_EXISTS and nothing written', async () => {
    const ada = operator({ name: 'Ada', scopes: ['keys:write', 'tenants:read'], tenant: 'acme' });
    await store.operators.create(system.id, ada, 'scrypt$hash', event('operator.create'));
    expect(await store.operators.find(system.id, ada.id)).toEqual(ada);
    expect((await store.people.findUserByEmail(system.id, ada.email))?.passwordHash).toBe('scrypt$hash');
    const clash = operator({ email: ada.email });
    await expect(store.operators.create(system.id, clash, 'h', event('operator.create'))).rejects.toMatchObject({ code: 'USER_EXISTS' });
    expect(await store.operators.find(system.id, clash.id)).toBeNull();

    const global = operator();
    await store.operators.create(system.id, global, 'h', event('operator.create'));
    expect((await store.operators.list(system.id, {}, { after: null, limit: 10 })).items.map((o) => o.id)).toEqual([ada.id, global.id]);
    expect((await store.operators.list(system.id, { tenant: 'acme' }, { after: null, limit: 10 })).items.map((o) => o.id)).toEqual([ada.id]);
    const first = await store.operators.list(system.id, {}, { after: null, limit: 1 });
    expect(first).toEqual({ items: [ada], next: ada.id });
    expect((await store.operators.list(system.id, {}, { after: first.next, limit: 1 })).items.map((o) => o.id)).toEqual([global.id]);
    // Another tenant's user is not an operator, and the system tenant's operators are not another's.
    expect(await store.operators.find('tenant_other', ada.id)).toBeNull();
  });

  it('writes only the fields named, ends sessions on request, and says when there is no such operator', async () => {
    const op = operator({ name: 'Old' });
    await store.operators.create(system.id, op, 'h', event('operator.create'));
    await store.people.createSession('sess-a', system.id, op.id, now, now + 60_000);
    // A stale copy with another name must not write the name back when only scopes are named.
    expect(await store.operators.update(system.id, { ...op, name: 'Stale', scopes: ['keys:write'] }, { fields: ['scopes'], endSessions: false, at: now + 1 }, event('operator.update'))).toBe(true);
    expect(await store.operators.find(system.id, op.id)).toEqual({ ...op, scopes: ['keys:write'] });
    expect(await store.operators.findSession('sess-a')).toEqual({ tenantId: system.id, userId: op.id, createdAt: now, expiresAt: now + 60_000 });
    expect(await store.operators.update(system.id, { ...op, disabledAt: now + 2, tenant: 'acme' }, { fields: ['disabledAt', 'tenant'], endSessions: true, at: now + 2 }, event('operator.disable'))).toBe(true);
    expect(await store.operators.find(system.id, op.id)).toMatchObject({ disabledAt: now + 2, tenant: 'acme', scopes: ['keys:write'], name: 'Old' });
    expect(await store.operators.findSession('sess-a')).toBeNull();
    expect(await store.operators.update(system.id, operator(), { fields: ['name'], endSessions: false, at: now }, event('operator.update'))).toBe(false);
  });

  it('slides a session only forward, sets a password ending sessions, and deletes the operator with their sessions', async () => {
    const op = operator();
    await store.operators.create(system.id, op, 'old-hash', event('operator.create'));
    await store.people.createSession('sess-b', system.id, op.id, now, now + 1_000);
    await store.operators.slideSession('sess-b', now + 5_000);
    await store.operators.slideSession('sess-b', now + 3_000);
    expect((await store.operators.findSession('sess-b'))?.expiresAt).toBe(now + 5_000);

    expect(await store.operators.setPassword(system.id, op.id, 'new-hash', now + 1, event('operator.password_reset'))).toBe(true);
    expect((await store.people.findUserByEmail(system.id, op.email))?.passwordHash).toBe('new-hash');
    expect(await store.operators.findSession('sess-b')).toBeNull();
    expect(await store.operators.setPassword(system.id, 'usr_nobody', 'h', now, event('operator.password_reset'))).toBe(false);

    await store.people.createSession('sess-c', system.id, op.id, now, now + 1_000);
    expect(await store.operators.delete(system.id, op.id, event('operator.delete'))).toBe(true);
    expect(await store.operators.find(system.id, op.id)).toBeNull();
    expect(await store.people.findUser(system.id, op.id)).toBeNull();
    expect(await store.operators.findSession('sess-c')).toBeNull();
    expect(await store.operators.delete(system.id, op.id, event('operator.delete'))).toBe(false);
  });

  it('disables the operators limited to a deleted tenant and ends their sessions, in the tenant deletion', async () => {
    const doomed = makeTenant('doomed');
    await store.directory.createTenant(doomed, makeEvent(doomed.id, 'tenant.create'));
    const limited = operator({ tenant: 'doomed' });
    const elsewhere = operator({ tenant: 'kept' });
    for (const op of [limited, elsewhere]) await store.operators.create(system.id, op, 'h', event('operator.create'));
    await store.people.createSession('sess-d', system.id, limited.id, now, now + 60_000);
    await store.directory.deleteTenant(doomed, now + 7, makeEvent(system.id, 'tenant.delete'));
    expect((await store.operators.find(system.id, limited.id))?.disabledAt).toBe(now + 7);
    expect((await store.operators.find(system.id, elsewhere.id))?.disabledAt).toBeNull();
    expect(await store.operators.findSession('sess-d')).toBeNull();
    const deletion = (await store.audit.list(system.id, { action: 'tenant.delete' }, { after: null, limit: 1 })).items[0]!;
    expect(deletion.data).toMatchObject({ disabledOperators: [limited.id] });
  });
});

/** Migration 0017 on a database that already holds people: migrated to 0016 only, given users, then migrated to the latest. */
describe.each(BACKENDS)('Store migration: operators (%s)', (backendName) => {
  let backend: Backend;
  let store: Store;

  beforeAll(async () => {
    backend = await createBackend(backendName);
    const db = ownConnection(backend);
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateTo('0016_consumer_ids_per_tenant');
    await db.destroy();
    if (error) throw error;
    store = backend.openStore();
  });
  afterAll(async () => {
    await store?.close();
    await backend?.destroy();
  });

  it('keeps every user and session, adds an empty operators table, and a system user is no operator until it has a row', async () => {
    const system = makeTenant('_system');
    await store.directory.createTenant(system, makeEvent(system.id, 'tenant.create'));
    const user = { id: 'usr_before', tenantId: system.id, email: 'before@ops.test', name: 'Before', createdAt: now, disabledAt: null };
    await store.people.createUser(user, 'h', makeEvent(system.id, 'user.create'));
    await store.people.createSession('sess-before', system.id, user.id, now, now + 1_000);

    await store.migrate();

    expect(await store.people.findUser(system.id, user.id)).toEqual(user);
    expect(await store.people.findSession('sess-before')).toEqual({ tenantId: system.id, userId: user.id, expiresAt: now + 1_000 });
    expect(await store.operators.find(system.id, user.id)).toBeNull();
    expect((await store.operators.list(system.id, {}, { after: null, limit: 10 })).items).toEqual([]);
    await store.operators.create(system.id, { id: 'usr_after', email: 'after@ops.test', name: null, scopes: ['keys:read'], tenant: null, createdAt: now, disabledAt: null }, 'h', makeEvent(system.id, 'operator.create'));
    expect((await store.operators.list(system.id, {}, { after: null, limit: 10 })).items.map((o) => o.id)).toEqual(['usr_after']);
  });
});

function ownConnection(backend: Backend): Kysely<any> {
  if (backend.name === 'sqlite') {
    const database = new SQLite(join(backend.config.dataDir, 'keygate.db'));
    database.pragma('journal_mode = WAL');
    database.pragma('foreign_keys = ON');
    return new Kysely({ dialect: new SqliteDialect({ database }) });
  }
  return new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: backend.config.databaseUrl }) }) });
}
