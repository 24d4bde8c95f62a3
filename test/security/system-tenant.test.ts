import { createRemoteJWKSet } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_MANAGEMENT_SCOPES, MANAGEMENT_API, MANAGEMENT_SCOPES, SYSTEM_TENANT_SLUG } from '../../src/domain/management.js';
import { runCli } from '../cli/run-cli.js';
import { BACKENDS } from '../helpers/backends.js';
import { basic, postForm } from '../helpers/oauth.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { snapshotAll } from '../helpers/snapshot.js';

/**
 * Invariant 1 of issue 7: no route ever resolves a reserved tenant slug (`_system`, any `_…`),
 * whoever calls, so root keys (keys of the system tenant) and the management catalog cannot be
 * reached through the tenant routes. Each attempt asserts the refusal and that no row of any
 * table changed.
 */
describe.each(BACKENDS)('the system tenant is unreachable (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  /** Global root keys holding one scope each, a tenant-limited admin, and an ordinary API key. */
  const keys: Record<'keysWriter' | 'apisWriter' | 'tenantsReader' | 'limitedAdmin' | 'apiKey', string> = {
    keysWriter: '',
    apisWriter: '',
    tenantsReader: '',
    limitedAdmin: '',
    apiKey: '',
  };
  let seededId: string;
  let limitedId: string;
  let keysWriterId: string;
  let apiKeyId: string;

  const snapshot = async (): Promise<string> => {
    await t.server.keygate.flush();
    return snapshotAll(t.backend);
  };

  /** Sends the request as each caller; every answer must be 404 TENANT_NOT_FOUND and change nothing. */
  async function expectUnreachable(method: string, path: string, body: unknown, callers: readonly string[]): Promise<void> {
    const before = await snapshot();
    for (const auth of callers) {
      const response = await t.call(method, path, body, { auth });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.body.code).toBe('TENANT_NOT_FOUND');
    }
    expect(await snapshot()).toBe(before);
  }

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    const rootKey = async (body: Record<string, unknown>): Promise<{ id: string; key: string }> => {
      const created = await t.call('POST', '/v1/root-keys', body);
      expectStatus(created, 201);
      return created.body;
    };
    const writer = await rootKey({ scopes: ['keys:write'], name: 'keys writer' });
    keys.keysWriter = writer.key;
    keysWriterId = writer.id;
    keys.apisWriter = (await rootKey({ scopes: ['apis:write'] })).key;
    keys.tenantsReader = (await rootKey({ scopes: ['tenants:read'] })).key;
    const limited = await rootKey({ scopes: [...ALL_MANAGEMENT_SCOPES], tenant: 'acme' });
    keys.limitedAdmin = limited.key;
    limitedId = limited.id;
    const apiKey = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] });
    expectStatus(apiKey, 201);
    keys.apiKey = apiKey.body.key;
    apiKeyId = apiKey.body.id;
    const listed = await t.call('GET', '/v1/root-keys?limit=100');
    seededId = listed.body.items.find((k: { start: string }) => k.start === 'KEYGATE_ROOT_KEY').id;
  });
  afterAll(() => t.close());

  const everyone = (): string[] => [ROOT_KEY, keys.keysWriter, keys.apisWriter, keys.tenantsReader, keys.limitedAdmin, keys.apiKey];

  it('refuses to mint a full-admin root key through the system tenant, even to the global admin', async () => {
    await expectUnreachable('POST', `/v1/tenants/${SYSTEM_TENANT_SLUG}/keys`, { api: MANAGEMENT_API, scopes: [...ALL_MANAGEMENT_SCOPES] }, everyone());
  });

  it('does not list, read or change root keys through the system tenant', async () => {
    const base = `/v1/tenants/${SYSTEM_TENANT_SLUG}/keys`;
    await expectUnreachable('GET', base, undefined, everyone());
    await expectUnreachable('GET', `${base}/${seededId}`, undefined, everyone());
    // Making a tenant-limited root key global, or disabling, rolling, revoking, deleting the admin.
    await expectUnreachable('PATCH', `${base}/${limitedId}`, { consumer: null }, everyone());
    await expectUnreachable('PATCH', `${base}/${seededId}`, { enabled: false }, everyone());
    await expectUnreachable('POST', `${base}/${seededId}/roll`, { gracePeriodMs: 0 }, everyone());
    await expectUnreachable('POST', `${base}/${seededId}/revoke`, undefined, everyone());
    await expectUnreachable('DELETE', `${base}/${seededId}`, undefined, everyone());
    // The sub-key route admits the key holder itself: a root key may not mint children of itself there.
    await expectUnreachable('POST', `${base}/${keysWriterId}/subkeys`, { scopes: ['keys:write'] }, [keys.keysWriter, ROOT_KEY, keys.apiKey]);
    await expectUnreachable('POST', `${base}/${seededId}/subkeys`, { scopes: [...ALL_MANAGEMENT_SCOPES] }, everyone());
    await expectUnreachable('POST', `${base}/${apiKeyId}/subkeys`, { scopes: ['read:users'] }, [keys.apiKey]);
    expect((await t.call('GET', '/v1/tenants/acme/keys', undefined, { auth: keys.keysWriter })).status).toBe(200);
  });

  it('does not let anyone rewrite or read the management catalog', async () => {
    const path = `/v1/tenants/${SYSTEM_TENANT_SLUG}/apis/${encodeURIComponent(MANAGEMENT_API)}`;
    const widened = MANAGEMENT_SCOPES.map((s) => (s.name === 'keys:verify' ? { ...s, implies: ['tenants:write'] } : s));
    await expectUnreachable('PATCH', path, { scopes: widened }, everyone());
    await expectUnreachable('GET', path, undefined, everyone());
    await expectUnreachable('GET', `/v1/tenants/${SYSTEM_TENANT_SLUG}/apis`, undefined, everyone());
    await expectUnreachable('POST', `/v1/tenants/${SYSTEM_TENANT_SLUG}/apis`, { identifier: 'https://x.test', name: 'x', scopes: [] }, everyone());
    const catalog = (await t.server.keygate.rootKeys.ensureSystem()).api.scopes;
    expect(catalog).toEqual(MANAGEMENT_SCOPES);
  });

  it('answers every management route under a reserved slug with 404 (routes read off the app)', async () => {
    const routes = t.server.app.routeTable.filter((r) => r.access.kind === 'management' && r.url.includes(':slug'));
    expect(routes.length).toBeGreaterThan(20);
    const before = await snapshot();
    for (const slug of [SYSTEM_TENANT_SLUG, '_other']) {
      for (const route of routes) {
        const path = route.url.replace(':slug', slug).replace(/:[a-zA-Z]+/g, seededId).replace('*', 'x');
        for (const auth of [ROOT_KEY, keys.limitedAdmin]) {
          const response = await t.call(route.method, path, route.hasBody ? {} : undefined, { auth });
          expect(response.status, `${route.method} ${path}`).toBe(404);
          // A HEAD answer has no body to read the code from.
          if (route.method !== 'HEAD') expect(response.body.code).toBe('TENANT_NOT_FOUND');
        }
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it('never lists or shows the system tenant, and no one can name a tenant with a reserved slug', async () => {
    const listed = await t.call('GET', '/v1/tenants?limit=100', undefined, { auth: keys.tenantsReader });
    expect(listed.body.items.map((x: { slug: string }) => x.slug)).toEqual(['acme']);
    const before = await snapshot();
    expect((await t.call('GET', `/v1/tenants/${SYSTEM_TENANT_SLUG}`, undefined, { auth: keys.tenantsReader })).status).toBe(404);
    expect((await t.call('PATCH', `/v1/tenants/${SYSTEM_TENANT_SLUG}`, { selfSignup: true })).status).toBe(404);
    for (const slug of [SYSTEM_TENANT_SLUG, '_other']) {
      expect((await t.call('POST', '/v1/tenants', { slug, name: 'x' })).status).toBe(400);
    }
    // A root key's tenant limit is resolved by the same rule.
    const limitedToSystem = await t.call('POST', '/v1/root-keys', { scopes: ['keys:read'], tenant: SYSTEM_TENANT_SLUG });
    expect(limitedToSystem.status).toBe(404);
    expect(limitedToSystem.body.code).toBe('TENANT_NOT_FOUND');
    expect(await snapshot()).toBe(before);
  });

  it('serves no OAuth, JWKS, discovery or portal route for the system tenant', async () => {
    const before = await snapshot();
    const issuer = new URL(`${t.url}/t/${SYSTEM_TENANT_SLUG}`);
    const discovery = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true });
    expect(discovery.status).toBe(404);
    const jwks = createRemoteJWKSet(new URL(`${issuer.href}/.well-known/jwks.json`));
    await expect(jwks({ alg: 'EdDSA' })).rejects.toThrow();
    const client = { client_id: 'cli_x', secret: 'x' };
    for (const endpoint of ['token', 'introspect', 'revoke']) {
      const form: Record<string, string> = endpoint === 'token' ? { grant_type: 'client_credentials' } : { token: ROOT_KEY };
      const response = await postForm(t, `/t/${SYSTEM_TENANT_SLUG}/oauth/${endpoint}`, form, { authorization: basic(client.client_id, client.secret) });
      expect(response.status, endpoint).toBe(404);
    }
    const open = t.server.app.routeTable.filter((r) => r.access.kind === 'open' && r.url.includes(':slug'));
    expect(open.length).toBeGreaterThan(10);
    for (const route of open) {
      const path = route.url.replace(':slug', SYSTEM_TENANT_SLUG).replace(/:[a-zA-Z]+/g, 'x');
      const response = await fetch(t.url + path, {
        method: route.method,
        redirect: 'manual',
        ...(route.method === 'GET' || route.method === 'HEAD' ? {} : { body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      });
      await response.arrayBuffer();
      expect(response.status, `${route.method} ${path}`).toBe(404);
    }
    expect(await snapshot()).toBe(before);
  });

  it('resolves no reserved slug in process either', async () => {
    await expect(t.server.keygate.tenants.get(SYSTEM_TENANT_SLUG)).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND' });
    expect(await t.server.keygate.directory.tenant(SYSTEM_TENANT_SLUG)).toBeNull();
    const verified = await t.server.keygate.verify({ credential: ROOT_KEY, api: MANAGEMENT_API });
    expect(verified.code).toBe('NOT_FOUND');
  });

  it('refuses the same through the CLI', async () => {
    const before = await snapshot();
    const env = { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: keys.keysWriter };
    const attempts = [
      ['key', 'create', '--tenant', SYSTEM_TENANT_SLUG, '--api', MANAGEMENT_API, ...ALL_MANAGEMENT_SCOPES.flatMap((s) => ['--scope', s])],
      ['key', 'list', '--tenant', SYSTEM_TENANT_SLUG],
      ['key', 'update', seededId, '--tenant', SYSTEM_TENANT_SLUG, '--disable'],
      ['key', 'revoke', seededId, '--tenant', SYSTEM_TENANT_SLUG, '--yes'],
      ['key', 'roll', seededId, '--tenant', SYSTEM_TENANT_SLUG],
      ['key', 'subkey', keysWriterId, '--tenant', SYSTEM_TENANT_SLUG, '--scope', 'keys:write'],
    ];
    for (const args of attempts) {
      const run = await runCli(args, { env });
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.stderr).toContain('TENANT_NOT_FOUND');
    }
    const catalog = await runCli(['api', 'get', MANAGEMENT_API, '--tenant', SYSTEM_TENANT_SLUG], { env: { ...env, KEYGATE_ROOT_KEY: ROOT_KEY } });
    expect(catalog.code).not.toBe(0);
    const rewrite = ['api', 'update', MANAGEMENT_API, '--tenant', SYSTEM_TENANT_SLUG, ...ALL_MANAGEMENT_SCOPES.flatMap((s) => ['--scope', s]), '--implies', 'keys:verify=tenants:write'];
    for (const key of [keys.apisWriter, ROOT_KEY]) {
      const run = await runCli(rewrite, { env: { ...env, KEYGATE_ROOT_KEY: key } });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('TENANT_NOT_FOUND');
    }
    const tenant = await runCli(['tenant', 'get', SYSTEM_TENANT_SLUG], { env: { ...env, KEYGATE_ROOT_KEY: keys.tenantsReader } });
    expect(tenant.code).not.toBe(0);
    expect(await snapshot()).toBe(before);
  });
});
