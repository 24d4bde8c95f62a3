import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DUMMY_PASSWORD_HASH } from '../../../src/crypto/passwords.js';
import { newId } from '../../../src/crypto/secrets.js';
import { SYSTEM_ACTOR } from '../../../src/services/context.js';
import type { PasswordResetMessage } from '../../../src/services/password-reset-delivery.js';
import { BACKENDS } from '../../helpers/backends.js';
import { Person } from '../../helpers/person.js';
import { populateTenant, type PopulatedTenant } from '../../helpers/populated-tenant.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { consoleCsrf, createOperator, signedInOperator } from './operator-fixture.js';

const USERS = '/console/tenants/acme/users';
const PASSWORD = 'correct horse battery staple';

describe.each(BACKENDS)('console: users (%s)', (backend) => {
  let t: TestServer;
  let p: PopulatedTenant;
  let admin: Person;
  let reader: Person;
  let limited: Person;
  let csrf: { admin: string; reader: string; limited: string };
  let grantId: string;
  const sent: PasswordResetMessage[] = [];

  async function createdUser(email: string, name?: string): Promise<string> {
    const created = await t.call('POST', '/v1/tenants/acme/users', { email, password: PASSWORD, ...(name ? { name } : {}) });
    expectStatus(created, 201);
    return created.body.id;
  }

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { onPasswordReset: (message) => void sent.push(message) });
    p = await populateTenant(t, 'acme');
    await seedTenant(t, 'other');
    await createOperator(t, { email: 'admin@ops.test', scopes: ['users:write', 'clients:read'] });
    await createOperator(t, { email: 'reader@ops.test', scopes: ['users:read'] });
    await createOperator(t, { email: 'other@ops.test', scopes: ['users:write', 'clients:read'], tenant: 'other' });
    admin = await signedInOperator(t, 'admin@ops.test');
    reader = await signedInOperator(t, 'reader@ops.test');
    limited = await signedInOperator(t, 'other@ops.test');
    csrf = { admin: await consoleCsrf(admin), reader: await consoleCsrf(reader), limited: await consoleCsrf(limited) };
    const grants = await t.call('GET', `/v1/tenants/acme/users/${p.userId}/grants`);
    expect(grants.body.items).toHaveLength(1);
    grantId = grants.body.items[0].id;
  });
  afterAll(() => t.close());

  it('creates a user on the page who can then sign in with the initial password', async () => {
    const page = await admin.get(USERS);
    expect(page.status).toBe(200);
    expect(page.html).toContain(p.person.email);
    const created = await admin.post(USERS, { csrf: csrf.admin, email: 'grace@acme.test', name: 'Grace Hopper', password: PASSWORD });
    expect(created.status).toBe(303);
    expect(created.location).toMatch(/\/console\/tenants\/acme\/users\/usr_[^?]+\?done=created$/);
    const id = new URL(created.location!).pathname.split('/').pop()!;
    expect((await t.call('GET', `/v1/tenants/acme/users/${id}`)).body).toMatchObject({ email: 'grace@acme.test', name: 'Grace Hopper', disabled: false });
    const detail = await admin.get(created.location!);
    expect(detail.html).toContain('The user is created');
    expect(detail.html).toContain('Grace Hopper');
    const callback = await new Person(t.url).authorize(await p.authorizationUrl(), { email: 'grace@acme.test', password: PASSWORD });
    expect(new URL(callback).searchParams.get('code')).not.toBeNull();
  });

  it('shows /v1’s refusal of a duplicate email with the form refilled but never the password, changing nothing', async () => {
    const before = await snapshotState(t);
    const duplicate = await admin.post(USERS, { csrf: csrf.admin, email: p.person.email, name: 'Second Ada', password: 'a secret password 123' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.html).toContain('role="alert"');
    expect(duplicate.html).toContain('USER_EXISTS');
    expect(duplicate.html).toContain('value="Second Ada"');
    expect(duplicate.html).not.toContain('a secret password 123');
    expect(await snapshotState(t)).toBe(before);
  });

  it('finds users by email or name, and pages through what /v1 holds', async () => {
    // More than a page (50), written to the store directly: fifty scrypt hashes through /v1 would take fifteen seconds.
    const { keygate } = t.server;
    const tenant = await keygate.tenants.get('acme');
    for (let i = 0; i < 50; i++) {
      const now = Date.now();
      const user = { id: newId('user', now), tenantId: tenant.id, email: `bulk${String(i).padStart(2, '0')}@acme.test`, name: null, createdAt: now, disabledAt: null };
      await keygate.store.people.createUser(user, DUMMY_PASSWORD_HASH, keygate.audit.event(tenant.id, SYSTEM_ACTOR, 'user.create', user.id));
    }
    await createdUser('special@acme.test', 'Dr. <b>Bold</b> Person');
    const first = await admin.get(USERS);
    const next = /href="([^"]*\?cursor=[^"]*)" rel="next"/.exec(first.html)?.[1];
    expect(next).toBeDefined();
    const second = await admin.get(next!.replace(/&amp;/g, '&'));
    expect(second.status).toBe(200);
    const all = (await t.call('GET', '/v1/tenants/acme/users?limit=100')).body.items as { email: string }[];
    for (const { email } of all) expect(first.html.includes(email) || second.html.includes(email)).toBe(true);

    const byName = await admin.get(`${USERS}?search=bold`);
    expect(byName.html).toContain('special@acme.test');
    expect(byName.html).toContain('Dr. &lt;b&gt;Bold&lt;/b&gt; Person');
    expect(byName.html).not.toContain('bulk01@acme.test');
    expect((await admin.get(`${USERS}?search=BULK07`)).html).toContain('bulk07@acme.test');
    expect((await admin.get(`${USERS}?search=nobody-at-all`)).html).toContain('No user matches the search.');
  });

  it('shows the person’s connected apps with the app’s name', async () => {
    const page = await admin.get(`${USERS}/${p.userId}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Photo Printer');
    expect(page.html).toContain(p.clientId);
    expect(page.html).toContain(`/grants/${grantId}/revoke`);
  });

  it('shows an operator limited to another tenant nothing of this one: 404 on pages and forged posts, nothing changed', async () => {
    expect((await limited.get('/console/tenants/other/users')).status).toBe(200);
    for (const path of [USERS, `${USERS}/${p.userId}`]) {
      const page = await limited.get(path);
      expect(page.status).toBe(404);
      expect(page.html).not.toContain(p.person.email);
    }
    const before = await snapshotState(t);
    for (const [path, fields] of forgedPosts()) {
      const answer = await limited.post(path, { csrf: csrf.limited, ...fields });
      expect(answer.status, path).toBe(404);
    }
    expect(await snapshotState(t)).toBe(before);
    expect(sent).toHaveLength(1);
  });

  it('shows an operator with users:read no action, and refuses their forged posts changing nothing', async () => {
    const list = await reader.get(USERS);
    expect(list.status).toBe(200);
    expect(list.html).not.toContain('method="post" action="/console/tenants/acme/users"');
    const page = await reader.get(`${USERS}/${p.userId}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain(p.clientId);
    expect(page.html).not.toContain('Photo Printer');
    for (const verb of ['update', 'disable', 'enable', 'reset', 'delete', 'revoke']) expect(page.html).not.toContain(`/${verb}"`);
    const before = await snapshotState(t);
    for (const [path, fields] of forgedPosts()) {
      const answer = await reader.post(path, { csrf: csrf.reader, ...fields });
      expect(answer.status, path).toBe(403);
      expect(answer.html).toContain('role="alert"');
    }
    expect(await snapshotState(t)).toBe(before);
    expect(sent).toHaveLength(1);
  });

  it('changes a user’s name and email, and shows /v1’s refusal of a taken email in the form, changing nothing', async () => {
    const id = await createdUser('renamed@acme.test', 'Old Name');
    const saved = await admin.post(`${USERS}/${id}/update`, { csrf: csrf.admin, email: 'Renamed.Again@acme.test', name: 'New Name' });
    expect(saved.status).toBe(303);
    expect(saved.location).toContain('?done=updated');
    expect((await t.call('GET', `/v1/tenants/acme/users/${id}`)).body).toMatchObject({ email: 'renamed.again@acme.test', name: 'New Name' });
    const cleared = await admin.post(`${USERS}/${id}/update`, { csrf: csrf.admin, email: 'renamed.again@acme.test', name: '' });
    expect(cleared.status).toBe(303);
    expect((await t.call('GET', `/v1/tenants/acme/users/${id}`)).body.name).toBeNull();

    const before = await snapshotState(t);
    const taken = await admin.post(`${USERS}/${id}/update`, { csrf: csrf.admin, email: p.person.email, name: 'Impostor' });
    expect(taken.status).toBe(409);
    expect(taken.html).toContain('USER_EXISTS');
    expect(taken.html).toContain('value="Impostor"');
    expect(await snapshotState(t)).toBe(before);
  });

  it('disables and enables a user', async () => {
    const id = await createdUser('switch@acme.test');
    const disabled = await admin.post(`${USERS}/${id}/disable`, { csrf: csrf.admin });
    expect(disabled.status).toBe(303);
    expect(disabled.location).toContain('?done=disabled');
    expect((await t.call('GET', `/v1/tenants/acme/users/${id}`)).body.disabled).toBe(true);
    const page = await admin.get(disabled.location!);
    expect(page.html).toContain('The user is disabled');
    expect(page.html).toContain(`/users/${id}/enable"`);
    expect(page.html).not.toContain(`/users/${id}/disable"`);
    const enabled = await admin.post(`${USERS}/${id}/enable`, { csrf: csrf.admin });
    expect(enabled.status).toBe(303);
    expect((await t.call('GET', `/v1/tenants/acme/users/${id}`)).body.disabled).toBe(false);
  });

  it('sends a reset link through the configured delivery, and says why when /v1 refuses one', async () => {
    const id = await createdUser('forgetful@acme.test');
    const before = sent.length;
    const reset = await admin.post(`${USERS}/${id}/reset`, { csrf: csrf.admin });
    expect(reset.status).toBe(303);
    expect(reset.location).toContain('?done=reset-sent');
    expect(sent.slice(before).map((m) => m.email)).toEqual(['forgetful@acme.test']);
    expect((await admin.get(reset.location!)).html).toContain('A password-reset link is on its way');

    expectStatus(await t.call('PATCH', `/v1/tenants/acme/users/${id}`, { disabled: true }), 200);
    const refused = await admin.post(`${USERS}/${id}/reset`, { csrf: csrf.admin });
    expect(refused.status).toBe(409);
    expect(refused.html).toContain('the user is disabled');
    expect(sent.length).toBe(before + 1);
  });

  it('disconnects an app: the grant goes and its refresh token stops working', async () => {
    const revoked = await admin.post(`${USERS}/${p.userId}/grants/${grantId}/revoke`, { csrf: csrf.admin });
    expect(revoked.status).toBe(303);
    expect(revoked.location).toContain('?done=grant-revoked');
    expect((await t.call('GET', `/v1/tenants/acme/users/${p.userId}/grants`)).body.items).toEqual([]);
    const page = await admin.get(revoked.location!);
    expect(page.html).toContain('The app is disconnected');
    expect(page.html).toContain('No connected apps.');
    await expect(client.refreshTokenGrant(p.app, p.refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('deletes a user only when confirmed', async () => {
    const id = await createdUser('leaving@acme.test');
    const before = await snapshotState(t);
    const unconfirmed = await admin.post(`${USERS}/${id}/delete`, { csrf: csrf.admin });
    expect(unconfirmed.status).toBe(400);
    expect(unconfirmed.html).toContain('Tick the box');
    expect(await snapshotState(t)).toBe(before);
    const deleted = await admin.post(`${USERS}/${id}/delete`, { csrf: csrf.admin, confirm: 'yes' });
    expect(deleted.status).toBe(303);
    expect(deleted.location).toContain(`${USERS}?done=deleted`);
    expect((await t.call('GET', `/v1/tenants/acme/users/${id}`)).status).toBe(404);
    expect((await admin.get(`${USERS}/${id}`)).status).toBe(404);
  });

  /** Every action of the users pages, as forged posts at the populated person. */
  function forgedPosts(): [string, Record<string, string>][] {
    return [
      [USERS, { email: 'planted@acme.test', password: PASSWORD }],
      [`${USERS}/${p.userId}/update`, { email: 'taken-over@evil.test', name: 'Mallory' }],
      [`${USERS}/${p.userId}/disable`, {}],
      [`${USERS}/${p.userId}/enable`, {}],
      [`${USERS}/${p.userId}/reset`, {}],
      [`${USERS}/${p.userId}/delete`, { confirm: 'yes' }],
      [`${USERS}/${p.userId}/grants/${grantId}/revoke`, {}],
    ];
  }
});

describe.each(BACKENDS)('console: users on a Keygate without reset delivery (%s)', (backend) => {
  let t: TestServer;
  afterAll(() => t.close());

  it('says plainly that no reset link can be sent, and writes nothing', async () => {
    t = await startTestServer(backend);
    await seedTenant(t);
    const user = await t.call('POST', '/v1/tenants/acme/users', { email: 'ada@acme.test', password: PASSWORD });
    expectStatus(user, 201);
    await createOperator(t, { email: 'admin@ops.test', scopes: ['users:write'] });
    const admin = await signedInOperator(t, 'admin@ops.test');
    const before = await snapshotState(t);
    const refused = await admin.post(`${USERS}/${user.body.id}/reset`, { csrf: await consoleCsrf(admin) });
    expect(refused.status).toBe(409);
    expect(refused.html).toContain('role="alert"');
    expect(refused.html).toContain('no way to deliver one');
    expect(refused.html).toContain('SMTP_URL');
    expect(await snapshotState(t)).toBe(before);
  });
});
