import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { BACKENDS } from '../helpers/backends.js';
import { testClock, type TestClock } from '../helpers/clock.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The management API answers a root key from the key cache (its principal is kept with the
 * cached entry, so a request costs a hash and a Map lookup). Whatever was cached, a root key is
 * refused on the very next request after it is revoked, rolled (the old secret, once its grace
 * period is over) or deleted: on /v1/verify and on a management route, on both stores, and on
 * another instance once the change reaches it through Redis.
 */

interface Created {
  id: string;
  key: string;
}

const SCOPES = ['keys:verify', 'root_keys:read'];

async function createRootKey(t: TestServer): Promise<Created> {
  const created = await t.call('POST', '/v1/root-keys', { scopes: SCOPES });
  expectStatus(created, 201);
  return created.body;
}

/** The status of a /v1/verify call and of a management read, both authenticated by `key`. */
async function statuses(url: string, api: string, key: string): Promise<[number, number]> {
  const headers = { authorization: `Bearer ${key}` };
  const verify = await fetch(`${url}/v1/verify`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ credential: 'not-a-key', api }),
  });
  const read = await fetch(`${url}/v1/root-keys?limit=1`, { headers });
  await Promise.all([verify.arrayBuffer(), read.arrayBuffer()]);
  return [verify.status, read.status];
}

describe.each(BACKENDS)('a root key whose principal is cached is refused on the next request (%s)', (backend) => {
  let clock: TestClock;
  let t: TestServer;
  let api: string;

  beforeAll(async () => {
    clock = testClock();
    t = await startTestServer(backend, {}, { clock: clock.now });
    ({ api } = await seedTenant(t));
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A new root key, used twice so that its principal is cached when the test changes it. */
  const cachedRootKey = async (): Promise<Created> => {
    const created = await createRootKey(t);
    expect(await statuses(t.url, api, created.key)).toEqual([200, 200]);
    expect(await statuses(t.url, api, created.key)).toEqual([200, 200]);
    return created;
  };

  it('after a revoke', async () => {
    const { id, key } = await cachedRootKey();
    expectStatus(await t.call('POST', `/v1/root-keys/${id}/revoke`), 200);
    expect(await statuses(t.url, api, key)).toEqual([401, 401]);
  });

  it('after a roll without grace period: the old secret at once, the new one works', async () => {
    const { id, key } = await cachedRootKey();
    const rolled = await t.call('POST', `/v1/root-keys/${id}/roll`);
    expectStatus(rolled, 200);
    expect(await statuses(t.url, api, key)).toEqual([401, 401]);
    expect(await statuses(t.url, api, rolled.body.key)).toEqual([200, 200]);
  });

  it('after a roll, once the grace period is over, though nothing was announced then', async () => {
    const { id, key } = await cachedRootKey();
    const rolled = await t.call('POST', `/v1/root-keys/${id}/roll`, { gracePeriodMs: 1_000 });
    expectStatus(rolled, 200);
    expect(await statuses(t.url, api, key)).toEqual([200, 200]);
    clock.advance(1_000);
    expect(await statuses(t.url, api, key)).toEqual([401, 401]);
    expect(await statuses(t.url, api, rolled.body.key)).toEqual([200, 200]);
  });

  it('after a delete', async () => {
    const { id, key } = await cachedRootKey();
    const deleted = await t.call('DELETE', `/v1/root-keys/${id}`);
    expect(deleted.status).toBe(204);
    expect(await statuses(t.url, api, key)).toEqual([401, 401]);
  });

  it('a bearer that is not a root key stays refused, cached or not', async () => {
    expect(await statuses(t.url, api, `${ROOT_KEY}x`)).toEqual([401, 401]);
    expect(await statuses(t.url, api, `${ROOT_KEY}x`)).toEqual([401, 401]);
  });
});

describe('a root key revoked on one instance is refused by another (PostgreSQL + Redis)', () => {
  let redis: RedisServer;
  let t: TestServer;
  let second: RunningServer;
  let api: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    t = await startTestServer('postgres', { redisUrl: redis.url, redisTimeoutMs: 500 });
    second = await startServer({ port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, ...t.backend.config, redisUrl: redis.url, redisTimeoutMs: 500 }, { logger: false });
    ({ api } = await seedTenant(t));
  });
  afterAll(async () => {
    await second?.close();
    await t?.close();
    await redis?.stop('SIGKILL');
  });

  /** Asks `url` until `key` is refused on both routes (the change crosses Redis pub/sub), at most 100 times. */
  async function refusedBy(url: string, key: string): Promise<[number, number]> {
    let last = await statuses(url, api, key);
    for (let i = 0; i < 100 && (last[0] !== 401 || last[1] !== 401); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      last = await statuses(url, api, key);
    }
    return last;
  }

  it('revoked on A, cached on B: B refuses it', async () => {
    const { id, key } = await createRootKey(t);
    expect(await statuses(second.url, api, key)).toEqual([200, 200]);
    expect(await statuses(second.url, api, key)).toEqual([200, 200]);
    expectStatus(await t.call('POST', `/v1/root-keys/${id}/revoke`), 200);
    expect(await statuses(t.url, api, key)).toEqual([401, 401]);
    expect(await refusedBy(second.url, key)).toEqual([401, 401]);
  });

  it('rolled on A, cached on B: B refuses the old secret and takes the new one', async () => {
    const { id, key } = await createRootKey(t);
    expect(await statuses(second.url, api, key)).toEqual([200, 200]);
    const rolled = await t.call('POST', `/v1/root-keys/${id}/roll`);
    expectStatus(rolled, 200);
    expect(await refusedBy(second.url, key)).toEqual([401, 401]);
    expect(await statuses(second.url, api, rolled.body.key)).toEqual([200, 200]);
  });
});
