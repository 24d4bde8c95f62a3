import { describe, expect, it } from 'vitest';
import type { InvalidationBus } from '../../src/cluster/cluster.js';
import type { Api } from '../../src/domain/apis.js';
import { DEFAULT_GATEWAY_SETTINGS } from '../../src/domain/gateway/settings.js';
import { GatewayRoutesService } from '../../src/services/gateway-routes-service.js';
import type { GatewayApi } from '../../src/store/aggregates/directory.js';
import { makeApi, makeTenant } from '../store/fixtures.js';

const BUS: InvalidationBus = {
  publish: async () => undefined,
  subscribe: () => undefined,
  publishRevocations: async () => undefined,
  subscribeRevocations: () => undefined,
  close: async () => undefined,
};

const ACME = makeTenant('acme');
const BETA = makeTenant('beta');

function gatewayApi(tenantSlug: string, api: Api): GatewayApi {
  return { api, tenantSlug, routes: null };
}

async function table(apis: GatewayApi[], tenants = 2): Promise<GatewayRoutesService> {
  const routes = new GatewayRoutesService({ listGatewayApis: async () => apis, countTenants: async () => tenants }, BUS, (err) => {
    throw err;
  });
  await routes.start();
  routes.close();
  return routes;
}

/** The routing table on its own, from what a store holds, including rows written before today's rules. */
describe('GatewayRoutesService routing table', () => {
  const acme = makeApi(ACME, 'https://api.acme.test', { id: 'api_1', gateway: { ...DEFAULT_GATEWAY_SETTINGS, upstream: 'http://127.0.0.1:9' } });

  it("gives every port of a name to the older API claiming it, so a later claim of name:port made before claims were kept by name takes none of its callers (review 2, #2a)", async () => {
    const squat = makeApi(BETA, 'https://beta.test', { id: 'api_2', gateway: { ...DEFAULT_GATEWAY_SETTINGS, upstream: 'http://127.0.0.1:10', gatewayHosts: ['api.acme.test:8080', 'api.acme.test:443', 'beta.test:8080'] } });
    const routes = await table([gatewayApi('acme', acme), gatewayApi('beta', squat)]);
    for (const host of ['api.acme.test', 'api.acme.test:8080', 'API.acme.test.:8080', 'api.acme.test:443']) expect(routes.find(host)?.api.id).toBe('api_1');
    expect(routes.find('beta.test:8080')?.api.id).toBe('api_2');
    expect(routes.find('beta.test')?.api.id).toBe('api_2');
  });

  it('sends every request to the only API of a Keygate with one tenant, whatever its Host', async () => {
    const routes = await table([gatewayApi('acme', acme)], 1);
    for (const host of ['api.acme.test', '127.0.0.1:8080', undefined]) expect(routes.find(host)?.api.id).toBe('api_1');
  });

  it("routes by Host alone once there are two tenants, so another tenant's callers never reach the only API (review 2, #6)", async () => {
    const routes = await table([gatewayApi('acme', acme)], 2);
    expect(routes.find('api.acme.test')?.api.id).toBe('api_1');
    for (const host of ['api.beta.test', '127.0.0.1:8080', undefined]) expect(routes.find(host)).toBeNull();
  });

  it('reads a name with trailing dots as the name, in the identifier and in the Host (re-check N4)', async () => {
    const dotted = makeApi(BETA, 'https://api.beta.test.', { id: 'api_3', gateway: { ...DEFAULT_GATEWAY_SETTINGS, upstream: 'http://127.0.0.1:11' } });
    const routes = await table([gatewayApi('acme', acme), gatewayApi('beta', dotted)]);
    for (const host of ['api.acme.test.', 'api.acme.test..', 'API.acme.test..:8080']) expect(routes.find(host)?.api.id).toBe('api_1');
    expect(routes.find('api.beta.test')?.api.id).toBe('api_3');
  });
});
