import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.js';
import { BACKENDS } from '../helpers/backends.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { startUpstream, type Upstream } from './helpers.js';

/** `/users` declares GET and POST; `/admin` declares OPTIONS itself, with a scope. */
const DOCUMENT = JSON.stringify({
  openapi: '3.1.0',
  info: { title: 'Acme', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: ['read:users'] }],
  paths: {
    '/users': { get: { responses: { '200': { description: 'ok' } } }, post: { security: [{ bearer: ['write:users'] }], responses: { '201': { description: 'created' } } } },
    '/admin': { options: { security: [{ bearer: ['write:users'] }], responses: { '204': { description: 'ok' } } } },
  },
});

const PREFLIGHT = { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' };

/**
 * CORS preflights through the gateway: `corsPreflight: 'refuse'` (the default) answers them 405
 * like any undeclared method; `'forward'` sends a preflight on a declared path to the upstream
 * without a credential or identity headers, and counts it in usage analytics. Anything that is not
 * a preflight, an undeclared path and a declared OPTIONS keep their rules.
 */
describe.each(BACKENDS)('gateway CORS preflights (%s)', (backend) => {
  let t: TestServer;
  let upstream: Upstream;
  let api: string;
  let path: string;
  let secret: string;

  beforeAll(async () => {
    t = await startTestServer(backend, { gatewayPort: 0 });
    ({ api } = await seedTenant(t));
    path = `/v1/tenants/acme/apis/${encodeURIComponent(api)}`;
    upstream = await startUpstream();
    expectStatus(await t.call('PATCH', path, { upstream: upstream.url }), 200);
    expectStatus(await t.call('PUT', `${path}/openapi`, DOCUMENT, { headers: { 'content-type': 'application/json' } }), 200);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['write:users'], consumer: 'cus_cors' });
    expectStatus(created, 201);
    secret = created.body.key;
  });
  afterAll(async () => {
    await upstream?.stop();
    await t?.close();
  });

  async function options(route: string, headers: Record<string, string>): Promise<{ status: number; body: any; allow: string | undefined }> {
    const response = await request(`${t.server.gatewayUrl!}${route}`, { method: 'OPTIONS', headers });
    const text = await response.body.text();
    return { status: response.statusCode, body: text === '' ? null : JSON.parse(text), allow: response.headers['allow'] as string | undefined };
  }

  async function allowedRequests(): Promise<number> {
    await t.server.keygate.analytics.flush();
    const from = new Date(Date.now() - 120_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const usage = await t.call('GET', `/v1/tenants/acme/usage?api=${encodeURIComponent(api)}&granularity=minute&from=${from}&to=${to}`);
    expectStatus(usage, 200);
    return usage.body.points.reduce((sum: number, point: { outcomes: Record<string, number> }) => sum + (point.outcomes['allowed'] ?? 0), 0);
  }

  it('refuses a preflight with 405 by default, as any undeclared method, and forwards nothing', async () => {
    expect((await t.call('GET', path)).body.corsPreflight).toBe('refuse');
    const refused = await options('/users', PREFLIGHT);
    expect(refused).toMatchObject({ status: 405, body: { code: 'METHOD_NOT_ALLOWED' }, allow: 'GET, HEAD, POST' });
    expect(upstream.received.filter((r) => r.method === 'OPTIONS')).toEqual([]);
  });

  it("with 'forward', sends a preflight on a declared path to the upstream without any credential or identity, and counts it", async () => {
    const changed = await t.call('PATCH', path, { corsPreflight: 'forward' });
    expectStatus(changed, 200);
    expect(changed.body.corsPreflight).toBe('forward');
    const before = await allowedRequests();
    upstream.received.length = 0;

    // A browser sends none of these on a preflight; a caller that does gets them stripped, not checked.
    const forwarded = await options('/users/', { ...PREFLIGHT, authorization: `Bearer ${secret}`, 'keygate-subject': 'cus_admin' });
    expect(forwarded.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
    const [received] = upstream.received;
    expect(received!.method).toBe('OPTIONS');
    expect(received!.url).toBe('/users/');
    expect(received!.headers).toMatchObject({ origin: PREFLIGHT.origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' });
    expect(received!.headers['authorization']).toBeUndefined();
    for (const name of ['keygate-subject', 'keygate-scopes', 'keygate-key-id', 'keygate-token']) expect(received!.headers[name]).toBeUndefined();
    expect(await allowedRequests()).toBe(before + 1);
  });

  it("with 'forward', keeps every other OPTIONS as it was: not a preflight, an undeclared path, a declared OPTIONS", async () => {
    upstream.received.length = 0;
    expect(await options('/users', { origin: PREFLIGHT.origin })).toMatchObject({ status: 405, body: { code: 'METHOD_NOT_ALLOWED' } });
    expect(await options('/users', { 'access-control-request-method': 'POST' })).toMatchObject({ status: 405, body: { code: 'METHOD_NOT_ALLOWED' } });
    expect(await options('/nowhere', PREFLIGHT)).toMatchObject({ status: 404, body: { code: 'NO_ROUTE' } });
    expect(await options('/Users', PREFLIGHT)).toMatchObject({ status: 404, body: { code: 'NO_ROUTE' } });
    // The document's own OPTIONS decides: two request headers do not open a declared operation.
    expect((await options('/admin', PREFLIGHT)).status).toBe(401);
    expect(upstream.received).toEqual([]);
    expect((await options('/admin', { ...PREFLIGHT, authorization: `Bearer ${secret}` })).status).toBe(200);
    expect(upstream.received.map((r) => r.headers['keygate-subject'])).toEqual(['cus_cors']);
  });

  it("refuses a value other than 'refuse' or 'forward' (400, nothing changed), and 'refuse' turns forwarding off again", async () => {
    const bad = await t.call('PATCH', path, { corsPreflight: 'allow' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('INVALID_REQUEST');
    expect((await t.call('GET', path)).body.corsPreflight).toBe('forward');
    expectStatus(await t.call('PATCH', path, { corsPreflight: 'refuse' }), 200);
    expect((await options('/users', PREFLIGHT)).status).toBe(405);
  });

  it('is set and shown by keygate api create/update --cors-preflight', async () => {
    const env = { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' };
    const created = await runCli(['api', 'create', '--identifier', 'https://cors.acme.test', '--name', 'CORS', '--scope', 'read:x', '--upstream', upstream.url, '--cors-preflight', 'forward', '--json'], { env });
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout).corsPreflight).toBe('forward');
    const shown = await runCli(['api', 'get', 'https://cors.acme.test'], { env });
    expect(shown.stdout).toMatch(/corsPreflight\s+forward/);
    const updated = await runCli(['api', 'update', 'https://cors.acme.test', '--cors-preflight', 'refuse', '--json'], { env });
    expect(JSON.parse(updated.stdout).corsPreflight).toBe('refuse');
    const wrong = await runCli(['api', 'update', 'https://cors.acme.test', '--cors-preflight', 'allow'], { env });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('refuse, forward');
  });
});
