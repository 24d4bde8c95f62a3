import { randomBytes } from 'node:crypto';
import { request as rawRequest } from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/domain/keys/format.js';
import { BACKENDS } from '../helpers/backends.js';
import { testClock } from '../helpers/clock.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { gatewayApi, op, startGateway, startUpstream, target, TestRoutes, type RunningGateway, type Upstream } from './helpers.js';

const OPERATIONS = [
  op('GET', '/users', [['read:users']], { operationId: 'listUsers' }),
  op('POST', '/users', [['write:users']]),
  op('DELETE', '/users/{id}', [['write:users', 'read:billing']]),
  op('GET', '/users/me', [[]]),
  op('GET', '/billing', [['read:billing'], ['repo']]),
  op('GET', '/health', [[]], { requirement: { public: true, anyOf: [[]] } }),
  op('POST', '/reports', [[]], { cost: 3 }),
];

describe.each(BACKENDS)('gateway (%s)', (backend) => {
  let t: TestServer;
  let upstream: Upstream;
  let gateway: RunningGateway;
  let api: string;
  const clock = testClock();

  beforeAll(async () => {
    t = await startTestServer(backend, { gatewayTimeoutMs: 400 }, { clock: clock.now });
    ({ api } = await seedTenant(t));
    upstream = await startUpstream();
    const routes = new TestRoutes();
    const settings = { upstream: upstream.url, credentialHeader: 'x-api-key', credentialQuery: 'api_key' };
    routes.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, settings), 'acme', { basePath: '', operations: OPERATIONS }));
    gateway = await startGateway(t, routes);
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.stop();
    await t?.close();
  });
  beforeEach(() => {
    upstream.received.length = 0;
    upstream.delayMs = 0;
  });

  async function key(body: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
    const response = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], ...body });
    expectStatus(response, 201);
    return response.body;
  }

  async function call(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
    const response = await request(gateway.url + path, { method: method as 'GET', headers: { host: 'gw.acme.test', ...headers }, body });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, text, json: text.length > 0 && /json/.test(String(response.headers['content-type'])) ? JSON.parse(text) : null };
  }

  const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

  /** node:http sends the path and headers exactly as given (a WHATWG URL would resolve `%2e%2e`, undici refuses `Connection` values). */
  function raw(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown> }> {
    const { hostname, port } = new URL(gateway.url);
    return new Promise((resolve, reject) => {
      const sent = rawRequest({ host: hostname, port, method, path, headers: { host: 'gw.acme.test', ...headers } }, (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers }));
      });
      sent.on('error', reject);
      sent.end();
    });
  }

  describe('scopes per operation', () => {
    it('forwards an operation whose one scope the key holds, with the identity and without the credential', async () => {
      const { id, key: secret } = await key({ consumer: 'cus_42' });
      const answer = await call('GET', '/users?page=2', bearer(secret));
      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ method: 'GET', url: '/users?page=2', bytes: 0 });
      const seen = upstream.received[0]!;
      expect(seen.headers['authorization']).toBeUndefined();
      expect(seen.headers).toMatchObject({
        'keygate-subject': 'cus_42',
        'keygate-scopes': 'read:users',
        'keygate-key-id': id,
        'keygate-tenant': 'acme',
        'keygate-api': api,
        'x-forwarded-for': '127.0.0.1',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'gw.acme.test',
      });
    });

    it('answers 403 insufficient_scope naming the scopes, and forwards nothing', async () => {
      const { key: secret } = await key();
      const answer = await call('POST', '/users', bearer(secret), '{}');
      expect(answer.status).toBe(403);
      expect(answer.headers['www-authenticate']).toBe('Bearer realm="keygate", error="insufficient_scope", scope="write:users"');
      expect(answer.json).toMatchObject({ error: 'insufficient_scope', required_scopes: [['write:users']] });
      expect(upstream.received).toEqual([]);
    });

    it('requires every scope of an AND and honours implications', async () => {
      const writer = await key({ scopes: ['write:users'] });
      expect((await call('DELETE', '/users/7', bearer(writer.key))).status).toBe(403);
      const both = await key({ scopes: ['write:users', 'read:billing'] });
      expect((await call('DELETE', '/users/7', bearer(both.key))).status).toBe(200);
      // write:users implies read:users.
      expect((await call('GET', '/users', bearer(writer.key))).status).toBe(200);
    });

    it('lets any alternative of an OR through', async () => {
      expect((await call('GET', '/billing', bearer((await key({ scopes: ['repo'] })).key))).status).toBe(200);
      expect((await call('GET', '/billing', bearer((await key({ scopes: ['read:billing'] })).key))).status).toBe(200);
      const reader = await key({ scopes: ['read:users'] });
      const denied = await call('GET', '/billing', bearer(reader.key));
      expect(denied.status).toBe(403);
      expect(denied.json.required_scopes).toEqual([['read:billing'], ['repo']]);
      // The API owner's audit log names the code and every alternative the operation accepts.
      await t.server.keygate.flush();
      const audit = await t.call('GET', `/v1/tenants/acme/audit?action=key.verify.denied&target=${reader.id}`);
      expect(audit.body.items[0].data).toMatchObject({ code: 'INSUFFICIENT_SCOPE', requiredScopes: ['read:billing', 'repo'] });
    });

    it('serves a public operation without a credential, and an unmarked one to any valid credential only', async () => {
      expect((await call('GET', '/health')).status).toBe(200);
      expect((await call('GET', '/users/me')).status).toBe(401);
      expect((await call('GET', '/users/me', bearer((await key({ scopes: [] })).key))).status).toBe(200);
    });
  });

  describe('credentials', () => {
    it('reads the API credential header and query parameter and strips both', async () => {
      const { key: secret } = await key();
      expect((await call('GET', '/users', { 'x-api-key': secret })).status).toBe(200);
      expect(upstream.received[0]!.headers['x-api-key']).toBeUndefined();
      expect((await call('GET', `/users?a=1&api_key=${secret}&b=%20x`)).status).toBe(200);
      expect(upstream.received[1]!.url).toBe('/users?a=1&b=%20x');
    });

    it('drops every Keygate-* header and forwarding header a caller sends, and hop-by-hop headers', async () => {
      const { id, key: secret } = await key();
      await raw('GET', '/users', { ...bearer(secret), 'keygate-subject': 'admin', 'keygate-scopes': 'everything', 'keygate-token': 'forged', 'x-forwarded-for': '10.9.9.9', forwarded: 'for=10.9.9.9', connection: 'x-secret', 'x-secret': 'hop' });
      const seen = upstream.received[0]!.headers;
      expect(seen['keygate-subject']).toBe(id);
      expect(seen['keygate-scopes']).toBe('read:users');
      expect(seen['keygate-token']).toBeUndefined();
      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen['forwarded']).toBeUndefined();
      expect(seen['x-secret']).toBeUndefined();
    });

    it('answers every bad credential (unknown, revoked, expired, disabled, wrong IP, another API, malformed) with the same 401, and forwards nothing', async () => {
      const revoked = await key();
      expectStatus(await t.call('DELETE', `/v1/tenants/acme/keys/${revoked.id}`), 204);
      const expiring = await key({ expiresAt: new Date(clock.now() + 500).toISOString() });
      clock.advance(1000);
      const disabled = await key({ enabled: false });
      const elsewhere = await key({ ipAllowlist: ['10.0.0.0/8'] });
      const otherApi = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://other.acme.test', name: 'Other', scopes: [{ name: 'read:users', description: 'r' }] });
      expectStatus(otherApi, 201);
      const foreign = await t.call('POST', '/v1/tenants/acme/keys', { api: 'https://other.acme.test', scopes: ['read:users'] });
      expectStatus(foreign, 201);
      const good = (await key()).key;
      const typo = good.slice(0, -1) + (good.endsWith('x') ? 'y' : 'x');
      const answers = [];
      for (const secret of ['garbage', generateKey('kg', randomBytes), revoked.key, expiring.key, disabled.key, elsewhere.key, foreign.body.key, typo, 'eyJhbGciOiJIUzI1NiJ9.e30.x']) {
        answers.push(await call('GET', '/users', bearer(secret)));
      }
      for (const answer of answers) {
        expect(answer.status).toBe(401);
        expect(answer.headers['www-authenticate']).toBe('Bearer realm="keygate", error="invalid_token", error_description="The access token is invalid"');
        expect(answer.text).toBe(answers[0]!.text);
      }
      expect(upstream.received).toEqual([]);
    });

    it('logs no credential, not even for a request that failed upstream', async () => {
      const lines: string[] = [];
      const routes = new TestRoutes();
      routes.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, { upstream: 'http://127.0.0.1:9', credentialQuery: 'api_key' }), 'acme', { basePath: '', operations: OPERATIONS }));
      const logged = await startGateway(t, routes, { level: 'trace', stream: { write: (line: string) => void lines.push(line) } });
      try {
        const { key: secret } = await key();
        const down = await request(`${logged.url}/users?api_key=${secret}`, { headers: { authorization: `Bearer ${secret}` } });
        expect(down.statusCode).toBe(502);
        await down.body.text();
        expect(lines.join('\n')).toContain('upstream request failed');
        expect(lines.join('\n')).not.toContain(secret);
      } finally {
        await logged.close();
      }
    });

    it('challenges a request without a credential (RFC 6750 §3.1)', async () => {
      const answer = await call('GET', '/users');
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Bearer realm="keygate"');
    });

    it('accepts a Keygate JWT of the API', async () => {
      const issued = await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'cust_jwt', scopes: ['read:users'] });
      expectStatus(issued, 201);
      expect((await call('GET', '/users', bearer(issued.body.token))).status).toBe(200);
      expect(upstream.received[0]!.headers['keygate-subject']).toBe('cust_jwt');
      expect((await call('POST', '/users', bearer(issued.body.token))).status).toBe(403);
    });
  });

  describe('limits', () => {
    it('answers 429 with Retry-After and the IETF RateLimit headers', async () => {
      const { key: secret } = await key({ ratelimits: [{ name: 'per-minute', limit: 2, duration: 60_000 }] });
      const first = await call('GET', '/users', bearer(secret));
      expect(first.status).toBe(200);
      expect(first.headers['ratelimit-policy']).toBe('"per-minute";q=2;w=60');
      expect(first.headers['ratelimit']).toMatch(/^"per-minute";r=1;t=\d+$/);
      expect((await call('GET', '/users', bearer(secret))).status).toBe(200);
      const limited = await call('GET', '/users', bearer(secret));
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['ratelimit-policy']).toBe('"per-minute";q=2;w=60');
      expect(limited.headers['ratelimit']).toMatch(/^"per-minute";r=0;t=\d+$/);
      expect(limited.json).toMatchObject({ error: 'rate_limited' });
      expect(upstream.received).toHaveLength(2);
    });

    it("spends each operation's cost in credits and answers 429 once they are gone", async () => {
      const { key: secret } = await key({ scopes: [], credits: { remaining: 7 } });
      expect((await call('POST', '/reports', bearer(secret), '{}')).status).toBe(200);
      expect((await call('POST', '/reports', bearer(secret), '{}')).status).toBe(200);
      const spent = await call('POST', '/reports', bearer(secret), '{}');
      expect(spent.status).toBe(429);
      expect(spent.json).toMatchObject({ error: 'rate_limited', error_description: 'The credential has used up its credits' });
      // 1 credit is left: an operation of cost 1 still goes through.
      expect((await call('GET', '/users/me', bearer(secret))).status).toBe(200);
      expect(upstream.received).toHaveLength(3);
    });
  });

  describe('routes', () => {
    it('answers 404 for an undeclared path and 405 with Allow for an undeclared method, forwarding neither', async () => {
      const { key: secret } = await key();
      const missing = await call('GET', '/admin', bearer(secret));
      expect(missing.status).toBe(404);
      expect(missing.headers['content-type']).toContain('application/problem+json');
      expect(missing.json).toMatchObject({ status: 404, code: 'NO_ROUTE' });
      const method = await call('PUT', '/users', bearer(secret));
      expect(method.status).toBe(405);
      expect(method.headers['allow']).toBe('GET, HEAD, POST');
      expect(upstream.received).toEqual([]);
    });

    it('refuses encoding tricks and forwards the normalised path', async () => {
      const { key: secret } = await key({ scopes: ['read:users'] });
      for (const path of ['/users/%2e%2e/billing', '/users/..%2Fbilling', '/users%2F7', '/users/./me', '/users;x=1', '/users%00', '/users%zz', '/users/%E0%A4%A']) {
        expect((await raw('GET', path, bearer(secret))).status, path).toBe(400);
      }
      expect((await raw('GET', '/%75sers//', bearer(secret))).status).toBe(200);
      expect(upstream.received.map((r) => r.url)).toEqual(['/users/']);
    });

    it('answers 404 problem+json at a Host that reaches no API', async () => {
      const empty = await startGateway(t, new TestRoutes());
      try {
        const response = await request(`${empty.url}/users`, { headers: { host: 'nobody.test' } });
        expect(response.statusCode).toBe(404);
        expect(await response.body.json()).toMatchObject({ code: 'NO_ROUTE' });
      } finally {
        await empty.close();
      }
    });
  });

  describe('upstream failures', () => {
    it('answers 502 problem+json while the upstream is down and recovers when it is back', async () => {
      const { key: secret } = await key();
      await upstream.stop();
      const down = await call('GET', '/users', bearer(secret));
      expect(down.status).toBe(502);
      expect(down.headers['content-type']).toContain('application/problem+json');
      expect(down.json).toMatchObject({ status: 502, code: 'UPSTREAM_UNAVAILABLE' });
      await upstream.listen();
      expect((await call('GET', '/users', bearer(secret))).status).toBe(200);
    });

    it('answers 504 when the upstream is slower than the timeout, and serves again once it is fast', async () => {
      const { key: secret } = await key();
      // Far slower than the 400 ms timeout: on a busy machine undici's timer may fire late, and a
      // 1 s upstream once answered first (200 instead of 504).
      upstream.delayMs = 5_000;
      const slow = await call('GET', '/users', bearer(secret));
      expect(slow.status).toBe(504);
      expect(slow.json).toMatchObject({ status: 504, code: 'UPSTREAM_TIMEOUT' });
      upstream.delayMs = 0;
      expect((await call('GET', '/users', bearer(secret))).status).toBe(200);
    });

    it('passes the response through without hop-by-hop headers', async () => {
      const answer = await call('GET', '/health');
      expect(answer.headers['x-upstream']).toBe('yes');
      // The upstream's keep-alive: timeout=5 describes its connection to the gateway, not the caller's.
      expect(answer.headers['keep-alive']).not.toBe('timeout=5');
    });
  });
});
