import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_ID_PATTERN } from '../../../src/domain/consumers.js';
import { MINT_LIMIT } from '../../../src/services/consumers-service.js';
import { BACKENDS } from '../../helpers/backends.js';
import { testClock } from '../../helpers/clock.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotAll } from '../../helpers/snapshot.js';

/**
 * Consumers under the API owner's own ids (issue 11), on both stores: a chosen id works as a
 * generated one does, is unique within its tenant (CONSUMER_EXISTS), and may be used again by
 * another tenant, which then sees and changes only its own consumer and learns nothing of the other.
 */
describe.each(BACKENDS)('consumers with chosen ids (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let alice: string;
  let gina: string;
  const clock = testClock();
  const acme = '/v1/tenants/acme/consumers';
  const globex = '/v1/tenants/globex/consumers';

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: clock.now });
    ({ api } = await seedTenant(t, 'acme'));
    await seedTenant(t, 'globex');
    alice = (await t.call('POST', '/v1/tenants/acme/users', { email: 'alice@corp.test', password: 'a long enough password' })).body.id;
    gina = (await t.call('POST', '/v1/tenants/globex/users', { email: 'gina@corp.test', password: 'a long enough password' })).body.id;
  });
  afterAll(() => t.close());

  const verify = async (credential: string): Promise<{ code: string; consumer?: string }> => {
    const response = await t.call('POST', '/v1/verify', { api, credential });
    expectStatus(response, 200);
    return response.body;
  };

  async function unchanged(action: () => Promise<void>): Promise<void> {
    await t.server.keygate.flush();
    const before = await snapshotAll(t.backend);
    await action();
    await t.server.keygate.flush();
    expect(await snapshotAll(t.backend)).toBe(before);
  }

  it('creates, reads, changes, keys and deletes a consumer under its chosen id', async () => {
    const created = await t.call('POST', acme, { id: 'cus_42', name: 'Customer 42', members: [alice], grants: [{ api, scopes: ['read:users'] }] });
    expectStatus(created, 201);
    expect(created.body).toMatchObject({ id: 'cus_42', tenant: 'acme', name: 'Customer 42', members: [alice] });
    expect((await t.call('GET', `${acme}/cus_42`)).body).toEqual(created.body);
    expect((await t.call('GET', `${acme}?limit=100`)).body.items.map((c: { id: string }) => c.id)).toContain('cus_42');

    const renamed = await t.call('PATCH', `${acme}/cus_42`, { name: 'Customer 42 Ltd' });
    expectStatus(renamed, 200);
    expect(renamed.body).toMatchObject({ id: 'cus_42', name: 'Customer 42 Ltd' });

    const key = await t.call('POST', `${acme}/cus_42/keys`, { api, member: alice, scopes: ['read:users'] });
    expectStatus(key, 201);
    expect(key.body.consumer).toBe('cus_42');
    expect(await verify(key.body.key)).toMatchObject({ code: 'VALID', consumer: 'cus_42' });
    expect((await t.call('GET', `${acme}/cus_42/keys`)).body.items.map((k: { id: string }) => k.id)).toEqual([key.body.id]);
    // The grant key names the consumer by its chosen id.
    const grantKey = await t.call('PATCH', `/v1/tenants/acme/keys/${created.body.grants[0].grantKeyId}`, { name: 'x' });
    expect([grantKey.status, grantKey.body.code]).toEqual([409, 'KEY_IS_GRANT']);
    expect(grantKey.body.detail).toContain('/v1/tenants/acme/consumers/cus_42');

    const deleted = await t.call('DELETE', `${acme}/cus_42`);
    expectStatus(deleted, 200);
    expect(deleted.body.revoked).toEqual(expect.arrayContaining([created.body.grants[0].grantKeyId, key.body.id]));
    expect((await verify(key.body.key)).code).toBe('REVOKED');
    expect((await t.call('GET', `${acme}/cus_42`)).body.code).toBe('CONSUMER_NOT_FOUND');
    // Its id is free again once it is gone.
    expectStatus(await t.call('POST', acme, { id: 'cus_42', name: 'Customer 42, again' }), 201);
  });

  it('refuses a second consumer of the same id in the tenant with 409 CONSUMER_EXISTS, changing nothing', async () => {
    expectStatus(await t.call('POST', acme, { id: 'hooli', name: 'Hooli', members: [alice], grants: [{ api, scopes: ['read:users'] }] }), 201);
    const generated = (await t.call('POST', acme, { name: 'Generated' })).body.id;
    expect(generated).toMatch(/^con_/);
    await unchanged(async () => {
      for (const id of ['hooli', generated]) {
        const again = await t.call('POST', acme, { id, name: 'Other', grants: [{ api, scopes: ['read:users', 'read:billing'] }] });
        expect([again.status, again.body.code], id).toEqual([409, 'CONSUMER_EXISTS']);
        expect(again.body.detail).toContain(id);
      }
    });
    expect((await t.call('GET', `${acme}/hooli`)).body).toMatchObject({ name: 'Hooli', members: [alice], grants: [{ scopes: ['read:users'] }] });
  });

  it('lets two tenants use the same id: each sees, changes and deletes only its own', async () => {
    const ours = await t.call('POST', acme, { id: 'initech', name: 'Initech (acme)', members: [alice], grants: [{ api, scopes: ['read:users'] }] });
    expectStatus(ours, 201);
    // Nothing in globex's answer depends on acme having an "initech": it is a plain 201.
    const theirs = await t.call('POST', globex, { id: 'initech', name: 'Initech (globex)', members: [gina], grants: [{ api, scopes: ['read:billing'] }] });
    expectStatus(theirs, 201);
    expect(theirs.body).toMatchObject({ id: 'initech', tenant: 'globex', name: 'Initech (globex)', members: [gina], grants: [{ scopes: ['read:billing'] }] });
    expect(theirs.body.grants[0].grantKeyId).not.toBe(ours.body.grants[0].grantKeyId);

    expect((await t.call('GET', `${acme}/initech`)).body).toEqual(ours.body);
    expect((await t.call('GET', `${globex}/initech`)).body).toEqual(theirs.body);
    const globexList = (await t.call('GET', `${globex}?limit=100`)).body.items;
    expect(globexList.filter((c: { id: string }) => c.id === 'initech')).toEqual([theirs.body]);

    // A member of one is not a member of the other, and each tenant's keys stay under its own grant.
    const foreign = await t.call('POST', `${globex}/initech/keys`, { api, member: alice, scopes: ['read:billing'] });
    expect([foreign.status, foreign.body.code]).toEqual([403, 'NOT_A_MEMBER']);
    const acmeKey = await t.call('POST', `${acme}/initech/keys`, { api, member: alice, scopes: ['read:users'] });
    const globexKey = await t.call('POST', `${globex}/initech/keys`, { api, member: gina, scopes: ['read:billing'] });
    expectStatus(acmeKey, 201);
    expectStatus(globexKey, 201);
    expect((await t.call('GET', `${acme}/initech/keys`)).body.items.map((k: { id: string }) => k.id)).toEqual([acmeKey.body.id]);
    expect((await t.call('GET', `${globex}/initech/keys`)).body.items.map((k: { id: string }) => k.id)).toEqual([globexKey.body.id]);

    const changed = await t.call('PATCH', `${acme}/initech`, { name: 'Initech, renamed', grants: [] });
    expectStatus(changed, 200);
    expect((await t.call('GET', `${globex}/initech`)).body).toEqual(theirs.body);
    expect((await verify(acmeKey.body.key)).code).toBe('REVOKED');
    expect((await verify(globexKey.body.key)).code).toBe('VALID');

    const gone = await t.call('DELETE', `${globex}/initech`);
    expect(gone.body.revoked).toEqual(expect.arrayContaining([theirs.body.grants[0].grantKeyId, globexKey.body.id]));
    expect(gone.body.revoked).not.toContain(ours.body.grants[0].grantKeyId);
    expect((await t.call('GET', `${globex}/initech`)).body.code).toBe('CONSUMER_NOT_FOUND');
    expect((await t.call('GET', `${acme}/initech`)).body).toMatchObject({ id: 'initech', name: 'Initech, renamed' });
  });

  it("keeps each tenant's token budget for a consumer of the same id its own", async () => {
    const keygate = t.server.keygate;
    expectStatus(await t.call('POST', acme, { id: 'umbrella', name: 'Umbrella', members: [alice], grants: [{ api, scopes: ['read:users'] }] }), 201);
    expectStatus(await t.call('POST', globex, { id: 'umbrella', name: 'Umbrella', members: [gina], grants: [{ api, scopes: ['read:users'] }] }), 201);
    const [acmeTenant, globexTenant] = [await keygate.tenants.get('acme'), await keygate.tenants.get('globex')];
    const mint = (tenant: typeof acmeTenant, member: string) =>
      keygate.consumers.mintToken({ id: member, requestId: null, ip: null }, tenant, 'umbrella', member, { api, scopes: ['read:users'], ttlSeconds: 60 });
    for (let i = 0; i < MINT_LIMIT.limit; i++) await mint(acmeTenant, alice);
    await expect(mint(acmeTenant, alice)).rejects.toMatchObject({ code: 'TOKEN_MINT_LIMIT_REACHED' });
    expect((await mint(globexTenant, gina)).token).toEqual(expect.any(String));
  });

  it('refuses an id outside the rule with 400 INVALID_REQUEST naming it, changing nothing', async () => {
    await unchanged(async () => {
      for (const id of ['', '-lead', '.hidden', '_under', 'a b', 'a/b', 'a%2Fb', 'ünï', 'x'.repeat(65), 42, null]) {
        const response = await t.call('POST', acme, { id, name: 'Bad' });
        expect([response.status, response.body.code], JSON.stringify(id)).toEqual([400, 'INVALID_REQUEST']);
        expect(response.body.detail, JSON.stringify(id)).toMatch(/\/id/);
        if (typeof id === 'string') expect(response.body.detail).toContain(CONSUMER_ID_PATTERN);
      }
    });
    // The service itself holds the rule too, for callers other than the HTTP API.
    const tenant = await t.server.keygate.tenants.get('acme');
    await expect(t.server.keygate.consumers.create({ id: 'root', requestId: null, ip: null }, tenant, { id: '../x', name: 'Bad' })).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
      message: expect.stringContaining('1–64 characters'),
    });
    for (const id of ['x'.repeat(64), '7', 'cus_42.eu:prod-1', 'ACME']) {
      const response = await t.call('POST', acme, { id, name: 'Good' });
      expect([response.status, response.body.id], id).toEqual([201, id]);
    }
  });
});
