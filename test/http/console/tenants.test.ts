import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { consoleCsrf, createOperator, signedInOperator } from './operator-fixture.js';

/** The slugs the tenants table of a console page links to, in order. */
function listedSlugs(page: string): string[] {
  return [...page.matchAll(/<th scope="row"><a href="\/console\/tenants\/([^"]+)">/g)].map((m) => m[1]!);
}

/**
 * The console's tenant pages on both stores: the list shows what GET /v1/tenants holds (search
 * and pages through /v1), the forms create, change and delete through /v1 as the operator, bad
 * input comes back with /v1's problem and changes nothing, and an operator without the scope, or
 * limited to another tenant, sees no action and is refused on forged posts, changing nothing.
 */
describe.each(BACKENDS)('console: tenants (%s)', (backend) => {
  let t: TestServer;
  let admin: Person;
  let reader: Person;
  let limited: Person;
  let csrf: { admin: string; reader: string; limited: string };
  let adminId: string;

  beforeAll(async () => {
    t = await startTestServer(backend);
    await seedTenant(t);
    await seedTenant(t, 'beta');
    adminId = await createOperator(t, { email: 'admin@ops.test', scopes: ['tenants:write', 'apis:read', 'keys:read', 'tokens:read', 'audit:read'] });
    await createOperator(t, { email: 'reader@ops.test', scopes: ['tenants:read'] });
    await createOperator(t, { email: 'limited@ops.test', scopes: ['tenants:write', 'apis:read'], tenant: 'beta' });
    admin = await signedInOperator(t, 'admin@ops.test');
    reader = await signedInOperator(t, 'reader@ops.test');
    limited = await signedInOperator(t, 'limited@ops.test');
    csrf = { admin: await consoleCsrf(admin), reader: await consoleCsrf(reader), limited: await consoleCsrf(limited) };
  });
  afterAll(() => t.close());

  async function unchanged(action: () => Promise<void>): Promise<void> {
    const before = await snapshotState(t);
    await action();
    expect(await snapshotState(t)).toBe(before);
  }

  it('lists the tenants /v1 holds, finds them by slug or name, and pages through /v1’s cursor', async () => {
    const page = await admin.get('/console/tenants');
    expect(page.status).toBe(200);
    expect(listedSlugs(page.html)).toEqual(['acme', 'beta']);
    expect(page.html).toContain('<caption id="tenants-caption">');
    for (let i = 0; i < 51; i += 1) expectStatus(await t.call('POST', '/v1/tenants', { slug: `page-${String(i).padStart(2, '0')}`, name: `Paged ${i}` }), 201);
    const first = await admin.get('/console/tenants?search=PAGED');
    expect(listedSlugs(first.html)).toHaveLength(50);
    const next = /<a href="(\/console\/tenants\?[^"]*cursor=[^"]+)" rel="next">/.exec(first.html);
    expect(next, 'a next-page link').not.toBeNull();
    const nextUrl = next![1]!.replace(/&amp;/g, '&');
    expect(nextUrl).toContain('search=PAGED');
    const second = await admin.get(nextUrl);
    expect(listedSlugs(second.html)).toEqual(['page-50']);
    expect(second.html).not.toContain('rel="next"');
    const none = await admin.get('/console/tenants?search=%3Cscript%3E');
    expect(none.html).toContain('No tenant’s slug or name contains “&lt;script&gt;”.');
    expect(none.html).not.toContain('<script>');
  });

  it('creates a tenant through /v1 as the operator, then shows its page', async () => {
    const created = await admin.post('/console/tenants', { csrf: csrf.admin, slug: 'gamma', name: 'Gamma Inc', signingAlg: 'ES256', selfSignup: 'on' });
    expect(created.status).toBe(303);
    expect(created.location).toMatch(/\/console\/tenants\/gamma\?done=created$/);
    const stored = await t.call('GET', '/v1/tenants/gamma');
    expect(stored.body).toMatchObject({ slug: 'gamma', name: 'Gamma Inc', signingAlg: 'ES256', selfSignup: true });
    const audit = await t.call('GET', '/v1/tenants/gamma/audit');
    expectStatus(audit, 200);
    expect(audit.body.items.find((e: { action: string }) => e.action === 'tenant.create')?.actor).toBe(adminId);
    const page = await admin.get(created.location!);
    expect(page.status).toBe(200);
    expect(page.html).toContain('The tenant is created');
    expect(page.html).toContain('<h1>Gamma Inc</h1>');
  });

  it('refills the create form and shows /v1’s problem for a bad slug or a taken one, creating nothing', async () => {
    await unchanged(async () => {
      const bad = await admin.post('/console/tenants', { csrf: csrf.admin, slug: 'Not A Slug', name: 'Kept name', signingAlg: 'EdDSA' });
      expect(bad.status).toBe(400);
      expect(bad.html).toContain('role="alert"');
      expect(bad.html).toContain('value="Not A Slug"');
      expect(bad.html).toContain('value="Kept name"');
      const taken = await admin.post('/console/tenants', { csrf: csrf.admin, slug: 'acme', name: 'Again' });
      expect(taken.status).toBe(409);
      expect(taken.html).toContain('TENANT_EXISTS');
    });
  });

  it('shows the tenant’s settings and links only the sections the operator’s scopes reach', async () => {
    const page = await admin.get('/console/tenants/acme');
    expect(page.status).toBe(200);
    const sections = /<nav aria-labelledby="sections-heading">([\s\S]*?)<\/nav>/.exec(page.html)![1]!;
    for (const path of ['apis', 'keys', 'signing-keys', 'audit']) expect(sections).toContain(`href="/console/tenants/acme/${path}"`);
    for (const path of ['consumers', 'clients', 'users', 'usage']) expect(sections).not.toContain(`/acme/${path}"`);
    expect(page.html).toContain('name="hs256MaxLifetime"');
    expect(page.html).toContain('/console/tenants/acme/delete');
    expect(page.html).toContain(`${t.url}/t/acme`);
  });

  it('changes name, self sign-up and the HS256 lifetime cap through PATCH /v1', async () => {
    const saved = await admin.post('/console/tenants/acme/settings', { csrf: csrf.admin, name: 'Acme Renamed', selfSignup: 'on', hs256MaxLifetime: '600' });
    expect(saved.status).toBe(303);
    expect(saved.location).toMatch(/\/console\/tenants\/acme\?done=saved$/);
    expect((await t.call('GET', '/v1/tenants/acme')).body).toMatchObject({ name: 'Acme Renamed', selfSignup: true, hs256MaxLifetime: 600 });
    const off = await admin.post('/console/tenants/acme/settings', { csrf: csrf.admin, name: 'Acme', hs256MaxLifetime: '86400', signingAlg: 'ES256' });
    expect(off.status).toBe(303);
    expect((await t.call('GET', '/v1/tenants/acme')).body).toMatchObject({ name: 'Acme', selfSignup: false, hs256MaxLifetime: 86400, signingAlg: 'ES256' });
    expect((await admin.get('/console/tenants/acme')).html).toContain('<option value="ES256" selected>');
    expectStatus(await t.call('PATCH', '/v1/tenants/acme', { signingAlg: 'EdDSA' }), 200);
  });

  it('shows /v1’s problem for a bad lifetime cap with the form as sent, changing nothing', async () => {
    await unchanged(async () => {
      for (const value of ['0', 'ten']) {
        const refused = await admin.post('/console/tenants/acme/settings', { csrf: csrf.admin, name: 'Changed?', hs256MaxLifetime: value });
        expect(refused.status, value).toBe(400);
        expect(refused.html).toContain('role="alert"');
        expect(refused.html).toContain(`value="${value}"`);
        expect(refused.html).toContain('value="Changed?"');
      }
    });
  });

  it('deletes a tenant only when its slug is typed, through DELETE /v1', async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'doomed', name: 'Doomed' }), 201);
    await unchanged(async () => {
      const mistyped = await admin.post('/console/tenants/doomed/delete', { csrf: csrf.admin, confirm: 'doome' });
      expect(mistyped.status).toBe(400);
      expect(mistyped.html).toContain('to confirm the deletion');
    });
    const deleted = await admin.post('/console/tenants/doomed/delete', { csrf: csrf.admin, confirm: 'doomed' });
    expect(deleted.status).toBe(303);
    expect(deleted.location).toMatch(/\/console\/tenants\?done=deleted$/);
    expect((await t.call('GET', '/v1/tenants/doomed')).status).toBe(404);
    expect((await admin.get('/console/tenants/doomed')).status).toBe(404);
  });

  it('shows an operator without tenants:read the sections their scopes reach instead of the settings, and no other tenant', async () => {
    await createOperator(t, { email: 'keys@ops.test', scopes: ['keys:read', 'apis:read'] });
    await createOperator(t, { email: 'beta-keys@ops.test', scopes: ['keys:read'], tenant: 'beta' });
    const keysOnly = await signedInOperator(t, 'keys@ops.test');
    const page = await keysOnly.get('/console/tenants/acme');
    expect(page.status).toBe(200);
    expect(page.html).toContain('href="/console/tenants/acme/keys"');
    expect(page.html).toContain('href="/console/tenants/acme/apis"');
    expect(page.html).not.toContain('name="hs256MaxLifetime"');
    expect(page.html).not.toContain('Acme');
    expect((await keysOnly.get('/console/tenants')).status).toBe(403);
    const betaKeys = await signedInOperator(t, 'beta-keys@ops.test');
    expect((await betaKeys.get('/console/tenants/beta')).status).toBe(200);
    expect((await betaKeys.get('/console/tenants/acme')).status).toBe(404);
  });

  it('shows an operator with tenants:read no form, and refuses their forged posts (403), changing nothing', async () => {
    const list = await reader.get('/console/tenants');
    expect(list.status).toBe(200);
    expect(list.html).not.toContain('Create a tenant');
    const page = await reader.get('/console/tenants/acme');
    expect(page.status).toBe(200);
    expect(page.html).not.toContain('<form class="card" method="post"');
    expect(page.html).not.toContain('/delete');
    await unchanged(async () => {
      expect((await reader.post('/console/tenants', { csrf: csrf.reader, slug: 'sneaky', name: 'Sneaky' })).status).toBe(403);
      expect((await reader.post('/console/tenants/acme/settings', { csrf: csrf.reader, name: 'Owned', hs256MaxLifetime: '60' })).status).toBe(403);
      expect((await reader.post('/console/tenants/acme/delete', { csrf: csrf.reader, confirm: 'acme' })).status).toBe(403);
    });
  });

  it('shows an operator limited to a tenant only that one: 404 on another’s page and forged posts, nothing changed', async () => {
    const list = await limited.get('/console/tenants');
    expect(listedSlugs(list.html)).toEqual(['beta']);
    expect(list.html).not.toContain('Create a tenant');
    expect((await limited.get('/console/tenants/beta')).status).toBe(200);
    expect((await limited.get('/console/tenants/acme')).status).toBe(404);
    await unchanged(async () => {
      expect((await limited.post('/console/tenants/acme/settings', { csrf: csrf.limited, name: 'Owned', hs256MaxLifetime: '60' })).status).toBe(404);
      expect((await limited.post('/console/tenants/acme/delete', { csrf: csrf.limited, confirm: 'acme' })).status).toBe(404);
      expect((await limited.post('/console/tenants/acme/delete', { csrf: csrf.limited, confirm: 'wrong' })).status).toBe(404);
      expect((await limited.post('/console/tenants', { csrf: csrf.limited, slug: 'sneaky', name: 'Sneaky' })).status).toBe(403);
    });
    const page = await limited.get('/console/tenants/acme');
    expect(page.html).not.toContain('Acme');
  });

  it('refuses a post without the form’s CSRF token, and sends a signed-out browser to sign in', async () => {
    await unchanged(async () => {
      expect((await admin.post('/console/tenants/acme/settings', { name: 'x', hs256MaxLifetime: '60' })).status).toBe(403);
    });
    const stranger = new Person(t.url);
    const page = await stranger.get('/console/tenants/acme');
    expect(page.status).toBe(303);
    expect(page.location).toContain('/console/login?next=%2Fconsole%2Ftenants%2Facme');
  });
});
