import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_SESSION_COOKIE } from '../../../src/http/console/cookies.js';
import { BACKENDS } from '../../helpers/backends.js';
import { postForm } from '../../helpers/oauth.js';
import type { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { consoleCsrf, createOperator, signedInOperator } from './operator-fixture.js';

const CLIENTS = '/console/tenants/acme/clients';

/** The value of the read-only field `id` of a console page (the secret, the client id). */
function field(html: string, id: string): string {
  const match = new RegExp(`id="${id}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no field "${id}" in the page`);
  return match[1]!;
}

/** The tenant's token endpoint with client credentials (HTTP Basic): the status and body. */
async function token(t: TestServer, clientId: string, secret: string, form: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
  return postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', ...form }, { authorization: `Basic ${basic}` });
}

describe.each(BACKENDS)('console: OAuth clients (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let admin: Person;
  let reader: Person;
  let limited: Person;
  let csrf: { admin: string; reader: string; limited: string };
  let adminId: string;

  /** A client registered through /v1 with the root key: its id and secret. */
  async function registered(name: string, body: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
    const created = await t.call('POST', '/v1/tenants/acme/clients', { name, grantTypes: ['client_credentials'], scopes: { [api]: ['read:users'] }, ...body });
    expectStatus(created, 201);
    return { id: created.body.clientId, secret: created.body.clientSecret };
  }

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    await seedTenant(t, 'other');
    adminId = await createOperator(t, { email: 'admin@ops.test', scopes: ['clients:write', 'apis:read', 'tokens:write'] });
    await createOperator(t, { email: 'reader@ops.test', scopes: ['clients:read', 'apis:read'] });
    await createOperator(t, { email: 'other@ops.test', scopes: ['clients:write', 'apis:read', 'tokens:write'], tenant: 'other' });
    admin = await signedInOperator(t, 'admin@ops.test');
    reader = await signedInOperator(t, 'reader@ops.test');
    limited = await signedInOperator(t, 'other@ops.test');
    csrf = { admin: await consoleCsrf(admin), reader: await consoleCsrf(reader), limited: await consoleCsrf(limited) };
  });
  afterAll(() => t.close());

  it('registers a client whose secret, shown once in the answer, gets a token at the tenant token endpoint', async () => {
    const page = await admin.get(CLIENTS);
    expect(page.status).toBe(200);
    expect(page.html).toContain(`value="read:users ${api}"`);
    const created = await admin.post(CLIENTS, {
      csrf: csrf.admin,
      name: 'Billing service',
      grantType: 'client_credentials',
      authMethod: 'client_secret_basic',
      allow: [`read:users ${api}`, `read:billing ${api}`],
      redirectUris: '',
    });
    expect(created.status).toBe(200);
    expect(created.location).toBeNull();
    const secret = field(created.html, 'secret');
    const clientId = field(created.html, 'client-id');
    expect(secret).toMatch(/^kgcs_/);
    expect(created.html).toContain('data-copy="secret"');
    expect(created.html).toContain('src="/console/assets/copy.js"');

    await t.server.keygate.flush();
    const audit = await t.call('GET', `/v1/tenants/acme/audit?action=client.create&target=${clientId}`);
    expect(audit.body.items.map((e: { actor: string }) => e.actor)).toEqual([adminId]);
    const stored = await t.call('GET', `/v1/tenants/acme/clients/${clientId}`);
    expect(stored.body).toMatchObject({ name: 'Billing service', grantTypes: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', scopes: { [api]: ['read:users', 'read:billing'] } });

    const issued = await token(t, clientId, secret);
    expect(issued.status).toBe(200);
    expect(issued.body.scope.split(' ').sort()).toEqual(['read:billing', 'read:users']);
    const verified = await t.call('POST', '/v1/verify', { credential: issued.body.access_token, api, scopes: ['read:users'] });
    expect(verified.body.valid).toBe(true);

    const listed = await admin.get(CLIENTS);
    expect(listed.html).toContain('Billing service');
    expect(listed.html).not.toContain(secret);
    expect((await admin.get(`${CLIENTS}/${clientId}`)).html).not.toContain(secret);
  });

  it('sends the secret page uncached, and never puts a secret in a URL', async () => {
    const response = await fetch(`${t.url}/console/assets/copy.js`);
    expect(response.status).toBe(200);
    const created = await admin.post(CLIENTS, { csrf: csrf.admin, name: 'Cache check', grantType: 'client_credentials', authMethod: 'client_secret_post', allow: `read:users ${api}` });
    expect(created.status).toBe(200);
    const secret = field(created.html, 'secret');
    expect([...created.html.matchAll(/(?:href|action|src)="([^"]*)"/g)].map((m) => m[1]).join(' ')).not.toContain(secret);
    const raw = await fetch(`${t.url}${CLIENTS}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${CONSOLE_SESSION_COOKIE}=${admin.cookie(CONSOLE_SESSION_COOKIE)}` },
      body: new URLSearchParams({ csrf: csrf.admin, name: 'Header check', grantType: 'client_credentials', authMethod: 'client_secret_basic' }).toString(),
      redirect: 'manual',
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('cache-control')).toBe('no-store');
  });

  it('refills the form and shows /v1’s problem for bad input, changing nothing', async () => {
    const before = await snapshotState(t);
    const noGrant = await admin.post(CLIENTS, { csrf: csrf.admin, name: 'No grant', authMethod: 'client_secret_basic', allow: `read:users ${api}` });
    expect(noGrant.status).toBe(400);
    expect(noGrant.html).toContain('role="alert"');
    expect(noGrant.html).toContain('value="No grant"');
    const badRedirect = await admin.post(CLIENTS, {
      csrf: csrf.admin,
      name: 'Bad redirect',
      grantType: ['authorization_code', 'refresh_token'],
      authMethod: 'client_secret_basic',
      redirectUris: 'javascript:alert(1)',
      allow: `write:users ${api}`,
    });
    expect(badRedirect.status).toBe(400);
    expect(badRedirect.html).toContain('INVALID_CLIENT_METADATA');
    expect(badRedirect.html).toContain('value="Bad redirect"');
    expect(badRedirect.html).toContain('javascript:alert(1)</textarea>');
    expect(badRedirect.html).toMatch(/value="write:users [^"]*" checked/);
    const badScope = await admin.post(CLIENTS, { csrf: csrf.admin, name: 'Bad scope', grantType: 'client_credentials', authMethod: 'client_secret_basic', allow: `delete:all ${api}` });
    expect(badScope.status).toBe(400);
    const badJwks = await admin.post(CLIENTS, { csrf: csrf.admin, name: 'Bad JWKS', grantType: 'client_credentials', authMethod: 'private_key_jwt', jwks: '{not json' });
    expect(badJwks.status).toBe(400);
    expect(badJwks.html).toContain('not JSON');
    expect(await snapshotState(t)).toBe(before);
  });

  it('lists what /v1 holds, finds clients by name or id, and pages', async () => {
    for (let i = 0; i < 50; i++) await registered(`Bulk ${String(i).padStart(2, '0')}`);
    const special = await registered('Special <script>alert(1)</script> app');
    const first = await admin.get(CLIENTS);
    expect(first.status).toBe(200);
    const next = /href="([^"]*\?cursor=[^"]*)" rel="next"/.exec(first.html)?.[1];
    expect(next).toBeDefined();
    const second = await admin.get(next!.replace(/&amp;/g, '&'));
    expect(second.status).toBe(200);
    const all = (await t.call('GET', '/v1/tenants/acme/clients?limit=100')).body.items as { clientId: string }[];
    for (const { clientId } of all) expect(first.html.includes(clientId) || second.html.includes(clientId)).toBe(true);

    const found = await admin.get(`${CLIENTS}?search=SPECIAL`);
    expect(found.html).toContain(special.id);
    expect(found.html).toContain('Special &lt;script&gt;alert(1)&lt;/script&gt; app');
    expect(found.html).not.toContain('<script>alert(1)');
    expect(found.html).not.toContain('Bulk 01');
    expect((await admin.get(`${CLIENTS}?search=${special.id.slice(-8)}`)).html).toContain(special.id);
    expect((await admin.get(`${CLIENTS}?search=no-such-client`)).html).toContain('No client matches the search.');
  });

  it('lets an operator who cannot read the APIs give allowances as text, one API per line', async () => {
    await createOperator(t, { email: 'blind@ops.test', scopes: ['clients:write'] });
    const blind = await signedInOperator(t, 'blind@ops.test');
    const token = await consoleCsrf(blind);
    const page = await blind.get(CLIENTS);
    expect(page.html).toContain('name="allowances"');
    expect(page.html).not.toContain('name="allow"');
    const created = await blind.post(CLIENTS, { csrf: token, name: 'Typed allowances', grantType: 'client_credentials', authMethod: 'client_secret_basic', allowances: `${api} read:users read:billing\n` });
    expect(created.status).toBe(200);
    const clientId = field(created.html, 'client-id');
    expect((await t.call('GET', `/v1/tenants/acme/clients/${clientId}`)).body.scopes).toEqual({ [api]: ['read:users', 'read:billing'] });
    const detail = await blind.get(`${CLIENTS}/${clientId}`);
    expect(detail.html).toContain(`${api} read:users read:billing</textarea>`);
    const saved = await blind.post(`${CLIENTS}/${clientId}/update`, { csrf: token, name: 'Typed allowances', redirectUris: '', allowances: `${api} read:users` });
    expect(saved.status).toBe(303);
    expect((await t.call('GET', `/v1/tenants/acme/clients/${clientId}`)).body.scopes).toEqual({ [api]: ['read:users'] });
  });

  it('changes redirect URIs and allowances on the client’s page', async () => {
    const { id } = await registered('Photo app', { grantTypes: ['authorization_code'], redirectUris: ['https://photos.test/cb'] });
    const page = await admin.get(`${CLIENTS}/${id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('https://photos.test/cb');
    const saved = await admin.post(`${CLIENTS}/${id}/update`, {
      csrf: csrf.admin,
      name: 'Photo app',
      redirectUris: 'https://photos.test/cb\nhttps://photos.test/cb2',
      allow: [`write:users ${api}`, `read:billing ${api}`],
    });
    expect(saved.status).toBe(303);
    expect(saved.location).toContain(`${CLIENTS}/${id}?done=updated`);
    const stored = (await t.call('GET', `/v1/tenants/acme/clients/${id}`)).body;
    expect(stored.redirectUris).toEqual(['https://photos.test/cb', 'https://photos.test/cb2']);
    expect(stored.scopes).toEqual({ [api]: ['write:users', 'read:billing'] });
    expect((await admin.get(saved.location!)).html).toContain('The client is saved');

    const before = await snapshotState(t);
    const refused = await admin.post(`${CLIENTS}/${id}/update`, { csrf: csrf.admin, name: 'Photo app', redirectUris: 'http://evil.test/cb', allow: `write:users ${api}` });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('http://evil.test/cb</textarea>');
    expect(await snapshotState(t)).toBe(before);
  });

  it('rotates the secret: without grace the old one fails at once, with grace both work', async () => {
    const { id, secret: original } = await registered('Rotating');
    expect((await token(t, id, original)).status).toBe(200);

    const rotated = await admin.post(`${CLIENTS}/${id}/rotate`, { csrf: csrf.admin, grace: '0' });
    expect(rotated.status).toBe(200);
    const second = field(rotated.html, 'secret');
    expect(second).not.toBe(original);
    expect(rotated.html).toContain('The old secret stopped working now.');
    expect((await token(t, id, original)).status).toBe(401);
    expect((await token(t, id, second)).status).toBe(200);

    const graced = await admin.post(`${CLIENTS}/${id}/rotate`, { csrf: csrf.admin, grace: '3600000' });
    expect(graced.status).toBe(200);
    const third = field(graced.html, 'secret');
    expect((await token(t, id, second)).status).toBe(200);
    expect((await token(t, id, third)).status).toBe(200);

    const before = await snapshotState(t);
    expect((await admin.post(`${CLIENTS}/${id}/rotate`, { csrf: csrf.admin, grace: '12345' })).status).toBe(400);
    expect(await snapshotState(t)).toBe(before);
  });

  it('revokes every token the client was issued', async () => {
    const { id, secret } = await registered('Revoked tokens');
    const issued = await token(t, id, secret);
    expect((await t.call('POST', '/v1/verify', { credential: issued.body.access_token, api })).body.valid).toBe(true);
    const revoked = await admin.post(`${CLIENTS}/${id}/revoke-tokens`, { csrf: csrf.admin });
    expect(revoked.status).toBe(303);
    expect(revoked.location).toContain('?done=revoked');
    expect((await t.call('POST', '/v1/verify', { credential: issued.body.access_token, api })).body).toMatchObject({ valid: false, code: 'REVOKED' });
  });

  it('deletes a client only when confirmed', async () => {
    const { id, secret } = await registered('Doomed');
    const before = await snapshotState(t);
    const unconfirmed = await admin.post(`${CLIENTS}/${id}/delete`, { csrf: csrf.admin });
    expect(unconfirmed.status).toBe(400);
    expect(unconfirmed.html).toContain('Tick the box');
    expect(await snapshotState(t)).toBe(before);
    const deleted = await admin.post(`${CLIENTS}/${id}/delete`, { csrf: csrf.admin, confirm: 'yes' });
    expect(deleted.status).toBe(303);
    expect(deleted.location).toContain(`${CLIENTS}?done=deleted`);
    expect((await t.call('GET', `/v1/tenants/acme/clients/${id}`)).status).toBe(404);
    expect((await token(t, id, secret)).status).toBe(401);
    expect((await admin.get(`${CLIENTS}/${id}`)).status).toBe(404);
  });

  it('shows an operator limited to another tenant nothing of this one: 404 on pages and forged posts, nothing changed', async () => {
    const { id } = await registered('Not yours');
    expect((await limited.get('/console/tenants/other/clients')).status).toBe(200);
    for (const path of [CLIENTS, `${CLIENTS}/${id}`]) {
      const page = await limited.get(path);
      expect(page.status).toBe(404);
      expect(page.html).not.toContain('Not yours');
    }
    const before = await snapshotState(t);
    const forged: [string, Record<string, string | string[]>][] = [
      [CLIENTS, { name: 'Planted', grantType: 'client_credentials', authMethod: 'client_secret_basic' }],
      [`${CLIENTS}/${id}/update`, { name: 'Renamed', redirectUris: '' }],
      [`${CLIENTS}/${id}/rotate`, { grace: '0' }],
      [`${CLIENTS}/${id}/revoke-tokens`, {}],
      [`${CLIENTS}/${id}/delete`, { confirm: 'yes' }],
    ];
    for (const [path, fields] of forged) {
      const answer = await limited.post(path, { csrf: csrf.limited, ...fields });
      expect(answer.status, path).toBe(404);
      expect(answer.html).not.toContain('kgcs_');
    }
    expect(await snapshotState(t)).toBe(before);
  });

  it('shows an operator with clients:read no action, and refuses their forged posts changing nothing', async () => {
    const { id } = await registered('Read only');
    const list = await reader.get(`${CLIENTS}?search=read+only`);
    expect(list.status).toBe(200);
    expect(list.html).toContain('Read only');
    expect(list.html).not.toContain('method="post" action="/console/tenants/acme/clients"');
    const page = await reader.get(`${CLIENTS}/${id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain(id);
    for (const verb of ['update', 'rotate', 'revoke-tokens', 'delete']) expect(page.html).not.toContain(`/${verb}"`);

    const before = await snapshotState(t);
    const forged: [string, Record<string, string | string[]>][] = [
      [CLIENTS, { name: 'Planted', grantType: 'client_credentials', authMethod: 'client_secret_basic' }],
      [`${CLIENTS}/${id}/update`, { name: 'Renamed', redirectUris: '' }],
      [`${CLIENTS}/${id}/rotate`, { grace: '0' }],
      [`${CLIENTS}/${id}/revoke-tokens`, {}],
      [`${CLIENTS}/${id}/delete`, { confirm: 'yes' }],
    ];
    for (const [path, fields] of forged) {
      const answer = await reader.post(path, { csrf: csrf.reader, ...fields });
      expect(answer.status, path).toBe(403);
      expect(answer.html).toContain('role="alert"');
      expect(answer.html).not.toContain('kgcs_');
    }
    expect(await snapshotState(t)).toBe(before);
  });

  it('sends a signed-out browser to sign in, and refuses a post without the form’s CSRF token', async () => {
    const anonymous = await fetch(`${t.url}${CLIENTS}`, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toContain('/console/login');
    const before = await snapshotState(t);
    const forged = await admin.post(CLIENTS, { csrf: 'x'.repeat(43), name: 'Cross-site', grantType: 'client_credentials', authMethod: 'client_secret_basic' });
    expect(forged.status).toBe(403);
    expect(await snapshotState(t)).toBe(before);
  });
});

