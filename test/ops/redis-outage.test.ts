import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { ORDERS_API, basic, postForm, registerMachineClient } from '../helpers/oauth.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { FAILURES_PER_SOURCE } from '../../src/services/client-authenticator.js';

/**
 * Redis stopped (SIGKILL, SIGTERM) and started again on the same port under a loop of verify
 * calls, with a private `redis-server` per describe: every verify answers 200 within a loose
 * bound, limits fall back as KEYGATE_REDIS_FAILURE says (never unlimited), readiness reports the
 * outage, and shared limits and cross-instance invalidation work again afterwards.
 */

const MASTER_KEY = 'ab'.repeat(32);
/** A correctness bound, not a benchmark: a request that waited on a dead Redis would take seconds. */
const MAX_REQUEST_MS = 1_000;

interface Instance {
  url: string;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

function instance(url: string): Instance {
  return {
    url,
    async call(method, path, body) {
      const response = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${ROOT_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      return { status: response.status, body: text === '' ? null : JSON.parse(text) };
    },
  };
}

/** Asks `/readyz` until it reports `status`, at most 200 times 50 ms apart; returns the last body. */
async function readinessUntil(target: Instance, status: 'ok' | 'degraded'): Promise<any> {
  let last: any = null;
  for (let i = 0; i < 200; i++) {
    last = (await target.call('GET', '/readyz')).body;
    if (last?.status === status) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return last;
}

/** Verifies on `target` until it answers `code`, at most 100 times 20 ms apart; returns the last code. */
async function codeUntil(target: Instance, api: string, credential: string, code: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 100 && last !== code; i++) {
    last = (await target.call('POST', '/v1/verify', { api, credential })).body.code;
    if (last !== code) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return last;
}

async function createKey(target: Instance, api: string, body: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
  const response = await target.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], ...body });
  expectStatus(response, 201);
  return response.body;
}

async function codes(target: Instance, api: string, credential: string, times: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < times; i++) {
    const response = await target.call('POST', '/v1/verify', { api, credential });
    expectStatus(response, 200);
    out.push(response.body.code);
  }
  return out;
}

/** Verify calls from several concurrent loops until stopped: what each answered and how long it took. */
function verifyLoad(targets: Instance[], api: string, credentials: string[]): { stop(): Promise<{ status: number; code: string | undefined; ms: number }[]> } {
  const samples: { status: number; code: string | undefined; ms: number }[] = [];
  let running = true;
  const loops = targets.flatMap((target) =>
    credentials.map(async (credential) => {
      while (running) {
        const started = performance.now();
        try {
          const response = await target.call('POST', '/v1/verify', { api, credential });
          samples.push({ status: response.status, code: response.body?.code, ms: performance.now() - started });
        } catch {
          samples.push({ status: 0, code: undefined, ms: performance.now() - started });
        }
      }
    }),
  );
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

describe('Redis lost and back under load: two instances on PostgreSQL, KEYGATE_REDIS_FAILURE=local', () => {
  let redis: RedisServer;
  let t: TestServer;
  let second: RunningServer;
  let a: Instance;
  let b: Instance;
  let api: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    // These tests count exactly across instances, so a reply merely slowed by a loaded test
    // machine must not send a request to the fallback; the default budget is tested below (hung).
    const shared = { redisUrl: redis.url, redisTimeoutMs: 500, masterKey: MASTER_KEY };
    t = await startTestServer('postgres', shared);
    second = await startServer({ port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, ...t.backend.config, ...shared }, { logger: false });
    a = instance(t.url);
    b = instance(second.url);
    ({ api } = await seedTenant(t));
  });

  afterAll(async () => {
    await second?.close();
    await t?.close();
    await redis?.stop('SIGKILL');
  });

  it('shares a limit between the instances while Redis is up, and says ready', async () => {
    expect((await a.call('GET', '/readyz')).body).toEqual({ status: 'ok', store: 'postgres', cluster: 'redis', reasons: [] });
    const limited = await createKey(a, api, { ratelimits: [{ name: 'per-minute', limit: 4, duration: 60_000 }] });
    const answers = [...(await codes(a, api, limited.key, 4)), ...(await codes(b, api, limited.key, 4))];
    expect(answers.filter((code) => code === 'VALID')).toHaveLength(4);
  });

  it('answers every verify during the outage (200, VALID or RATE_LIMITED, none slow), counts limits per instance, keeps throttles, and catches up on reconnect', async () => {
    const plain = await createKey(a, api);
    const busy = await createKey(a, api, { ratelimits: [{ name: 'per-second', limit: 5, duration: 1_000 }] });
    const stale = await createKey(a, api);
    expect(await codes(b, api, stale.key, 1)).toEqual(['VALID']); // now in B's cache
    const { clientId } = await registerMachineClient(t);
    const load = verifyLoad([a, b], api, [plain.key, busy.key]);

    await redis.stop('SIGKILL');
    const degraded = await readinessUntil(a, 'degraded');
    expect(degraded).toMatchObject({ status: 'degraded', store: 'postgres', cluster: 'redis', reasons: [{ component: 'redis', reason: 'unreachable' }] });
    expect(Date.parse(degraded.reasons[0].since)).toBeGreaterThan(0);
    expect(JSON.stringify(degraded)).not.toMatch(new RegExp(`127\\.0\\.0\\.1|ECONNREFUSED|${redis.port}`));
    expect((await b.call('GET', '/readyz')).body.status).toBe('degraded');
    expect(await a.call('GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });

    // Management still works (the change is stored; its announcement is owed), and a key made
    // now is limited per instance: each instance lets exactly the limit through, never more.
    const revoked = await a.call('POST', `/v1/tenants/acme/keys/${stale.id}/revoke`);
    expect(revoked.status).toBe(200);
    const limited = await createKey(a, api, { ratelimits: [{ name: 'per-minute', limit: 3, duration: 60_000 }] });
    expect(await codes(a, api, limited.key, 5)).toEqual(['VALID', 'VALID', 'VALID', 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(await codes(b, api, limited.key, 5)).toEqual(['VALID', 'VALID', 'VALID', 'RATE_LIMITED', 'RATE_LIMITED']);

    // The client-authentication throttle counts in the instance: it holds, it does not open.
    const attempts: number[] = [];
    for (let i = 0; i < FAILURES_PER_SOURCE + 2; i++) {
      const form = { grant_type: 'client_credentials', resource: ORDERS_API };
      attempts.push((await postForm(t, '/t/acme/oauth/token', form, { authorization: basic(clientId, `wrong secret ${i}`) })).status);
    }
    expect(attempts).toEqual([...Array(FAILURES_PER_SOURCE).fill(401), 429, 429]);

    await redis.start();
    expect((await readinessUntil(a, 'ok')).status).toBe('ok');
    expect((await readinessUntil(b, 'ok')).status).toBe('ok');
    const samples = await load.stop();

    // The revocation announced while Redis was away reaches B on reconnect, not a cache TTL later.
    expect(await codeUntil(b, api, stale.key, 'REVOKED')).toBe('REVOKED');
    expect(samples.length).toBeGreaterThan(20);
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
    expect(samples.filter((s) => s.code !== 'VALID' && s.code !== 'RATE_LIMITED')).toEqual([]);
    expect(samples.filter((s) => s.ms > MAX_REQUEST_MS)).toEqual([]);
  });

  it('shares limits and invalidations again once Redis is back', async () => {
    const limited = await createKey(a, api, { ratelimits: [{ name: 'per-minute', limit: 4, duration: 60_000 }] });
    const answers = [...(await codes(a, api, limited.key, 4)), ...(await codes(b, api, limited.key, 4))];
    expect(answers.filter((code) => code === 'VALID')).toHaveLength(4);

    const plain = await createKey(a, api);
    expect(await codes(b, api, plain.key, 1)).toEqual(['VALID']);
    expectStatus(await a.call('POST', `/v1/tenants/acme/keys/${plain.id}/revoke`), 200);
    expect(await codeUntil(b, api, plain.key, 'REVOKED')).toBe('REVOKED');
  });
});

/** One instance over `backend` with a redis-server of its own, for the describe it is called in. */
function oneInstance(backend: 'sqlite' | 'postgres', overrides: Partial<Config> = {}): { redis: RedisServer; a: Instance; api: string } {
  const context = {} as { redis: RedisServer; t: TestServer; a: Instance; api: string };
  beforeAll(async () => {
    context.redis = await startRedisServer();
    context.t = await startTestServer(backend, { redisUrl: context.redis.url, ...overrides });
    context.a = instance(context.t.url);
    ({ api: context.api } = await seedTenant(context.t));
  });
  afterAll(async () => {
    context.redis?.thaw();
    await context.t?.close();
    await context.redis?.stop('SIGKILL');
  });
  return context;
}

describe('Redis lost and back: one instance on SQLite, KEYGATE_REDIS_FAILURE=closed', () => {
  const context = oneInstance('sqlite', { redisFailure: 'closed' });

  it('refuses rate-limited keys (RATE_LIMITED, 200) while Redis is away, serves the others, and lets the limited ones through again when it is back', async () => {
    const { redis, a, api } = context;
    const limited = await createKey(a, api, { ratelimits: [{ name: 'per-minute', limit: 100, duration: 60_000 }] });
    const plain = await createKey(a, api);
    expect(await codes(a, api, limited.key, 1)).toEqual(['VALID']);

    await redis.stop('SIGTERM');
    expect((await readinessUntil(a, 'degraded')).reasons).toMatchObject([{ component: 'redis', reason: 'unreachable' }]);
    const refused = await a.call('POST', '/v1/verify', { api, credential: limited.key });
    expect(refused).toMatchObject({ status: 200, body: { valid: false, code: 'RATE_LIMITED', ratelimits: [{ name: 'per-minute', limit: 100, remaining: 0 }] } });
    expect(await codes(a, api, plain.key, 3)).toEqual(['VALID', 'VALID', 'VALID']);

    await redis.start();
    expect((await readinessUntil(a, 'ok')).status).toBe('ok');
    expect(await codes(a, api, limited.key, 2)).toEqual(['VALID', 'VALID']);
  });
});

describe('a Redis that hangs (SIGSTOP): one instance on PostgreSQL, KEYGATE_REDIS_FAILURE=local', () => {
  const context = oneInstance('postgres');

  it('waits a bounded time for a Redis that stops answering, then counts in the instance until it answers again', async () => {
    const { redis, a, api } = context;
    const limited = await createKey(a, api, { ratelimits: [{ name: 'per-minute', limit: 3, duration: 60_000 }] });
    redis.freeze();
    const answers: { status: number; code: string; ms: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const response = await a.call('POST', '/v1/verify', { api, credential: limited.key });
      answers.push({ status: response.status, code: response.body.code, ms: performance.now() - started });
    }
    // The connection looks alive, so the first request waits for the time budget; the link is
    // then suspended and the others do not wait at all.
    expect(answers.map((x) => [x.status, x.code])).toEqual([[200, 'VALID'], [200, 'VALID'], [200, 'VALID'], [200, 'RATE_LIMITED'], [200, 'RATE_LIMITED']]);
    expect(answers.filter((x) => x.ms > MAX_REQUEST_MS)).toEqual([]);
    expect((await a.call('GET', '/readyz')).body).toMatchObject({ status: 'degraded', reasons: [{ component: 'redis', reason: 'timeout' }] });
    expect(await a.call('GET', '/healthz')).toMatchObject({ status: 200 });

    redis.thaw();
    expect((await readinessUntil(a, 'ok')).status).toBe('ok');
    // Shared counting again, from what Redis holds. The request that timed out was already written
    // to the frozen connection: Redis runs it when thawed if that connection is still open then,
    // and not if the client had torn it down first, so the shared count starts at 1 or 0 — a
    // timeout may over-count, never under-count. Either way the limit holds from Redis's count.
    const after = await codes(a, api, limited.key, 4);
    expect([
      ['VALID', 'VALID', 'RATE_LIMITED', 'RATE_LIMITED'],
      ['VALID', 'VALID', 'VALID', 'RATE_LIMITED'],
    ]).toContainEqual(after);
  });
});

describe('Redis down at start: one instance on SQLite, KEYGATE_REDIS_FAILURE=local', () => {
  let redis: RedisServer;
  let t: TestServer;

  beforeAll(async () => {
    redis = await startRedisServer();
    await redis.stop('SIGKILL');
  });

  afterAll(async () => {
    await t?.close();
    await redis?.stop('SIGKILL');
  });

  it('starts degraded instead of not at all, serves verify, and joins Redis when it answers', async () => {
    t = await startTestServer('sqlite', { redisUrl: redis.url });
    const a = instance(t.url);
    const { api } = await seedTenant(t);
    expect((await a.call('GET', '/readyz')).body).toMatchObject({ status: 'degraded', reasons: [{ component: 'redis', reason: 'unreachable' }] });
    const limited = await createKey(a, api, { ratelimits: [{ name: 'per-minute', limit: 2, duration: 60_000 }] });
    expect(await codes(a, api, limited.key, 3)).toEqual(['VALID', 'VALID', 'RATE_LIMITED']);

    await redis.start();
    expect((await readinessUntil(a, 'ok')).status).toBe('ok');
    // Counted in Redis from now on: the new Redis has seen none of this key's requests.
    expect(await codes(a, api, limited.key, 3)).toEqual(['VALID', 'VALID', 'RATE_LIMITED']);
  });
});
