import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { Person } from '../../helpers/person.js';
import { seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { PASSWORD, createConsumer, createUser, signedIn } from './member-fixture.js';

/**
 * The developer portal's shell on both stores: who gets in (a signed-in member of a consumer of
 * this tenant), which consumer they act for (only one they belong to), and the page's headers.
 */
describe.each(BACKENDS)('developer portal shell (%s)', (backend) => {
  let t: TestServer;
  let initech: string;
  let globex: string;

  beforeAll(async () => {
    t = await startTestServer(backend);
    const { api } = await seedTenant(t);
    const alice = await createUser(t, 'alice@corp.test');
    await createUser(t, 'nobody@corp.test');
    const bob = await createUser(t, 'bob@corp.test');
    initech = (await createConsumer(t, { name: 'Initech', members: [alice], grants: [{ api, scopes: ['read:users'] }] })).id;
    globex = (await createConsumer(t, { name: 'Globex', members: [alice, bob], grants: [{ api, scopes: ['read:users', 'write:users'] }] })).id;
  });
  afterAll(() => t.close());

  it('sends a visitor to sign-in and back to the portal page they asked for', async () => {
    const person = new Person(t.url);
    const first = await person.get('/t/acme/portal');
    expect(first.status).toBe(303);
    expect(first.location).toBe(`${t.url}/t/acme/login?next=${encodeURIComponent('/t/acme/portal')}`);
    const login = await person.get(first.location!);
    expect(Person.hidden(login.html, 'next')).toBe('/t/acme/portal');
    const signIn = await person.post('/t/acme/login', { csrf: Person.hidden(login.html, 'csrf'), email: 'alice@corp.test', password: PASSWORD, next: '/t/acme/portal' });
    expect(signIn.location).toBe(`${t.url}/t/acme/portal`);
  });

  it('never returns to a page outside the tenant portal after sign-in', async () => {
    for (const next of ['https://evil.test/t/acme/portal', '//evil.test/t/acme/portal', '/t/other/portal', '/t/acme/portal/../account', '/t/acme/portal//evil.test']) {
      const person = new Person(t.url);
      const login = await person.get(`/t/acme/login?next=${encodeURIComponent(next)}`);
      expect(login.html).not.toContain('name="next"');
      const signIn = await person.post('/t/acme/login', { csrf: Person.hidden(login.html, 'csrf'), email: 'alice@corp.test', password: PASSWORD, next });
      expect(signIn.location).toBe(`${t.url}/t/acme/account/apps`);
    }
  });

  it('tells a signed-in user who belongs to no consumer, and shows nothing of any consumer', async () => {
    const person = await signedIn(t, 'nobody@corp.test');
    const home = await person.get('/t/acme/portal');
    expect(home.status).toBe(403);
    expect(home.html).toContain('You are not a member of any consumer');
    expect(home.html).not.toContain('Initech');
    expect(home.html).not.toContain('Globex');
  });

  it('shows a member the consumer they act for, with its grant, under a strict CSP', async () => {
    const person = await signedIn(t, 'bob@corp.test');
    const response = await fetch(`${t.url}/t/acme/portal`, { headers: { cookie: `kg_session=${person.cookie('kg_session')}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('cache-control')).toBe('no-store');
    const page = await response.text();
    expect(page).toContain('Acting for <strong>Globex</strong>');
    expect(page).toContain('<code>write:users</code>');
    expect(page).toContain('<main id="main"');
    expect(page).not.toContain('Initech');
  });

  it('lets a member of two consumers switch, but never to a consumer they are not in, nor without the CSRF token', async () => {
    const person = await signedIn(t, 'alice@corp.test');
    const home = await person.get('/t/acme/portal');
    expect(home.html).toMatch(new RegExp(`<option value="${initech}" selected>Initech</option>`));
    const csrf = Person.hidden(home.html, 'csrf');

    const switched = await person.post('/t/acme/portal/consumer', { csrf, consumer: globex });
    expect(switched.status).toBe(303);
    expect((await person.get('/t/acme/portal')).html).toMatch(new RegExp(`<option value="${globex}" selected>Globex</option>`));

    const foreign = await createConsumer(t, { name: 'Hooli', members: [], grants: [] });
    const refused = await person.post('/t/acme/portal/consumer', { csrf, consumer: foreign.id });
    expect(refused.status).toBe(403);
    expect(person.cookie('kg_consumer')).toBe(globex);

    const forged = await person.post('/t/acme/portal/consumer', { csrf: 'x'.repeat(43), consumer: initech });
    expect(forged.status).toBe(403);
    expect(person.cookie('kg_consumer')).toBe(globex);
  });

  it('acts for its first consumer when the cookie names one the member left or never had', async () => {
    const person = await signedIn(t, 'bob@corp.test');
    const response = await fetch(`${t.url}/t/acme/portal`, { headers: { cookie: `kg_session=${person.cookie('kg_session')}; kg_consumer=${initech}` } });
    const page = await response.text();
    expect(page).toContain('Acting for <strong>Globex</strong>');
    expect(page).not.toContain('Initech');
  });

  it('ships under 100 KB of JavaScript gzipped on each of its pages, all of it from its own assets', async () => {
    const person = await signedIn(t, 'bob@corp.test');
    const keys = await person.get('/t/acme/portal/keys');
    const created = await person.post('/t/acme/portal/keys', { csrf: Person.hidden(keys.html, 'csrf'), api: Person.hidden(keys.html, 'api'), scope: 'read:users' });
    const pages = { home: (await person.get('/t/acme/portal')).html, keys: keys.html, secret: created.html, usage: (await person.get('/t/acme/portal/usage')).html };
    expect(pages.secret).toContain('id="secret"');
    for (const [name, page] of Object.entries(pages)) {
      expect(page, name).not.toMatch(/<script(?![^>]*\ssrc="\/t\/acme\/portal\/assets\/)/);
      let bytes = 0;
      for (const [, src] of page.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)) bytes += gzipSync(Buffer.from(await (await fetch(`${t.url}${src}`)).arrayBuffer())).length;
      expect(bytes, name).toBeLessThan(100 * 1024);
    }
  });

  it("serves the portal's scripts as JavaScript, and nothing outside its folder", async () => {
    const copy = await fetch(`${t.url}/t/acme/portal/assets/copy.js`);
    expect(copy.status).toBe(200);
    expect(copy.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await copy.text()).toContain('navigator.clipboard.writeText');
    for (const name of ['missing.js', '..%2Fassets.ts', 'copy.ts']) expect((await fetch(`${t.url}/t/acme/portal/assets/${name}`)).status).toBe(404);
    expect((await fetch(`${t.url}/t/nope/portal/assets/copy.js`)).status).toBe(404);
  });
});
