import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { startUpstream, type Upstream } from './helpers.js';

const CATALOG = [
  { name: 'read:users', description: 'Read users' },
  { name: 'write:users', description: 'Change users', implies: ['read:users'] },
  { name: 'read:billing', description: 'Read invoices' },
  { name: 'repo', description: 'Full repository access', implies: ['public_repo'] },
  { name: 'public_repo', description: 'Public repositories' },
];

/** Every path needs read:users, `/users` by an OR with write:users; POST /users needs write:users and names its operationId. */
const DOCUMENT = JSON.stringify({
  openapi: '3.1.0',
  info: { title: 'Acme', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: ['read:users'] }],
  paths: {
    '/users': {
      get: { security: [{ bearer: ['read:users'] }, { bearer: ['repo'] }], responses: { '200': { description: 'ok' } } },
      post: { operationId: 'createUser', security: [{ bearer: ['write:users'] }], responses: { '201': { description: 'created' } } },
    },
    '/repos': { get: { 'x-keygate-scopes': ['public_repo'], responses: { '200': { description: 'ok' } } } },
  },
});

/**
 * A scope catalog change and the API's uploaded OpenAPI document: a catalog that drops or renames
 * a scope an operation requires is refused (SCOPES_IN_DOCUMENT, naming the operations), `force`
 * or not, and nothing changes; any other catalog change applies to the gateway at once.
 */
describe.each(BACKENDS)('catalog changes against the OpenAPI document (%s)', (backend) => {
  let t: TestServer;
  let upstream: Upstream;
  let api: string;
  let path: string;

  beforeAll(async () => {
    t = await startTestServer(backend, { gatewayPort: 0 });
    ({ api } = await seedTenant(t));
    path = `/v1/tenants/acme/apis/${encodeURIComponent(api)}`;
    upstream = await startUpstream();
    expectStatus(await t.call('PATCH', path, { upstream: upstream.url }), 200);
    expectStatus(await t.call('PUT', `${path}/openapi`, DOCUMENT, { headers: { 'content-type': 'application/json' } }), 200);
  });
  afterAll(async () => {
    await upstream?.stop();
    await t?.close();
  });

  async function keyFor(scopes: string[]): Promise<string> {
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes });
    expectStatus(created, 201);
    return created.body.key;
  }

  async function through(method: string, route: string, key: string): Promise<number> {
    const response = await request(`${t.server.gatewayUrl!}${route}`, { method: method as 'GET', headers: { authorization: `Bearer ${key}` } });
    await response.body.text();
    return response.statusCode;
  }

  async function catalog(): Promise<unknown> {
    const read = await t.call('GET', path);
    expectStatus(read, 200);
    return read.body.scopes;
  }

  it('refuses to drop a scope an operation requires, naming the scope and the operations, and changes nothing', async () => {
    const reader = await keyFor(['read:users']);
    const refused = await t.call('PATCH', path, { scopes: CATALOG.filter((scope) => scope.name !== 'write:users') });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'SCOPES_IN_DOCUMENT', affected: { operations: 1 } });
    expect(refused.body.detail).toContain('write:users');
    expect(refused.body.detail).toContain('POST /users (createUser)');
    expect(refused.body.detail).not.toContain('GET /users');
    expect(await catalog()).toEqual(CATALOG);
    expect(await through('GET', '/users', reader)).toBe(200);
  });

  it('refuses it with force=true as well: no key would be left to call those operations', async () => {
    const writer = await keyFor(['write:users']);
    const refused = await t.call('PATCH', `${path}?force=true`, { scopes: CATALOG.filter((scope) => scope.name !== 'write:users') });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('SCOPES_IN_DOCUMENT');
    expect(await catalog()).toEqual(CATALOG);
    // The key was not narrowed either: it still creates users.
    expect(await through('POST', '/users', writer)).toBe(200);
  });

  it('refuses a rename as a drop, counting every operation that names the old scope, in any alternative or in x-keygate-scopes', async () => {
    const renamed = CATALOG.map((scope) => (scope.name === 'read:users' ? { ...scope, name: 'users:read' } : scope.name === 'write:users' ? { ...scope, implies: ['users:read'] } : scope));
    const refused = await t.call('PATCH', path, { scopes: renamed });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'SCOPES_IN_DOCUMENT', affected: { operations: 1 } });
    expect(refused.body.detail).toContain('read:users');
    expect(refused.body.detail).toContain('GET /users');

    const both = await t.call('PATCH', path, { scopes: CATALOG.filter((scope) => scope.name === 'read:users' || scope.name === 'write:users') });
    expect(both.status).toBe(409);
    // repo (an alternative of GET /users) and public_repo (x-keygate-scopes of GET /repos) are both required.
    expect(both.body).toMatchObject({ code: 'SCOPES_IN_DOCUMENT', affected: { operations: 2 } });
    expect(both.body.detail).toContain('GET /repos');
    expect(await catalog()).toEqual(CATALOG);
  });

  it('applies any other catalog change: a scope no operation names may go, and a new implication opens an operation at once', async () => {
    const noBilling = CATALOG.filter((scope) => scope.name !== 'read:billing');
    expectStatus(await t.call('PATCH', path, { scopes: noBilling }), 200);
    expect(await catalog()).toEqual(noBilling);

    const repoOnly = await keyFor(['repo']);
    expect(await through('POST', '/users', repoOnly)).toBe(403);
    const repoWrites = noBilling.map((scope) => (scope.name === 'repo' ? { ...scope, implies: ['public_repo', 'write:users'] } : scope));
    expectStatus(await t.call('PATCH', path, { scopes: repoWrites }), 200);
    expect(await through('POST', '/users', repoOnly)).toBe(200);
  });

  it('drops a scope once a new document no longer requires it', async () => {
    const withoutRepos = JSON.parse(DOCUMENT);
    delete withoutRepos.paths['/repos'];
    withoutRepos.paths['/users'].get.security = [{ bearer: ['read:users'] }];
    expectStatus(await t.call('PUT', `${path}/openapi`, JSON.stringify(withoutRepos), { headers: { 'content-type': 'application/json' } }), 200);
    const catalogNow = (await catalog()) as typeof CATALOG;
    const without = catalogNow.filter((scope) => scope.name !== 'public_repo').map((scope) => (scope.name === 'repo' ? { ...scope, implies: ['write:users'] } : scope));
    expectStatus(await t.call('PATCH', `${path}?force=true`, { scopes: without }), 200);
    expect(await through('GET', '/repos', await keyFor(['read:users']))).toBe(404);
  });
});
