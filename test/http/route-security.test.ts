import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGEMENT_SCOPES } from '../../src/domain/management.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The shared security test: every management route, called without a credential, with a
 * wrong one, for the wrong tenant, without the scope it needs, and with bad bodies, answers
 * the right problem, and nothing in the store changes.
 */
interface RouteCase {
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: (ids: Ids) => string;
  scope: string;
  body?: (ids: Ids) => Record<string, unknown>;
  tenantScoped: boolean;
}

interface Ids {
  keyId: string;
  api: string;
}

const ROUTES: RouteCase[] = [
  { name: 'create tenant', method: 'POST', path: () => '/v1/tenants', scope: 'tenants:write', body: () => ({ slug: 'new-tenant', name: 'New' }), tenantScoped: false },
  { name: 'list tenants', method: 'GET', path: () => '/v1/tenants', scope: 'tenants:read', tenantScoped: false },
  { name: 'get tenant', method: 'GET', path: () => '/v1/tenants/acme', scope: 'tenants:read', tenantScoped: true },
  { name: 'create API', method: 'POST', path: () => '/v1/tenants/acme/apis', scope: 'apis:write', body: () => ({ identifier: 'https://new.api', name: 'New', scopes: [] }), tenantScoped: true },
  { name: 'list APIs', method: 'GET', path: () => '/v1/tenants/acme/apis', scope: 'apis:read', tenantScoped: true },
  { name: 'create key', method: 'POST', path: () => '/v1/tenants/acme/keys', scope: 'keys:write', body: (ids) => ({ api: ids.api, scopes: ['read:users'] }), tenantScoped: true },
  { name: 'list keys', method: 'GET', path: () => '/v1/tenants/acme/keys', scope: 'keys:read', tenantScoped: true },
  { name: 'get key', method: 'GET', path: (ids) => `/v1/tenants/acme/keys/${ids.keyId}`, scope: 'keys:read', tenantScoped: true },
  { name: 'update key', method: 'PATCH', path: (ids) => `/v1/tenants/acme/keys/${ids.keyId}`, scope: 'keys:write', body: () => ({ enabled: false }), tenantScoped: true },
  { name: 'revoke key', method: 'POST', path: (ids) => `/v1/tenants/acme/keys/${ids.keyId}/revoke`, scope: 'keys:write', tenantScoped: true },
  { name: 'delete key', method: 'DELETE', path: (ids) => `/v1/tenants/acme/keys/${ids.keyId}`, scope: 'keys:write', tenantScoped: true },
  { name: 'roll key', method: 'POST', path: (ids) => `/v1/tenants/acme/keys/${ids.keyId}/roll`, scope: 'keys:write', body: () => ({ gracePeriodMs: 0 }), tenantScoped: true },
  { name: 'create sub-key', method: 'POST', path: (ids) => `/v1/tenants/acme/keys/${ids.keyId}/subkeys`, scope: 'keys:write', body: () => ({ scopes: ['read:users'] }), tenantScoped: true },
  { name: 'read audit', method: 'GET', path: () => '/v1/tenants/acme/audit', scope: 'audit:read', tenantScoped: true },
  { name: 'create root key', method: 'POST', path: () => '/v1/root-keys', scope: 'root_keys:write', body: () => ({ scopes: ['keys:read'] }), tenantScoped: false },
  { name: 'verify', method: 'POST', path: () => '/v1/verify', scope: 'keys:verify', body: (ids) => ({ credential: 'x', api: ids.api }), tenantScoped: false },
  { name: 'update tenant', method: 'PATCH', path: () => '/v1/tenants/acme', scope: 'users:write', body: () => ({ selfSignup: true }), tenantScoped: true },
  { name: 'update API', method: 'PATCH', path: (ids) => `/v1/tenants/acme/apis/${encodeURIComponent(ids.api)}`, scope: 'apis:write', body: () => ({ accessTokenTtl: 60 }), tenantScoped: true },
  { name: 'create client', method: 'POST', path: () => '/v1/tenants/acme/clients', scope: 'clients:write', body: (ids) => ({ name: 'c', grantTypes: ['client_credentials'], scopes: { [ids.api]: [] } }), tenantScoped: true },
  { name: 'list clients', method: 'GET', path: () => '/v1/tenants/acme/clients', scope: 'clients:read', tenantScoped: true },
  { name: 'update client', method: 'PATCH', path: () => '/v1/tenants/acme/clients/cli_x', scope: 'clients:write', body: () => ({ name: 'n' }), tenantScoped: true },
  { name: 'delete client', method: 'DELETE', path: () => '/v1/tenants/acme/clients/cli_x', scope: 'clients:write', tenantScoped: true },
  { name: 'rotate client secret', method: 'POST', path: () => '/v1/tenants/acme/clients/cli_x/secret', scope: 'clients:write', body: () => ({ gracePeriodMs: 0 }), tenantScoped: true },
  { name: 'revoke client tokens', method: 'POST', path: () => '/v1/tenants/acme/clients/cli_x/revoke-tokens', scope: 'tokens:write', tenantScoped: true },
  { name: 'issue JWT key', method: 'POST', path: () => '/v1/tenants/acme/tokens', scope: 'tokens:write', body: (ids) => ({ api: ids.api, consumer: 'c', scopes: [] }), tenantScoped: true },
  { name: 'list JWT keys', method: 'GET', path: () => '/v1/tenants/acme/tokens', scope: 'tokens:read', tenantScoped: true },
  { name: 'revoke a jti', method: 'POST', path: () => '/v1/tenants/acme/tokens/some-jti/revoke', scope: 'tokens:write', tenantScoped: true },
  { name: 'revoke consumer tokens', method: 'POST', path: () => '/v1/tenants/acme/consumers/c/revoke-tokens', scope: 'tokens:write', tenantScoped: true },
  { name: 'read revocation feed', method: 'GET', path: () => '/v1/tenants/acme/revocations', scope: 'keys:verify', tenantScoped: true },
  { name: 'list signing keys', method: 'GET', path: () => '/v1/tenants/acme/signing-keys', scope: 'tokens:read', tenantScoped: true },
  { name: 'rotate signing key', method: 'POST', path: () => '/v1/tenants/acme/signing-keys/rotate', scope: 'tokens:write', body: () => ({ activateAfterSeconds: 0 }), tenantScoped: true },
  { name: 'create HS256 secret', method: 'POST', path: () => '/v1/tenants/acme/hs256-secrets', scope: 'tokens:write', tenantScoped: true },
  { name: 'list HS256 secrets', method: 'GET', path: () => '/v1/tenants/acme/hs256-secrets', scope: 'tokens:read', tenantScoped: true },
  { name: 'revoke HS256 secret', method: 'POST', path: () => '/v1/tenants/acme/hs256-secrets/hs_x/revoke', scope: 'tokens:write', tenantScoped: true },
  { name: 'create user', method: 'POST', path: () => '/v1/tenants/acme/users', scope: 'users:write', body: () => ({ email: 'a@b.c', password: 'long-enough-password' }), tenantScoped: true },
  { name: 'list users', method: 'GET', path: () => '/v1/tenants/acme/users', scope: 'users:read', tenantScoped: true },
  { name: 'list a user\'s grants', method: 'GET', path: () => '/v1/tenants/acme/users/usr_x/grants', scope: 'users:read', tenantScoped: true },
  { name: 'revoke a user\'s grant', method: 'DELETE', path: () => '/v1/tenants/acme/users/usr_x/grants/grt_x', scope: 'users:write', tenantScoped: true },
];

const ALL_SCOPES = MANAGEMENT_SCOPES.map((s) => s.name);

describe('every management route passes the shared security test', () => {
  let t: TestServer;
  let ids: Ids;
  const rootKeysWithout = new Map<string, string>();
  let otherTenantKey: string;

  /** Everything a request could change, read straight from the store. */
  async function snapshot(): Promise<string> {
    const store = t.server.keygate.store;
    const tenants = await store.listTenants({ after: null, limit: 100 });
    const parts: unknown[] = [tenants.items];
    for (const tenant of tenants.items) {
      parts.push((await store.listKeys(tenant.id, {}, { after: null, limit: 100 })).items);
      parts.push((await store.listApis(tenant.id, { after: null, limit: 100 })).items);
      parts.push((await store.listAudit(tenant.id, { after: null, limit: 1000 })).items.length);
    }
    return JSON.stringify(parts);
  }

  beforeAll(async () => {
    t = await startTestServer('sqlite');
    const { api } = await seedTenant(t);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] });
    ids = { keyId: created.body.id, api };
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'other', name: 'Other' }), 201);
    for (const scope of new Set(ROUTES.map((r) => r.scope))) {
      const response = await t.call('POST', '/v1/root-keys', { scopes: ALL_SCOPES.filter((s) => s !== scope && !(scope.endsWith(':read') && s === scope.replace(':read', ':write'))) });
      expectStatus(response, 201);
      rootKeysWithout.set(scope, response.body.key);
    }
    const other = await t.call('POST', '/v1/root-keys', { scopes: ALL_SCOPES.filter((s) => s !== 'root_keys:write' && s !== 'tenants:write'), tenant: 'other' });
    expectStatus(other, 201);
    otherTenantKey = other.body.key;
  });
  afterAll(() => t.close());

  describe.each(ROUTES)('$name', (route) => {
    const send = (options: { auth?: string | null; body?: unknown; headers?: Record<string, string> } = {}) =>
      t.call(route.method, route.path(ids), options.body ?? route.body?.(ids), { auth: options.auth, headers: options.headers });

    it('401 with WWW-Authenticate without a credential or with a wrong one, and changes nothing', async () => {
      const before = await snapshot();
      for (const auth of [null, 'not-a-root-key', 'kgroot_AAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
        const response = await send({ auth });
        expect(response.status).toBe(401);
        expect(response.body.code).toBe('UNAUTHORIZED');
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
      expect(await snapshot()).toBe(before);
    });

    it('403 for a root key without the scope, and changes nothing', async () => {
      const before = await snapshot();
      const response = await send({ auth: rootKeysWithout.get(route.scope)! });
      expect(response.status).toBe(403);
      expect(response.body.code).toBe('FORBIDDEN');
      expect(await snapshot()).toBe(before);
    });

    // Routes outside a tenant have no wrong tenant to reach; routes without a body have no body to break.
    const tenantCase = route.tenantScoped ? it : null;
    tenantCase?.('404 for a root key of another tenant, and changes nothing', async () => {
      const before = await snapshot();
      const response = await send({ auth: otherTenantKey });
      expect(response.status).toBe(404);
      expect(response.body.code).toBe('TENANT_NOT_FOUND');
      expect(await snapshot()).toBe(before);
    });

    const bodyCase = route.body !== undefined ? it : null;
    bodyCase?.('400 for malformed JSON, an unknown field or a wrong type; 413 for a huge body; changes nothing', async () => {
      const before = await snapshot();
      const malformed = await send({ body: '{"oops": ' });
      expect(malformed.status).toBe(400);
      expect(malformed.body.code).toBe('MALFORMED_JSON');
      const unknown = await send({ body: { ...route.body!(ids), unexpected: 1 } });
      expect(unknown.status).toBe(400);
      expect(unknown.body.code).toBe('INVALID_REQUEST');
      expect(unknown.body.errors[0].path).toBe('/unexpected');
      const wrongType = await send({ body: [] });
      expect(wrongType.status).toBe(400);
      const huge = await send({ body: { ...route.body!(ids), padding: 'x'.repeat(1_200_000) } });
      expect(huge.status).toBe(413);
      expect(huge.body.code).toBe('BODY_TOO_LARGE');
      expect(await snapshot()).toBe(before);
    });
  });

  it('answers unknown routes with a 404 problem', async () => {
    const response = await t.call('GET', '/v1/nope');
    expect(response.status).toBe(404);
    expect(response.body.code).toBe('ROUTE_NOT_FOUND');
  });
});
