import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import type { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { consoleCsrf, createOperator, signedInOperator } from './operator-fixture.js';

const CONSUMERS = '/console/tenants/acme/consumers';

/**
 * The console's consumer pages over HTTP on both stores: the list finds what /v1 holds; a
 * consumer created on the page has the members and grants /v1 then shows; its page shows each
 * grant with the members' keys and their sub-keys under it; members are added and removed; a
 * grant change that narrows keys is shown first and applied once confirmed; delete revokes.
 * An operator with consumers:read sees no form and a forged post changes nothing; an operator
 * limited to another tenant gets 404 everywhere.
 */
describe.each(BACKENDS)('console: consumers (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let admin: Person;
  let reader: Person;
  let limited: Person;
  let csrf: { admin: string; reader: string; limited: string };
  let alice: string;
  let bob: string;

  async function user(email: string): Promise<string> {
    const created = await t.call('POST', '/v1/tenants/acme/users', { email, password: 'correct horse battery staple' });
    expectStatus(created, 201);
    return created.body.id;
  }

  async function consumer(body: Record<string, unknown>): Promise<{ id: string; grants: { grantKeyId: string }[] }> {
    const created = await t.call('POST', '/v1/tenants/acme/consumers', body);
    expectStatus(created, 201);
    return created.body;
  }

  async function memberKey(consumerId: string, member: string, body: Record<string, unknown>): Promise<{ id: string; key: string }> {
    const created = await t.call('POST', `/v1/tenants/acme/consumers/${consumerId}/keys`, { api, member, ...body });
    expectStatus(created, 201);
    return created.body;
  }

  async function verify(credential: string, scopes: string[] = ['read:users']): Promise<string> {
    const response = await t.call('POST', '/v1/verify', { api, credential, scopes });
    expectStatus(response, 200);
    return response.body.code;
  }

  async function unchanged(action: () => Promise<void>): Promise<void> {
    const before = await snapshotState(t);
    await action();
    expect(await snapshotState(t)).toBe(before);
  }

  /** The grant editor's fields of a consumer page, as the browser would post them untouched. */
  function editorFields(page: string): Record<string, string | string[]> {
    const fields: Record<string, string | string[]> = {};
    const add = (name: string, value: string): void => {
      const held = fields[name];
      fields[name] = held === undefined ? value : Array.isArray(held) ? [...held, value] : [held, value];
    };
    const form = page.slice(page.indexOf('/grants"'), page.indexOf('Save grants'));
    for (const m of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) add(m[1]!, m[2]!.replace(/&amp;/g, '&'));
    for (const m of form.matchAll(/<input type="checkbox" id="[^"]+" name="([^"]+)" value="([^"]*)" checked>/g)) add(m[1]!, m[2]!);
    for (const m of form.matchAll(/<input type="(?:text|date)"[^>]* name="([^"]+)"[^>]* value="([^"]*)"/g)) add(m[1]!, m[2]!);
    for (const m of form.matchAll(/<textarea[^>]* name="([^"]+)"[^>]*>([^<]*)<\/textarea>/g)) add(m[1]!, m[2]!);
    for (const m of form.matchAll(/<select[^>]* name="([^"]+)">.*?<option value="([^"]*)" selected>/gs)) add(m[1]!, m[2]!);
    return fields;
  }

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    await seedTenant(t, 'other');
    alice = await user('alice@initech.test');
    bob = await user('bob@initech.test');
    await createOperator(t, { email: 'admin@ops.test', scopes: ['consumers:write', 'keys:read', 'apis:read', 'users:read'] });
    await createOperator(t, { email: 'reader@ops.test', scopes: ['consumers:read'] });
    await createOperator(t, { email: 'other@ops.test', scopes: ['consumers:write', 'apis:read'], tenant: 'other' });
    admin = await signedInOperator(t, 'admin@ops.test');
    reader = await signedInOperator(t, 'reader@ops.test');
    limited = await signedInOperator(t, 'other@ops.test');
    csrf = { admin: await consoleCsrf(admin), reader: await consoleCsrf(reader), limited: await consoleCsrf(limited) };
  });
  afterAll(() => t.close());

  it('lists what /v1 holds, finds consumers by name or id, page by page', async () => {
    await consumer({ id: 'globex', name: 'Globex <Corp>' });
    await consumer({ id: 'hooli', name: 'Hooli', grants: [{ api, scopes: ['read:users'] }] });
    const all = await admin.get(CONSUMERS);
    expect(all.status).toBe(200);
    expect(all.html).toContain('Globex &lt;Corp&gt;');
    expect(all.html).not.toContain('Globex <Corp>');
    expect(all.html).toContain(`${CONSUMERS}/hooli`);
    const found = await admin.get(`${CONSUMERS}?search=GLOBEX`);
    expect(found.html).toContain('Globex &lt;Corp&gt;');
    expect(found.html).not.toContain(`${CONSUMERS}/hooli`);
    expect((await admin.get(`${CONSUMERS}?search=nothing-like-it`)).html).toContain('No consumer matches the search.');
    const first = await admin.get(`${CONSUMERS}?limit=1`);
    const next = /href="([^"]+)" rel="next"/.exec(first.html)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toContain('cursor=');
    expect((await admin.get(next!)).status).toBe(200);
  });

  it('creates a consumer with its id, members and a grant as /v1 takes them', async () => {
    const form = await admin.get(CONSUMERS);
    expect(form.html).toContain('name="g0-scope" value="write:users"');
    const created = await admin.post(CONSUMERS, {
      csrf: csrf.admin,
      name: 'Initech',
      id: 'initech',
      members: `${alice}\n${bob}`,
      grantRows: '1',
      'g0-on': 'yes',
      'g0-api': api,
      'g0-scope': ['read:users', 'write:users'],
      'g0-maxKeys': '5',
      'g0-ratelimits': 'per-minute 600 1m',
      'g0-credits': '100000',
      'g0-refillAmount': '100000',
      'g0-refillInterval': 'monthly',
      'g0-expires': '',
      'g0-expiresWas': '',
    });
    expect(created.status).toBe(303);
    expect(created.location).toMatch(/\/console\/tenants\/acme\/consumers\/initech\?done=created$/);
    const stored = await t.call('GET', '/v1/tenants/acme/consumers/initech');
    expect(stored.body).toMatchObject({
      name: 'Initech',
      members: [alice, bob],
      grants: [{ api, scopes: ['read:users', 'write:users'], maxKeys: 5, ratelimits: [{ name: 'per-minute', limit: 600, duration: 60_000 }], credits: { remaining: 100000, refill: { amount: 100000, interval: 'monthly' } }, expiresAt: null }],
    });
  });

  it('takes a grant as text from an operator who may not read the APIs', async () => {
    await createOperator(t, { email: 'blind@ops.test', scopes: ['consumers:write'] });
    const blind = await signedInOperator(t, 'blind@ops.test');
    const page = await blind.get(CONSUMERS);
    expect(page.html).toContain('name="g0-api"');
    expect(page.html).toContain('name="g0-scopes"');
    const created = await blind.post(CONSUMERS, { csrf: await consoleCsrf(blind), name: 'Text grant', id: 'text-grant', grantRows: '1', 'g0-on': 'yes', 'g0-api': api, 'g0-scopes': 'read:users read:billing', 'g0-expires': '2099-12-31', 'g0-expiresWas': '' });
    expect(created.status).toBe(303);
    expect((await t.call('GET', '/v1/tenants/acme/consumers/text-grant')).body.grants).toMatchObject([{ api, scopes: ['read:users', 'read:billing'], expiresAt: '2099-12-31T23:59:59.999Z' }]);
    const detail = await blind.get(`${CONSUMERS}/text-grant`);
    expect(detail.html).toContain('value="read:users read:billing"');
  });

  it('shows /v1’s refusal with the form filled in again, and creates nothing', async () => {
    await consumer({ id: 'taken', name: 'Taken' });
    await unchanged(async () => {
      const exists = await admin.post(CONSUMERS, { csrf: csrf.admin, name: 'Again', id: 'taken', members: '', grantRows: '0' });
      expect(exists.status).toBe(409);
      expect(exists.html).toContain('CONSUMER_EXISTS');
      expect(exists.html).toContain('value="Again"');
      const badScope = await admin.post(CONSUMERS, { csrf: csrf.admin, name: 'Bad', grantRows: '1', 'g0-on': 'yes', 'g0-api': api, 'g0-scopes': 'delete:everything' });
      expect(badScope.status).toBe(400);
      expect(badScope.html).toContain('role="alert"');
      const badLimit = await admin.post(CONSUMERS, { csrf: csrf.admin, name: 'Bad', grantRows: '1', 'g0-on': 'yes', 'g0-api': api, 'g0-ratelimits': 'lots' });
      expect(badLimit.status).toBe(400);
    });
  });

  it('shows each grant from above: the members’ keys under it and their sub-keys under those', async () => {
    const corp = await consumer({ id: 'umbrella', name: 'Umbrella', members: [alice], grants: [{ api, scopes: ['read:users', 'write:users'] }] });
    const key = await memberKey('umbrella', alice, { name: 'Alice CI', scopes: ['read:users', 'write:users'] });
    const sub = await t.call('POST', `/v1/tenants/acme/keys/${key.id}/subkeys`, { scopes: ['read:users'], name: 'Alice sub' });
    expectStatus(sub, 201);
    const page = await admin.get(`${CONSUMERS}/umbrella`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('alice@initech.test');
    const tree = page.html.slice(page.html.indexOf('<ul class="tree"'));
    expect(tree).toMatch(new RegExp(`Grant on <code>${api.replace(/\./g, '\\.')}</code>.*<ul><li><a href="/console/tenants/acme/keys/${key.id}">Alice CI</a>.*<ul><li><a href="/console/tenants/acme/keys/${sub.body.id}">Alice sub</a>`, 's'));
    expect(corp.grants[0]!.grantKeyId).toBeDefined();
  });

  it('creates a key for a member within the grant (keys:write), its secret shown once', async () => {
    await consumer({ id: 'cyberdyne', name: 'Cyberdyne', members: [alice], grants: [{ api, scopes: ['read:users'] }] });
    await createOperator(t, { email: 'minter@ops.test', scopes: ['consumers:read', 'keys:write', 'users:read'] });
    const minter = await signedInOperator(t, 'minter@ops.test');
    const page = await minter.get(`${CONSUMERS}/cyberdyne`);
    expect(page.html).toContain('Create a key for a member');
    expect(page.html).toContain(`<option value="${alice}">alice@initech.test</option>`);
    const minterCsrf = await consoleCsrf(minter);
    const created = await minter.post(`${CONSUMERS}/cyberdyne/keys`, { csrf: minterCsrf, api, member: alice, name: 'From the console', scope: 'read:users', expires: '' });
    expect(created.status).toBe(200);
    const secret = /id="secret" value="([^"]+)"/.exec(created.html)![1]!;
    expect(await verify(secret)).toBe('VALID');
    const keys = (await t.call('GET', '/v1/tenants/acme/consumers/cyberdyne/keys')).body.items;
    expect(keys).toMatchObject([{ name: 'From the console', consumer: 'cyberdyne', scopes: ['read:users'] }]);
    await unchanged(async () => {
      const outside = await minter.post(`${CONSUMERS}/cyberdyne/keys`, { csrf: minterCsrf, api, member: alice, scope: 'write:users' });
      expect(outside.status).toBeGreaterThanOrEqual(400);
      expect(outside.html).toContain('SCOPE_NOT_ALLOWED');
    });
    expect((await admin.get(`${CONSUMERS}/cyberdyne`)).html).not.toContain('Create a key for a member');
  });

  it('adds and removes members through /v1', async () => {
    await consumer({ id: 'acme-corp', name: 'Acme Corp', members: [alice] });
    const added = await admin.post(`${CONSUMERS}/acme-corp/members/add`, { csrf: csrf.admin, user: bob });
    expect(added.status).toBe(303);
    expect((await t.call('GET', '/v1/tenants/acme/consumers/acme-corp')).body.members).toEqual([alice, bob]);
    const removed = await admin.post(`${CONSUMERS}/acme-corp/members/remove`, { csrf: csrf.admin, user: alice });
    expect(removed.status).toBe(303);
    expect((await t.call('GET', '/v1/tenants/acme/consumers/acme-corp')).body.members).toEqual([bob]);
    await unchanged(async () => {
      const unknown = await admin.post(`${CONSUMERS}/acme-corp/members/add`, { csrf: csrf.admin, user: 'usr_nobody' });
      expect(unknown.status).toBeGreaterThanOrEqual(400);
      expect(unknown.html).toContain('role="alert"');
    });
  });

  it('shows what narrowing a grant takes from keys first, and narrows them only once confirmed', async () => {
    await consumer({ id: 'soylent', name: 'Soylent', members: [alice], grants: [{ api, scopes: ['read:users', 'write:users'] }] });
    const key = await memberKey('soylent', alice, { scopes: ['read:users', 'write:users'] });
    expect(await verify(key.key, ['write:users'])).toBe('VALID');
    const page = await admin.get(`${CONSUMERS}/soylent`);
    const fields = { ...editorFields(page.html), csrf: csrf.admin, 'g0-scope': 'read:users' };

    await unchanged(async () => {
      const warned = await admin.post(`${CONSUMERS}/soylent/grants`, fields);
      expect(warned.status).toBe(200);
      expect(warned.html).toContain('This change narrows keys at once');
      expect(warned.html).toContain('write:users is taken from every key under it (1 key now)');
      expect(warned.html).toContain('name="confirm"');
    });
    expect(await verify(key.key, ['write:users'])).toBe('VALID');

    const saved = await admin.post(`${CONSUMERS}/soylent/grants`, { ...fields, confirm: 'yes' });
    expect(saved.status).toBe(303);
    expect((await t.call('GET', '/v1/tenants/acme/consumers/soylent')).body.grants[0].scopes).toEqual(['read:users']);
    expect(await verify(key.key, ['write:users'])).toBe('INSUFFICIENT_SCOPE');
    expect(await verify(key.key, ['read:users'])).toBe('VALID');

    // Saving the form untouched changes no grant and asks nothing.
    const again = await admin.get(`${CONSUMERS}/soylent`);
    const untouched = await admin.post(`${CONSUMERS}/soylent/grants`, { ...editorFields(again.html), csrf: csrf.admin });
    expect(untouched.status).toBe(303);
    expect((await t.call('GET', '/v1/tenants/acme/consumers/soylent')).body.grants[0]).toMatchObject({ scopes: ['read:users'], maxKeys: null, expiresAt: null });

    // Unticking the grant removes it: its keys are revoked.
    const removed = await admin.post(`${CONSUMERS}/soylent/grants`, { ...editorFields(again.html), csrf: csrf.admin, 'g0-on': [], confirm: 'yes' });
    expect(removed.status).toBe(303);
    expect(await verify(key.key)).toBe('REVOKED');
  });

  it('deletes a consumer, revoking every key under its grants', async () => {
    await consumer({ id: 'wayne', name: 'Wayne', members: [alice], grants: [{ api, scopes: ['read:users'] }] });
    const key = await memberKey('wayne', alice, { scopes: ['read:users'] });
    await unchanged(async () => {
      expect((await admin.post(`${CONSUMERS}/wayne/delete`, { csrf: csrf.admin })).status).toBe(400);
    });
    const deleted = await admin.post(`${CONSUMERS}/wayne/delete`, { csrf: csrf.admin, confirm: 'yes' });
    expect(deleted.status).toBe(303);
    expect(deleted.location).toMatch(/\/consumers\?done=deleted$/);
    expect((await t.call('GET', '/v1/tenants/acme/consumers/wayne')).status).toBe(404);
    expect(await verify(key.key)).toBe('REVOKED');
  });

  it('shows an operator with consumers:read no form, refuses forged posts and changes nothing', async () => {
    await consumer({ id: 'readonly', name: 'Read only', members: [alice], grants: [{ api, scopes: ['read:users'] }] });
    const key = await memberKey('readonly', alice, { scopes: ['read:users'] });
    const page = await reader.get(`${CONSUMERS}/readonly`);
    expect(page.status).toBe(200);
    for (const action of ['/grants"', '/delete"', '/members/add"', '/members/remove"', '/rename"']) expect(page.html).not.toContain(action);
    expect((await reader.get(CONSUMERS)).html).not.toContain('Create a consumer');
    await unchanged(async () => {
      for (const [path, fields] of [
        [`${CONSUMERS}/readonly/delete`, { confirm: 'yes' }],
        [`${CONSUMERS}/readonly/members/remove`, { user: alice }],
        [`${CONSUMERS}/readonly/grants`, { grantRows: '0', confirm: 'yes' }],
        [`${CONSUMERS}/readonly/rename`, { name: 'Forged' }],
        [CONSUMERS, { name: 'Forged', grantRows: '0' }],
      ] as const) {
        const answer = await reader.post(path, { csrf: csrf.reader, ...fields });
        expect(answer.status, path).toBe(403);
      }
    });
    expect(await verify(key.key)).toBe('VALID');
  });

  it('shows an operator limited to another tenant nothing of this one: 404 on pages and forged posts, nothing changed', async () => {
    await consumer({ id: 'private', name: 'Private Corp', members: [alice] });
    for (const path of [CONSUMERS, `${CONSUMERS}/private`]) {
      const page = await limited.get(path);
      expect(page.status, path).toBe(404);
      expect(page.html).not.toContain('Private Corp');
    }
    await unchanged(async () => {
      for (const [path, fields] of [
        [`${CONSUMERS}/private/delete`, { confirm: 'yes' }],
        [`${CONSUMERS}/private/members/add`, { user: bob }],
        [`${CONSUMERS}/private/grants`, { grantRows: '0', confirm: 'yes' }],
        [`${CONSUMERS}/private/rename`, { name: 'Forged' }],
        [CONSUMERS, { name: 'Forged', grantRows: '0' }],
      ] as const) {
        const answer = await limited.post(path, { csrf: csrf.limited, ...fields });
        expect(answer.status, path).toBe(404);
        expect(answer.html).not.toContain('Private Corp');
      }
    });
    expect((await limited.get('/console/tenants/other/consumers')).status).toBe(200);
  });
});
