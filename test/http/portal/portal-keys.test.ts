import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotAll } from '../../helpers/snapshot.js';
import { createConsumer, createUser, signedIn } from './member-fixture.js';

/**
 * The portal's keys page over HTTP on both stores: a member creates, rolls, revokes and mints
 * sub-keys within the consumer's grant, and every way around it — a forged scope, a forged CSRF
 * token, a user of no consumer, a member of another consumer, another tenant's user — is refused
 * with a page that says why, and leaves every table as it was.
 */
describe.each(BACKENDS)('developer portal keys (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let alice: Person;
  let carolKey: { id: string; key: string };
  let aliceId: string;
  let initechId: string;

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    aliceId = await createUser(t, 'alice@corp.test');
    const carolId = await createUser(t, 'carol@globex.test');
    await createUser(t, 'nobody@corp.test');
    initechId = (await createConsumer(t, { name: 'Initech', members: [aliceId], grants: [{ api, scopes: ['read:users', 'write:users'] }] })).id;
    const globex = await createConsumer(t, { name: 'Globex', members: [carolId], grants: [{ api, scopes: ['read:users', 'write:users'] }] });
    const response = await t.call('POST', `/v1/tenants/acme/consumers/${globex.id}/keys`, { api, member: carolId, scopes: ['read:users'] });
    expectStatus(response, 201);
    carolKey = response.body;
    await seedTenant(t, 'beta');
    await createUser(t, 'alice@corp.test', 'beta');
    alice = await signedIn(t, 'alice@corp.test');
  });
  afterAll(() => t.close());

  const verify = async (credential: string, scopes: string[]): Promise<string> => {
    const response = await t.call('POST', '/v1/verify', { api, credential, scopes });
    expectStatus(response, 200);
    return response.body.code;
  };

  async function csrfOf(person: Person, path = '/t/acme/portal/keys'): Promise<string> {
    return Person.hidden((await person.get(path)).html, 'csrf');
  }

  /** The secret from a secret page. */
  function secretIn(page: string): string {
    const match = /id="secret" value="([^"]+)"/.exec(page);
    if (match === null) throw new Error(`no secret in the page: ${page.slice(0, 400)}`);
    return match[1]!;
  }

  async function createKey(person: Person, fields: Record<string, string | string[]>): Promise<{ status: number; html: string; location: string | null }> {
    const keysPage = await person.get('/t/acme/portal/keys');
    const apiId = Person.hidden(keysPage.html, 'api');
    return person.post('/t/acme/portal/keys', { csrf: Person.hidden(keysPage.html, 'csrf'), api: apiId, ...fields });
  }

  async function unchanged(action: () => Promise<void>): Promise<void> {
    await t.server.keygate.flush();
    const before = await snapshotAll(t.backend);
    await action();
    await t.server.keygate.flush();
    expect(await snapshotAll(t.backend)).toBe(before);
  }

  it('offers exactly the grant’s scopes, each a labelled checkbox with its description', async () => {
    const page = (await alice.get('/t/acme/portal/keys')).html;
    const boxes = [...page.matchAll(/<input type="checkbox" id="([^"]+)" name="scope" value="([^"]+)"/g)].map((m) => m[2]);
    expect(boxes).toEqual(['read:users', 'write:users']);
    for (const [, id] of page.matchAll(/<input type="checkbox" id="([^"]+)"/g)) expect(page).toContain(`<label for="${id}">`);
    expect(page).toContain('Change users');
    expect(page).not.toContain('read:billing');
  });

  it('creates a key with the ticked scopes and shows its secret once, in the answer only', async () => {
    const created = await createKey(alice, { name: 'CI', scope: 'read:users', expires: '', ips: '' });
    expect(created.status).toBe(201);
    expect(created.location).toBeNull();
    expect(created.html).toContain("You won't see it again");
    expect(created.html).toContain('data-copy="secret"');
    const secret = secretIn(created.html);
    expect(await verify(secret, ['read:users'])).toBe('VALID');
    expect(await verify(secret, ['write:users'])).toBe('INSUFFICIENT_SCOPE');
    const list = (await alice.get('/t/acme/portal/keys')).html;
    expect(list).toContain(`<code>${secret.slice(0, secret.indexOf('_') + 5)}</code>`);
    expect(list).not.toContain(secret);
    expect(list).toMatch(/<td>CI<br>/);
  });

  it('answers the secret page with no-store and a strict CSP', async () => {
    const keysPage = await alice.get('/t/acme/portal/keys');
    const response = await fetch(`${t.url}/t/acme/portal/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `kg_session=${alice.cookie('kg_session')}; kg_csrf=${alice.cookie('kg_csrf')}` },
      body: new URLSearchParams({ csrf: Person.hidden(keysPage.html, 'csrf'), api: Person.hidden(keysPage.html, 'api'), scope: 'read:users' }).toString(),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await response.text()).toContain('<script type="module" src="/t/acme/portal/assets/copy.js"></script>');
  });

  it('sets the expiry date and IP allowlist the form asks for', async () => {
    const secret = secretIn((await createKey(alice, { name: 'office', scope: 'read:users', expires: '2099-01-31', ips: '10.0.0.0/8\n192.0.2.7' })).html);
    const at = async (ip: string): Promise<{ code: string; expiresAt: string | null }> => (await t.call('POST', '/v1/verify', { api, credential: secret, ip })).body;
    expect(await at('10.1.2.3')).toMatchObject({ code: 'VALID', expiresAt: '2099-01-31T23:59:59.999Z' });
    expect((await at('192.0.2.7')).code).toBe('VALID');
    expect((await at('192.0.2.8')).code).toBe('IP_NOT_ALLOWED');
  });

  it('refuses a forged post asking for a scope outside the grant, says why and changes nothing', async () => {
    await unchanged(async () => {
      const forged = await createKey(alice, { name: 'greedy', scope: ['read:users', 'read:billing'] });
      expect(forged.status).toBe(403);
      expect(forged.html).toContain('“read:billing” is not within what the key is created under');
      expect(forged.html).not.toContain('id="secret"');
    });
  });

  it('refuses a key with no scope, a malformed expiry or a bad IP range, saying which', async () => {
    await unchanged(async () => {
      expect((await createKey(alice, { name: 'x' })).html).toContain('tick at least one scope');
      expect((await createKey(alice, { scope: 'read:users', expires: '31/01/2027' })).html).toContain('the expiry must be a date such as 2027-01-31');
      const badIp = await createKey(alice, { scope: 'read:users', ips: 'not-an-ip' });
      expect(badIp.status).toBe(400);
      expect(badIp.html).toContain('role="alert"');
    });
  });

  it('refuses every form posted without the page’s CSRF token, and changes nothing', async () => {
    const key = secretIn((await createKey(alice, { scope: 'read:users' })).html);
    const keyId = (await t.call('POST', '/v1/verify', { api, credential: key })).body.keyId;
    const apiId = Person.hidden((await alice.get('/t/acme/portal/keys')).html, 'api');
    await unchanged(async () => {
      for (const [path, fields] of [
        ['/t/acme/portal/keys', { api: apiId, scope: 'read:users' }],
        [`/t/acme/portal/keys/${keyId}/revoke`, {}],
        [`/t/acme/portal/keys/${keyId}/roll`, { grace: '0' }],
        [`/t/acme/portal/keys/${keyId}/subkey`, { scope: 'read:users' }],
      ] as const) {
        const forged = await alice.post(path, { csrf: 'A'.repeat(43), ...fields });
        expect(forged.status, path).toBe(403);
        expect(forged.html).toContain('did not come from this site');
        expect((await alice.post(path, { ...fields })).status, path).toBe(403);
      }
    });
    expect(await verify(key, ['read:users'])).toBe('VALID');
  });

  it('refuses a signed-in user who is no member, and another tenant’s user, without changing anything', async () => {
    const nobody = await signedIn(t, 'nobody@corp.test');
    const stranger = await signedIn(t, 'alice@corp.test', 'beta');
    const apiId = Person.hidden((await alice.get('/t/acme/portal/keys')).html, 'api');
    await unchanged(async () => {
      const refused = await nobody.post('/t/acme/portal/keys', { csrf: await csrfOf(nobody, '/t/acme/login'), api: apiId, scope: 'read:users' });
      expect(refused.status).toBe(403);
      expect(refused.html).toContain('You are not a member of any consumer');
      expect((await nobody.get('/t/acme/portal/keys')).status).toBe(403);
      // The other tenant's session cookie, replayed on this tenant's paths, is no session here.
      const forged = await fetch(`${t.url}/t/acme/portal/keys`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `kg_session=${stranger.cookie('kg_session')}; kg_csrf=${'B'.repeat(43)}` },
        body: new URLSearchParams({ csrf: 'B'.repeat(43), api: apiId, scope: 'read:users' }).toString(),
      });
      expect(forged.status).toBe(303);
      expect(forged.headers.get('location')).toBe('/t/acme/login?next=%2Ft%2Facme%2Fportal');
      await forged.text();
    });
  });

  it('never lets a member revoke, roll or mint under a key of another consumer', async () => {
    const csrf = await csrfOf(alice);
    await unchanged(async () => {
      for (const [action, fields] of [
        ['revoke', {}],
        ['roll', { grace: '0' }],
        ['subkey', { scope: 'read:users' }],
      ] as const) {
        const refused = await alice.post(`/t/acme/portal/keys/${carolKey.id}/${action}`, { csrf, ...fields });
        expect(refused.status, action).toBe(404);
        expect(refused.html).toContain('Refused: your consumer has no such key.');
      }
      expect((await alice.get(`/t/acme/portal/keys/${carolKey.id}/subkey`)).status).toBe(404);
      expect((await alice.get('/t/acme/portal/keys')).html).not.toContain(`<code>${carolKey.key.slice(0, carolKey.key.indexOf('_') + 5)}</code>`);
    });
    expect(await verify(carolKey.key, ['read:users'])).toBe('VALID');
  });

  it('rolls a key: the new secret works and the old one for the grace period picked', async () => {
    const old = secretIn((await createKey(alice, { name: 'rolling', scope: 'read:users' })).html);
    const keyId = (await t.call('POST', '/v1/verify', { api, credential: old })).body.keyId;
    const csrf = await csrfOf(alice);
    await unchanged(async () => {
      const bad = await alice.post(`/t/acme/portal/keys/${keyId}/roll`, { csrf, grace: '12345' });
      expect(bad.status).toBe(400);
      expect(bad.html).toContain('pick one of the grace periods offered');
    });
    const rolled = await alice.post(`/t/acme/portal/keys/${keyId}/roll`, { csrf, grace: '3600000' });
    expect(rolled.status).toBe(201);
    const fresh = secretIn(rolled.html);
    expect(fresh).not.toBe(old);
    expect(await verify(fresh, ['read:users'])).toBe('VALID');
    expect(await verify(old, ['read:users'])).toBe('VALID');
  });

  it('mints a sub-key within its parent, refuses one beyond it, and revokes a key with its sub-keys', async () => {
    const parent = secretIn((await createKey(alice, { name: 'parent', scope: ['read:users', 'write:users'] })).html);
    const parentId = (await t.call('POST', '/v1/verify', { api, credential: parent })).body.keyId;
    const form = await alice.get(`/t/acme/portal/keys/${parentId}/subkey`);
    expect(form.status).toBe(200);
    const csrf = Person.hidden(form.html, 'csrf');
    const child = secretIn((await alice.post(`/t/acme/portal/keys/${parentId}/subkey`, { csrf, name: 'child', scope: 'read:users' })).html);
    expect(await verify(child, ['read:users'])).toBe('VALID');
    expect(await verify(child, ['write:users'])).toBe('INSUFFICIENT_SCOPE');
    const childId = (await t.call('POST', '/v1/verify', { api, credential: child })).body.keyId;
    await unchanged(async () => {
      const beyond = await alice.post(`/t/acme/portal/keys/${childId}/subkey`, { csrf, scope: 'write:users' });
      expect(beyond.status).toBe(403);
      expect(beyond.html).toContain('“write:users” is not within what the key is created under');
    });

    const revoked = await alice.post(`/t/acme/portal/keys/${parentId}/revoke`, { csrf });
    expect(revoked.status).toBe(303);
    expect(revoked.location).toBe(`${t.url}/t/acme/portal/keys?done=revoked`);
    expect(await verify(parent, ['read:users'])).toBe('REVOKED');
    expect(await verify(child, ['read:users'])).toBe('REVOKED');
    expect((await alice.get(revoked.location!)).html).toContain('The key and its sub-keys are revoked');
  });

  it('lists the keys 50 to a page, with a link to the next', async () => {
    const listed = async (path: string): Promise<{ rows: number; next: string | null }> => {
      const page = (await alice.get(path)).html;
      return { rows: [...page.matchAll(/<tr><td>/g)].length, next: /<a href="(\/t\/acme\/portal\/keys\?after=key_[^"]+)">Next page of keys<\/a>/.exec(page)?.[1] ?? null };
    };
    const total = (await t.call('GET', `/v1/tenants/acme/consumers/${initechId}/keys?limit=100`)).body.items.length;
    for (let i = total; i < 55; i += 1) expectStatus(await t.call('POST', `/v1/tenants/acme/consumers/${initechId}/keys`, { api, member: aliceId, name: `batch ${i}`, scopes: ['read:users'] }), 201);
    const first = await listed('/t/acme/portal/keys');
    expect(first.rows).toBe(50);
    expect(first.next).not.toBeNull();
    expect(await listed(first.next!)).toEqual({ rows: 5, next: null });
  });
});
