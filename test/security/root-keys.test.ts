import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_MANAGEMENT_SCOPES } from '../../src/domain/management.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { migrationProvider } from '../../src/store/migrations.js';
import { runCli } from '../cli/run-cli.js';
import { BACKENDS, createBackend, type Backend } from '../helpers/backends.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { snapshotAll } from '../helpers/snapshot.js';

interface Created {
  id: string;
  key: string;
}

/**
 * Invariant 2 of issue 7: a root key creates, sees and acts on only root keys it could have
 * created itself (scopes ⊆ its own, tenant limit the same or narrower); anything else is refused
 * and changes nothing. Root keys have a lifecycle at `/v1/root-keys` and in the CLI.
 */
describe.each(BACKENDS)('root keys cannot escalate (%s)', (backend) => {
  let t: TestServer;
  let seededId: string;
  /** Global: keys:read + root_keys:write. Limited to acme: the same. Global: root_keys:read only. */
  let lesser: Created;
  let limited: Created;
  let reader: Created;
  let otherLimited: Created;
  let apiKey: string;

  const snapshot = async (): Promise<string> => {
    await t.server.keygate.flush();
    return snapshotAll(t.backend);
  };
  const create = async (body: Record<string, unknown>, auth = ROOT_KEY): Promise<Created> => {
    const created = await t.call('POST', '/v1/root-keys', body, { auth });
    expectStatus(created, 201);
    return created.body;
  };
  const idsListedBy = async (auth: string): Promise<string[]> => {
    const listed = await t.call('GET', '/v1/root-keys?limit=100', undefined, { auth });
    expectStatus(listed, 200);
    return listed.body.items.map((k: { id: string }) => k.id);
  };
  /** Each attempt answers `status` (and `code`), and no row of any table changes. */
  async function expectRefused(attempts: [method: string, path: string, body: unknown, auth: string][], status: number, code?: string): Promise<void> {
    const before = await snapshot();
    for (const [method, path, body, auth] of attempts) {
      const response = await t.call(method, path, body, { auth });
      expect(response.status, `${method} ${path}`).toBe(status);
      if (code !== undefined) expect(response.body.code).toBe(code);
    }
    expect(await snapshot()).toBe(before);
  }

  beforeAll(async () => {
    t = await startTestServer(backend);
    const { api } = await seedTenant(t);
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'other', name: 'Other' }), 201);
    lesser = await create({ scopes: ['keys:read', 'root_keys:write'], name: 'lesser' });
    limited = await create({ scopes: ['keys:read', 'root_keys:write'], tenant: 'acme', name: 'limited' });
    reader = await create({ scopes: ['root_keys:read'], name: 'reader' });
    otherLimited = await create({ scopes: ['keys:read'], tenant: 'other' });
    const key = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] });
    expectStatus(key, 201);
    apiKey = key.body.key;
    const listed = await t.call('GET', '/v1/root-keys?limit=100');
    seededId = listed.body.items.find((k: { start: string }) => k.start === 'KEYGATE_ROOT_KEY').id;
  });
  afterAll(() => t.close());

  it('creates only root keys within the caller\'s scopes and tenant', async () => {
    await expectRefused(
      [
        ['POST', '/v1/root-keys', { scopes: ['keys:write'] }, lesser.key],
        ['POST', '/v1/root-keys', { scopes: ['keys:read', 'tenants:write'] }, lesser.key],
        ['POST', '/v1/root-keys', { scopes: [...ALL_MANAGEMENT_SCOPES] }, lesser.key],
        ['POST', '/v1/root-keys', { scopes: ['keys:read'], tenant: 'other' }, limited.key],
        ['POST', '/v1/root-keys', { scopes: ['keys:write'], tenant: 'acme' }, limited.key],
      ],
      403,
      'FORBIDDEN',
    );
    // A limited key cannot ask for a global key either (null is no tenant name).
    await expectRefused([['POST', '/v1/root-keys', { scopes: ['keys:read'], tenant: null }, limited.key]], 400);
    await expectRefused([['POST', '/v1/root-keys', { scopes: ['keys:read'] }, reader.key]], 403, 'FORBIDDEN');
    const narrower = await t.call('POST', '/v1/root-keys', { scopes: ['keys:read'] }, { auth: limited.key });
    expect(narrower.status).toBe(201);
    expect(narrower.body).toMatchObject({ scopes: ['keys:read'], tenant: 'acme' });
    const global = await t.call('POST', '/v1/root-keys', { scopes: ['keys:read'], tenant: 'acme' }, { auth: lesser.key });
    expect(global.body.tenant).toBe('acme');
  });

  it('lists and shows only the root keys the caller could have created, never a secret', async () => {
    const all = await t.call('GET', '/v1/root-keys?limit=100');
    const seeded = all.body.items.find((k: { id: string }) => k.id === seededId);
    expect(seeded).toMatchObject({ start: 'KEYGATE_ROOT_KEY', tenant: null, revokedAt: null });
    expect(seeded.scopes).toEqual(expect.arrayContaining([...ALL_MANAGEMENT_SCOPES]));
    expect(Object.keys(seeded).sort()).toEqual(['createdAt', 'id', 'lastUsedAt', 'name', 'revokedAt', 'scopes', 'start', 'tenant', 'updatedAt']);
    expect(JSON.stringify(all.body)).not.toContain(ROOT_KEY);

    const byLesser = await idsListedBy(lesser.key);
    expect(byLesser).toEqual(expect.arrayContaining([lesser.id, limited.id, reader.id, otherLimited.id]));
    expect(byLesser).not.toContain(seededId);
    const byLimited = await idsListedBy(limited.key);
    expect(byLimited).toContain(limited.id);
    expect(byLimited).not.toContain(seededId);
    expect(byLimited).not.toContain(lesser.id);
    expect(byLimited).not.toContain(otherLimited.id);
    expect(await idsListedBy(reader.key)).toEqual([reader.id]);

    await expectRefused(
      [
        ['GET', `/v1/root-keys/${seededId}`, undefined, lesser.key],
        ['GET', `/v1/root-keys/${lesser.id}`, undefined, limited.key],
        ['GET', `/v1/root-keys/${otherLimited.id}`, undefined, limited.key],
        ['GET', `/v1/root-keys/${lesser.id}`, undefined, reader.key],
        ['GET', '/v1/root-keys/key_nothing', undefined, ROOT_KEY],
      ],
      404,
      'KEY_NOT_FOUND',
    );
    expect((await t.call('GET', `/v1/root-keys/${limited.id}`, undefined, { auth: lesser.key })).body.tenant).toBe('acme');
  });

  it('pages through the list like every other list', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = await t.call('GET', `/v1/root-keys?limit=2${query}`, undefined, { auth: lesser.key });
      expectStatus(page, 200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((k: { id: string }) => k.id));
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual(await idsListedBy(lesser.key));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('does not let a lesser or limited key revoke, roll or delete a stronger one', async () => {
    const attempts: [string, string, unknown, string][] = [];
    for (const [target, caller] of [
      [seededId, lesser.key],
      [seededId, limited.key],
      [lesser.id, limited.key],
      [otherLimited.id, limited.key],
      [lesser.id, reader.key],
    ] as const) {
      attempts.push(['POST', `/v1/root-keys/${target}/revoke`, undefined, caller]);
      attempts.push(['POST', `/v1/root-keys/${target}/roll`, { gracePeriodMs: 0 }, caller]);
      attempts.push(['DELETE', `/v1/root-keys/${target}`, undefined, caller]);
    }
    await expectRefused(attempts.filter(([, , , caller]) => caller !== reader.key), 404, 'KEY_NOT_FOUND');
    // root_keys:read alone may look, not act.
    await expectRefused(attempts.filter(([, , , caller]) => caller === reader.key), 403, 'FORBIDDEN');
    await expectRefused([['POST', `/v1/root-keys/${reader.id}/revoke`, undefined, reader.key]], 403, 'FORBIDDEN');
    expect((await t.call('GET', '/v1/tenants')).status).toBe(200);
  });

  it('refuses ordinary API keys and bad input on every root-key route', async () => {
    const routes: [string, string, unknown][] = [
      ['GET', '/v1/root-keys', undefined],
      ['GET', `/v1/root-keys/${seededId}`, undefined],
      ['POST', '/v1/root-keys', { scopes: ['keys:read'] }],
      ['POST', `/v1/root-keys/${seededId}/revoke`, undefined],
      ['POST', `/v1/root-keys/${seededId}/roll`, { gracePeriodMs: 0 }],
      ['DELETE', `/v1/root-keys/${seededId}`, undefined],
    ];
    await expectRefused(routes.map(([m, p, b]) => [m, p, b, apiKey]), 403, 'FORBIDDEN');
    await expectRefused(routes.map(([m, p, b]) => [m, p, b, 'kgroot_AAAAAAAAAAAAAAAAAAAAAAAAAAAA']), 401, 'UNAUTHORIZED');
    await expectRefused(
      [
        ['POST', `/v1/root-keys/${seededId}/roll`, { gracePeriodMs: -1 }, ROOT_KEY],
        ['POST', `/v1/root-keys/${seededId}/roll`, { gracePeriodMs: 0, extra: 1 }, ROOT_KEY],
        ['GET', '/v1/root-keys?cursor=nonsense', undefined, ROOT_KEY],
      ],
      400,
    );
  });

  it('rolls, revokes and deletes a root key the caller could have created, audited', async () => {
    const victim = await create({ scopes: ['keys:read'], tenant: 'acme', name: 'to roll' });
    const rolled = await t.call('POST', `/v1/root-keys/${victim.id}/roll`, undefined, { auth: limited.key });
    expectStatus(rolled, 200);
    expect(rolled.body).toMatchObject({ id: victim.id, tenant: 'acme', scopes: ['keys:read'] });
    expect((await t.call('GET', '/v1/tenants/acme/keys', undefined, { auth: victim.key })).status).toBe(401);
    expect((await t.call('GET', '/v1/tenants/acme/keys', undefined, { auth: rolled.body.key })).status).toBe(200);

    const graced = await t.call('POST', `/v1/root-keys/${victim.id}/roll`, { gracePeriodMs: 3_600_000 }, { auth: limited.key });
    expectStatus(graced, 200);
    expect((await t.call('GET', '/v1/tenants/acme/keys', undefined, { auth: rolled.body.key })).status).toBe(200);

    const revoked = await t.call('POST', `/v1/root-keys/${victim.id}/revoke`, undefined, { auth: limited.key });
    expectStatus(revoked, 200);
    expect(revoked.body.revokedAt).not.toBeNull();
    for (const secret of [rolled.body.key, graced.body.key]) {
      expect((await t.call('GET', '/v1/tenants/acme/keys', undefined, { auth: secret })).status).toBe(401);
    }
    await expectRefused([['POST', `/v1/root-keys/${victim.id}/roll`, undefined, limited.key]], 409, 'KEY_REVOKED');

    expect((await t.call('DELETE', `/v1/root-keys/${victim.id}`, undefined, { auth: limited.key })).status).toBe(204);
    expect((await t.call('GET', `/v1/root-keys/${victim.id}`)).status).toBe(404);
    await t.server.keygate.flush();
    const system = await t.server.keygate.rootKeys.ensureSystem();
    const events = await t.server.keygate.store.audit.list(system.tenant.id, {}, { after: null, limit: 500 });
    const actions = events.items.filter((e) => e.target === victim.id).map((e) => e.action).reverse();
    expect(actions).toEqual(['root_key.create', 'root_key.roll', 'root_key.roll', 'root_key.revoke', 'root_key.delete']);
  });

  it('shows the root-key audit log only to a key that could have created any root key', async () => {
    const auditor = await create({ scopes: ['audit:read', 'keys:read'] });
    const limitedAdmin = await create({ scopes: [...ALL_MANAGEMENT_SCOPES], tenant: 'acme' });
    await expectRefused(
      [
        ['GET', '/v1/root-keys/audit', undefined, auditor.key],
        ['GET', '/v1/root-keys/audit', undefined, limitedAdmin.key],
      ],
      403,
      'FORBIDDEN',
    );
    await expectRefused([['GET', '/v1/root-keys/audit', undefined, lesser.key]], 403, 'FORBIDDEN');
    await t.server.keygate.flush();
    const events = await t.call('GET', '/v1/root-keys/audit?limit=100');
    expectStatus(events, 200);
    const actions = events.body.items.filter((e: { target: string }) => e.target === auditor.id).map((e: { action: string }) => e.action);
    expect(actions).toEqual(['root_key.create']);
    const cli = await runCli(['audit', 'list', '--root-keys', '--json', '--limit', '100'], { env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' } });
    expect(JSON.parse(cli.stdout).items.map((e: { target: string }) => e.target)).toContain(auditor.id);
  });

  it('records when a root key was last used', async () => {
    expectStatus(await t.call('GET', '/v1/root-keys', undefined, { auth: reader.key }), 200);
    await t.server.keygate.flush();
    expect((await t.call('GET', `/v1/root-keys/${reader.id}`)).body.lastUsedAt).not.toBeNull();
  });

  it('refuses escalation through the CLI, and manages root keys with tables and --json', async () => {
    const as = (key: string) => ({ env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: key } });
    const before = await snapshot();
    const refused = [
      await runCli(['root-key', 'revoke', seededId, '--yes'], as(lesser.key)),
      await runCli(['root-key', 'roll', seededId], as(limited.key)),
      await runCli(['root-key', 'delete', seededId, '--yes'], as(lesser.key)),
      await runCli(['root-key', 'get', seededId], as(limited.key)),
      await runCli(['root-key', 'create', '--scope', 'tenants:write'], as(lesser.key)),
    ];
    for (const run of refused) expect(run.code).not.toBe(0);
    expect(refused[0]!.stderr).toContain('KEY_NOT_FOUND');
    expect(refused[4]!.stderr).toContain('FORBIDDEN');
    expect(await snapshot()).toBe(before);

    const listed = await runCli(['root-key', 'list', '--json'], as(limited.key));
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).items.map((k: { id: string }) => k.id)).not.toContain(seededId);
    const table = await runCli(['root-key', 'list'], as(ROOT_KEY));
    expect(table.stdout).toMatch(/^ID\s+START\s+STATUS\s+TENANT/);
    expect(table.stdout).toContain('KEYGATE_ROOT_KEY');
    const created = await runCli(['root-key', 'create', '--scope', 'keys:read', '--json'], as(limited.key));
    const id = JSON.parse(created.stdout).id as string;
    expect((await runCli(['root-key', 'get', id], as(limited.key))).stdout).toMatch(/tenant\s+acme/);
    expect((await runCli(['root-key', 'roll', id, '--grace', '1h'], as(limited.key))).stdout).toContain('keeps working for');
    expect(JSON.parse((await runCli(['root-key', 'revoke', id, '--json', '--yes'], as(limited.key))).stdout).revokedAt).not.toBeNull();
    expect(JSON.parse((await runCli(['root-key', 'delete', id, '--json', '--yes'], as(limited.key))).stdout)).toEqual({ deleted: id });
  });
});

const FIRST = 'first-root-key-0123456789abcdef0123456789';
const SECOND = 'second-root-key-0123456789abcdef012345678';

/** One database that outlives Keygate restarts, and the instance running on it now. */
class Restarts {
  server: RunningServer | null = null;

  constructor(readonly backend: Backend) {}

  /** Stops the running instance and starts one with `rootKey` as KEYGATE_ROOT_KEY. */
  async start(rootKey: string | undefined): Promise<RunningServer> {
    await this.stop();
    this.server = await startServer({ port: 0, host: '127.0.0.1', rootKey, ...this.backend.config }, { logger: false });
    return this.server;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = null;
  }

  /** The status a management request with `key` gets. */
  async status(key: string): Promise<number> {
    const response = await fetch(`${this.server!.url}/v1/tenants`, { headers: { authorization: `Bearer ${key}` } });
    await response.arrayBuffer();
    return response.status;
  }
}

describe.each(BACKENDS)('changing KEYGATE_ROOT_KEY retires the previous one (%s)', (backendName) => {
  let r: Restarts;

  beforeAll(async () => {
    r = new Restarts(await createBackend(backendName));
  });
  afterAll(async () => {
    await r.stop();
    await r.backend.destroy();
  });

  it('gives a live bootstrap key the management scopes a newer Keygate adds, as it does the seeded key', async () => {
    const first = await r.start(undefined);
    const bootstrap = first.bootstrapRootKey!;
    // As if the key had been printed by a Keygate that did not know `metrics:read` yet.
    const { tenant, api } = await first.keygate.rootKeys.ensureSystem();
    const [key] = (await first.keygate.store.keys.list(tenant.id, { apiId: api.id }, { after: null, limit: 10 })).items;
    await first.keygate.store.keys.update([{ ...key!, scopes: key!.scopes.filter((s) => s !== 'metrics:read') }], first.keygate.audit.event(tenant.id, { id: 'test', requestId: null, ip: null }, 'test.setup', key!.id));
    const metrics = async (): Promise<number> => {
      const response = await fetch(`${r.server!.url}/metrics`, { headers: { authorization: `Bearer ${bootstrap}` } });
      await response.arrayBuffer();
      return response.status;
    };
    expect(await metrics()).toBe(403);
    const again = await r.start(undefined);
    expect(again.bootstrapRootKey).toBeNull();
    expect(await metrics()).toBe(200);
    await r.stop();
    await r.backend.destroy();
    r = new Restarts(await createBackend(backendName));
  });

  it('revokes (audited) the seeded and bootstrap keys, keeps keys created through the API, and never revives a retired one', async () => {
    const first = await r.start(undefined);
    const bootstrap = first.bootstrapRootKey!;
    expect(bootstrap).toMatch(/^kgroot_/);
    const made = await fetch(`${first.url}/v1/root-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scopes: ['tenants:read'] }),
    });
    expect(made.status).toBe(201);
    const kept = ((await made.json()) as { key: string }).key;

    const second = await r.start(FIRST);
    expect(second.bootstrapRootKey).toBeNull();
    expect(await r.status(bootstrap)).toBe(401);
    expect(await r.status(FIRST)).toBe(200);
    expect(await r.status(kept)).toBe(200);

    const third = await r.start(SECOND);
    expect(await r.status(FIRST)).toBe(401);
    expect(await r.status(bootstrap)).toBe(401);
    expect(await r.status(SECOND)).toBe(200);
    expect(await r.status(kept)).toBe(200);
    const system = await third.keygate.rootKeys.ensureSystem();
    const events = await third.keygate.store.audit.list(system.tenant.id, {}, { after: null, limit: 500 });
    expect(events.items.filter((e) => e.action === 'root_key.retire')).toHaveLength(2);

    // Going back to a retired value must not bring a full admin back to life.
    await r.stop();
    // A StartupError: `keygate start` prints its message and exits 1, without a stack trace.
    await expect(r.start(FIRST)).rejects.toMatchObject({ name: 'StartupError', message: expect.stringMatching(/KEYGATE_ROOT_KEY was revoked/) });
    await r.start(SECOND);
    expect(await r.status(FIRST)).toBe(401);
    expect(await r.status(SECOND)).toBe(200);
  });
});

// PostgreSQL only: scale-out runs several instances on PostgreSQL; SQLite is one instance by design.
describe.each(['postgres'] as const)('instances started together with a new KEYGATE_ROOT_KEY (%s)', (backendName) => {
  let backend: Backend;
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    backend = await createBackend(backendName);
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await backend.destroy();
  });

  it('all start, share one seeded key, and accept it', async () => {
    const startOne = (): Promise<RunningServer> => startServer({ port: 0, host: '127.0.0.1', rootKey: FIRST, ...backend.config }, { logger: false });
    servers.push(...(await Promise.all([startOne(), startOne(), startOne()])));
    for (const server of servers) {
      const response = await fetch(`${server.url}/v1/root-keys`, { headers: { authorization: `Bearer ${FIRST}` } });
      expect(response.status).toBe(200);
      const page = (await response.json()) as { items: { start: string; revokedAt: string | null }[] };
      expect(page.items.filter((k) => k.start === 'KEYGATE_ROOT_KEY' && k.revokedAt === null)).toHaveLength(1);
    }
  });
});

describe.each(BACKENDS)('an upgrade marks the root keys Keygate issued itself (%s)', (backendName) => {
  let r: Restarts;

  /** Makes the database look like one written before root keys were marked, then upgrades it. */
  async function asBeforeUpgrade(): Promise<void> {
    await r.stop();
    const { backend } = r;
    const db = new Kysely<any>({
      dialect:
        backend.name === 'sqlite'
          ? new SqliteDialect({ database: new SQLite(join(backend.config.dataDir, 'keygate.db')) })
          : new PostgresDialect({ pool: new pg.Pool({ connectionString: backend.config.databaseUrl! }) }),
    });
    try {
      await db.updateTable('keys').set({ meta: '{}' }).execute();
      const migrations = await migrationProvider.getMigrations();
      await migrations['0004_root_keys']!.up(db);
    } finally {
      await db.destroy();
    }
  }

  beforeAll(async () => {
    r = new Restarts(await createBackend(backendName));
  });
  afterAll(async () => {
    await r.stop();
    await r.backend.destroy();
  });

  it('retires a bootstrap key and a seeded key from before the upgrade', async () => {
    const bootstrap = (await r.start(undefined)).bootstrapRootKey!;
    await asBeforeUpgrade();
    await r.start(FIRST);
    expect(await r.status(bootstrap)).toBe(401);
    expect(await r.status(FIRST)).toBe(200);
    await asBeforeUpgrade();
    await r.start(SECOND);
    expect(await r.status(FIRST)).toBe(401);
    expect(await r.status(SECOND)).toBe(200);
  });
});
