import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { testClock } from '../helpers/clock.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * GET /v1/tenants/{slug}/usage over real verify calls: counts equal to the calls made, by
 * outcome, key, consumer and API, the same totals by minute, hour and day, percentiles from the
 * histograms, and one tenant's usage out of every other tenant's reach.
 */
describe.each(BACKENDS)('usage analytics (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  // Keygate's clock stands at 12:00:30 UTC: every call of the suite lands in the 12:00 minute.
  const start = Date.UTC(2026, 10, 23, 12, 0, 30);
  const clock = testClock(start);
  const window = { from: '2026-11-23T12:00:00Z', to: '2026-11-23T12:01:00Z' };
  let key1: { id: string; key: string };
  let key2: { id: string; key: string };
  let limitedVerifier: string;

  const usage = async (query: Record<string, string>, slug = 'acme', auth?: string) => {
    const response = await t.call('GET', `/v1/tenants/${slug}/usage?${new URLSearchParams(query)}`, undefined, auth === undefined ? {} : { auth });
    return response;
  };
  const total = async (query: Record<string, string>): Promise<{ requests: number; outcomes: Record<string, number> }> => {
    const response = await usage({ granularity: 'minute', ...window, ...query });
    expectStatus(response, 200);
    const points = response.body.points as { requests: number; outcomes: Record<string, number> }[];
    const outcomes: Record<string, number> = {};
    for (const p of points) for (const [o, n] of Object.entries(p.outcomes)) outcomes[o] = (outcomes[o] ?? 0) + n;
    return { requests: points.reduce((sum, p) => sum + p.requests, 0), outcomes };
  };

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: clock.now });
    ({ api } = await seedTenant(t));
    await seedTenant(t, 'globex');
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://billing.acme.test', name: 'Billing', scopes: [] }), 201);
    const create = async (consumer: string) => {
      const response = await t.call('POST', '/v1/tenants/acme/keys', { api, consumer, scopes: ['read:users'] });
      expectStatus(response, 201);
      return response.body as { id: string; key: string };
    };
    key1 = await create('cust-1');
    key2 = await create('cust-2');
    const limited = await t.call('POST', '/v1/root-keys', { scopes: ['keys:verify'], tenant: 'acme' });
    expectStatus(limited, 201);
    limitedVerifier = limited.body.key;

    const verify = async (body: Record<string, unknown>, auth?: string) => {
      const response = await t.call('POST', '/v1/verify', { api, ...body }, auth === undefined ? {} : { auth });
      expectStatus(response, 200);
    };
    for (let i = 0; i < 7; i += 1) await verify({ credential: key1.key, scopes: ['read:users'] });
    for (let i = 0; i < 3; i += 1) await verify({ credential: key1.key, scopes: ['write:users'] });
    for (let i = 0; i < 4; i += 1) await verify({ credential: key2.key });
    // A credential that matches nothing (not even the key format), asked by a verifier limited to acme: acme's MALFORMED.
    for (let i = 0; i < 2; i += 1) await verify({ credential: 'kg_nothing_matches_this_key' }, limitedVerifier);
    // The same from a global root key names no tenant: nobody's usage.
    await verify({ credential: 'kg_nothing_matches_this_key' });
    await t.server.keygate.flush();
  });
  afterAll(() => t.close());

  it('counts every verify call once, by outcome', async () => {
    const all = await total({});
    expect(all.requests).toBe(16);
    expect(all.outcomes).toEqual({ allowed: 11, INSUFFICIENT_SCOPE: 3, MALFORMED: 2 });
  });

  it('narrows to a key, a consumer and an API', async () => {
    expect(await total({ key: key1.id })).toEqual({ requests: 10, outcomes: { allowed: 7, INSUFFICIENT_SCOPE: 3 } });
    expect(await total({ consumer: 'cust-2' })).toEqual({ requests: 4, outcomes: { allowed: 4 } });
    expect((await total({ api })).requests).toBe(16);
    expect((await total({ api: 'https://billing.acme.test' })).requests).toBe(0);
  });

  it('adds up per key, consumer and operation, busiest first (usage/breakdown)', async () => {
    const breakdown = (query: Record<string, string>, slug = 'acme', auth?: string) =>
      t.call('GET', `/v1/tenants/${slug}/usage/breakdown?${new URLSearchParams({ granularity: 'minute', ...window, ...query })}`, undefined, auth === undefined ? {} : { auth });
    const byKey = await breakdown({ by: 'key' });
    expectStatus(byKey, 200);
    // The MALFORMED calls matched no key: their item is named null, last among equals.
    expect(byKey.body).toMatchObject({ by: 'key', granularity: 'minute', total: 3 });
    expect(byKey.body.items).toEqual([
      { name: key1.id, requests: 10, outcomes: { allowed: 7, INSUFFICIENT_SCOPE: 3 } },
      { name: key2.id, requests: 4, outcomes: { allowed: 4 } },
      { name: null, requests: 2, outcomes: { MALFORMED: 2 } },
    ]);
    expect((await breakdown({ by: 'consumer' })).body.items.map((i: { name: string | null }) => i.name)).toEqual(['cust-1', 'cust-2', null]);
    expect((await breakdown({ by: 'operation' })).body.items).toEqual([{ name: null, requests: 16, outcomes: { allowed: 11, INSUFFICIENT_SCOPE: 3, MALFORMED: 2 } }]);
    // The series' filters and a limit.
    const first = await breakdown({ by: 'key', limit: '1' });
    expect(first.body.total).toBe(3);
    expect(first.body.items.map((i: { name: string }) => i.name)).toEqual([key1.id]);
    expect((await breakdown({ by: 'key', consumer: 'cust-2' })).body.items).toEqual([{ name: key2.id, requests: 4, outcomes: { allowed: 4 } }]);
    expect((await breakdown({ by: 'key', from: '2026-11-23T11:00:00Z', to: '2026-11-23T12:00:00Z' })).body).toMatchObject({ items: [], total: 0 });
    // Refusals: no `by`, an unknown one, a bad limit, a backwards range; another tenant; no usage:read.
    expect((await breakdown({})).status).toBe(400);
    expect((await breakdown({ by: 'api' })).status).toBe(400);
    expect((await breakdown({ by: 'key', limit: '0' })).status).toBe(400);
    expect((await breakdown({ by: 'key', from: window.to, to: window.from })).body.code).toBe('INVALID_TIME_RANGE');
    expect((await breakdown({ by: 'key' }, 'globex')).body.items).toEqual([]);
    const auditor = await t.call('POST', '/v1/root-keys', { scopes: ['audit:read'], tenant: 'acme' });
    expect((await breakdown({ by: 'key' }, 'acme', auditor.body.key)).status).toBe(403);
    const globexReader = await t.call('POST', '/v1/root-keys', { scopes: ['usage:read'], tenant: 'globex' });
    expect((await breakdown({ by: 'key' }, 'acme', globexReader.body.key)).status).toBe(404);
  });

  it('gives the same totals by minute, hour and day', async () => {
    for (const [granularity, from, to] of [
      ['minute', window.from, window.to],
      ['hour', '2026-11-23T12:00:00Z', '2026-11-23T13:00:00Z'],
      ['day', '2026-11-23T00:00:00Z', '2026-11-24T00:00:00Z'],
    ] as const) {
      const response = await usage({ granularity, from, to });
      expectStatus(response, 200);
      expect(response.body.points, granularity).toHaveLength(1);
      expect(response.body.points[0], granularity).toMatchObject({ at: from.replace('Z', '.000Z'), requests: 16 });
    }
    // A from inside a bucket: the series starts at that bucket, whose rows are stored at its start.
    const inside = await usage({ granularity: 'day', from: '2026-11-23T11:00:00Z', to: '2026-11-23T13:00:00Z' });
    expectStatus(inside, 200);
    expect(inside.body).toMatchObject({ from: '2026-11-23T00:00:00.000Z', points: [{ at: '2026-11-23T00:00:00.000Z', requests: 16 }] });
  });

  it('answers evenly spaced points, zero where nothing came', async () => {
    const response = await usage({ granularity: 'minute', from: '2026-11-23T11:58:00Z', to: '2026-11-23T12:02:00Z' });
    expectStatus(response, 200);
    expect(response.body.points.map((p: { requests: number }) => p.requests)).toEqual([0, 0, 16, 0]);
    expect(response.body).toMatchObject({ granularity: 'minute', from: '2026-11-23T11:58:00.000Z', to: '2026-11-23T12:02:00.000Z' });
  });

  it('interpolates latency percentiles from the histogram and averages exactly', async () => {
    const keygate = t.server.keygate;
    const tenant = await keygate.tenants.get('acme');
    const target = await keygate.apis.get(tenant, api);
    // 1 … 100 ms, one request each, on a gateway operation of its own.
    for (let ms = 1; ms <= 100; ms += 1) {
      keygate.analytics.record({ tenantId: tenant.id, apiId: target.id, keyId: key1.id, consumer: 'cust-1', operation: 'getPet', outcome: 'allowed', upstreamStatus: ms % 10 === 0 ? 503 : 200, latencyMs: ms, at: start });
    }
    await keygate.flush();
    const response = await usage({ granularity: 'minute', ...window, operation: 'getPet' });
    expectStatus(response, 200);
    const [point] = response.body.points;
    expect(point).toMatchObject({ requests: 100, outcomes: { allowed: 100 }, statusClasses: { '2xx': 90, '5xx': 10 } });
    expect(point.latencyMs.avg).toBe(50.5);
    // Buckets 30–50 and 80–130 ms hold the 50th and 99th requests.
    expect(point.latencyMs.p50).toBeGreaterThan(30);
    expect(point.latencyMs.p50).toBeLessThanOrEqual(50);
    expect(point.latencyMs.p90).toBeGreaterThan(80);
    expect(point.latencyMs.p90).toBeLessThanOrEqual(130);
    expect(point.latencyMs.p99).toBeGreaterThan(80);
    expect(point.latencyMs.p99).toBeLessThanOrEqual(130);
    // The verify calls' latencies were measured too.
    const verifyOnly = await usage({ granularity: 'minute', ...window, key: key2.id });
    expect(verifyOnly.body.points[0].latencyMs.p50).toBeGreaterThan(0);
  });

  it('keeps each tenant\'s usage its own', async () => {
    expect(await total({}).then((all) => all.requests)).toBe(116);
    const globex = await usage({ granularity: 'minute', ...window }, 'globex');
    expectStatus(globex, 200);
    expect(globex.body.points[0].requests).toBe(0);
    // Filters that name acme's key or API from globex find nothing there.
    expect((await usage({ granularity: 'minute', ...window, key: key1.id }, 'globex')).body.points[0].requests).toBe(0);
    expect((await usage({ api: 'https://billing.acme.test' }, 'globex')).status).toBe(404);
    // A root key limited to globex reads globex's usage only.
    const reader = await t.call('POST', '/v1/root-keys', { scopes: ['usage:read'], tenant: 'globex' });
    expectStatus(reader, 201);
    expect((await usage({}, 'globex', reader.body.key)).status).toBe(200);
    expect((await usage({}, 'acme', reader.body.key)).status).toBe(404);
  });

  it('needs usage:read: audit:read is not enough', async () => {
    const auditor = await t.call('POST', '/v1/root-keys', { scopes: ['audit:read'], tenant: 'acme' });
    expectStatus(auditor, 201);
    const response = await usage({}, 'acme', auditor.body.key);
    expect(response.status).toBe(403);
    expect((await usage({}, 'acme', key1.key)).status).toBe(403);
    expect((await usage({}, 'acme', null as unknown as string)).status).toBe(401);
  });

  it('refuses a range that selects nothing or too many buckets', async () => {
    const backwards = await usage({ from: window.to, to: window.from });
    expect(backwards.status).toBe(400);
    expect(backwards.body.code).toBe('INVALID_TIME_RANGE');
    const tooLong = await usage({ granularity: 'minute', from: '2026-11-01T00:00:00Z', to: '2026-11-23T00:00:00Z' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.code).toBe('INVALID_TIME_RANGE');
    expect((await usage({ granularity: 'week' })).status).toBe(400);
  });
});

/**
 * The same counts through the gateway: every request once, under its operation (operationId, else
 * `METHOD /template`), by outcome (allowed, the denial, NO_ROUTE) and, when forwarded, by the
 * status class a real upstream answered with.
 */
describe.each(BACKENDS)('usage analytics through the gateway (%s)', (backend) => {
  let t: TestServer;
  let upstream: Server;
  let api: string;
  let secret: string;
  let keyId: string;
  const document = JSON.stringify({
    openapi: '3.1.0',
    info: { title: 'Acme', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths: {
      '/users': { get: { operationId: 'listUsers', security: [{ bearer: ['read:users'] }], responses: { '200': { description: 'ok' } } } },
      '/admin': { get: { security: [{ bearer: ['write:users'] }], responses: { '200': { description: 'ok' } } } },
      '/status/{code}': {
        parameters: [{ name: 'code', in: 'path', required: true, schema: { type: 'string' } }],
        get: { security: [{ bearer: ['read:users'] }], responses: { '200': { description: 'ok' } } },
      },
    },
  });

  beforeAll(async () => {
    // Answers /status/{code} with that code, anything else with 200.
    upstream = createServer((req, res) => {
      const code = /^\/status\/(\d{3})$/.exec(req.url ?? '')?.[1];
      res.writeHead(code === undefined ? 200 : Number(code)).end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    t = await startTestServer(backend, { gatewayPort: 0 });
    ({ api } = await seedTenant(t));
    const encoded = encodeURIComponent(api);
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encoded}`, { upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }), 200);
    expectStatus(await t.call('PUT', `/v1/tenants/acme/apis/${encoded}/openapi`, document, { headers: { 'content-type': 'application/json' } }), 200);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], consumer: 'cust-gw' });
    expectStatus(created, 201);
    ({ key: secret, id: keyId } = created.body);
  });
  afterAll(async () => {
    await t?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('counts every request once, under its operation, outcome and upstream status class', async () => {
    const from = new Date(Date.now() - 60_000).toISOString();
    const send = async (path: string, times: number, auth = true): Promise<number[]> => {
      const statuses: number[] = [];
      for (let i = 0; i < times; i += 1) {
        const response = await request(`${t.server.gatewayUrl!}${path}`, { headers: auth ? { authorization: `Bearer ${secret}` } : {} });
        await response.body.text();
        statuses.push(response.statusCode);
      }
      return statuses;
    };
    expect(await send('/users', 5)).toEqual([200, 200, 200, 200, 200]);
    expect(await send('/users', 2, false)).toEqual([401, 401]);
    expect(await send('/admin', 2)).toEqual([403, 403]);
    expect(await send('/nowhere', 3)).toEqual([404, 404, 404]);
    expect(await send('/status/503', 4)).toEqual([503, 503, 503, 503]);
    expect(await send('/status/404', 1)).toEqual([404]);
    await t.server.keygate.flush();

    const to = new Date(Date.now() + 60_000).toISOString();
    const sum = async (query: Record<string, string>): Promise<{ requests: number; outcomes: Record<string, number>; statusClasses: Record<string, number> }> => {
      const response = await t.call('GET', `/v1/tenants/acme/usage?${new URLSearchParams({ granularity: 'minute', from, to, ...query })}`);
      expectStatus(response, 200);
      const total = { requests: 0, outcomes: {} as Record<string, number>, statusClasses: {} as Record<string, number> };
      for (const point of response.body.points as { requests: number; outcomes: Record<string, number>; statusClasses: Record<string, number> }[]) {
        total.requests += point.requests;
        for (const [name, n] of Object.entries(point.outcomes)) total.outcomes[name] = (total.outcomes[name] ?? 0) + n;
        for (const [name, n] of Object.entries(point.statusClasses)) total.statusClasses[name] = (total.statusClasses[name] ?? 0) + n;
      }
      return total;
    };
    expect(await sum({ api })).toEqual({ requests: 17, outcomes: { allowed: 10, NOT_FOUND: 2, INSUFFICIENT_SCOPE: 2, NO_ROUTE: 3 }, statusClasses: { '2xx': 5, '4xx': 1, '5xx': 4 } });
    expect(await sum({ operation: 'listUsers' })).toEqual({ requests: 7, outcomes: { allowed: 5, NOT_FOUND: 2 }, statusClasses: { '2xx': 5 } });
    expect(await sum({ operation: 'GET /admin' })).toEqual({ requests: 2, outcomes: { INSUFFICIENT_SCOPE: 2 }, statusClasses: {} });
    expect(await sum({ operation: 'GET /status/{code}' })).toEqual({ requests: 5, outcomes: { allowed: 5 }, statusClasses: { '4xx': 1, '5xx': 4 } });
    expect((await sum({ key: keyId })).requests).toBe(12);
    expect((await sum({ consumer: 'cust-gw' })).requests).toBe(12);
  });
});
