import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import type { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { consoleCsrf, createOperator, signedInOperator } from './operator-fixture.js';

const KEYS = '/console/tenants/acme/keys';

/** The secret of a secret page (the read-only field the copy button copies). */
function secretIn(page: string): string {
  const match = /id="secret" value="([^"]+)"/.exec(page);
  if (match === null) throw new Error(`no secret in the page: ${page.slice(0, 400)}`);
  return match[1]!;
}

/**
 * The console's key pages over HTTP on both stores, signed in as operators: the list finds what
 * /v1 holds by start, name and consumer; a key created on the page verifies; the detail shows the
 * key's tree; revoke shows the subtree first and the key then answers REVOKED; roll and
 * disable/enable act through /v1. An operator without keys:write sees no action and a forged
 * post changes nothing; an operator limited to another tenant gets 404 everywhere.
 */
describe.each(BACKENDS)('console: keys (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let admin: Person;
  let reader: Person;
  let limited: Person;
  let csrf: { admin: string; reader: string; limited: string };

  /** A key made through /v1 with the root key. */
  async function made(body: Record<string, unknown> = {}): Promise<{ id: string; key: string; start: string }> {
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], ...body });
    expectStatus(created, 201);
    return created.body;
  }

  async function subkey(parent: string, name: string): Promise<{ id: string; key: string }> {
    const created = await t.call('POST', `/v1/tenants/acme/keys/${parent}/subkeys`, { scopes: ['read:users'], name });
    expectStatus(created, 201);
    return created.body;
  }

  async function verify(credential: string): Promise<string> {
    const response = await t.call('POST', '/v1/verify', { api, credential, scopes: ['read:users'] });
    expectStatus(response, 200);
    return response.body.code;
  }

  async function unchanged(action: () => Promise<void>): Promise<void> {
    const before = await snapshotState(t);
    await action();
    expect(await snapshotState(t)).toBe(before);
  }

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    await seedTenant(t, 'other');
    await createOperator(t, { email: 'admin@ops.test', scopes: ['keys:write', 'apis:read'] });
    await createOperator(t, { email: 'reader@ops.test', scopes: ['keys:read'] });
    await createOperator(t, { email: 'other@ops.test', scopes: ['keys:write', 'apis:read'], tenant: 'other' });
    admin = await signedInOperator(t, 'admin@ops.test');
    reader = await signedInOperator(t, 'reader@ops.test');
    limited = await signedInOperator(t, 'other@ops.test');
    csrf = { admin: await consoleCsrf(admin), reader: await consoleCsrf(reader), limited: await consoleCsrf(limited) };
  });
  afterAll(() => t.close());

  it('lists what /v1 holds and finds keys by start, name and consumer, page by page', async () => {
    const billing = await made({ name: 'Billing job', consumer: 'cus_42' });
    await made({ name: 'billing cron' });
    await made({ name: 'Mobile <app>', consumer: 'cus_7' });

    const all = await admin.get(KEYS);
    expect(all.status).toBe(200);
    expect(all.html).toContain('Billing job');
    expect(all.html).toContain('Mobile &lt;app&gt;');
    expect(all.html).not.toContain('Mobile <app>');
    expect(all.html).toMatch(/<caption id="keys-caption">Keys<\/caption>/);

    const byStart = await admin.get(`${KEYS}?start=${encodeURIComponent(billing.start)}`);
    expect(byStart.html).toContain(`/console/tenants/acme/keys/${billing.id}`);
    const byName = await admin.get(`${KEYS}?name=BILLING`);
    expect(byName.html).toContain('Billing job');
    expect(byName.html).toContain('billing cron');
    expect(byName.html).not.toContain('Mobile');
    const byConsumer = await admin.get(`${KEYS}?consumer=cus_7`);
    expect(byConsumer.html).toContain('Mobile &lt;app&gt;');
    expect(byConsumer.html).not.toContain('Billing job');
    expect((await admin.get(`${KEYS}?name=nothing-like-it`)).html).toContain('No key matches the search.');

    const first = await admin.get(`${KEYS}?name=billing&limit=1`);
    const next = /href="([^"]+)" rel="next"/.exec(first.html)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toContain('name=billing');
    const second = await admin.get(next!);
    expect(second.status).toBe(200);
    expect(second.html).not.toContain('rel="next"');
    expect([first.html.includes('Billing job'), second.html.includes('Billing job')].sort()).toEqual([false, true]);

    const tooLong = await admin.get(`${KEYS}?start=${encodeURIComponent(billing.key)}`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.html).toContain('role="alert"');
  });

  it('creates a key on the page whose secret, shown once in the answer, verifies with POST /v1/verify', async () => {
    const form = await admin.get(`${KEYS}/new`);
    expect(form.status).toBe(200);
    expect(form.html).toContain('value="read:users"');
    const created = await admin.post(KEYS, {
      csrf: csrf.admin,
      api,
      name: 'Console key',
      scope: ['read:users', 'read:billing'],
      consumer: 'cus_console',
      expires: '2099-01-31',
      ratelimits: 'per-minute 600 1m',
      credits: '1000',
      refillAmount: '1000',
      refillInterval: 'monthly',
      ips: '',
      meta: '{"plan": "gold"}',
    });
    expect(created.status).toBe(200);
    expect(created.location).toBeNull();
    const secret = secretIn(created.html);
    expect(created.html).toContain('data-copy="secret"');
    expect(created.html).toContain('src="/console/assets/copy.js"');
    expect(await verify(secret)).toBe('VALID');

    const listed = await t.call('GET', '/v1/tenants/acme/keys?name=Console%20key');
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).toMatchObject({
      scopes: ['read:users', 'read:billing'],
      consumer: 'cus_console',
      expiresAt: '2099-01-31T23:59:59.999Z',
      ratelimits: [{ name: 'per-minute', limit: 600, duration: 60_000 }],
      credits: { remaining: 999, refill: { amount: 1000, interval: 'monthly' } }, // the verify spent one
      meta: { plan: 'gold' },
    });
    // The secret is in that one answer only: not on the key's page, nor in the list.
    expect((await admin.get(`${KEYS}/${listed.body.items[0].id}`)).html).not.toContain(secret);
    expect((await admin.get(KEYS)).html).not.toContain(secret);
  });

  it('takes the API and scopes as text from an operator who may not read the APIs', async () => {
    await createOperator(t, { email: 'blind@ops.test', scopes: ['keys:write'] });
    const blind = await signedInOperator(t, 'blind@ops.test');
    const picker = await blind.get(`${KEYS}/new`);
    expect(picker.html).toContain('id="pick-api" name="api"');
    const form = await blind.get(`${KEYS}/new?api=${encodeURIComponent(api)}`);
    expect(form.status).toBe(200);
    expect(form.html).toContain('name="scopes"');
    const created = await blind.post(KEYS, { csrf: await consoleCsrf(blind), api, name: 'Typed', scopes: 'read:users' });
    expect(created.status).toBe(200);
    expect(await verify(secretIn(created.html))).toBe('VALID');
  });

  it('shows a bad form’s problem with the form filled in again, and creates nothing', async () => {
    await unchanged(async () => {
      const unknown = await admin.post(KEYS, { csrf: csrf.admin, api, name: 'Bad scope', scopes: 'delete:everything', ratelimits: '' });
      expect(unknown.status).toBe(400);
      expect(unknown.html).toContain('role="alert"');
      expect(unknown.html).toContain('UNKNOWN_SCOPE');
      expect(unknown.html).toContain('value="Bad scope"');
      const badLimit = await admin.post(KEYS, { csrf: csrf.admin, api, name: 'Bad limit', scope: 'read:users', ratelimits: 'per-minute lots' });
      expect(badLimit.status).toBe(400);
      expect(badLimit.html).toContain('name limit window');
      const badMeta = await admin.post(KEYS, { csrf: csrf.admin, api, scope: 'read:users', meta: '{nope' });
      expect(badMeta.status).toBe(400);
    });
  });

  it('shows a key’s settings, its parent and its sub-keys as a nested tree', async () => {
    const root = await made({ name: 'Root', ratelimits: [{ name: 'rps', limit: 5, duration: 1000 }], ipAllowlist: ['10.0.0.0/8'], credits: { remaining: 7 } });
    const child = await subkey(root.id, 'Child');
    const grandchild = await subkey(child.id, 'Grandchild');
    const page = await admin.get(`${KEYS}/${child.id}`);
    expect(page.status).toBe(200);
    expect(page.html).not.toContain('10.0.0.0/8'); // the child's own settings: no allowlist, no limits
    expect(page.html).toContain('none of its own');
    const tree = page.html.slice(page.html.indexOf('<ul class="tree"'));
    // Root holds Child, which holds Grandchild.
    expect(tree).toMatch(new RegExp(`${root.id}">Root</a>.*<ul><li><strong aria-current="true">Child \\(this key\\)</strong>.*<ul><li><a href="[^"]*${grandchild.id}">Grandchild</a>`, 's'));
    const rootPage = await admin.get(`${KEYS}/${root.id}`);
    expect(rootPage.html).toContain('10.0.0.0/8');
    expect(rootPage.html).toContain('7 left');
    expect(rootPage.html).toContain('5 per 1s (rps)');
  });

  it('shows the subtree before revoking it; the key and its sub-keys then answer REVOKED', async () => {
    const root = await made({ name: 'To revoke' });
    const child = await subkey(root.id, 'Its child');
    const grandchild = await subkey(child.id, 'Its grandchild');
    const bystander = await made({ name: 'Bystander' });

    const confirm = await admin.get(`${KEYS}/${root.id}/revoke`);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('These 3 keys are revoked');
    expect(confirm.html).toContain('Its child');
    expect(confirm.html).toContain('Its grandchild');
    expect(confirm.html).not.toContain('Bystander');
    expect(await verify(grandchild.key)).toBe('VALID');

    const revoked = await admin.post(`${KEYS}/${root.id}/revoke`, { csrf: csrf.admin });
    expect(revoked.status).toBe(303);
    expect(revoked.location).toMatch(new RegExp(`/console/tenants/acme/keys/${root.id}\\?done=revoked$`));
    for (const key of [root, child, grandchild]) expect(await verify(key.key)).toBe('REVOKED');
    expect(await verify(bystander.key)).toBe('VALID');
    const after = await admin.get(revoked.location!);
    expect(after.html).toContain('role="status"');
    expect(after.html).not.toContain('/roll"');
  });

  it('rolls a key: the new secret is shown once, the old one works for the grace period', async () => {
    const key = await made({ name: 'To roll' });
    const rolled = await admin.post(`${KEYS}/${key.id}/roll`, { csrf: csrf.admin, grace: '3600000' });
    expect(rolled.status).toBe(200);
    const secret = secretIn(rolled.html);
    expect(secret).not.toBe(key.key);
    expect(await verify(secret)).toBe('VALID');
    expect(await verify(key.key)).toBe('VALID');
    await unchanged(async () => {
      expect((await admin.post(`${KEYS}/${key.id}/roll`, { csrf: csrf.admin, grace: '42' })).status).toBe(400);
    });
    const now = await admin.post(`${KEYS}/${key.id}/roll`, { csrf: csrf.admin, grace: '0' });
    expect(await verify(secretIn(now.html))).toBe('VALID');
    expect(await verify(secret)).toBe('REVOKED');
  });

  it('disables and enables a key through PATCH enabled', async () => {
    const key = await made({ name: 'To disable' });
    const disabled = await admin.post(`${KEYS}/${key.id}/disable`, { csrf: csrf.admin });
    expect(disabled.status).toBe(303);
    expect(await verify(key.key)).toBe('DISABLED');
    expect((await admin.get(disabled.location!)).html).toContain('Enable key');
    expect((await admin.post(`${KEYS}/${key.id}/enable`, { csrf: csrf.admin })).status).toBe(303);
    expect(await verify(key.key)).toBe('VALID');
  });

  it('shows an operator with keys:read only no action, refuses a forged revoke and changes nothing', async () => {
    const key = await made({ name: 'Read only' });
    const child = await subkey(key.id, 'Read only child');
    const page = await reader.get(`${KEYS}/${key.id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Read only child');
    for (const action of ['/roll"', '/revoke"', '/disable"', '/enable"', 'Create a key']) expect(page.html).not.toContain(action);
    expect((await reader.get(KEYS)).html).not.toContain('Create a key');
    expect((await reader.get(`${KEYS}/new`)).status).toBe(403);
    const confirm = await reader.get(`${KEYS}/${key.id}/revoke`);
    expect(confirm.html).not.toContain('<form class="card" method="post"');

    await unchanged(async () => {
      for (const [path, fields] of [
        [`${KEYS}/${key.id}/revoke`, {}],
        [`${KEYS}/${key.id}/roll`, { grace: '0' }],
        [`${KEYS}/${key.id}/disable`, {}],
        [KEYS, { api, scope: 'read:users', name: 'forged' }],
      ] as const) {
        const answer = await reader.post(path, { csrf: csrf.reader, ...fields });
        expect(answer.status, path).toBe(403);
        expect(answer.html).toContain('role="alert"');
      }
    });
    expect(await verify(key.key)).toBe('VALID');
    expect(await verify(child.key)).toBe('VALID');
  });

  it('offers no key action on a consumer’s grant key: the consumer’s page changes it', async () => {
    const created = await t.call('POST', '/v1/tenants/acme/consumers', { id: 'initech', name: 'Initech', grants: [{ api, scopes: ['read:users'] }] });
    expectStatus(created, 201);
    const grantKey = created.body.grants[0].grantKeyId as string;
    const grantReader = await (async () => {
      await createOperator(t, { email: 'grants@ops.test', scopes: ['keys:write', 'consumers:read'] });
      return signedInOperator(t, 'grants@ops.test');
    })();
    const page = await grantReader.get(`${KEYS}/${grantKey}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('holds the grant of consumer');
    expect(page.html).toContain('/console/tenants/acme/consumers/initech');
    for (const action of ['/roll"', '/disable"', `${grantKey}/revoke"`]) expect(page.html).not.toContain(action);
    expect((await grantReader.get(`${KEYS}/${grantKey}/revoke`)).html).not.toContain('<form class="card" method="post"');
  });

  it('refuses a post without the operator’s CSRF token and changes nothing', async () => {
    const key = await made({ name: 'CSRF' });
    await unchanged(async () => {
      expect((await admin.post(`${KEYS}/${key.id}/revoke`, { csrf: csrf.reader })).status).toBe(403);
      expect((await admin.post(`${KEYS}/${key.id}/revoke`, {})).status).toBe(403);
    });
    expect(await verify(key.key)).toBe('VALID');
  });

  it('shows an operator limited to another tenant nothing of this one: 404 on pages and forged posts, nothing changed', async () => {
    const key = await made({ name: 'Not theirs' });
    for (const path of [KEYS, `${KEYS}/${key.id}`, `${KEYS}/${key.id}/revoke`]) {
      const page = await limited.get(path);
      expect(page.status, path).toBe(404);
      expect(page.html).not.toContain('Not theirs');
    }
    await unchanged(async () => {
      for (const [path, fields] of [
        [`${KEYS}/${key.id}/revoke`, {}],
        [`${KEYS}/${key.id}/roll`, { grace: '0' }],
        [`${KEYS}/${key.id}/disable`, {}],
        [KEYS, { api, scope: 'read:users', name: 'forged' }],
      ] as const) {
        const answer = await limited.post(path, { csrf: csrf.limited, ...fields });
        expect(answer.status, path).toBe(404);
        expect(answer.html).not.toContain('Not theirs');
      }
    });
    expect(await verify(key.key)).toBe('VALID');
    // Their own tenant works.
    expect((await limited.get('/console/tenants/other/keys')).status).toBe(200);
  });
});
