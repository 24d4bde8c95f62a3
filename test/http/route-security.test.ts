import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGEMENT_SCOPES } from '../../src/domain/management.js';
import { expandScopes } from '../../src/domain/scopes.js';
import type { RouteEntry } from '../../src/http/route-table.js';
import { BACKENDS } from '../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { snapshotAll } from '../helpers/snapshot.js';

/**
 * The shared security test. The routes come from the app itself (`app.routeTable`), so a route
 * added tomorrow is covered tomorrow: every management route, called without a credential, with
 * a wrong one, for the wrong tenant, for a reserved tenant, without the scope it needs, with an
 * ordinary API key, and with bad bodies, answers the right problem; every other route refuses
 * reserved and unknown tenants and junk input without a 5xx. After each, every row of every
 * table is what it was.
 */

/** A valid body for each management route that takes one: the bad-body cases break exactly one thing. */
const EXAMPLE_BODIES: Record<string, (ids: Ids) => Record<string, unknown>> = {
  'POST /v1/verify': (ids) => ({ credential: 'x', api: ids.api }),
  'POST /v1/tenants': () => ({ slug: 'new-tenant', name: 'New' }),
  'PATCH /v1/tenants/:slug': () => ({ selfSignup: true }),
  'POST /v1/tenants/:slug/apis': () => ({ identifier: 'https://new.api', name: 'New', scopes: [] }),
  'PATCH /v1/tenants/:slug/apis/:identifier': () => ({ accessTokenTtl: 60 }),
  'POST /v1/tenants/:slug/keys': (ids) => ({ api: ids.api, scopes: ['read:users'] }),
  'PATCH /v1/tenants/:slug/keys/:id': () => ({ enabled: false }),
  'POST /v1/tenants/:slug/consumers': (ids) => ({ name: 'Corp', grants: [{ api: ids.api, scopes: ['read:users'] }] }),
  'PATCH /v1/tenants/:slug/consumers/:id': () => ({ name: 'Corp' }),
  'POST /v1/tenants/:slug/consumers/:id/keys': (ids) => ({ api: ids.api, member: 'usr_x', scopes: ['read:users'] }),
  'POST /v1/tenants/:slug/keys/:id/roll': () => ({ gracePeriodMs: 0 }),
  'POST /v1/tenants/:slug/keys/:id/subkeys': () => ({ scopes: ['read:users'] }),
  'POST /v1/tenants/:slug/clients': (ids) => ({ name: 'c', grantTypes: ['client_credentials'], scopes: { [ids.api]: [] } }),
  'PATCH /v1/tenants/:slug/clients/:id': () => ({ name: 'n' }),
  'POST /v1/tenants/:slug/clients/:id/secret': () => ({ gracePeriodMs: 0 }),
  'POST /v1/tenants/:slug/tokens': (ids) => ({ api: ids.api, consumer: 'c', scopes: [] }),
  'POST /v1/tenants/:slug/signing-keys/rotate': () => ({ activateAfterSeconds: 0 }),
  'POST /v1/tenants/:slug/users': () => ({ email: 'a@b.c', password: 'long-enough-password' }),
  'PATCH /v1/tenants/:slug/users/:id': () => ({ disabled: true }),
  'POST /v1/root-keys': () => ({ scopes: ['keys:read'] }),
  'POST /v1/root-keys/:id/roll': () => ({ gracePeriodMs: 0 }),
  'POST /v1/operators': () => ({ email: 'ops@example.test', scopes: ['keys:read'] }),
  'PATCH /v1/operators/:id': () => ({ disabled: true }),
  'POST /v1/operators/:id/password': () => ({ password: 'long-enough-password' }),
};

interface Ids {
  keyId: string;
  api: string;
}

const ALL_SCOPES = MANAGEMENT_SCOPES.map((s) => s.name);

/** The route's path with its parameters filled in; `slug` names the tenant to address. */
function pathOf(route: RouteEntry, ids: Ids, slug: string): string {
  return route.url
    .replace(':slug', slug)
    .replace(':identifier', encodeURIComponent(ids.api))
    .replace(/:[a-zA-Z]+/g, (param) => (param === ':id' && route.url.includes('/keys/') ? ids.keyId : 'x'))
    .replace('*', 'x');
}

const keyOf = (route: RouteEntry): string => `${route.method} ${route.url}`;

/** A request without a credential whose answer may be anything (HTML, JSON, a redirect): its status. */
async function statusOf(url: string, method: string, body?: string, contentType?: string): Promise<number> {
  const response = await fetch(url, { method, redirect: 'manual', ...(body === undefined ? {} : { body, headers: { 'content-type': contentType! } }) });
  await response.arrayBuffer();
  return response.status;
}

describe.each(BACKENDS)('every route passes the shared security test (%s)', (backendName) => {
  let t: TestServer;
  let ids: Ids;
  let routes: readonly RouteEntry[];
  const rootKeysWithout = new Map<string, string>();
  let otherTenantKey: string;
  let apiKey: string;

  async function snapshot(): Promise<string> {
    await t.server.keygate.flush();
    return snapshotAll(t.backend);
  }

  beforeAll(async () => {
    t = await startTestServer(backendName);
    routes = t.server.app.routeTable;
    const { api } = await seedTenant(t);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] });
    expectStatus(created, 201);
    ids = { keyId: created.body.id, api };
    apiKey = created.body.key;
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'other', name: 'Other' }), 201);
    const scopes = new Set(routes.flatMap((r) => (r.access.kind === 'management' ? [r.access.scope] : [])));
    for (const scope of scopes) {
      // Leave out the scope and every scope that implies it.
      const without = ALL_SCOPES.filter((s) => !expandScopes([s], MANAGEMENT_SCOPES).has(scope));
      const response = await t.call('POST', '/v1/root-keys', { scopes: without });
      expectStatus(response, 201);
      rootKeysWithout.set(scope, response.body.key);
    }
    const other = await t.call('POST', '/v1/root-keys', { scopes: ALL_SCOPES, tenant: 'other' });
    expectStatus(other, 201);
    otherTenantKey = other.body.key;
  });
  afterAll(() => t?.close());

  it('finds the routes in the app, and every /v1 route is a management route', () => {
    expect(routes.length).toBeGreaterThan(60);
    const unprotected = routes.filter((r) => r.url.startsWith('/v1/') && r.access.kind !== 'management').map(keyOf);
    expect(unprotected).toEqual([]);
  });

  it('has an example body for exactly the management routes that take one', () => {
    const withBody = routes.filter((r) => r.access.kind === 'management' && r.hasBody).map(keyOf).sort();
    expect(Object.keys(EXAMPLE_BODIES).sort()).toEqual(withBody);
  });

  describe('management routes', () => {
    const send = (route: RouteEntry, options: { auth?: string | null; body?: unknown; slug?: string } = {}) =>
      t.call(route.method, pathOf(route, ids, options.slug ?? 'acme'), options.body ?? EXAMPLE_BODIES[keyOf(route)]?.(ids), { auth: options.auth });
    const management = (): RouteEntry[] => routes.filter((r) => r.access.kind === 'management');
    const scopeOf = (route: RouteEntry): string => (route.access.kind === 'management' ? route.access.scope : '');

    it('401 with WWW-Authenticate without a credential or with a wrong one', async () => {
      const before = await snapshot();
      for (const route of management()) {
        for (const auth of [null, 'not-a-root-key', 'kgroot_AAAAAAAAAAAAAAAAAAAAAAAAAAAA', `${apiKey}x`]) {
          const response = await send(route, { auth });
          expect(response.status, `${keyOf(route)} with ${auth}`).toBe(401);
          if (route.method !== 'HEAD') expect(response.body.code).toBe('UNAUTHORIZED');
          expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
        }
      }
      expect(await snapshot()).toBe(before);
    });

    it('403 for a root key without the scope (or a scope implying it)', async () => {
      const before = await snapshot();
      for (const route of management()) {
        const response = await send(route, { auth: rootKeysWithout.get(scopeOf(route))! });
        expect(response.status, keyOf(route)).toBe(403);
        if (route.method !== 'HEAD') expect(response.body.code).toBe('FORBIDDEN');
      }
      expect(await snapshot()).toBe(before);
    });

    it('403 for an ordinary API key on every route that is not its own sub-key route', async () => {
      const before = await snapshot();
      for (const route of management()) {
        if (route.access.kind === 'management' && route.access.allowKeyHolder) continue;
        const response = await send(route, { auth: apiKey });
        expect(response.status, keyOf(route)).toBe(403);
      }
      expect(await snapshot()).toBe(before);
    });

    it('404 for a root key limited to another tenant, as if the tenant did not exist', async () => {
      const before = await snapshot();
      for (const route of management().filter((r) => r.url.includes(':slug'))) {
        const response = await send(route, { auth: otherTenantKey });
        expect(response.status, keyOf(route)).toBe(404);
        if (route.method !== 'HEAD') expect(response.body.code).toBe('TENANT_NOT_FOUND');
      }
      expect(await snapshot()).toBe(before);
    });

    it('404 for reserved tenants, even for a global root key holding every scope', async () => {
      const before = await snapshot();
      for (const route of management().filter((r) => r.url.includes(':slug'))) {
        for (const slug of ['_system', '_anything']) {
          const response = await send(route, { slug });
          expect(response.status, `${keyOf(route)} on ${slug}`).toBe(404);
          if (route.method !== 'HEAD') expect(response.body.code).toBe('TENANT_NOT_FOUND');
        }
      }
      expect(await snapshot()).toBe(before);
    });

    it('400 for malformed JSON, an unknown field or a wrong type; 413 for a huge body', async () => {
      const before = await snapshot();
      for (const route of management().filter((r) => r.hasBody)) {
        const example = EXAMPLE_BODIES[keyOf(route)]!(ids);
        const malformed = await send(route, { body: '{"oops": ' });
        expect([malformed.status, malformed.body.code], keyOf(route)).toEqual([400, 'MALFORMED_JSON']);
        const unknown = await send(route, { body: { ...example, unexpected: 1 } });
        expect([unknown.status, unknown.body.code, unknown.body.errors?.[0]?.path], keyOf(route)).toEqual([400, 'INVALID_REQUEST', '/unexpected']);
        const wrongType = await send(route, { body: [] });
        expect(wrongType.status, keyOf(route)).toBe(400);
        const huge = await send(route, { body: { ...example, padding: 'x'.repeat(1_200_000) } });
        expect([huge.status, huge.body.code], keyOf(route)).toEqual([413, 'BODY_TOO_LARGE']);
      }
      expect(await snapshot()).toBe(before);
    });

    it('400 INVALID_REQUEST for an unknown query parameter or a force that is not true or false', async () => {
      const before = await snapshot();
      const withQuery = management().filter((r) => r.hasQuery);
      expect(withQuery.map(keyOf)).toEqual(expect.arrayContaining(['GET /v1/tenants/:slug/audit', 'DELETE /v1/tenants/:slug/apis/:identifier']));
      for (const route of withQuery) {
        const path = pathOf(route, ids, 'acme');
        for (const query of ['unexpected=1', ...(route.url.includes('/apis/:identifier') ? ['force=yes', 'force=1'] : [])]) {
          const response = await t.call(route.method, `${path}?${query}`, EXAMPLE_BODIES[keyOf(route)]?.(ids));
          expect(response.status, `${keyOf(route)}?${query}`).toBe(400);
          if (route.method !== 'HEAD') expect(response.body.code, `${keyOf(route)}?${query}`).toBe('INVALID_REQUEST');
        }
      }
      expect(await snapshot()).toBe(before);
    });
  });

  describe('every other route', () => {
    const open = (): RouteEntry[] => routes.filter((r) => r.access.kind === 'open');

    it('404 for reserved and unknown tenants, for anyone', async () => {
      const before = await snapshot();
      for (const route of open().filter((r) => r.url.includes(':slug'))) {
        for (const slug of ['_system', '_anything', 'ghost']) {
          expect(await statusOf(t.url + pathOf(route, ids, slug), route.method), `${keyOf(route)} on ${slug}`).toBe(404);
        }
      }
      expect(await snapshot()).toBe(before);
    });

    it('answers junk input on a real tenant with a 4xx and changes nothing', async () => {
      const before = await snapshot();
      for (const route of open().filter((r) => r.method === 'POST')) {
        const path = pathOf(route, ids, 'acme');
        for (const [body, type] of [
          ['{"oops": ', 'application/json'],
          ['grant_type=client_credentials&grant_type=refresh_token&client_id=x', 'application/x-www-form-urlencoded'],
          ['%%%', 'application/x-www-form-urlencoded'],
          ['x'.repeat(1_200_000), 'application/x-www-form-urlencoded'],
          ['<xml/>', 'text/xml'],
        ] as const) {
          const status = await statusOf(t.url + path, route.method, body, type);
          expect(status, `${keyOf(route)} with ${type} ${body.slice(0, 20)}`).toBeGreaterThanOrEqual(400);
          expect(status, `${keyOf(route)} with ${type} ${body.slice(0, 20)}`).toBeLessThan(500);
        }
      }
      expect(await snapshot()).toBe(before);
    });

    it('serves the public GET routes without a credential and without writing anything', async () => {
      const before = await snapshot();
      for (const route of open().filter((r) => r.method === 'GET')) {
        expect(await statusOf(t.url + pathOf(route, ids, 'acme'), 'GET'), keyOf(route)).toBeLessThan(500);
      }
      expect(await snapshot()).toBe(before);
    });
  });

  it('answers unknown routes with a 404 problem', async () => {
    const response = await t.call('GET', '/v1/nope');
    expect(response.status).toBe(404);
    expect(response.body.code).toBe('ROUTE_NOT_FOUND');
  });
});
