import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';

const CATALOG = [{ name: 'read:orders', description: 'Read orders' }];

/**
 * Which hosts a tenant's own administrator may make the gateway answer to: on a shared Keygate,
 * a root key limited to one tenant claims only hosts under the operator's GATEWAY_HOST_SUFFIXES,
 * so no tenant takes a host ahead of the tenant that owns it. An operator's key claims any host.
 */
describe.each(BACKENDS)('gateway host claims (%s)', (backend) => {
  describe('GATEWAY_HOST_SUFFIXES empty (the default)', () => {
    let t: TestServer;
    let acmeAdmin: string;
    beforeAll(async () => {
      t = await startTestServer(backend);
      await seedTenant(t);
      acmeAdmin = (await t.call('POST', '/v1/root-keys', { scopes: ['apis:write', 'apis:read'], tenant: 'acme' })).body.key;
    });
    afterAll(async () => {
      await t?.close();
    });

    it("refuses a tenant's administrator any gateway host, the identifier's included, and changes nothing", async () => {
      const before = await snapshotState(t);
      const withUpstream = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://payments.example.com', name: 'Payments', scopes: CATALOG, upstream: 'http://127.0.0.1:9' }, { auth: acmeAdmin });
      expect([withUpstream.status, withUpstream.body.code]).toEqual([403, 'GATEWAY_HOST_NOT_ALLOWED']);
      expect(withUpstream.body.detail).toContain('payments.example.com');
      expect(withUpstream.body.detail).toContain('GATEWAY_HOST_SUFFIXES');
      expect(await snapshotState(t)).toEqual(before);
    });

    it('lets it create an API outside the gateway, or with a non-URL identifier and no extra host', async () => {
      expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://plain.example.com', name: 'Plain', scopes: CATALOG }, { auth: acmeAdmin }), 201);
      expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'urn:acme:orders', name: 'Orders', scopes: CATALOG, upstream: 'http://127.0.0.1:9' }, { auth: acmeAdmin }), 201);
      const extra = await t.call('PATCH', '/v1/tenants/acme/apis/urn%3Aacme%3Aorders', { gatewayHosts: ['orders.example.com'] }, { auth: acmeAdmin });
      expect([extra.status, extra.body.code]).toEqual([403, 'GATEWAY_HOST_NOT_ALLOWED']);
    });

    it("lets an operator's key claim any host", async () => {
      const created = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://billing.example.com', name: 'Billing', scopes: CATALOG, upstream: 'http://127.0.0.1:9', gatewayHosts: ['billing.internal'] });
      expectStatus(created, 201);
      // Settings the operator made stay with the API: the tenant's administrator may change others.
      expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${created.body.id}`, { phantomToken: true }, { auth: acmeAdmin }), 200);
    });
  });

  describe('GATEWAY_HOST_SUFFIXES={tenant}.gw.example.com', () => {
    let t: TestServer;
    let acmeAdmin: string;
    beforeAll(async () => {
      t = await startTestServer(backend, { gatewayHostSuffixes: '{tenant}.gw.example.com' });
      await seedTenant(t);
      await seedTenant(t, 'beta');
      acmeAdmin = (await t.call('POST', '/v1/root-keys', { scopes: ['apis:write', 'apis:read'], tenant: 'acme' })).body.key;
    });
    afterAll(async () => {
      await t?.close();
    });

    it("claims hosts under the tenant's own suffix, and none under another tenant's", async () => {
      const own = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://orders.acme.gw.example.com', name: 'Orders', scopes: CATALOG, upstream: 'http://127.0.0.1:9', gatewayHosts: ['acme.gw.example.com:8443'] }, { auth: acmeAdmin });
      expectStatus(own, 201);
      const squat = await t.call('PATCH', `/v1/tenants/acme/apis/${own.body.id}`, { gatewayHosts: ['acme.gw.example.com:8443', 'orders.beta.gw.example.com'] }, { auth: acmeAdmin });
      expect([squat.status, squat.body.code]).toEqual([403, 'GATEWAY_HOST_NOT_ALLOWED']);
      expect(squat.body.detail).toContain('under acme.gw.example.com only');
      // A look-alike is not under the suffix.
      const alike = await t.call('PATCH', `/v1/tenants/acme/apis/${own.body.id}`, { gatewayHosts: ['evilacme.gw.example.com'] }, { auth: acmeAdmin });
      expect(alike.body.code).toBe('GATEWAY_HOST_NOT_ALLOWED');
      expect((await t.call('GET', `/v1/tenants/acme/apis/${own.body.id}`)).body.gatewayHosts).toEqual(['acme.gw.example.com:8443']);
    });
  });

  describe('one name, however spelled', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(backend);
      await seedTenant(t);
      await seedTenant(t, 'beta');
    });
    afterAll(async () => {
      await t?.close();
    });

    it("refuses another tenant the identifier host with a trailing dot (re-check N4)", async () => {
      expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://api.shop.test', name: 'Shop', scopes: CATALOG, upstream: 'http://127.0.0.1:9' }), 201);
      const dotted = await t.call('POST', '/v1/tenants/beta/apis', { identifier: 'https://api.shop.test.', name: 'Squat', scopes: CATALOG, upstream: 'http://127.0.0.1:10' });
      expect([dotted.status, dotted.body.code]).toEqual([409, 'GATEWAY_HOST_TAKEN']);
    });
  });
});
