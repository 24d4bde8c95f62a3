import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../src/crypto/secrets.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { SYSTEM_ACTOR } from '../../src/services/context.js';
import { BACKENDS, createBackend, type Backend } from '../helpers/backends.js';

/**
 * Review of invariant 2: a KEYGATE_ROOT_KEY value, once retired or revoked, never comes back.
 * Deleting the key seeded from it erased the only record of its secret, so an instance started
 * later with that value (a stale config, a leaked value) seeded it again as a full admin — and
 * retired the current one. A key seeded from KEYGATE_ROOT_KEY can be revoked, never deleted.
 */
const FIRST = 'review-first-root-key-0123456789abcdef0123';
const SECOND = 'review-second-root-key-0123456789abcdef012';

describe.each(BACKENDS)('a seeded root key is never deleted, so its value never comes back (%s)', (backendName) => {
  let backend: Backend;
  let server: RunningServer | null = null;

  const start = async (rootKey: string): Promise<RunningServer> => {
    await server?.close();
    server = null;
    server = await startServer({ port: 0, host: '127.0.0.1', rootKey, ...backend.config }, { logger: false });
    return server;
  };
  const call = async (method: string, path: string, key: string): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${server!.url}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
    const text = await response.text();
    return { status: response.status, body: text === '' ? null : JSON.parse(text) };
  };
  const rootKeys = async (key: string): Promise<any[]> => (await call('GET', '/v1/root-keys?limit=100', key)).body.items;

  beforeAll(async () => {
    backend = await createBackend(backendName);
  });
  afterAll(async () => {
    await server?.close();
    await backend.destroy();
  });

  it('refuses to delete the seeded key, retired or current, and a retired value still refuses to start', async () => {
    await start(FIRST);
    const firstId = (await rootKeys(FIRST)).find((k) => k.revokedAt === null)!.id;
    await start(SECOND);
    const before = await rootKeys(SECOND);
    const secondId = before.find((k) => k.revokedAt === null)!.id;
    expect(before.find((k) => k.id === firstId).revokedAt).not.toBeNull();

    for (const id of [firstId, secondId]) {
      const refused = await call('DELETE', `/v1/root-keys/${id}`, SECOND);
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('FORBIDDEN');
    }
    expect(await rootKeys(SECOND)).toEqual(before);

    await server!.close();
    server = null;
    await expect(start(FIRST)).rejects.toThrow(/KEYGATE_ROOT_KEY was revoked/);
    await start(SECOND);
    expect((await call('GET', '/v1/tenants', FIRST)).status).toBe(401);
    expect((await call('GET', '/v1/tenants', SECOND)).status).toBe(200);
  });

  it('of two instances started together with different values, the older value never retires the newer', async () => {
    const THIRD = 'review-third-root-key-0123456789abcdef0123';
    const running = await start(THIRD);
    const keygate = running.keygate;
    const { tenant } = await keygate.rootKeys.ensureSystem();
    // The interleaving of the race, made deterministic: the instance with the newer value (THIRD)
    // has seeded it, and the one with the older value (SECOND, seeded by the test above) finds its
    // key before it is retired. Before the fix, SECOND's start retired THIRD: neither worked.
    const second = (await keygate.store.keys.findBySecret(hashSecret(SECOND)))!.key;
    expect(second.revokedAt).not.toBeNull();
    const live = { ...second, revokedAt: null };
    await keygate.store.keys.update([live], keygate.audit.event(tenant.id, SYSTEM_ACTOR, 'test.unrevoke', live.id));
    await keygate.rootKeys.seed(SECOND);
    expect((await call('GET', '/v1/tenants', THIRD)).status).toBe(200);
  });
});
