import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { testClock } from '../../helpers/clock.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotAll } from '../../helpers/snapshot.js';

/**
 * Consumers over HTTP on both stores: a grant is one quota and one ceiling for every key of the
 * consumer on its API, narrowing or removing it reaches those keys at once, members cannot
 * exceed it, and the /keys routes never hand out or change a grant key.
 */
describe.each(BACKENDS)('consumers (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let alice: string;
  let bob: string;
  const clock = testClock();
  const base = '/v1/tenants/acme/consumers';

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: clock.now });
    ({ api } = await seedTenant(t));
    alice = (await t.call('POST', '/v1/tenants/acme/users', { email: 'alice@corp.test', password: 'a long enough password' })).body.id;
    bob = (await t.call('POST', '/v1/tenants/acme/users', { email: 'bob@corp.test', password: 'a long enough password' })).body.id;
  });
  afterAll(() => t.close());

  async function consumer(grant: Record<string, unknown>, members: string[] = [alice]): Promise<{ id: string; grants: { grantKeyId: string }[] }> {
    const response = await t.call('POST', base, { name: 'Corp', members, grants: [{ api, ...grant }] });
    expectStatus(response, 201);
    return response.body;
  }

  async function memberKey(consumerId: string, body: Record<string, unknown> = {}, member = alice): Promise<{ id: string; key: string }> {
    const response = await t.call('POST', `${base}/${consumerId}/keys`, { api, member, scopes: ['read:users'], ...body });
    expectStatus(response, 201);
    return response.body;
  }

  const verify = async (credential: string, scopes: string[] = []): Promise<string> => {
    const response = await t.call('POST', '/v1/verify', { api, credential, scopes });
    expectStatus(response, 200);
    return response.body.code;
  };

  async function unchanged(action: () => Promise<void>): Promise<void> {
    await t.server.keygate.flush();
    const before = await snapshotAll(t.backend);
    await action();
    await t.server.keygate.flush();
    expect(await snapshotAll(t.backend)).toBe(before);
  }

  it('creates, reads, lists and changes a consumer; its grant key is not in the key list', async () => {
    const created = await t.call('POST', base, {
      name: 'Initech',
      members: [alice, alice],
      grants: [{ api, scopes: ['read:users'], maxKeys: 3, ratelimits: [{ name: 'rpm', limit: 100, duration: 60_000 }], credits: { remaining: 500 }, expiresAt: new Date(clock.now() + 86_400_000).toISOString() }],
    });
    expectStatus(created, 201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^con_/),
      tenant: 'acme',
      name: 'Initech',
      members: [alice],
      grants: [{ api, scopes: ['read:users'], maxKeys: 3, ratelimits: [{ name: 'rpm', limit: 100, duration: 60_000 }], credits: { remaining: 500, refill: null } }],
    });
    const id = created.body.id;
    expect((await t.call('GET', `${base}/${id}`)).body).toEqual(created.body);
    const keys = await t.call('GET', '/v1/tenants/acme/keys?limit=100');
    expect(keys.body.items.map((k: { id: string }) => k.id)).not.toContain(created.body.grants[0].grantKeyId);

    const updated = await t.call('PATCH', `${base}/${id}`, { name: 'Initech Ltd', members: [alice, bob], grants: [{ api, scopes: ['read:users', 'read:billing'] }] });
    expectStatus(updated, 200);
    // Fields a kept grant leaves out stay as they were.
    expect(updated.body).toMatchObject({ name: 'Initech Ltd', members: [alice, bob].sort(), grants: [{ scopes: ['read:users', 'read:billing'], maxKeys: 3, credits: { remaining: 500 } }] });
    expect(updated.body.grants[0].grantKeyId).toBe(created.body.grants[0].grantKeyId);

    await t.call('POST', base, { name: 'Second' });
    const first = await t.call('GET', `${base}?limit=1`);
    expect(first.body.items).toHaveLength(1);
    const second = await t.call('GET', `${base}?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.items[0].id).not.toBe(first.body.items[0].id);
  });

  it("shares the grant's rate limit between the consumer's keys", async () => {
    const { id } = await consumer({ scopes: ['read:users'], ratelimits: [{ name: 'per-minute', limit: 3, duration: 60_000 }] });
    const first = await memberKey(id);
    const second = await memberKey(id, {}, alice);
    for (let i = 0; i < 3; i++) expect(await verify(first.key)).toBe('VALID');
    expect(await verify(second.key)).toBe('RATE_LIMITED');
  });

  it("shares the grant's credits between the consumer's keys", async () => {
    const { id } = await consumer({ scopes: ['read:users'], credits: { remaining: 2 } });
    const first = await memberKey(id);
    const second = await memberKey(id);
    expect(await verify(first.key)).toBe('VALID');
    expect(await verify(first.key)).toBe('VALID');
    expect(await verify(second.key)).toBe('USAGE_EXCEEDED');
  });

  it("narrowing a grant's scopes narrows the keys under it at once", async () => {
    const { id } = await consumer({ scopes: ['read:users', 'read:billing'] });
    const key = await memberKey(id, { scopes: ['read:users', 'read:billing'] });
    expect(await verify(key.key, ['read:billing'])).toBe('VALID');
    expectStatus(await t.call('PATCH', `${base}/${id}`, { grants: [{ api, scopes: ['read:users'] }] }), 200);
    expect(await verify(key.key, ['read:billing'])).toBe('INSUFFICIENT_SCOPE');
    expect(await verify(key.key, ['read:users'])).toBe('VALID');
    expect((await t.call('GET', `/v1/tenants/acme/keys/${key.id}`)).body.scopes).toEqual(['read:users']);
  });

  it('removing a grant, or deleting the consumer, revokes every key under it', async () => {
    const removed = await consumer({ scopes: ['read:users'] });
    const key = await memberKey(removed.id);
    const sub = await t.call('POST', `/v1/tenants/acme/keys/${key.id}/subkeys`, { scopes: ['read:users'] }, { auth: key.key });
    expectStatus(sub, 201);
    const patched = await t.call('PATCH', `${base}/${removed.id}`, { grants: [] });
    expect(patched.body.grants).toEqual([]);
    expect(await verify(key.key)).toBe('REVOKED');
    expect(await verify(sub.body.key)).toBe('REVOKED');

    const deleted = await consumer({ scopes: ['read:users'] });
    const other = await memberKey(deleted.id);
    const answer = await t.call('DELETE', `${base}/${deleted.id}`);
    expectStatus(answer, 200);
    expect(answer.body.revoked).toEqual(expect.arrayContaining([deleted.grants[0]!.grantKeyId, other.id]));
    expect(await verify(other.key)).toBe('REVOKED');
    expect((await t.call('GET', `${base}/${deleted.id}`)).body.code).toBe('CONSUMER_NOT_FOUND');
  });

  it('a member cannot exceed the grant: scopes, expiry, number of keys', async () => {
    const expiresAt = clock.now() + 3_600_000;
    const { id } = await consumer({ scopes: ['read:users'], maxKeys: 1, expiresAt: new Date(expiresAt).toISOString() });
    await unchanged(async () => {
      const wider = await t.call('POST', `${base}/${id}/keys`, { api, member: alice, scopes: ['write:users'] });
      expect([wider.status, wider.body.code]).toEqual([403, 'SCOPE_NOT_ALLOWED']);
      const later = await t.call('POST', `${base}/${id}/keys`, { api, member: alice, scopes: ['read:users'], expiresAt: new Date(expiresAt + 1000).toISOString() });
      expect([later.status, later.body.code]).toEqual([400, 'EXPIRY_AFTER_PARENT']);
      const forever = await t.call('POST', `${base}/${id}/keys`, { api, member: alice, scopes: ['read:users'], expiresAt: null });
      expect(forever.body.code).toBe('EXPIRY_AFTER_PARENT');
    });
    const key = await t.call('POST', `${base}/${id}/keys`, { api, member: alice, scopes: ['read:users'] });
    expectStatus(key, 201);
    expect(Date.parse(key.body.expiresAt)).toBe(expiresAt);
    expect(key.body.consumer).toBe(id);
    await unchanged(async () => {
      const more = await t.call('POST', `${base}/${id}/keys`, { api, member: alice, scopes: ['read:users'] });
      expect([more.status, more.body.code]).toEqual([409, 'CONSUMER_KEY_LIMIT_REACHED']);
    });
    await t.server.keygate.consumers.revokeKey({ id: alice, requestId: null, ip: null }, await t.server.keygate.tenants.get('acme'), id, alice, key.body.id);
    expectStatus(await t.call('POST', `${base}/${id}/keys`, { api, member: alice, scopes: ['read:users'] }), 201);
  });

  it('only members create keys, and only on granted APIs', async () => {
    const { id } = await consumer({ scopes: ['read:users'] });
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://other.acme.test', name: 'Other', scopes: [{ name: 'read:x', description: 'x' }] }), 201);
    await unchanged(async () => {
      const outsider = await t.call('POST', `${base}/${id}/keys`, { api, member: bob, scopes: ['read:users'] });
      expect([outsider.status, outsider.body.code]).toEqual([403, 'NOT_A_MEMBER']);
      const ungranted = await t.call('POST', `${base}/${id}/keys`, { api: 'https://other.acme.test', member: alice, scopes: ['read:x'] });
      expect([ungranted.status, ungranted.body.code]).toEqual([403, 'API_NOT_GRANTED']);
      const ghost = await t.call('POST', `${base}/con_nope/keys`, { api, member: alice, scopes: ['read:users'] });
      expect([ghost.status, ghost.body.code]).toEqual([404, 'CONSUMER_NOT_FOUND']);
    });
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/users/${alice}`, { disabled: true }), 200);
    const disabled = await t.call('POST', `${base}/${id}/keys`, { api, member: alice, scopes: ['read:users'] });
    expect(disabled.body.code).toBe('NOT_A_MEMBER');
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/users/${alice}`, { disabled: false }), 200);
  });

  it('the member service methods act only on keys under the consumer', async () => {
    const keygate = t.server.keygate;
    const tenant = await keygate.tenants.get('acme');
    const actor = { id: alice, requestId: null, ip: null };
    const mine = await consumer({ scopes: ['read:users', 'read:billing'] });
    const theirs = await consumer({ scopes: ['read:users'] }, [bob]);
    const key = await memberKey(mine.id);
    const foreign = await memberKey(theirs.id, {}, bob);
    const loose = (await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] })).body;
    for (const target of [foreign.id, loose.id, mine.grants[0]!.grantKeyId]) {
      await expect(keygate.consumers.revokeKey(actor, tenant, mine.id, alice, target)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
      await expect(keygate.consumers.rollKey(actor, tenant, mine.id, alice, target, 0)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
      await expect(keygate.consumers.createSubkey(actor, tenant, mine.id, alice, target, { scopes: ['read:users'] })).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    }
    await expect(keygate.consumers.revokeKey(actor, tenant, theirs.id, alice, foreign.id)).rejects.toMatchObject({ code: 'NOT_A_MEMBER' });
    expect(await verify(foreign.key)).toBe('VALID');
    expect(await verify(loose.key)).toBe('VALID');

    const sub = await keygate.consumers.createSubkey(actor, tenant, mine.id, alice, key.id, { scopes: ['read:users'] });
    await expect(keygate.consumers.createSubkey(actor, tenant, mine.id, alice, key.id, { scopes: ['read:billing'] })).rejects.toMatchObject({ code: 'SCOPE_NOT_ALLOWED' });
    const rolled = await keygate.consumers.rollKey(actor, tenant, mine.id, alice, key.id, 0);
    expect(await verify(rolled.secret)).toBe('VALID');
    const listed = await keygate.consumers.listKeys(tenant, mine.id, { after: null, limit: 100 });
    expect(listed.items.map((k) => k.key.id).sort()).toEqual([key.id, sub.key.id].sort());
    expect((await t.call('GET', `${base}/${mine.id}/keys`)).body.items.map((k: { id: string }) => k.id).sort()).toEqual([key.id, sub.key.id].sort());
    expect(await keygate.consumers.revokeKey(actor, tenant, mine.id, alice, key.id)).toEqual(expect.arrayContaining([key.id, sub.key.id]));
    expect(await verify(sub.secret)).toBe('REVOKED');
    expect((await keygate.consumers.consumersOf(tenant, bob)).map((c) => c.consumer.id)).toContain(theirs.id);
    expect((await keygate.consumers.consumersOf(tenant, bob)).map((c) => c.consumer.id)).not.toContain(mine.id);
  });

  it('the /keys routes refuse grant keys: roll, update, revoke, delete, sub-keys', async () => {
    const { id, grants } = await consumer({ scopes: ['read:users'] });
    const grantKey = grants[0]!.grantKeyId;
    const member = await memberKey(id);
    await unchanged(async () => {
      for (const [method, path, body] of [
        ['POST', `/v1/tenants/acme/keys/${grantKey}/roll`, { gracePeriodMs: 0 }],
        ['PATCH', `/v1/tenants/acme/keys/${grantKey}`, { scopes: ['read:users', 'write:users'] }],
        ['POST', `/v1/tenants/acme/keys/${grantKey}/revoke`, undefined],
        ['DELETE', `/v1/tenants/acme/keys/${grantKey}`, undefined],
        ['POST', `/v1/tenants/acme/keys/${grantKey}/subkeys`, { scopes: ['read:users'] }],
      ] as const) {
        const response = await t.call(method, path, body);
        expect([response.status, response.body.code], `${method} ${path}`).toEqual([409, 'KEY_IS_GRANT']);
        expect(response.body.detail).toContain(`/v1/tenants/acme/consumers/${id}`);
      }
      // A member's own key cannot mint under the grant key either.
      const holder = await t.call('POST', `/v1/tenants/acme/keys/${grantKey}/subkeys`, { scopes: ['read:users'] }, { auth: member.key });
      expect(holder.status).toBe(403);
    });
    // The owner still manages the consumer's keys themselves, within the grant.
    const widened = await t.call('PATCH', `/v1/tenants/acme/keys/${member.id}`, { scopes: ['write:users'] });
    expect([widened.status, widened.body.code]).toEqual([403, 'SCOPE_NOT_ALLOWED']);
  });

  it('refuses bad input with a code and changes nothing', async () => {
    const { id } = await consumer({ scopes: ['read:users'] });
    await unchanged(async () => {
      const cases: [string, string, unknown, number, string][] = [
        ['POST', base, { name: 'X', grants: [{ api: 'https://nope.test', scopes: [] }] }, 404, 'API_NOT_FOUND'],
        ['POST', base, { name: 'X', grants: [{ api, scopes: ['read:nothing'] }] }, 400, 'UNKNOWN_SCOPE'],
        ['POST', base, { name: 'X', grants: [{ api, scopes: [] }, { api, scopes: [] }] }, 400, 'INVALID_REQUEST'],
        ['POST', base, { name: 'X', members: ['usr_nobody'] }, 404, 'USER_NOT_FOUND'],
        ['POST', base, { name: 'X', grants: [{ api, scopes: [], ratelimits: [{ name: 'a', limit: 1, duration: 1 }, { name: 'a', limit: 1, duration: 1 }] }] }, 400, 'INVALID_REQUEST'],
        ['POST', base, { name: 'X', grants: [{ api, scopes: [], expiresAt: new Date(clock.now() - 1000).toISOString() }] }, 400, 'EXPIRY_IN_PAST'],
        ['PATCH', `${base}/${id}`, { grants: [{ api, scopes: ['read:nothing'] }] }, 400, 'UNKNOWN_SCOPE'],
        ['PATCH', `${base}/${id}`, { members: ['usr_nobody'] }, 404, 'USER_NOT_FOUND'],
        ['PATCH', `${base}/con_nope`, { name: 'Y' }, 404, 'CONSUMER_NOT_FOUND'],
        ['DELETE', `${base}/con_nope`, undefined, 404, 'CONSUMER_NOT_FOUND'],
      ];
      for (const [method, path, body, status, code] of cases) {
        const response = await t.call(method, path, body);
        expect([response.status, response.body.code], JSON.stringify(body)).toEqual([status, code]);
      }
    });
  });

  it('keeps tenants apart: another tenant sees no consumer, and cannot name its users as members', async () => {
    const { id } = await consumer({ scopes: ['read:users'] });
    await seedTenant(t, 'globex');
    const globexUser = (await t.call('POST', '/v1/tenants/globex/users', { email: 'g@globex.test', password: 'a long enough password' })).body.id;
    await unchanged(async () => {
      expect((await t.call('GET', `/v1/tenants/globex/consumers/${id}`)).body.code).toBe('CONSUMER_NOT_FOUND');
      expect((await t.call('POST', `/v1/tenants/globex/consumers/${id}/keys`, { api, member: alice, scopes: ['read:users'] })).body.code).toBe('CONSUMER_NOT_FOUND');
      expect((await t.call('DELETE', `/v1/tenants/globex/consumers/${id}`)).body.code).toBe('CONSUMER_NOT_FOUND');
      expect((await t.call('PATCH', `${base}/${id}`, { members: [globexUser] })).body.code).toBe('USER_NOT_FOUND');
    });
    expect((await t.call('GET', '/v1/tenants/globex/consumers')).body.items).toEqual([]);
    const limited = await t.call('POST', '/v1/root-keys', { scopes: ['consumers:write'], tenant: 'globex' });
    expect((await t.call('GET', `${base}/${id}`, undefined, { auth: limited.body.key })).status).toBe(404);
  });

  it('mints a member key only for a root key that may mint keys: consumers:write alone manages consumers, never secrets', async () => {
    const { id } = await consumer({ scopes: ['read:users'] });
    const managers = (await t.call('POST', '/v1/root-keys', { scopes: ['consumers:write'], tenant: 'acme' })).body.key;
    await unchanged(async () => {
      const refused = await t.call('POST', `${base}/${id}/keys`, { api, member: alice, scopes: ['read:users'] }, { auth: managers });
      expect([refused.status, refused.body.code]).toEqual([403, 'FORBIDDEN']);
    });
    const minters = (await t.call('POST', '/v1/root-keys', { scopes: ['keys:write'], tenant: 'acme' })).body.key;
    expectStatus(await t.call('POST', `${base}/${id}/keys`, { api, member: alice, scopes: ['read:users'] }, { auth: minters }), 201);
  });

  it("deleting a member user ends the membership; deleting the API ends the grant and its keys", async () => {
    const carol = (await t.call('POST', '/v1/tenants/acme/users', { email: 'carol@corp.test', password: 'a long enough password' })).body.id;
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://gone.acme.test', name: 'Gone', scopes: [{ name: 'read:x', description: 'x' }] }), 201);
    const created = await t.call('POST', base, { name: 'Temp', members: [carol], grants: [{ api: 'https://gone.acme.test', scopes: ['read:x'] }] });
    expectStatus(created, 201);
    const key = await t.call('POST', `${base}/${created.body.id}/keys`, { api: 'https://gone.acme.test', member: carol, scopes: ['read:x'] });
    expectStatus(key, 201);
    expectStatus(await t.call('DELETE', `/v1/tenants/acme/users/${carol}`), 204);
    expect((await t.call('GET', `${base}/${created.body.id}`)).body.members).toEqual([]);
    expectStatus(await t.call('DELETE', `/v1/tenants/acme/apis/${encodeURIComponent('https://gone.acme.test')}?force=true`), 204);
    expect((await t.call('GET', `${base}/${created.body.id}`)).body.grants).toEqual([]);
  });

  it('keeps free-text consumers of ordinary keys working', async () => {
    const key = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], consumer: 'customer-42' });
    expect(await verify(key.body.key)).toBe('VALID');
    const listed = await t.call('GET', '/v1/tenants/acme/keys?consumer=customer-42');
    expect(listed.body.items.map((k: { id: string }) => k.id)).toEqual([key.body.id]);
  });
});
