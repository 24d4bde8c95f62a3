import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../../src/crypto/secrets.js';
import { SESSION_COOKIE } from '../../../src/http/portal/cookies.js';
import type { PasswordResetMessage } from '../../../src/services/password-reset-delivery.js';
import { BACKENDS } from '../../helpers/backends.js';
import { Person } from '../../helpers/person.js';
import { populateTenant, type PopulatedTenant } from '../../helpers/populated-tenant.js';
import { expectStatus, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';

/** The app's refresh: the RFC error code it gets, or 'ok'. */
async function refreshOutcome(p: PopulatedTenant): Promise<string> {
  try {
    await client.refreshTokenGrant(p.app, p.refreshToken);
    return 'ok';
  } catch (err) {
    return (err as { error?: string }).error ?? String(err);
  }
}

/** Whether a fresh browser signing in with these credentials gets past the sign-in page. */
async function signsIn(t: TestServer, p: PopulatedTenant, credentials: { email: string; password: string }): Promise<boolean> {
  try {
    await new Person(t.url).authorize(await p.authorizationUrl(), credentials);
    return true;
  } catch (err) {
    if (String(err).includes('sign-in failed')) return false;
    throw err;
  }
}

describe.each(BACKENDS)('user lifecycle (%s)', (backend) => {
  let t: TestServer;
  let p: PopulatedTenant;
  const sent: PasswordResetMessage[] = [];
  const users = (path = '') => `/v1/tenants/${p.slug}/users${path}`;

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { onPasswordReset: (message) => void sent.push(message) });
    p = await populateTenant(t, 'acme');
  });
  afterAll(() => t.close());

  it('changes name and email; an email another user has is 409 and changes nothing', async () => {
    const other = (await t.call('POST', users(), { email: 'grace@acme.test', password: 'another long password' })).body;
    const changed = await t.call('PATCH', users(`/${other.id}`), { name: 'Grace', email: 'Grace.H@Acme.test' });
    expect(changed.body).toMatchObject({ name: 'Grace', email: 'grace.h@acme.test', disabled: false, disabledAt: null });
    expect((await t.call('GET', users(`/${other.id}`))).body).toMatchObject({ name: 'Grace', email: 'grace.h@acme.test' });
    const before = await snapshotState(t);
    expect((await t.call('PATCH', users(`/${other.id}`), { email: p.person.email })).body.code).toBe('USER_EXISTS');
    expect((await t.call('PATCH', users(`/${other.id}`), { email: 'not-an-email' })).body.code).toBe('INVALID_REQUEST');
    expect((await t.call('PATCH', users('/usr_nobody'), { name: 'x' })).body.code).toBe('USER_NOT_FOUND');
    expect(await snapshotState(t)).toBe(before);
  });

  it('refuses an operator-sent reset link to a disabled user, and sends one that works to anyone else', async () => {
    const user = (await t.call('POST', users(), { email: 'reset@acme.test', password: 'the first long password' })).body;
    const answer = await t.call('POST', users(`/${user.id}/password-reset`));
    expect(answer.status).toBe(202);
    const message = sent.at(-1)!;
    expect(message.email).toBe('reset@acme.test');
    expect(message.url).toMatch(new RegExp(`/t/acme/password-reset/confirm\\?token=${message.token}$`));
    const person = new Person(t.url);
    const page = await person.get(message.url);
    const confirmed = await person.post('/t/acme/password-reset/confirm', { csrf: Person.hidden(page.html, 'csrf'), token: message.token, password: 'a brand new long password' });
    expect(confirmed.status).toBe(303);
    expect(await signsIn(t, p, { email: 'reset@acme.test', password: 'a brand new long password' })).toBe(true);

    expectStatus(await t.call('PATCH', users(`/${user.id}`), { disabled: true }), 200);
    const before = await snapshotState(t);
    const count = sent.length;
    expect((await t.call('POST', users(`/${user.id}/password-reset`))).body.code).toBe('USER_DISABLED');
    expect(sent.length).toBe(count);
    expect(await snapshotState(t)).toBe(before);
  });

  it('disabling ends the person\'s sessions, refresh tokens and access tokens, and refuses their sign-in until enabled again', async () => {
    const person = new Person(t.url);
    await person.authorize(await p.authorizationUrl(), p.person);
    expect((await person.get(await p.authorizationUrl())).location).not.toContain('/login');
    expect((await t.call('POST', '/v1/verify', { credential: p.accessToken, api: p.api })).body.code).toBe('VALID');

    const disabled = await t.call('PATCH', users(`/${p.userId}`), { disabled: true });
    expect(disabled.body).toMatchObject({ disabled: true, disabledAt: expect.any(String) });
    expect((await person.get(await p.authorizationUrl())).location, 'the session ended').toContain('/login');
    expect(await signsIn(t, p, p.person)).toBe(false);
    expect(await refreshOutcome(p)).toBe('invalid_grant');
    expect((await t.call('POST', '/v1/verify', { credential: p.accessToken, api: p.api })).body.code).toBe('REVOKED');

    expect((await t.call('PATCH', users(`/${p.userId}`), { disabled: false })).body).toMatchObject({ disabled: false, disabledAt: null });
    expect(await signsIn(t, p, p.person)).toBe(true);
    const audit = (await t.call('GET', `/v1/tenants/${p.slug}/audit?limit=100`)).body.items.map((e: { action: string; target: string }) => `${e.action} ${e.target}`);
    expect(audit).toEqual(expect.arrayContaining([`user.disable ${p.userId}`, `user.update ${p.userId}`]));
  });

  it('refuses a session of a disabled user that raced the disable (written after its sessions ended)', async () => {
    const user = (await t.call('POST', users(), { email: 'racer@acme.test', password: 'a long enough password' })).body;
    expectStatus(await t.call('PATCH', users(`/${user.id}`), { disabled: true }), 200);
    const value = 'raced-session-value-0123456789abcdef';
    const now = Date.now();
    await t.server.keygate.store.people.createSession(hashSecret(value), p.tenantId, user.id, now, now + 3_600_000);
    const page = await fetch(`${t.url}/t/${p.slug}/account/apps`, { headers: { cookie: `${SESSION_COOKIE}=${value}` }, redirect: 'manual' });
    await page.arrayBuffer();
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toContain('/login');
  });

  it('deleting a user ends their sessions and grants, their access tokens die, and nobody else is touched', async () => {
    const victim = (await t.call('POST', users(), { email: 'leaver@acme.test', password: 'a long enough password' })).body;
    const person = new Person(t.url);
    const callback = await person.authorize(await p.authorizationUrl(), { email: 'leaver@acme.test', password: 'a long enough password' });
    expect(callback).toContain('code=');
    const grants = (await t.call('GET', users(`/${victim.id}/grants`))).body.items;
    expect(grants).toHaveLength(1);
    const othersGrants = (await t.call('GET', users(`/${p.userId}/grants`))).body.items;

    const before = await snapshotState(t);
    expect((await t.call('DELETE', users('/usr_nobody'))).body.code).toBe('USER_NOT_FOUND');
    expect(await snapshotState(t)).toBe(before);

    expect((await t.call('DELETE', users(`/${victim.id}`))).status).toBe(204);
    expect((await t.call('GET', users(`/${victim.id}`))).body.code).toBe('USER_NOT_FOUND');
    expect((await person.get(await p.authorizationUrl())).location, 'the session ended').toContain('/login');
    const revocations = (await t.call('GET', `/v1/tenants/${p.slug}/revocations?limit=100`)).body.items;
    expect(revocations).toContainEqual(expect.objectContaining({ kind: 'grant', subject: grants[0].id }));
    expect((await t.call('GET', users(`/${p.userId}/grants`))).body.items).toEqual(othersGrants);
    const audit = (await t.call('GET', `/v1/tenants/${p.slug}/audit?limit=100`)).body.items;
    expect(audit).toContainEqual(expect.objectContaining({ action: 'user.delete', target: victim.id }));
  });
});

describe('operator-sent reset links whose delivery fails', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer('sqlite', {}, {
      onPasswordReset: () => {
        throw Object.assign(new Error('mail server said no'), { code: 'EENVELOPE' });
      },
    });
  });
  afterAll(() => t.close());

  it('answer 502 RESET_DELIVERY_FAILED with the cause\'s code, never the link', async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' }), 201);
    const user = (await t.call('POST', '/v1/tenants/acme/users', { email: 'a@acme.test', password: 'a long enough password' })).body;
    const failed = await t.call('POST', `/v1/tenants/acme/users/${user.id}/password-reset`);
    expect(failed.status).toBe(502);
    expect(failed.body.code).toBe('RESET_DELIVERY_FAILED');
    expect(failed.body.detail).toContain('EENVELOPE');
    expect(failed.body.detail).not.toContain('token');
  });
});

describe('operator-sent reset links without a delivery', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer('sqlite');
  });
  afterAll(() => t.close());

  it('are refused with PASSWORD_RESET_DISABLED, naming what to configure, and write nothing', async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' }), 201);
    const user = (await t.call('POST', '/v1/tenants/acme/users', { email: 'a@acme.test', password: 'a long enough password' })).body;
    const before = await snapshotState(t);
    const refused = await t.call('POST', `/v1/tenants/acme/users/${user.id}/password-reset`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('PASSWORD_RESET_DISABLED');
    expect(refused.body.detail).toContain('SMTP_URL');
    expect(await snapshotState(t)).toBe(before);
  });
});
