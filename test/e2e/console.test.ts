import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { Person } from '../helpers/person.js';
import { expectStatus, startTestServer, type TestServer } from '../helpers/server.js';
import { snapshotState } from '../helpers/snapshot.js';
import { OPERATOR_PASSWORD, consoleCsrf, createOperator } from '../http/console/operator-fixture.js';
import { DOCUMENT, launchChromium, overflowsSideways, seriousViolations, signInToConsole } from './portal-harness.js';

const API = 'https://api.acme.test';
const OPERATOR = { email: 'ops@keygate.test', password: OPERATOR_PASSWORD };

/**
 * The console's story in Debian's Chromium, on both stores: the root key creates an operator;
 * the operator signs in and, only through the pages, creates a tenant, an API with a scope
 * catalog and an OpenAPI document, a consumer grant, a key (copied from the page) that then
 * verifies, and a client whose secret works at the token endpoint; revokes the key and sees the
 * denial in the audit log and the usage chart. An operator limited to another tenant can neither
 * see nor act on it, by page or by forged post. axe-core checks every page on the way.
 */
describe.each(BACKENDS)('the owner console in a browser (%s)', (backend) => {
  let t: TestServer;
  let upstream: Server;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Serious or critical axe violations of every page visited, by path. */
  const violations: string[] = [];
  const visited = new Set<string>();
  /** The script URLs of every page visited, by path. */
  const scripts = new Map<string, string[]>();
  let keySecret = '';
  let keyId = '';

  beforeAll(async () => {
    upstream = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{"users":[]}'));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    t = await startTestServer(backend, { gatewayPort: 0 });
    browser = await launchChromium();
    context = await browser.newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  /** Checks the page as it is now with axe-core, once per path. */
  /**
   * The pages are the same HTML whatever the store, so axe-core (the slow part) runs on the
   * SQLite pass only; the story itself, and the script and storage checks, run on both.
   */
  const axe = backend === 'sqlite';

  async function audit(): Promise<void> {
    const path = new URL(page.url()).pathname;
    if (visited.has(path)) return;
    visited.add(path);
    scripts.set(path, (await page.evaluate('[...document.scripts].map((s) => s.src)')) as string[]);
    if (axe) for (const violation of await seriousViolations(page)) violations.push(`${path}: ${violation}`);
  }

  async function go(path: string): Promise<void> {
    const response = await page.goto(`${t.url}${path}`);
    expect(response?.status(), path).toBe(200);
    await audit();
  }

  /** Clicks the button and waits for the answer; a page that says it refused fails the test with what it said. */
  async function submit(name: string | RegExp): Promise<void> {
    await page.getByRole('button', { name, exact: typeof name === 'string' }).click();
    await page.waitForLoadState('load');
    const alert = page.locator('.error[role="alert"]');
    if ((await alert.count()) > 0) throw new Error(`${page.url()} refused: ${await alert.first().textContent()}`);
    await audit();
  }

  /** A request through the gateway to the API with `credential` as a bearer token: its status. */
  function gateway(path: string, credential: string): Promise<number> {
    const gatewayUrl = new URL(t.server.gatewayUrl!);
    return new Promise((resolve, reject) => {
      const call = httpRequest({ host: gatewayUrl.hostname, port: gatewayUrl.port, path, headers: { host: new URL(API).host, authorization: `Bearer ${credential}` } }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode!));
      });
      call.on('error', reject);
      call.end();
    });
  }

  it('the root key creates an operator, who signs in', async () => {
    await createOperator(t, {
      email: OPERATOR.email,
      scopes: ['tenants:write', 'apis:write', 'consumers:write', 'keys:write', 'clients:write', 'users:write', 'tokens:write', 'audit:read', 'usage:read', 'keys:verify', 'root_keys:write'],
    });
    await page.goto(`${t.url}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await audit();
    await page.getByLabel('Email').fill(OPERATOR.email);
    await page.getByLabel('Password').fill(OPERATOR.password);
    await submit('Sign in');
    expect(new URL(page.url()).pathname).toBe('/console');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain(OPERATOR.email);
  });

  it('creates a tenant and an API with a scope catalog, its upstream and its OpenAPI document', async () => {
    await go('/console/tenants');
    await page.locator('#new-slug').fill('acme');
    await page.locator('#new-name').fill('Acme Inc.');
    await submit('Create tenant');
    expect(new URL(page.url()).pathname).toBe('/console/tenants/acme');

    await go('/console/tenants/acme/apis');
    await page.locator('#new-identifier').fill(API);
    await page.locator('#new-name').fill('Acme API');
    await page.locator('#new-scopes').fill('read:users Read users\nwrite:users Change users');
    await submit('Create API');
    const apiPath = `/console/tenants/acme/apis/${encodeURIComponent(API)}`;
    expect(new URL(page.url()).pathname).toBe(apiPath);

    // The catalog editor: write:users implies read:users.
    await page.getByLabel('Scopes write:users implies').fill('read:users');
    await submit('Save the catalog');
    expect((await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent(API)}`)).body.scopes).toContainEqual({ name: 'write:users', description: 'Change users', implies: ['read:users'] });

    await page.locator('#gw-upstream').fill(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    await submit('Save gateway settings');
    await page.locator('#openapi-document').fill(JSON.stringify(DOCUMENT, null, 2));
    await submit(/the document/);
    const operations = await page.locator('main').textContent();
    expect(operations).toContain('listUsers');
    expect(operations).toContain('createUser');
    expect(operations).toContain('write:users');
  });

  it('grants a consumer the API, and creates a key, copied from the page, that verifies', async () => {
    await go('/console/tenants/acme/consumers');
    await page.locator('#new-name').fill('Initech');
    await page.getByLabel(`Grant ${API}`).check();
    await page.locator('input[name="g0-scope"][value="read:users"]').check();
    await submit('Create consumer');
    const consumerPath = new URL(page.url()).pathname;
    expect(consumerPath).toMatch(/^\/console\/tenants\/acme\/consumers\/con_/);
    const consumerId = decodeURIComponent(consumerPath.split('/').pop()!);
    const consumer = await t.call('GET', `/v1/tenants/acme/consumers/${consumerId}`);
    expect(consumer.body.grants[0].scopes).toEqual(['read:users']);

    await go(`/console/tenants/acme/keys/new?api=${encodeURIComponent(API)}`);
    await page.locator('#new-name').fill('ci key');
    await page.locator('form[method="post"] input[type="checkbox"][value="read:users"]').check();
    await submit('Create key');
    await page.getByRole('button', { name: /^Copy/ }).click();
    keySecret = (await page.evaluate('navigator.clipboard.readText()')) as string;
    expect(keySecret).toMatch(/^[a-z]+_/);
    expect(await page.locator('#secret').inputValue()).toBe(keySecret);
    expect(page.url()).not.toContain(keySecret);
    const verified = await t.call('POST', '/v1/verify', { api: API, credential: keySecret, scopes: ['read:users'] });
    expect(verified.body).toMatchObject({ valid: true, code: 'VALID', tenant: 'acme' });
    keyId = verified.body.keyId;
    expect(await gateway('/users', keySecret)).toBe(200);

    // The verify tool gives the same answer as /v1/verify.
    await go('/console/debugger');
    await page.locator('#credential').fill(keySecret);
    await page.getByLabel('Tenant and API').selectOption({ label: `acme: Acme API (${API})` });
    await page.locator('#scopes').fill('read:users');
    await submit('Verify');
    expect(await page.locator('main').textContent()).toContain('VALID');
    expect(page.url()).not.toContain(keySecret);
  });

  it('registers a client whose secret, shown once, works at the token endpoint', async () => {
    await go('/console/tenants/acme/clients');
    await page.locator('#new-name').fill('Billing worker');
    await page.locator('input[name="grantType"][value="client_credentials"]').check();
    await page.locator(`input[name="allow"][value="read:users ${API}"]`).check();
    await submit('Register client');
    const clientId = await page.getByLabel('Client id').inputValue();
    const secret = await page.getByLabel('Client secret').inputValue();
    expect(page.url()).not.toContain(secret);
    const token = await fetch(`${t.url}/t/acme/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: API, scope: 'read:users' }).toString(),
    });
    expect(token.status).toBe(200);
    expect(((await token.json()) as { access_token: string }).access_token).toMatch(/^ey/);
  });

  it('revokes the key after seeing its subtree, and sees the denial in the audit log and the usage chart', async () => {
    await go(`/console/tenants/acme/keys/${keyId}`);
    await page.getByRole('link', { name: /Revoke/ }).first().click();
    await page.waitForLoadState('load');
    await audit();
    expect(await page.locator('main').textContent()).toContain('ci key');
    await submit(/^Revoke/);
    expect((await t.call('POST', '/v1/verify', { api: API, credential: keySecret })).body.code).toBe('REVOKED');
    expect(await gateway('/users', keySecret)).toBe(401);
    await t.server.keygate.flush();

    await go('/console/tenants/acme/audit');
    const log = (await page.locator('main').textContent())!;
    expect(log).toContain('key.revoke');
    expect(log).toContain(OPERATOR.email);
    expect(log).toMatch(/REVOKED × \d/);

    await go('/console/tenants/acme/usage');
    const usage = (await page.locator('main').textContent())!;
    expect(await page.locator('svg.chart').count()).toBeGreaterThan(0);
    // The denial reasons table: the revoked key's refused request, with its code and count.
    expect(usage).toMatch(/key revoked\s*REVOKED\s*[1-9]/);
  });

  it('keeps an operator limited to another tenant out, by page and by forged post', async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'beta', name: 'Beta' }), 201);
    await createOperator(t, { email: 'beta-ops@keygate.test', scopes: ['keys:write', 'tenants:read', 'apis:read'], tenant: 'beta' });
    const other = await browser.newContext();
    const limited = await other.newPage();
    await signInToConsole(limited, t.url, 'beta-ops@keygate.test');
    expect(await limited.locator('body').textContent()).not.toContain('acme');
    for (const path of ['/console/tenants/acme', '/console/tenants/acme/keys', `/console/tenants/acme/keys/${keyId}`, '/console/tenants/acme/audit', '/console/tenants/acme/usage']) {
      const response = await limited.goto(`${t.url}${path}`);
      expect(response?.status(), path).toBe(404);
    }
    await other.close();

    // The same operator, forging posts with its own valid session and CSRF token.
    const person = new Person(t.url);
    const login = await person.get('/console/login');
    await person.post('/console/login', { csrf: Person.hidden(login.html, 'csrf'), email: 'beta-ops@keygate.test', password: OPERATOR_PASSWORD });
    const csrf = await consoleCsrf(person);
    const live = await t.call('POST', '/v1/tenants/acme/keys', { api: API, scopes: ['read:users'] });
    const before = await snapshotState(t);
    for (const [path, fields] of [
      [`/console/tenants/acme/keys/${live.body.id}/revoke`, {}],
      ['/console/tenants/acme/keys', { api: API, scope: 'read:users' }],
      ['/console/tenants/acme/consumers', { name: 'Evil' }],
    ] as const) {
      const response = await person.post(path, { csrf, ...fields });
      expect(response.status, path).toBe(404);
    }
    expect(await snapshotState(t)).toBe(before);
  });

  it('visits every other page of the console as the operator', async () => {
    const ids = async (path: string): Promise<string[]> => ((await t.call('GET', path)).body.items as { id: string }[]).map((item) => item.id);
    const user = await t.call('POST', '/v1/tenants/acme/users', { email: 'person@acme.test', password: OPERATOR_PASSWORD });
    const [consumer] = await ids('/v1/tenants/acme/consumers');
    const [client] = ((await t.call('GET', '/v1/tenants/acme/clients')).body.items as { clientId: string }[]).map((c) => c.clientId);
    const [operator] = await ids('/v1/operators');
    for (const path of [
      '/console/operators',
      `/console/operators/${operator}`,
      '/console/tenants/acme/users',
      `/console/tenants/acme/users/${user.body.id}`,
      `/console/tenants/acme/consumers/${consumer}`,
      `/console/tenants/acme/clients/${encodeURIComponent(client!)}`,
      '/console/tenants/acme/signing-keys',
      '/console/tenants/acme/keys/new',
      '/console/tenants/acme/keys',
    ]) {
      await go(path);
    }
  });

  it('has no serious accessibility violation on any page, fits a phone, keeps to its JavaScript budget and stores nothing', async () => {
    expect(visited.size).toBeGreaterThanOrEqual(20);
    expect(violations).toEqual([]);
    const sizes = new Map<string, number>();
    for (const src of new Set([...scripts.values()].flat())) {
      expect(new URL(src).pathname).toMatch(/^\/console\/assets\/[a-z0-9-]+\.js$/);
      sizes.set(src, (await (await fetch(src)).arrayBuffer()).byteLength);
    }
    for (const [path, srcs] of scripts) expect(srcs.reduce((total, src) => total + sizes.get(src)!, 0), path).toBeLessThanOrEqual(10 * 1024);
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    if (!axe) return;
    await page.setViewportSize({ width: 375, height: 800 });
    for (const path of ['/console', '/console/tenants/acme/keys', `/console/tenants/acme/apis/${encodeURIComponent(API)}`, '/console/tenants/acme/usage']) {
      await page.goto(`${t.url}${path}`);
      expect(await overflowsSideways(page), path).toBe(false);
      expect(await seriousViolations(page), path).toEqual([]);
    }
    await page.emulateMedia({ colorScheme: 'dark' });
    for (const path of ['/console', '/console/tenants/acme/audit']) {
      await page.goto(`${t.url}${path}`);
      expect(await seriousViolations(page), `${path} (dark)`).toEqual([]);
    }
  });
});
