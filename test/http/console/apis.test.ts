import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import type { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { consoleCsrf, createOperator, signedInOperator } from './operator-fixture.js';

const API = 'https://api.acme.test';
const PAGE = `/console/tenants/acme/apis/${encodeURIComponent(API)}`;
const V1 = `/v1/tenants/acme/apis/${encodeURIComponent(API)}`;

/** An OpenAPI document of the seeded API: GET /users needs read:users, POST /users write:users, /health is public. */
const DOCUMENT = JSON.stringify({
  openapi: '3.1.0',
  info: { title: 'Acme', version: '1' },
  servers: [{ url: 'https://api.acme.test/v2' }],
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: ['read:users'] }],
  paths: {
    '/users': {
      get: { operationId: 'listUsers', responses: { '200': { description: 'ok' } } },
      post: { operationId: 'createUser', security: [{ bearer: ['write:users'] }, { bearer: ['repo', 'read:billing'] }], 'x-keygate-cost': 5, responses: { '201': { description: 'made' } } },
    },
    '/health': { get: { security: [], 'x-keygate-public': true, responses: { '200': { description: 'ok' } } } },
  },
});

const YAML_DOCUMENT = `openapi: 3.0.3
info: {title: Acme, version: '1'}
components:
  securitySchemes:
    oauth: {type: oauth2, flows: {clientCredentials: {tokenUrl: 'https://acme.test/token', scopes: {'read:users': read}}}}
paths:
  /people:
    get:
      security: [{oauth: ['read:users']}]
      responses: {'200': {description: ok}}
`;

/** The editor's rows of a detail page, as a form would send them (without csrf). */
function editorRows(page: string): { scopeName: string[]; scopeDescription: string[]; scopeImplies: string[] } {
  const values = (name: string): string[] => [...page.matchAll(new RegExp(`<input type="text" name="${name}" value="([^"]*)"`, 'g'))].map((m) => decode(m[1]!));
  return { scopeName: values('scopeName'), scopeDescription: values('scopeDescription'), scopeImplies: values('scopeImplies') };
}

function decode(value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The hidden fields of the form posting to `action`, as it would send them. */
function hiddenFields(page: string, action: string): Record<string, string[]> {
  const form = new RegExp(`<form method="post" action="${action.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}">([\\s\\S]*?)</form>`).exec(page);
  if (form === null) throw new Error(`no form posting to ${action}`);
  const fields: Record<string, string[]> = {};
  for (const m of form[1]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) (fields[m[1]!] ??= []).push(decode(m[2]!));
  return fields;
}

/**
 * The console's API pages on both stores: the list and the detail page show what /v1 holds, each
 * form changes the API through PATCH/PUT/DELETE /v1 as the operator, /v1's refusals come back on
 * the page (a catalog dropping held scopes with its force step, a document that fails with every
 * reason), and operators without apis:write or limited to another tenant change nothing.
 */
describe.each(BACKENDS)('console: APIs (%s)', (backend) => {
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
    adminId = await createOperator(t, { email: 'admin@ops.test', scopes: ['apis:write'] });
    await createOperator(t, { email: 'reader@ops.test', scopes: ['apis:read'] });
    await createOperator(t, { email: 'limited@ops.test', scopes: ['apis:write'], tenant: 'beta' });
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

  it('lists the APIs /v1 holds, finds them by identifier or name, and creates one with its catalog', async () => {
    const list = await admin.get('/console/tenants/acme/apis');
    expect(list.status).toBe(200);
    expect(list.html).toContain(`<a href="${PAGE}">Acme API</a>`);
    expect((await admin.get('/console/tenants/acme/apis?search=nothing')).html).toContain('No API’s identifier or name contains “nothing”.');

    const created = await admin.post('/console/tenants/acme/apis', { csrf: csrf.admin, identifier: 'https://orders.acme.test', name: 'Orders', keyPrefix: 'ord', scopes: 'read:orders Read orders\nwrite:orders Change orders\n' });
    expect(created.status).toBe(303);
    expect(created.location).toContain(`/console/tenants/acme/apis/${encodeURIComponent('https://orders.acme.test')}?done=created`);
    const stored = await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent('https://orders.acme.test')}`);
    expect(stored.body).toMatchObject({ name: 'Orders', keyPrefix: 'ord', scopes: [{ name: 'read:orders', description: 'Read orders' }, { name: 'write:orders', description: 'Change orders' }] });
    const audit = await t.call('GET', '/v1/tenants/acme/audit');
    expect(audit.body.items.find((e: { action: string }) => e.action === 'api.create')?.actor).toBe(adminId);

    const found = await admin.get('/console/tenants/acme/apis?search=ORDERS');
    expect(found.html).toContain('>Orders</a>');
    expect(found.html).not.toContain('>Acme API</a>');
    const page = await admin.get(created.location!);
    expect(page.status).toBe(200);
    expect(page.html).toContain('The API is created.');
    expect(editorRows(page.html).scopeName.filter((n) => n !== '')).toEqual(['read:orders', 'write:orders']);
  });

  it('refills the create form with /v1’s problem for a taken identifier, creating nothing', async () => {
    await unchanged(async () => {
      const taken = await admin.post('/console/tenants/acme/apis', { csrf: csrf.admin, identifier: API, name: 'Again', keyPrefix: '', scopes: 'x:y Something' });
      expect(taken.status).toBe(409);
      expect(taken.html).toContain('API_EXISTS');
      expect(taken.html).toContain('value="Again"');
      expect(taken.html).toContain('x:y Something</textarea>');
    });
  });

  it('edits the catalog: a description, an implication, a new scope and a removed one, in one save', async () => {
    const rows = editorRows((await admin.get(PAGE)).html);
    const at = (name: string): number => rows.scopeName.indexOf(name);
    rows.scopeDescription[at('read:billing')] = 'Read invoices and receipts';
    rows.scopeImplies[at('read:billing')] = 'read:users';
    const blank = rows.scopeName.indexOf('');
    rows.scopeName[blank] = 'admin';
    rows.scopeDescription[blank] = 'Everything';
    rows.scopeImplies[blank] = 'write:users, read:billing';
    const saved = await admin.post(`${PAGE}/scopes`, { csrf: csrf.admin, ...rows, remove: String(at('public_repo')), scopeImplies: rows.scopeImplies.map((v, i) => (i === at('repo') ? '' : v)) });
    expect(saved.status).toBe(303);
    expect(saved.location).toContain('?done=scopes');
    const catalog = (await t.call('GET', V1)).body.scopes;
    expect(catalog).toEqual([
      { name: 'read:users', description: 'Read users' },
      { name: 'write:users', description: 'Change users', implies: ['read:users'] },
      { name: 'read:billing', description: 'Read invoices and receipts', implies: ['read:users'] },
      { name: 'repo', description: 'Full repository access' },
      { name: 'admin', description: 'Everything', implies: ['write:users', 'read:billing'] },
    ]);
  });

  it('refuses a catalog that drops a held scope with /v1’s warning, changing nothing, and applies it with the force step', async () => {
    const key = await t.call('POST', '/v1/tenants/acme/keys', { api: API, scopes: ['read:billing', 'read:users'] });
    expectStatus(key, 201);
    const rows = editorRows((await admin.get(PAGE)).html);
    const index = rows.scopeName.indexOf('read:billing');
    let warning = '';
    await unchanged(async () => {
      const refused = await admin.post(`${PAGE}/scopes`, { csrf: csrf.admin, ...rows, remove: String(index), scopeImplies: rows.scopeImplies.map((v) => v.replace('read:billing', '').replace(',', '')) });
      expect(refused.status).toBe(409);
      warning = refused.html;
    });
    expect(warning).toContain('SCOPES_IN_USE');
    expect(warning).toContain('read:billing');
    expect(warning).toContain('the new catalog drops scopes that are still held');
    expect(warning).toContain('1 key, 0 JWT API keys and 0 clients');
    // The editor comes back as sent: the removed row is gone.
    expect(editorRows(warning).scopeName).not.toContain('read:billing');
    const force = hiddenFields(warning, `${PAGE}/scopes`);
    expect(force['force']).toEqual(['true']);
    const applied = await admin.post(`${PAGE}/scopes`, force as Record<string, string[]>);
    expect(applied.status).toBe(303);
    expect(applied.location).toContain('?done=forced');
    expect((await t.call('GET', V1)).body.scopes.map((s: { name: string }) => s.name)).not.toContain('read:billing');
    expect((await t.call('GET', `/v1/tenants/acme/keys/${key.body.id}`)).body.scopes).toEqual(['read:users']);
  });

  it('uploads an OpenAPI document from the textarea, byte for byte, and lists each operation with the scopes it requires', async () => {
    expect((await admin.get(PAGE)).html).toContain('No OpenAPI document yet');
    // The catalog needs read:billing again for the document.
    const rows = editorRows((await admin.get(PAGE)).html);
    const blank = rows.scopeName.indexOf('');
    rows.scopeName[blank] = 'read:billing';
    rows.scopeDescription[blank] = 'Read invoices';
    expect((await admin.post(`${PAGE}/scopes`, { csrf: csrf.admin, ...rows })).status).toBe(303);

    const uploaded = await admin.post(`${PAGE}/openapi`, { csrf: csrf.admin, document: DOCUMENT, format: 'auto' });
    expect(uploaded.status).toBe(303);
    expect(uploaded.location).toContain('?done=uploaded');
    const stored = await t.call('GET', `${V1}/openapi`);
    expect(JSON.stringify(stored.body)).toBe(DOCUMENT);
    const page = (await admin.get(PAGE)).html;
    expect(page).toContain('served under <code>/v2</code>');
    expect(page).toMatch(/<td>GET<\/td><th scope="row"><code>\/v2\/users<\/code><\/th><td>listUsers<\/td><td><code>read:users<\/code><\/td><td class="num">1<\/td>/);
    expect(page).toContain('<td>POST</td><th scope="row"><code>/v2/users</code></th><td>createUser</td><td><code>write:users</code> or <code>repo</code> and <code>read:billing</code></td><td class="num">5</td>');
    expect(page).toContain('<code>/v2/health</code></th><td><span class="muted">unnamed</span></td><td>nothing: <strong>public</strong></td>');
  });

  it('uploads a YAML document as YAML', async () => {
    const api = 'https://yaml.acme.test';
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: api, name: 'YAML', scopes: [{ name: 'read:users', description: 'Read' }] }), 201);
    const path = `/console/tenants/acme/apis/${encodeURIComponent(api)}`;
    const uploaded = await admin.post(`${path}/openapi`, { csrf: csrf.admin, document: YAML_DOCUMENT, format: 'auto' });
    expect(uploaded.status).toBe(303);
    const operations = await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent(api)}/operations`);
    expect(operations.body).toMatchObject({ format: 'yaml', operations: [{ method: 'GET', path: '/people', anyOf: [['read:users']] }] });
  });

  it('shows every reason /v1 gives for a document it refuses, with the document as sent, changing nothing', async () => {
    const broken = JSON.stringify({ openapi: '3.1.0', info: { title: 'x', version: '1' }, paths: { '/a': { get: { operationId: 'getA', 'x-keygate-scopes': ['nope'], responses: { '200': { description: 'ok' } } } } } });
    await unchanged(async () => {
      const refused = await admin.post(`${PAGE}/openapi`, { csrf: csrf.admin, document: broken, format: 'json' });
      expect(refused.status).toBe(400);
      expect(refused.html).toContain('INVALID_OPENAPI');
      expect(refused.html).toContain('GET /a (getA): scope &quot;nope&quot; is not in the API&#39;s scope catalog');
      expect(refused.html).toContain('&quot;x-keygate-scopes&quot;');
    });
  });

  it('refuses to drop a scope the document requires, saying how to go on, with no force offered', async () => {
    const rows = editorRows((await admin.get(PAGE)).html);
    await unchanged(async () => {
      const refused = await admin.post(`${PAGE}/scopes`, { csrf: csrf.admin, ...rows, remove: String(rows.scopeName.indexOf('write:users')), scopeImplies: rows.scopeImplies.map((v) => v.replace('write:users', '').replace(/^,\s*/, '')) });
      expect(refused.status).toBe(409);
      expect(refused.html).toContain('SCOPES_IN_DOCUMENT');
      expect(refused.html).toContain('Upload a document that no longer requires them first');
      expect(refused.html).not.toContain('name="force"');
    });
  });

  it('changes the access-token lifetime and refresh-token settings, and shows /v1’s problem for a bad one', async () => {
    const saved = await admin.post(`${PAGE}/tokens`, { csrf: csrf.admin, accessTokenTtl: '600', refreshEnabled: 'on', idleTtl: '3600', absoluteTtl: '86400', reuseInterval: '5' });
    expect(saved.status).toBe(303);
    expect((await t.call('GET', V1)).body).toMatchObject({ accessTokenTtl: 600, refreshTokens: { enabled: true, idleTtl: 3600, absoluteTtl: 86400, reuseInterval: 5 } });
    await unchanged(async () => {
      const refused = await admin.post(`${PAGE}/tokens`, { csrf: csrf.admin, accessTokenTtl: 'soon', idleTtl: '3600', absoluteTtl: '86400', reuseInterval: '5' });
      expect(refused.status).toBe(400);
      expect(refused.html).toContain('role="alert"');
      expect(refused.html).toContain('value="soon"');
    });
  });

  it('changes the gateway settings, and clears them again', async () => {
    const saved = await admin.post(`${PAGE}/gateway`, {
      csrf: csrf.admin,
      upstream: 'https://backend.acme.test',
      gatewayHosts: 'acme-gw.test\nwww.acme-gw.test\n',
      issuer: ['https://idp.acme.test', ''],
      jwksUri: ['https://idp.acme.test/jwks', ''],
      audience: ['', ''],
      phantomToken: 'on',
      credentialHeader: 'x-api-key',
      credentialQuery: '',
      corsPreflight: 'forward',
    });
    expect(saved.status, saved.html.slice(0, 2000)).toBe(303);
    expect((await t.call('GET', V1)).body).toMatchObject({
      upstream: 'https://backend.acme.test',
      gatewayHosts: ['acme-gw.test', 'www.acme-gw.test'],
      externalIssuers: [{ issuer: 'https://idp.acme.test', jwksUri: 'https://idp.acme.test/jwks', audience: null }],
      phantomToken: true,
      credentialHeader: 'x-api-key',
      credentialQuery: null,
      passthrough: false,
      corsPreflight: 'forward',
    });
    const page = (await admin.get(PAGE)).html;
    expect(page).toContain('value="https://backend.acme.test"');
    expect(page).toContain('value="https://idp.acme.test/jwks"');
    const cleared = await admin.post(`${PAGE}/gateway`, { csrf: csrf.admin, upstream: '', gatewayHosts: '', issuer: '', jwksUri: '', audience: '', credentialHeader: '', credentialQuery: '', corsPreflight: 'refuse' });
    expect(cleared.status).toBe(303);
    expect((await t.call('GET', V1)).body).toMatchObject({ upstream: null, gatewayHosts: [], externalIssuers: [], phantomToken: false, credentialHeader: null, corsPreflight: 'refuse' });
  });

  it('deletes an API only when its identifier is typed, and one in use only through the force step', async () => {
    const api = 'https://doomed.acme.test';
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: api, name: 'Doomed', scopes: [{ name: 'a', description: 'A' }] }), 201);
    const key = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['a'] });
    const path = `/console/tenants/acme/apis/${encodeURIComponent(api)}`;
    let inUse = '';
    await unchanged(async () => {
      const mistyped = await admin.post(`${path}/delete`, { csrf: csrf.admin, confirm: 'doomed' });
      expect(mistyped.status).toBe(400);
      expect(mistyped.html).toContain('to confirm the deletion');
      const refused = await admin.post(`${path}/delete`, { csrf: csrf.admin, confirm: api });
      expect(refused.status).toBe(409);
      inUse = refused.html;
    });
    expect(inUse).toContain('API_IN_USE');
    expect(inUse).toContain('1 key, 0 JWT API keys and 0 clients use it');
    const forced = await admin.post(`${path}/delete`, { ...hiddenFields(inUse, `${path}/delete`), confirm: api });
    expect(forced.status).toBe(303);
    expect(forced.location).toMatch(/\/console\/tenants\/acme\/apis\?done=deleted$/);
    expect((await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`)).status).toBe(404);
    expect((await t.call('GET', `/v1/tenants/acme/keys/${key.body.id}`)).status).toBe(404);
  });

  it('offers the file picker only as an enhancement: a hidden field, a script under /console/assets, the textarea always', async () => {
    const page = (await admin.get(PAGE)).html;
    expect(page).toContain('<script type="module" src="/console/assets/openapi-file.js"></script>');
    expect(page).toContain('<div class="field" hidden><label for="openapi-file">');
    expect(page).toContain('<textarea id="openapi-document" name="document"');
    const script = await fetch(`${t.url}/console/assets/openapi-file.js`);
    expect(script.status).toBe(200);
    expect((await script.text()).length).toBeLessThan(10_000);
  });

  it('shows an operator with apis:read the API and its operations, no form, and refuses their forged posts', async () => {
    const page = await reader.get(PAGE);
    expect(page.status).toBe(200);
    expect(page.html).toContain('<code>write:users</code>');
    expect(page.html).toContain('createUser');
    expect(page.html).not.toContain('method="post" action="/console/tenants/acme/apis');
    expect((await reader.get('/console/tenants/acme/apis')).html).not.toContain('Create an API');
    await unchanged(async () => {
      expect((await reader.post('/console/tenants/acme/apis', { csrf: csrf.reader, identifier: 'https://x.test', name: 'X', scopes: '' })).status).toBe(403);
      expect((await reader.post(`${PAGE}/name`, { csrf: csrf.reader, name: 'Owned' })).status).toBe(403);
      expect((await reader.post(`${PAGE}/scopes`, { csrf: csrf.reader, scopeName: 'x', scopeDescription: 'x', scopeImplies: '' })).status).toBe(403);
      expect((await reader.post(`${PAGE}/openapi`, { csrf: csrf.reader, document: DOCUMENT, format: 'json' })).status).toBe(403);
      expect((await reader.post(`${PAGE}/delete`, { csrf: csrf.reader, confirm: API })).status).toBe(403);
    });
  });

  it('shows an operator limited to another tenant nothing of this one: 404 on pages and forged posts, nothing changed', async () => {
    expect((await limited.get('/console/tenants/acme/apis')).status).toBe(404);
    expect((await limited.get(PAGE)).status).toBe(404);
    expect((await limited.get('/console/tenants/beta/apis')).status).toBe(200);
    await unchanged(async () => {
      expect((await limited.post('/console/tenants/acme/apis', { csrf: csrf.limited, identifier: 'https://x.test', name: 'X', scopes: '' })).status).toBe(404);
      expect((await limited.post(`${PAGE}/name`, { csrf: csrf.limited, name: 'Owned' })).status).toBe(404);
      expect((await limited.post(`${PAGE}/scopes`, { csrf: csrf.limited, scopeName: 'x', scopeDescription: 'x', scopeImplies: '' })).status).toBe(404);
      expect((await limited.post(`${PAGE}/gateway`, { csrf: csrf.limited, upstream: 'https://evil.test' })).status).toBe(404);
      expect((await limited.post(`${PAGE}/openapi`, { csrf: csrf.limited, document: DOCUMENT, format: 'json' })).status).toBe(404);
      expect((await limited.post(`${PAGE}/delete`, { csrf: csrf.limited, confirm: API })).status).toBe(404);
    });
  });

  it('renames through PATCH /v1 and refuses a post without the form’s CSRF token', async () => {
    expect((await admin.post(`${PAGE}/name`, { csrf: csrf.admin, name: 'Acme API v2' })).status).toBe(303);
    expect((await t.call('GET', V1)).body.name).toBe('Acme API v2');
    await unchanged(async () => {
      expect((await admin.post(`${PAGE}/name`, { name: 'No token' })).status).toBe(403);
    });
  });
});
