import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server.js';
import { createBackend, type Backend } from '../helpers/backends.js';
import { ROOT_KEY, expectStatus, startTestServer } from '../helpers/server.js';

describe('server start', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend('sqlite');
  });
  afterAll(() => backend.destroy());

  it('creates a root key at the first start without KEYGATE_ROOT_KEY, and only then', async () => {
    const first = await startServer({ port: 0, rootKey: undefined, ...backend.config }, { logger: false, env: {} });
    const key = first.bootstrapRootKey!;
    expect(key).toMatch(/^kgroot_[0-9A-Za-z]{28}$/);
    const response = await fetch(`${first.url}/v1/tenants`, { headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(200);
    await first.close();
    const second = await startServer({ port: 0, rootKey: undefined, ...backend.config }, { logger: false, env: {} });
    expect(second.bootstrapRootKey).toBeNull();
    await second.close();
  });

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    for (const [trustProxy, expected] of [['127.0.0.1', '203.0.113.9'], ['false', '127.0.0.1']] as const) {
      const t = await startTestServer('sqlite', { trustProxy });
      expectStatus(await t.call('POST', '/v1/tenants', { slug: 'proxied', name: 'P' }, { headers: { 'x-forwarded-for': '203.0.113.9' } }), 201);
      const events = (await t.call('GET', '/v1/tenants/proxied/audit')).body.items;
      expect(events[0]).toMatchObject({ action: 'tenant.create', ip: expected });
      await t.close();
    }
  });

  it('seeds KEYGATE_ROOT_KEY idempotently across restarts', async () => {
    for (let i = 0; i < 2; i++) {
      const server = await startServer({ port: 0, rootKey: ROOT_KEY, ...backend.config }, { logger: false });
      expect((await fetch(`${server.url}/v1/tenants`, { headers: { authorization: `Bearer ${ROOT_KEY}` } })).status).toBe(200);
      await server.close();
    }
  });
});
