import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { gatewayApi, op, startGateway, startUpstream, target, TestRoutes, type RunningGateway, type Upstream } from './helpers.js';

const OPERATIONS = [
  op('GET', '/users', [['read:users']]),
  op('GET', '/admin/users', [['write:users']]),
  op('DELETE', '/users/{id}', [['write:users']]),
];

/**
 * Attacker review of the gateway, F3: under `passthrough` an undeclared path is forwarded for any
 * valid credential, so nothing that a common upstream runs as a declared operation may count as
 * undeclared — another letter case of its path (case-insensitive routers), or HEAD of its GET.
 */
describe('passthrough never opens a declared operation (sqlite)', () => {
  let t: TestServer;
  let upstream: Upstream;
  let gateway: RunningGateway;
  let api: string;
  let secret: string;

  beforeAll(async () => {
    t = await startTestServer('sqlite', { gatewayTimeoutMs: 1000 });
    ({ api } = await seedTenant(t));
    upstream = await startUpstream();
    const routes = new TestRoutes();
    routes.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, { upstream: upstream.url, passthrough: true }), 'acme', { basePath: '', operations: OPERATIONS }));
    gateway = await startGateway(t, routes);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] });
    expectStatus(created, 201);
    secret = created.body.key;
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.stop();
    await t?.close();
  });
  beforeEach(() => {
    upstream.received.length = 0;
  });

  const call = async (method: string, path: string) => {
    const response = await request(gateway.url + path, { method: method as 'GET', headers: { host: 'gw.acme.test', authorization: `Bearer ${secret}` } });
    await response.body.text();
    return response.statusCode;
  };

  it('refuses another letter case of a declared path (404), forwarding nothing', async () => {
    for (const path of ['/ADMIN/users', '/Admin/Users', '/admin/USERS/']) expect(await call('GET', path), path).toBe(404);
    expect(upstream.received).toEqual([]);
  });

  it('holds HEAD of a declared GET to the GET\'s requirement (403), and still forwards what is undeclared in any case', async () => {
    expect(await call('HEAD', '/admin/users')).toBe(403);
    expect(await call('GET', '/admin/users')).toBe(403);
    expect(upstream.received).toEqual([]);
    expect(await call('GET', '/reports/Weekly')).toBe(200);
    expect(upstream.received.map((r) => r.url)).toEqual(['/reports/Weekly']);
  });
});
