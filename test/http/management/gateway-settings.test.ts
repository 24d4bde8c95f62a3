import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { freePort } from '../../helpers/free-port.js';

const CATALOG = [
  { name: 'read:orders', description: 'Read orders' },
  { name: 'write:orders', description: 'Change orders' },
  { name: 'admin', description: 'Everything' },
];

const ORDERS_DOCUMENT = {
  openapi: '3.1.0',
  info: { title: 'Orders', version: '1' },
  servers: [{ url: 'https://orders.example.com/v1' }],
  security: [{ oauth: ['read:orders'] }],
  components: {
    securitySchemes: { oauth: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: 'https://auth.test/token', scopes: { 'read:orders': '', 'write:orders': '', admin: '' } } } } },
  },
  paths: {
    '/orders': {
      get: { operationId: 'listOrders', responses: { '200': { description: 'ok' } } },
      post: { operationId: 'createOrder', security: [{ oauth: ['write:orders'] }, { oauth: ['admin'] }], 'x-keygate-cost': 3, responses: { '201': { description: 'ok' } } },
    },
    '/health': { get: { security: [], 'x-keygate-public': true, responses: { '200': { description: 'ok' } } } },
  },
};

const ORDERS_YAML = `openapi: 3.0.3
info: { title: Orders, version: "1" }
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows: { clientCredentials: { tokenUrl: "https://auth.test/token", scopes: { "read:orders": "", "write:orders": "" } } }
paths:
  /orders/{id}:
    parameters: [{ name: id, in: path, required: true, schema: { type: string } }]
    get:
      security: [{ oauth: ["read:orders", "write:orders"] }]
      responses: { "200": { description: ok } }
`;

/** A port nothing listens on right now. */

describe.each(BACKENDS)('gateway settings on the management API (%s)', (backend) => {
  let t: TestServer;
  let n = 0;

  async function createApi(body: Record<string, unknown> = {}, slug = 'acme'): Promise<{ id: string; identifier: string; path: string; body: any }> {
    n += 1;
    const identifier = (body['identifier'] as string | undefined) ?? `https://orders-${n}.${backend}.test`;
    const created = await t.call('POST', `/v1/tenants/${slug}/apis`, { identifier, name: 'Orders', scopes: CATALOG, ...body });
    expectStatus(created, 201);
    return { id: created.body.id, identifier, path: `/v1/tenants/${slug}/apis/${created.body.id}`, body: created.body };
  }

  /** PUT of a document as it is, with a content type. */
  async function putDocument(path: string, text: string, contentType: string, auth = ROOT_KEY): Promise<{ status: number; body: any }> {
    const response = await fetch(`${t.url}${path}/openapi`, { method: 'PUT', headers: { authorization: `Bearer ${auth}`, 'content-type': contentType }, body: text });
    return { status: response.status, body: await response.json() };
  }

  beforeAll(async () => {
    t = await startTestServer(backend);
    await seedTenant(t);
    await seedTenant(t, 'beta');
  });
  afterAll(() => t.close());

  describe('settings', () => {
    it('default to an API outside the gateway, readable back', async () => {
      const api = await createApi();
      expect(api.body).toMatchObject({ upstream: null, gatewayHosts: [], externalIssuers: [], phantomToken: false, credentialHeader: null, credentialQuery: null, passthrough: false });
    });

    it('are set on create, changed one by one on update, and read back by get and list', async () => {
      const api = await createApi({
        upstream: 'http://127.0.0.1:9/orders/',
        gatewayHosts: ['Orders.Example.com', 'localhost:8080'],
        externalIssuers: [{ issuer: 'https://login.example.com/', jwksUri: 'https://login.example.com/jwks' }],
        credentialHeader: 'X-API-Key',
      });
      const expected = {
        upstream: 'http://127.0.0.1:9/orders',
        gatewayHosts: ['orders.example.com', 'localhost:8080'],
        externalIssuers: [{ issuer: 'https://login.example.com/', jwksUri: 'https://login.example.com/jwks', audience: null }],
        phantomToken: false,
        credentialHeader: 'x-api-key',
        credentialQuery: null,
        passthrough: false,
      };
      expect(api.body).toMatchObject(expected);
      const patched = await t.call('PATCH', api.path, { phantomToken: true, credentialQuery: 'api_key', passthrough: true });
      expectStatus(patched, 200);
      const after = { ...expected, phantomToken: true, credentialQuery: 'api_key', passthrough: true };
      expect(patched.body).toMatchObject(after);
      expect((await t.call('GET', api.path)).body).toMatchObject(after);
      const listed = (await t.call('GET', '/v1/tenants/acme/apis?limit=100')).body.items.find((a: { id: string }) => a.id === api.id);
      expect(listed).toMatchObject(after);
      expectStatus(await t.call('PATCH', api.path, { upstream: null }), 200);
      expect((await t.call('GET', api.path)).body).toMatchObject({ ...after, upstream: null });
    });

    it('refuse bad values with 400 and change nothing', async () => {
      const api = await createApi({ upstream: 'http://127.0.0.1:9' });
      const before = await snapshotState(t);
      for (const body of [
        { upstream: 'ftp://backend' },
        { upstream: 'http://user:secret@backend' },
        { gatewayHosts: ['bad host'] },
        { credentialHeader: 'authorization ' },
        { credentialHeader: 'keygate-subject' },
        { credentialQuery: 'a b' },
        { externalIssuers: [{ issuer: 'i', jwksUri: 'http://idp.example.com/jwks' }] },
        { externalIssuers: [{ issuer: 'i' }] },
        { phantomToken: 'yes' },
      ]) {
        const response = await t.call('PATCH', api.path, body);
        expect([response.status, response.body.code], JSON.stringify(body)).toEqual([400, 'INVALID_REQUEST']);
      }
      expect(await snapshotState(t)).toBe(before);
    });
  });

  describe('who can set an upstream (SSRF)', () => {
    it.each(['http://169.254.169.254/latest/meta-data/', 'http://[fe80::1]/', 'http://metadata.google.internal/', 'http://0.0.0.0:8080'])(
      'refuses %s with UPSTREAM_NOT_ALLOWED on create and on update',
      async (upstream) => {
        const before = await snapshotState(t);
        const created = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://ssrf.test', name: 'x', scopes: [], upstream });
        expect([created.status, created.body.code]).toEqual([400, 'UPSTREAM_NOT_ALLOWED']);
        expect(await snapshotState(t)).toBe(before);
        const api = await createApi();
        const patched = await t.call('PATCH', api.path, { upstream });
        expect([patched.status, patched.body.code]).toEqual([400, 'UPSTREAM_NOT_ALLOWED']);
        expect((await t.call('GET', api.path)).body.upstream).toBeNull();
      },
    );

    it("refuses an external issuer's JWKS URL on a metadata address too: the gateway fetches it", async () => {
      const api = await createApi();
      const patched = await t.call('PATCH', api.path, { externalIssuers: [{ issuer: 'https://idp.test', jwksUri: 'https://169.254.169.254/keys' }] });
      expect([patched.status, patched.body.code]).toEqual([400, 'UPSTREAM_NOT_ALLOWED']);
      expect(patched.body.detail).toContain('jwksUri');
    });

    it("refuses Keygate's own management port on loopback", async () => {
      const port = await freePort();
      const own = await startTestServer(backend, { port });
      try {
        await seedTenant(own);
        for (const upstream of [`http://127.0.0.1:${port}/v1`, `http://localhost:${port}`]) {
          const response = await own.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://loop.test', name: 'x', scopes: [], upstream });
          expect([response.status, response.body.code], upstream).toEqual([400, 'UPSTREAM_NOT_ALLOWED']);
        }
      } finally {
        await own.close();
      }
    });

    it('accepts link-local upstreams when the operator allows them', async () => {
      const allowing = await startTestServer(backend, { gatewayLinkLocalUpstreams: 'allow' });
      try {
        await seedTenant(allowing);
        const created = await allowing.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://meta.test', name: 'x', scopes: [], upstream: 'http://169.254.169.254' });
        expectStatus(created, 201);
        expect(created.body.upstream).toBe('http://169.254.169.254');
      } finally {
        await allowing.close();
      }
    });
  });

  describe('who can claim a host', () => {
    it("refuses another API's host with 409 GATEWAY_HOST_TAKEN, in the same tenant or another, naming only the host", async () => {
      const host = `shop-${backend}.example.com`;
      await createApi({ upstream: 'http://127.0.0.1:9', gatewayHosts: [host] });
      const before = await snapshotState(t);
      const other = await t.call('POST', '/v1/tenants/beta/apis', { identifier: 'https://beta-shop.test', name: 'x', scopes: [], upstream: 'http://127.0.0.1:9', gatewayHosts: [host.toUpperCase()] });
      expect([other.status, other.body.code]).toEqual([409, 'GATEWAY_HOST_TAKEN']);
      expect(other.body.detail).toContain(host);
      expect(other.body.detail).not.toMatch(/acme|api_/);
      const same = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://acme-shop.test', name: 'x', scopes: [], upstream: 'http://127.0.0.1:9', gatewayHosts: [host] });
      expect([same.status, same.body.code]).toEqual([409, 'GATEWAY_HOST_TAKEN']);
      expect(await snapshotState(t)).toBe(before);
    });

    it("refuses another tenant's API identifier host as a gateway host, even before that API has an upstream (attacker review F1)", async () => {
      const victim = await createApi({ identifier: `https://squat-${backend}.acme.test` });
      const host = `squat-${backend}.acme.test`;
      const squat = await t.call('POST', '/v1/tenants/beta/apis', { identifier: `https://squatter-${backend}.test`, name: 'x', scopes: [], upstream: 'http://127.0.0.1:9', gatewayHosts: [host] });
      expect([squat.status, squat.body.code]).toEqual([409, 'GATEWAY_HOST_TAKEN']);
      expect(squat.body.detail).not.toContain('acme-');
      // Its own tenant may route another of its APIs there, and the victim can still take its own host.
      const sibling = await t.call('POST', '/v1/tenants/acme/apis', { identifier: `https://sibling-${backend}.acme.test`, name: 'x', scopes: [], upstream: 'http://127.0.0.1:9', gatewayHosts: [`other-${host}`] });
      expectStatus(sibling, 201);
      expectStatus(await t.call('PATCH', victim.path, { upstream: 'http://127.0.0.1:9' }), 200);
    });

    it('gives a host to exactly one of two APIs claiming it at the same moment', async () => {
      const host = `race-${backend}.example.com`;
      const answers = await Promise.all(
        ['acme', 'beta', 'acme', 'beta'].map((slug, i) =>
          t.call('POST', `/v1/tenants/${slug}/apis`, { identifier: `https://race-${i}.test`, name: 'x', scopes: [], upstream: 'http://127.0.0.1:9', gatewayHosts: [host] }),
        ),
      );
      expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409]);
      expect(answers.filter((a) => a.status === 409).map((a) => a.body.code)).toEqual(['GATEWAY_HOST_TAKEN', 'GATEWAY_HOST_TAKEN', 'GATEWAY_HOST_TAKEN']);
    });

    it("counts an identifier's host as a claim once the API has an upstream", async () => {
      const identifier = `https://same-${backend}.example.com`;
      const mine = await createApi({ identifier, upstream: 'http://127.0.0.1:9' });
      // Without an upstream, the same identifier in another tenant claims nothing.
      const theirs = await createApi({ identifier }, 'beta');
      const claimed = await t.call('PATCH', theirs.path, { upstream: 'http://127.0.0.1:9' });
      expect([claimed.status, claimed.body.code]).toEqual([409, 'GATEWAY_HOST_TAKEN']);
      expect((await t.call('GET', theirs.path)).body.upstream).toBeNull();
      // Taking the first API out of the gateway does not hand its host to the later one (review 2,
      // #2b): its identifier still names it. Deleting it does.
      expectStatus(await t.call('PATCH', mine.path, { upstream: null }), 200);
      expect((await t.call('PATCH', theirs.path, { upstream: 'http://127.0.0.1:9' })).body.code).toBe('GATEWAY_HOST_TAKEN');
      expectStatus(await t.call('DELETE', mine.path), 204);
      expectStatus(await t.call('PATCH', theirs.path, { upstream: 'http://127.0.0.1:9' }), 200);
    });

    it("refuses a later API spelled like another tenant's its host, though that API has no upstream yet, and lets the first one claim it (review 2, #2b)", async () => {
      const identifier = `https://shop-${backend}.acme.test`;
      const first = await createApi({ identifier });
      const before = await snapshotState(t);
      const squat = await t.call('POST', '/v1/tenants/beta/apis', { identifier, name: 'x', scopes: [], upstream: 'http://127.0.0.1:9' });
      expect([squat.status, squat.body.code]).toEqual([409, 'GATEWAY_HOST_TAKEN']);
      const ported = await t.call('POST', '/v1/tenants/beta/apis', { identifier: `https://shop-${backend}.acme.test:8443`, name: 'x', scopes: [], upstream: 'http://127.0.0.1:9' });
      expect([ported.status, ported.body.code]).toEqual([409, 'GATEWAY_HOST_TAKEN']);
      expect(await snapshotState(t)).toBe(before);
      // A later namesake without an upstream keeps no one out: the first API still claims its host.
      await createApi({ identifier }, 'beta');
      expectStatus(await t.call('PATCH', first.path, { upstream: 'http://127.0.0.1:9' }), 200);
    });

    it('owns a host by its name, whatever port a claim gives, and drops default ports (review 2, #2a)', async () => {
      const name = `ported-${backend}.acme.test`;
      const victim = await createApi({ identifier: `https://${name}`, upstream: 'http://127.0.0.1:9' });
      const bare = await createApi({ identifier: `https://named-${backend}.acme.test` });
      const before = await snapshotState(t);
      for (const claim of [`${name}:8080`, `${name}:443`, `${name.toUpperCase()}:80`, `${name}.:8443`]) {
        const squat = await t.call('POST', '/v1/tenants/beta/apis', { identifier: `https://squat-${n++}.test`, name: 'x', scopes: [], upstream: 'http://127.0.0.1:9', gatewayHosts: [claim] });
        expect([claim, squat.status, squat.body.code]).toEqual([claim, 409, 'GATEWAY_HOST_TAKEN']);
      }
      // Before any upstream too, and in the same tenant: one name, one API.
      const early = await t.call('POST', '/v1/tenants/beta/apis', { identifier: `https://early-${backend}.test`, name: 'x', scopes: [], upstream: 'http://127.0.0.1:9', gatewayHosts: [`named-${backend}.acme.test:8080`] });
      expect(early.body.code).toBe('GATEWAY_HOST_TAKEN');
      const sibling = await t.call('POST', '/v1/tenants/acme/apis', { identifier: `https://sibling-${n++}.test`, name: 'x', scopes: [], upstream: 'http://127.0.0.1:9', gatewayHosts: [`${name}:8080`] });
      expect(sibling.body.code).toBe('GATEWAY_HOST_TAKEN');
      expect(await snapshotState(t)).toBe(before);
      // The API's own claims may give its name several ports; a default port is the name itself.
      const own = await t.call('PATCH', victim.path, { gatewayHosts: [`${name}:8080`, `${name}:443`, `other-${name}:80`] });
      expectStatus(own, 200);
      expect(own.body.gatewayHosts).toEqual([`${name}:8080`, name, `other-${name}`]);
      expectStatus(await t.call('PATCH', bare.path, { upstream: 'http://127.0.0.1:9' }), 200);
    });

    it('frees the hosts of a deleted API, and a host moves within one API freely', async () => {
      const host = `moving-${backend}.example.com`;
      const api = await createApi({ upstream: 'http://127.0.0.1:9', gatewayHosts: [host] });
      expectStatus(await t.call('PATCH', api.path, { gatewayHosts: [host, `www.${host}`] }), 200);
      expectStatus(await t.call('DELETE', api.path), 204);
      await createApi({ upstream: 'http://127.0.0.1:9', gatewayHosts: [host] }, 'beta');
    });
  });

  describe('the OpenAPI document', () => {
    it('is uploaded as JSON, compiled to operations, and read back byte for byte', async () => {
      const api = await createApi();
      const text = JSON.stringify(ORDERS_DOCUMENT, null, 2);
      const put = await putDocument(api.path, text, 'application/json');
      expectStatus(put, 200);
      expect(put.body).toMatchObject({ api: api.id, format: 'json', size: Buffer.byteLength(text), basePath: '/v1' });
      expect(put.body.operations).toEqual([
        { method: 'GET', path: '/orders', operationId: 'listOrders', public: false, anyOf: [['read:orders']], cost: 1 },
        { method: 'POST', path: '/orders', operationId: 'createOrder', public: false, anyOf: [['write:orders'], ['admin']], cost: 3 },
        { method: 'GET', path: '/health', operationId: null, public: true, anyOf: [[]], cost: 1 },
      ]);
      const got = await fetch(`${t.url}${api.path}/openapi`, { headers: { authorization: `Bearer ${ROOT_KEY}` } });
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await got.text()).toBe(text);
    });

    it('is uploaded as YAML and read back as YAML', async () => {
      const api = await createApi();
      const put = await putDocument(api.path, ORDERS_YAML, 'application/yaml');
      expectStatus(put, 200);
      expect(put.body.operations).toEqual([{ method: 'GET', path: '/orders/{id}', operationId: null, public: false, anyOf: [['read:orders', 'write:orders']], cost: 1 }]);
      const got = await fetch(`${t.url}${api.path}/openapi`, { headers: { authorization: `Bearer ${ROOT_KEY}` } });
      expect(got.headers.get('content-type')).toMatch(/^application\/yaml/);
      expect(await got.text()).toBe(ORDERS_YAML);
    });

    it('answers 404 DOCUMENT_NOT_FOUND before one is uploaded', async () => {
      const api = await createApi();
      const got = await t.call('GET', `${api.path}/openapi`);
      expect([got.status, got.body.code]).toEqual([404, 'DOCUMENT_NOT_FOUND']);
    });

    it("refuses an invalid document with the parser's reasons, and a scope outside the catalog naming the operation; nothing stored", async () => {
      const api = await createApi();
      const before = await snapshotState(t);
      const invalid = await putDocument(api.path, JSON.stringify({ openapi: '3.1.0', info: { title: 'x' }, paths: { '/a': { get: { responses: 'nope' } } } }), 'application/json');
      expect([invalid.status, invalid.body.code]).toEqual([400, 'INVALID_OPENAPI']);
      expect(invalid.body.errors.length).toBeGreaterThan(0);
      const unknownScope = await putDocument(api.path, JSON.stringify({ ...ORDERS_DOCUMENT, security: [{ oauth: ['delete:everything'] }] }), 'application/json');
      expect([unknownScope.status, unknownScope.body.code]).toEqual([400, 'INVALID_OPENAPI']);
      expect(unknownScope.body.errors).toEqual([{ path: '', message: 'GET /orders (listOrders): scope "delete:everything" is not in the API\'s scope catalog' }]);
      for (const [text, type] of [
        ['{"openapi": ', 'application/json'],
        ['a: [', 'application/yaml'],
        ['', 'application/json'],
        ['[]', 'application/json'],
        [JSON.stringify({ swagger: '2.0', info: { title: 'x', version: '1' }, paths: {} }), 'application/json'],
      ] as const) {
        const response = await putDocument(api.path, text, type);
        expect([response.status, response.body.code], text).toEqual([400, 'INVALID_OPENAPI']);
      }
      expect(await snapshotState(t)).toBe(before);
      expect((await t.call('GET', `${api.path}/openapi`)).status).toBe(404);
    });

    it('never fetches an external $ref (an API owner cannot make Keygate request URLs or read files)', async () => {
      let hits = 0;
      const server: Server = createServer((_request, response) => {
        hits += 1;
        response.setHeader('content-type', 'application/json').end('{"type": "object"}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/schema.json`;
        const document = {
          openapi: '3.1.0',
          info: { title: 'x', version: '1' },
          paths: {
            '/a': { get: { responses: { '200': { description: 'ok', content: { 'application/json': { schema: { $ref: url } } } } } } },
            '/b': { $ref: `${url}#/paths/~1b` },
            '/c': { get: { responses: { '200': { description: 'ok', content: { 'application/json': { schema: { $ref: '/etc/passwd' } } } } } } },
          },
        };
        const response = await putDocument((await createApi()).path, JSON.stringify(document), 'application/json');
        expect(response.status).toBeLessThan(500);
        expect(JSON.stringify(response.body)).not.toContain('root:');
        expect(hits).toBe(0);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('is bounded in size (413) and needs apis:write to upload', async () => {
      const api = await createApi();
      const huge = JSON.stringify({ ...ORDERS_DOCUMENT, info: { title: 'x'.repeat(8 * 1024 * 1024), version: '1' } });
      const response = await putDocument(api.path, huge, 'application/json');
      expect([response.status, response.body.code]).toEqual([413, 'BODY_TOO_LARGE']);
      const reader = (await t.call('POST', '/v1/root-keys', { scopes: ['apis:read'] })).body.key;
      const denied = await putDocument(api.path, JSON.stringify(ORDERS_DOCUMENT), 'application/json', reader);
      expect([denied.status, denied.body.code]).toEqual([403, 'FORBIDDEN']);
      expect((await fetch(`${t.url}${api.path}/openapi`, { headers: { authorization: `Bearer ${reader}` } })).status).toBe(404);
    });

    it('is not reachable through another tenant', async () => {
      const api = await createApi();
      expectStatus(await putDocument(api.path, JSON.stringify(ORDERS_DOCUMENT), 'application/json'), 200);
      const foreign = api.path.replace('/acme/', '/beta/');
      expect((await t.call('GET', `${foreign}/openapi`)).body.code).toBe('API_NOT_FOUND');
      expect((await putDocument(foreign, JSON.stringify(ORDERS_DOCUMENT), 'application/json')).body.code).toBe('API_NOT_FOUND');
    });
  });

  describe('the routing table', () => {
    it('finds an API by Host, with its compiled routes, and follows changes within seconds', async () => {
      const host = `routed-${backend}.example.com`;
      const api = await createApi({ upstream: 'http://127.0.0.1:9', gatewayHosts: [host] });
      // A second API behind the gateway, so that Host decides (one alone would get every request).
      await createApi({ upstream: 'http://127.0.0.1:9', gatewayHosts: [`neighbour-${host}`] });
      const routes = t.server.keygate.gatewayRoutes;
      await routes.start();
      expect(routes.find(host)?.api.id).toBe(api.id);
      expect(routes.find(`${host.toUpperCase()}:443`)?.api.id).toBe(api.id);
      expect(routes.find(host)?.match('GET', '/v1/orders').kind).toBe('not_found');

      expectStatus(await putDocument(api.path, JSON.stringify(ORDERS_DOCUMENT), 'application/json'), 200);
      await vi.waitFor(() => {
        const match = routes.find(host)?.match('GET', '/v1/orders');
        expect(match?.kind === 'operation' && match.operation.operationId).toBe('listOrders');
      });
      expect(routes.find(host)?.tenantSlug).toBe('acme');
      // A read that changes nothing keeps the route object, and what the gateway keeps by it.
      const before = routes.find(host);
      await routes.refresh();
      expect(routes.find(host)).toBe(before);

      expectStatus(await t.call('PATCH', api.path, { gatewayHosts: [`new-${host}`] }), 200);
      await vi.waitFor(() => expect(routes.find(`new-${host}`)?.api.id).toBe(api.id));
      expect(routes.find(host)).toBeNull();

      expectStatus(await t.call('PATCH', api.path, { upstream: null }), 200);
      await vi.waitFor(() => expect(routes.find(`new-${host}`)?.api.id).not.toBe(api.id));
    });

    it('sends every request to the only API with an upstream', async () => {
      const lone = await startTestServer(backend);
      try {
        await seedTenant(lone);
        const created = await lone.call('POST', '/v1/tenants/acme/apis', { identifier: 'urn:lone', name: 'x', scopes: [], upstream: 'http://127.0.0.1:9' });
        expectStatus(created, 201);
        await lone.server.keygate.gatewayRoutes.start();
        expect(lone.server.keygate.gatewayRoutes.find('anything.test')?.api.id).toBe(created.body.id);
        expect(lone.server.keygate.gatewayRoutes.find(undefined)?.api.id).toBe(created.body.id);
        expectStatus(await lone.call('POST', '/v1/tenants/acme/apis', { identifier: 'urn:second', name: 'x', scopes: [], upstream: 'http://127.0.0.1:9' }), 201);
        await vi.waitFor(() => expect(lone.server.keygate.gatewayRoutes.find('anything.test')).toBeNull());
      } finally {
        await lone.close();
      }
    });
  });
});
