import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { GATEWAY_ROUTES_POLL_MS } from '../../src/services/gateway-routes-service.js';
import { BACKENDS, REDIS_URL, createBackend, type Backend } from '../helpers/backends.js';
import { ROOT_KEY } from '../helpers/server.js';
import { startUpstream, type Upstream } from './helpers.js';

const DOCUMENT = JSON.stringify({
  openapi: '3.1.0',
  info: { title: 'Acme', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: ['read:users'] }],
  paths: {
    '/users': { get: { responses: { '200': { description: 'ok' } } } },
    '/health': { get: { security: [], 'x-keygate-public': true, responses: { '200': { description: 'up' } } } },
  },
});

/** How long a change may take to reach the other instance: far below the routing table's 5-second poll. */
const PROMPTLY_MS = 1_500;

/**
 * The routing table follows deletions at once: on the instance that made the change before its
 * answer, and on the others through the cluster bus (Redis), not at the next 5-second poll.
 * Without Redis there is one instance to tell; with it, two instances, each with its gateway, on
 * one store, as in a scale-out deployment.
 */
describe.each(BACKENDS.flatMap((name) => [[name, 'alone'] as const, [name, 'with a second instance over Redis'] as const]))('deletions reach every routing table at once (%s, %s)', (backendName, setup) => {
  const clustered = setup !== 'alone';
  let backend: Backend;
  let a: RunningServer;
  let b: RunningServer;
  let upstream: Upstream;
  let round = 0;
  let slug = '';
  let api = '';
  let secret = '';

  beforeAll(async () => {
    backend = await createBackend(backendName);
    const config = { port: 0, host: '127.0.0.1', gatewayPort: 0, rootKey: ROOT_KEY, ...(clustered ? { redisUrl: REDIS_URL, redisTimeoutMs: 500 } : {}), ...backend.config };
    a = await startServer(config, { logger: false });
    b = clustered ? await startServer(config, { logger: false }) : a;
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await upstream?.stop();
    await a?.close();
    if (clustered) await b?.close();
    await backend?.destroy();
  });

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const response = await fetch(a.url + path, {
      method,
      headers: { authorization: `Bearer ${ROOT_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? null : JSON.parse(text) };
  }

  async function expectCall(method: string, path: string, status: number, body?: unknown, headers?: Record<string, string>): Promise<any> {
    const response = await call(method, path, body, headers);
    if (response.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${response.status}: ${JSON.stringify(response.body)}`);
    return response.body;
  }

  async function through(gateway: RunningServer, path: string, auth = true): Promise<{ status: number; code: string | undefined }> {
    const response = await request(`${gateway.gatewayUrl!}${path}`, { headers: { host: new URL(api).host, ...(auth ? { authorization: `Bearer ${secret}` } : {}) } });
    const text = await response.body.text();
    return { status: response.statusCode, code: response.statusCode === 404 ? (JSON.parse(text) as { code: string }).code : undefined };
  }

  /** Asks `gateway` until it answers 404 NO_ROUTE; returns how long that took, or Infinity past `PROMPTLY_MS`. */
  async function untilNoRoute(gateway: RunningServer, path: string): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < PROMPTLY_MS) {
      const { status, code } = await through(gateway, path, false);
      if (status === 404 && code === 'NO_ROUTE') return Date.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return Infinity;
  }

  // Each case gets its own tenant and API (one host each), served by both gateways before the change.
  beforeEach(async () => {
    round++;
    slug = `acme-${round}`;
    api = `https://api${round}.acme.test`;
    await expectCall('POST', '/v1/tenants', 201, { slug, name: 'Acme' });
    await expectCall('POST', `/v1/tenants/${slug}/apis`, 201, { identifier: api, name: 'Acme API', upstream: upstream.url, scopes: [{ name: 'read:users', description: 'Read users' }] });
    await expectCall('PUT', `/v1/tenants/${slug}/apis/${encodeURIComponent(api)}/openapi`, 200, DOCUMENT);
    secret = (await expectCall('POST', `/v1/tenants/${slug}/keys`, 201, { api, scopes: ['read:users'] })).key;
    // B learns of the new API through the bus, or at its next poll at the latest.
    const deadline = Date.now() + GATEWAY_ROUTES_POLL_MS * 2;
    while ((await through(b, '/users')).status !== 200 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await through(a, '/users')).toEqual({ status: 200, code: undefined });
    expect(await through(b, '/users')).toEqual({ status: 200, code: undefined });
    expect(await through(b, '/health', false)).toEqual({ status: 200, code: undefined });
  });

  it("a deleted tenant's API is NO_ROUTE on both gateways right after the delete, its public operations too", async () => {
    await expectCall('DELETE', `/v1/tenants/${slug}`, 200);
    // The instance that deleted it answers from the new table before the delete's answer arrives.
    expect(await through(a, '/health', false)).toEqual({ status: 404, code: 'NO_ROUTE' });
    expect(await untilNoRoute(b, '/health')).toBeLessThan(PROMPTLY_MS);
    expect(await through(b, '/users')).toEqual({ status: 404, code: 'NO_ROUTE' });
  });

  it('a deleted API is NO_ROUTE on both gateways right after the delete', async () => {
    await expectCall('DELETE', `/v1/tenants/${slug}/apis/${encodeURIComponent(api)}?force=true`, 204);
    expect(await through(a, '/health', false)).toEqual({ status: 404, code: 'NO_ROUTE' });
    expect(await untilNoRoute(b, '/health')).toBeLessThan(PROMPTLY_MS);
  });

  it('an API whose upstream is removed is NO_ROUTE on both gateways right after the change', async () => {
    await expectCall('PATCH', `/v1/tenants/${slug}/apis/${encodeURIComponent(api)}`, 200, { upstream: null });
    expect(await through(a, '/health', false)).toEqual({ status: 404, code: 'NO_ROUTE' });
    expect(await untilNoRoute(b, '/health')).toBeLessThan(PROMPTLY_MS);
  });
});
