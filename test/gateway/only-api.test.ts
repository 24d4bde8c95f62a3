import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { expectStatus, startTestServer, type TestServer } from '../helpers/server.js';
import { startUpstream, type Upstream } from './helpers.js';

const PUBLIC_ORDERS = JSON.stringify({
  openapi: '3.1.0',
  info: { title: 'Orders', version: '1' },
  paths: { '/orders': { get: { security: [], 'x-keygate-public': true, responses: { '200': { description: 'ok' } } } } },
});

/**
 * "With one API behind the gateway every request goes to it" is a convenience for a Keygate of one
 * tenant. On a shared one it moved a tenant's callers, with their credentials, to another tenant's
 * upstream as soon as their own API left the gateway (attacker review 2, #6).
 */
describe.each(BACKENDS)('the only gateway API (%s)', (backend) => {
  let t: TestServer;
  let acme: Upstream;
  let beta: Upstream;

  async function get(host: string): Promise<number> {
    const response = await request(`${t.server.gatewayUrl!}/orders`, { headers: { host, 'x-api-key': 'beta-callers-key' } });
    await response.body.text();
    return response.statusCode;
  }

  beforeAll(async () => {
    t = await startTestServer(backend, { gatewayPort: 0 });
    acme = await startUpstream();
    beta = await startUpstream();
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' }), 201);
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://api.acme.test', name: 'Acme', scopes: [], upstream: acme.url }), 201);
    const uploaded = await t.call('PUT', `/v1/tenants/acme/apis/${encodeURIComponent('https://api.acme.test')}/openapi`, PUBLIC_ORDERS, { headers: { 'content-type': 'application/json' } });
    expectStatus(uploaded, 200);
  });
  afterAll(async () => {
    await acme?.stop();
    await beta?.stop();
    await t?.close();
  });

  it('takes every Host while the Keygate has one tenant', async () => {
    expect(await get('api.acme.test')).toBe(200);
    expect(await get('127.0.0.1')).toBe(200);
  });

  it("routes by Host alone from the second tenant on, so another tenant's callers never reach it", async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'beta', name: 'Beta' }), 201);
    // No API of beta's behind the gateway yet: its Host reaches no one, at once on this instance.
    expect(await get('api.beta.test')).toBe(404);
    const path = `/v1/tenants/beta/apis/${encodeURIComponent('https://api.beta.test')}`;
    expectStatus(await t.call('POST', '/v1/tenants/beta/apis', { identifier: 'https://api.beta.test', name: 'Beta', scopes: [], upstream: beta.url, credentialHeader: 'x-api-key' }), 201);
    expectStatus(await t.call('PATCH', path, { upstream: null }), 200);
    const before = acme.received.length;
    expect(await get('api.beta.test')).toBe(404);
    expect(await get('127.0.0.1')).toBe(404);
    expect(acme.received.length).toBe(before);
    expect(await get('api.acme.test')).toBe(200);
    // One tenant again: the convenience comes back.
    expectStatus(await t.call('DELETE', '/v1/tenants/beta'), 200);
    expect(await get('127.0.0.1')).toBe(200);
  });
});
