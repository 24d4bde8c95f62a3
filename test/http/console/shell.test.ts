import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { OPERATOR_PASSWORD, consoleCsrf, createOperator, signedInOperator } from './operator-fixture.js';

/**
 * The console's shell over HTTP on both stores: sign-in and sign-out, the session and CSRF
 * cookies, navigation by scopes, and the one bridge to the management API — pages act as the
 * operator through /v1, so what /v1 refuses the console cannot do, and what it does is audited
 * with the operator as actor. No delegated credential or session works as a /v1 bearer.
 */
describe.each(BACKENDS)('console shell (%s)', (backend) => {
  let t: TestServer;
  let adminId: string;

  beforeAll(async () => {
    t = await startTestServer(backend);
    await seedTenant(t);
    await seedTenant(t, 'beta');
    adminId = await createOperator(t, { email: 'admin@ops.test', scopes: ['tenants:write', 'keys:write', 'audit:read', 'root_keys:write', 'keys:verify'] });
    await createOperator(t, { email: 'reader@ops.test', scopes: ['keys:read'], tenant: 'acme' });
  });
  afterAll(() => t.close());

  it('sends a visitor to sign-in, coming back to the page asked for, and refuses a return anywhere else', async () => {
    const visitor = new Person(t.url);
    const page = await visitor.get('/console/operators');
    expect(page.status).toBe(303);
    expect(new URL(page.location!).pathname + new URL(page.location!).search).toBe('/console/login?next=%2Fconsole%2Foperators');
    const login = await visitor.get(page.location!);
    expect(login.status).toBe(200);
    expect(Person.hidden(login.html, 'next')).toBe('/console/operators');
    for (const next of ['https://evil.test/console', '//evil.test/console', '/console/../t/acme', '/consolex', '/console/%2e%2e/x']) {
      expect((await visitor.get(`/console/login?next=${encodeURIComponent(next)}`)).html).not.toContain('name="next"');
    }
    const signedIn = await visitor.post('/console/login', { csrf: Person.hidden(login.html, 'csrf'), next: '/console/operators', email: 'admin@ops.test', password: OPERATOR_PASSWORD });
    expect(signedIn.status).toBe(303);
    expect(signedIn.location).toMatch(/\/console\/operators$/);
  });

  it('answers a repeated next with no return path, not a failure, and serves sign-in with the console\'s own CSP', async () => {
    const login = await fetch(`${t.url}/console/login?next=/console/operators&next=/console/tenants`);
    expect(login.status).toBe(200);
    expect(await login.text()).not.toContain('name="next"');
    expect(login.headers.get('content-security-policy')).toContain("form-action 'self';");
    expect((await fetch(`${t.url}/t/acme/login?next=/t/acme/portal&next=/t/acme/portal/keys`)).status).toBe(200);
  });

  it('lets an operator change only operators of less reach than their own, and never disable or delete themself', async () => {
    const peerScopes = ['keys:read', 'root_keys:write'];
    const [a, b] = [await createOperator(t, { email: 'peer-a@ops.test', scopes: peerScopes }), await createOperator(t, { email: 'peer-b@ops.test', scopes: peerScopes })];
    const weaker = await createOperator(t, { email: 'weaker@ops.test', scopes: ['keys:read'] });
    const peer = await signedInOperator(t, 'peer-a@ops.test');
    const csrf = await consoleCsrf(peer, '/console/operators');
    const before = await snapshotState(t);
    for (const action of ['password', 'disable', 'delete']) {
      const refused = await peer.post(`/console/operators/${b}/${action}`, { csrf });
      expect(refused.status, action).toBe(403);
      expect(refused.html).toContain('less reach than their own');
    }
    for (const action of ['disable', 'delete']) expect((await peer.post(`/console/operators/${a}/${action}`, { csrf })).status, `self ${action}`).toBe(403);
    expect(await snapshotState(t)).toBe(before);
    // A weaker operator may be reset (the new password shown once), and the root key may reset a peer.
    const reset = await peer.post(`/console/operators/${weaker}/password`, { csrf });
    expect(reset.status).toBe(200);
    expect(reset.html).toMatch(/id="secret" value="[^"]{20,}"/);
    expectStatus(await t.call('POST', `/v1/operators/${b}/password`, {}), 200);
    // Their own password the operator may change.
    expect((await peer.post(`/console/operators/${a}/password`, { csrf })).status).toBe(200);
  });

  it('answers a wrong password, an unknown email and a tenant user alike, and signs in with a fresh session', async () => {
    expectStatus(await t.call('POST', '/v1/tenants/acme/users', { email: 'person@acme.test', password: OPERATOR_PASSWORD }), 201);
    for (const [email, password] of [['admin@ops.test', 'wrong password, long enough'], ['nobody@ops.test', OPERATOR_PASSWORD], ['person@acme.test', OPERATOR_PASSWORD]]) {
      const visitor = new Person(t.url);
      const login = await visitor.get('/console/login');
      const response = await visitor.post('/console/login', { csrf: Person.hidden(login.html, 'csrf'), email: email!, password: password! });
      expect(response.status).toBe(401);
      expect(response.html).toContain('That email and password do not match an operator account.');
      expect(visitor.cookie('kg_console')).toBeUndefined();
    }
    const admin = await signedInOperator(t, 'admin@ops.test');
    const first = admin.cookie('kg_console');
    const again = await admin.post('/console/login', { csrf: Person.hidden((await admin.get('/console/login')).html, 'csrf'), email: 'admin@ops.test', password: OPERATOR_PASSWORD });
    expect(again.status).toBe(303);
    expect(admin.cookie('kg_console')).not.toBe(first);
  });

  it('sets its cookies HttpOnly, SameSite=Strict and scoped to /console, and serves pages no-store, unframed, with a strict CSP', async () => {
    const login = await fetch(`${t.url}/console/login`);
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/kg_console_csrf=[^;]+; Path=\/console; HttpOnly; SameSite=Strict/);
    const visitor = new Person(t.url);
    const form = await visitor.get('/console/login');
    const response = await fetch(`${t.url}/console/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `kg_console_csrf=${visitor.cookie('kg_console_csrf')}` },
      body: new URLSearchParams({ csrf: Person.hidden(form.html, 'csrf'), email: 'admin@ops.test', password: OPERATOR_PASSWORD }).toString(),
    });
    expect(response.headers.getSetCookie().find((c) => c.startsWith('kg_console='))).toMatch(/; Max-Age=\d+; Path=\/console; HttpOnly; SameSite=Strict/);
    const admin = await signedInOperator(t, 'admin@ops.test');
    const home = await fetch(`${t.url}/console`, { headers: { cookie: `kg_console=${admin.cookie('kg_console')}` } });
    expect(home.status).toBe(200);
    expect(home.headers.get('cache-control')).toBe('no-store');
    expect(home.headers.get('x-frame-options')).toBe('DENY');
    expect(home.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('shows only the sections the scopes allow, and a tenant-limited operator only their tenant', async () => {
    const admin = await signedInOperator(t, 'admin@ops.test');
    const home = (await admin.get('/console')).html;
    expect(home).toContain('href="/console/tenants"');
    expect(home).toContain('href="/console/operators"');
    expect(home).toContain('href="/console/debugger"');
    const reader = await signedInOperator(t, 'reader@ops.test');
    const limited = (await reader.get('/console')).html;
    expect(limited).toContain('tenant <strong>acme</strong> only');
    expect(limited).toContain('href="/console/tenants/acme/keys"');
    for (const hidden of ['href="/console/tenants"', '/console/operators', '/console/debugger', '/console/tenants/acme/clients', '/console/tenants/beta']) expect(limited).not.toContain(hidden);
  });

  it('refuses a form without the session-bound CSRF token, and a planted CSRF cookie does not help', async () => {
    const admin = await signedInOperator(t, 'admin@ops.test');
    const before = await snapshotState(t);
    expect((await admin.post('/console/operators', { email: 'x@ops.test', scope: 'keys:read' })).status).toBe(403);
    const planted = await fetch(`${t.url}/console/operators`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `kg_console=${admin.cookie('kg_console')}; kg_console_csrf=${'a'.repeat(43)}` },
      body: new URLSearchParams({ csrf: 'a'.repeat(43), email: 'x@ops.test', scope: 'keys:read' }).toString(),
    });
    expect(planted.status).toBe(403);
    expect(await snapshotState(t)).toBe(before);
  });

  it('acts through /v1 as the operator: the action is audited with the operator as actor, and what /v1 refuses changes nothing', async () => {
    const admin = await signedInOperator(t, 'admin@ops.test');
    const csrf = await consoleCsrf(admin, '/console/operators');
    const created = await admin.post('/console/operators', { csrf, email: 'helper@ops.test', scope: ['keys:read'] });
    expect(created.status).toBe(201);
    const password = /id="secret" value="([^"]+)"/.exec(created.html)![1]!;
    expect((await signedInOperator(t, 'admin@ops.test')).cookie('kg_console')).toBeDefined();
    const helper = new Person(t.url);
    const login = await helper.get('/console/login');
    expect((await helper.post('/console/login', { csrf: Person.hidden(login.html, 'csrf'), email: 'helper@ops.test', password })).status).toBe(303);
    const audit = await t.call('GET', '/v1/root-keys/audit?action=operator.create');
    expectStatus(audit, 200);
    expect(audit.body.items.find((e: { target: string }) => e.target !== adminId)?.actor).toBe(adminId);
    // An operator holding only keys:read cannot give what it does not hold, whatever the form says.
    const reader = await signedInOperator(t, 'reader@ops.test');
    const before = await snapshotState(t);
    const forged = await reader.post('/console/operators', { csrf: await consoleCsrf(reader), email: 'evil@ops.test', scope: ['tenants:write'] });
    expect(forged.status).toBe(403);
    expect(await snapshotState(t)).toBe(before);
  });

  it('never takes a console session or a guessed delegated bearer as a management credential', async () => {
    const admin = await signedInOperator(t, 'admin@ops.test');
    for (const bearer of [admin.cookie('kg_console')!, `kgdelegated_${'A'.repeat(43)}`]) {
      expect((await t.call('GET', '/v1/tenants', undefined, { auth: bearer })).status).toBe(401);
    }
  });

  it('signs out: the session ends at once, and a disabled operator is signed out on their next page', async () => {
    const admin = await signedInOperator(t, 'admin@ops.test');
    const session = admin.cookie('kg_console')!;
    const out = await admin.post('/console/logout', { csrf: await consoleCsrf(admin) });
    expect(out.location).toMatch(/\/console\/login$/);
    const replay = await fetch(`${t.url}/console`, { redirect: 'manual', headers: { cookie: `kg_console=${session}` } });
    expect(replay.status).toBe(303);
    const reader = await signedInOperator(t, 'reader@ops.test');
    const id = (await t.call('GET', '/v1/operators')).body.items.find((o: { email: string }) => o.email === 'reader@ops.test').id;
    expectStatus(await t.call('PATCH', `/v1/operators/${id}`, { disabled: true }), 200);
    expect((await reader.get('/console')).status).toBe(303);
    expectStatus(await t.call('PATCH', `/v1/operators/${id}`, { disabled: false }), 200);
  });
});
