import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { startUpstream, type Upstream } from './helpers.js';

const DOCUMENT = (path: string) =>
  JSON.stringify({
    openapi: '3.1.0',
    info: { title: 'Acme', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: ['read:users'] }],
    paths: { '/users': { get: { responses: { '200': { description: 'ok' } } } }, [path]: { get: { responses: { '200': { description: 'ok' } } } } },
  });

/**
 * The real server with its gateway listener and routing table (GatewayRoutesService): settings
 * and documents changed through the management API while requests flow, none of them failing,
 * and every request counted in usage analytics.
 */
describe.each(BACKENDS)('gateway route changes and analytics (%s)', (backend) => {
  let t: TestServer;
  let first: Upstream;
  let second: Upstream;
  let api: string;
  let secret: string;
  let gatewayUrl: string;
  const encoded = () => encodeURIComponent(api);

  beforeAll(async () => {
    t = await startTestServer(backend, { gatewayPort: 0 });
    ({ api } = await seedTenant(t));
    first = await startUpstream();
    second = await startUpstream();
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encoded()}`, { upstream: first.url }), 200);
    const uploaded = await t.call('PUT', `/v1/tenants/acme/apis/${encoded()}/openapi`, DOCUMENT('/a'), { headers: { 'content-type': 'application/json' } });
    expectStatus(uploaded, 200);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], consumer: 'cus_load' });
    expectStatus(created, 201);
    secret = created.body.key;
    gatewayUrl = t.server.gatewayUrl!;
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await t?.close();
  });

  async function get(path: string, auth = true): Promise<number> {
    const response = await request(`${gatewayUrl}${path}`, { headers: auth ? { authorization: `Bearer ${secret}` } : {} });
    await response.body.text();
    return response.statusCode;
  }

  it('serves the document it was given, then a new one within seconds', async () => {
    expect(await get('/a')).toBe(200);
    expect(await get('/b')).toBe(404);
    expectStatus(await t.call('PUT', `/v1/tenants/acme/apis/${encoded()}/openapi`, DOCUMENT('/b'), { headers: { 'content-type': 'application/json' } }), 200);
    const deadline = Date.now() + 10_000;
    while ((await get('/b')) !== 200 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await get('/b')).toBe(200);
    expect(await get('/a')).toBe(404);
  });

  it('moves to a new upstream under load without a failed request, and counts every request in usage analytics', async () => {
    const from = new Date(Date.now() - 60_000).toISOString();
    const statuses = new Map<number, number>();
    let sent = 0;
    let running = true;
    const workers = Array.from({ length: 8 }, async () => {
      while (running) {
        const status = await get('/users');
        sent++;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encoded()}`, { upstream: second.url }), 200);
    const deadline = Date.now() + 10_000;
    while (second.received.length < 20 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encoded()}`, { upstream: first.url }), 200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    running = false;
    await Promise.all(workers);
    expect([...statuses.keys()]).toEqual([200]);
    expect(second.received.length).toBeGreaterThanOrEqual(20);
    expect(first.received.length + second.received.length).toBeGreaterThanOrEqual(sent);

    await t.server.keygate.analytics.flush();
    const usage = await t.call('GET', `/v1/tenants/acme/usage?api=${encoded()}&consumer=cus_load&operation=${encodeURIComponent('GET /users')}&granularity=minute&from=${from}&to=${new Date(Date.now() + 60_000).toISOString()}`);
    expectStatus(usage, 200);
    const counted = usage.body.points.reduce((sum: number, point: { outcomes: Record<string, number> }) => sum + (point.outcomes['allowed'] ?? 0), 0);
    expect(counted).toBe(sent);
  });
});
