import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PasswordResetMessage } from '../../src/services/password-reset-delivery.js';
import { BACKENDS } from '../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of issue 8 against security.md §12 ("what is disabled stays dead"): `PATCH …/users/{id}`
 * read the person, then wrote every field back. A change of name that read the person before a
 * concurrent disable committed wrote `disabled_at` back to null, and the person signed in again.
 * And a change of email left the reset links already sent to the old address working.
 */
describe.each(BACKENDS)('changing a user (%s)', (backend) => {
  let t: TestServer;
  const sent: PasswordResetMessage[] = [];
  const users = (path = '') => `/v1/tenants/acme/users${path}`;

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { onPasswordReset: (message) => void sent.push(message) });
    await seedTenant(t);
  });
  afterAll(() => t?.close());

  it('a change that read the person before a disable does not enable them again', async () => {
    const user = (await t.call('POST', users(), { email: 'racer@acme.test', password: 'a long enough password' })).body;
    const store = t.server.keygate.store.people;
    const stale = await store.findUser(user.tenantId ?? (await t.server.keygate.store.directory.findTenantBySlug('acme'))!.id, user.id);
    expectStatus(await t.call('PATCH', users(`/${user.id}`), { disabled: true }), 200);
    // The rename read the person before the disable committed.
    const findUser = store.findUser.bind(store);
    store.findUser = async () => {
      store.findUser = findUser;
      return stale;
    };
    expectStatus(await t.call('PATCH', users(`/${user.id}`), { name: 'Renamed' }), 200);
    const now = (await t.call('GET', users(`/${user.id}`))).body;
    expect(now).toMatchObject({ name: 'Renamed', disabled: true });
  });

  it('a new email ends the reset links sent to the old one', async () => {
    const user = (await t.call('POST', users(), { email: 'old@acme.test', password: 'a long enough password' })).body;
    expect((await t.call('POST', users(`/${user.id}/password-reset`))).status).toBe(202);
    const link = sent.at(-1)!;
    expect(link.email).toBe('old@acme.test');
    expectStatus(await t.call('PATCH', users(`/${user.id}`), { email: 'new@acme.test' }), 200);
    const store = t.server.keygate.store.directory;
    const tenant = (await store.findTenantBySlug('acme'))!;
    // Whoever reads the old mailbox follows the link.
    expect(await t.server.keygate.users.resetPassword(tenant, link.token, 'taken over by the old mailbox', { ip: '127.0.0.1', requestId: 'req_test' })).toBe(false);
    const signIn = await t.server.keygate.users.signIn(tenant, 'new@acme.test', 'taken over by the old mailbox', { ip: '127.0.0.1', requestId: 'req_test' });
    expect('user' in signIn).toBe(false);
  });
});

/**
 * The same lost update on `PATCH /v1/tenants/{slug}`: a rename that read the tenant before a
 * concurrent change of its HS256 cap (lowered after a leak) or of self sign-up (closed) wrote
 * the old values back.
 */
describe.each(BACKENDS)('changing a tenant (%s)', (backend) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(backend);
    await seedTenant(t);
  });
  afterAll(() => t?.close());

  it('a change that read the tenant before a lowered cap or a closed sign-up does not undo them', async () => {
    expectStatus(await t.call('PATCH', '/v1/tenants/acme', { selfSignup: true, hs256MaxLifetime: 86_400 }), 200);
    const store = t.server.keygate.store.directory;
    const stale = await store.findTenantBySlug('acme');
    expectStatus(await t.call('PATCH', '/v1/tenants/acme', { selfSignup: false, hs256MaxLifetime: 60 }), 200);
    const findTenantBySlug = store.findTenantBySlug.bind(store);
    store.findTenantBySlug = async (slug: string) => {
      store.findTenantBySlug = findTenantBySlug;
      return slug === 'acme' ? stale : findTenantBySlug(slug);
    };
    expectStatus(await t.call('PATCH', '/v1/tenants/acme', { name: 'Acme renamed' }), 200);
    expect((await t.call('GET', '/v1/tenants/acme')).body).toMatchObject({ name: 'Acme renamed', selfSignup: false, hs256MaxLifetime: 60 });
  });
});
