import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { gatewayApi, op, startGateway, startUpstream, target, TestRoutes, type RunningGateway, type Upstream } from './helpers.js';
import { scriptedLookup } from './scripted-lookup.js';

/**
 * The gateway's own connections follow the upstream address rule at connect time: an upstream
 * whose name resolved to an allowed address when it was set, and to the metadata address later,
 * gets nothing once it has rebound (attacker review F5).
 */
describe('gateway connections and DNS rebinding (sqlite)', () => {
  let t: TestServer;
  let upstream: Upstream;
  let gateway: RunningGateway;
  let secret: string;
  const resolver = scriptedLookup({ 'rebind.test': [['127.0.0.1'], ['169.254.169.254']] });

  beforeAll(async () => {
    t = await startTestServer('sqlite');
    const { api } = await seedTenant(t);
    upstream = await startUpstream();
    const routes = new TestRoutes();
    const settings = { upstream: `http://rebind.test:${upstream.port}` };
    routes.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, settings), 'acme', { basePath: '', operations: [op('GET', '/users', [[]])] }));
    gateway = await startGateway(t, routes, false, { allowLinkLocal: false, ownPorts: [], lookup: resolver.lookup });
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: [] });
    expectStatus(created, 201);
    secret = created.body.key;
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.stop();
    await t?.close();
  });

  it('forwards while the name leads to an allowed address, and answers 502 without connecting once it leads to 169.254.169.254', async () => {
    const call = async (): Promise<number> => {
      // A new connection each time: `reset` closes the pooled one after the answer.
      const response = await request(`${gateway.url}/users`, { headers: { host: 'gw.acme.test', authorization: `Bearer ${secret}`, connection: 'close' } });
      await response.body.text();
      return response.statusCode;
    };
    expect(await call()).toBe(200);
    expect(upstream.received).toHaveLength(1);
    // The gateway's pooled connection to 127.0.0.1 is gone; the next one resolves the name again.
    upstream.server.closeAllConnections();
    expect(await call()).toBe(502);
    expect(resolver.asked.filter((name) => name === 'rebind.test').length).toBeGreaterThanOrEqual(2);
    expect(upstream.received).toHaveLength(1);
  });
});
