import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { createOperator } from '../http/console/operator-fixture.js';
import { launchChromium, overflowsSideways, seriousViolations, signInToConsole } from './portal-harness.js';

const API = 'https://api.acme.test';
const API_PAGE = `/console/tenants/acme/apis/${encodeURIComponent(API)}`;
const EMAIL = 'ops@keygate.test';

const YAML = `openapi: 3.1.0
info: {title: Acme, version: '1'}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
paths:
  /invoices:
    get:
      operationId: listInvoices
      security: [{bearer: ['read:billing']}]
      responses: {'200': {description: ok}}
`;

/**
 * The tenant, API and signing-key pages in Debian's Chromium, for what only a
 * browser shows: the file picker reads a YAML file into the OpenAPI form, the force step of a
 * catalog that drops a held scope is a button that works, an HS256 secret is copied with the copy
 * button, and every page (refusals included) has no serious axe-core violation and fits a phone.
 */
// What a browser does here is the same on every store; both stores run these pages' HTTP tests
// and the console's whole story (console.test.ts), so the browser runs once, on SQLite.
describe.each(['sqlite'] as const)('console tenants, APIs and signing keys in a browser (%s)', (backend) => {
  let t: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const violations: string[] = [];

  beforeAll(async () => {
    t = await startTestServer(backend);
    await seedTenant(t);
    await createOperator(t, { email: EMAIL, scopes: ['tenants:write', 'apis:write', 'tokens:write'] });
    browser = await launchChromium();
    context = await browser.newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    page = await context.newPage();
    await signInToConsole(page, t.url, EMAIL);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function check(): Promise<void> {
    const path = new URL(page.url()).pathname;
    for (const violation of await seriousViolations(page)) violations.push(`${path}: ${violation}`);
  }

  async function click(name: string | RegExp): Promise<void> {
    await page.getByRole('button', { name, exact: typeof name === 'string' }).click();
    await page.waitForLoadState('load');
    await check();
  }

  it('reads a chosen YAML file into the OpenAPI form, picks YAML, and lists the operations it compiled to', async () => {
    await page.goto(`${t.url}${API_PAGE}`);
    await check();
    const picker = page.getByLabel('Read from a file');
    await expect(picker.isVisible()).resolves.toBe(true);
    await picker.setInputFiles({ name: 'openapi.yaml', mimeType: 'application/yaml', buffer: Buffer.from(YAML) });
    await expect(page.locator('#openapi-document').inputValue()).resolves.toBe(YAML);
    await expect(page.locator('#openapi-format').inputValue()).resolves.toBe('yaml');
    await expect(page.locator('#openapi-file-status').textContent()).resolves.toContain('openapi.yaml');
    await click('Upload the document');
    expect(page.url()).toContain('done=uploaded');
    const row = page.getByRole('row', { name: /listInvoices/ });
    await expect(row.textContent()).resolves.toContain('read:billing');
    expect((await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent(API)}/operations`)).body.format).toBe('yaml');
  });

  it('warns when the new catalog drops a held scope, and applies it with the force button', async () => {
    const key = await t.call('POST', '/v1/tenants/acme/keys', { api: API, scopes: ['public_repo', 'read:users'] });
    expectStatus(key, 201);
    await page.goto(`${t.url}${API_PAGE}`);
    await page.getByLabel('Scopes repo implies').fill('');
    await page.getByLabel('Remove public_repo').check();
    await click('Save the catalog');
    await expect(page.getByRole('heading', { name: /still held/ }).isVisible()).resolves.toBe(true);
    await expect(page.locator('[role="alert"]').first().textContent()).resolves.toContain('public_repo');
    expect((await t.call('GET', `/v1/tenants/acme/keys/${key.body.id}`)).body.scopes).toContain('public_repo');
    await click(/Apply the catalog anyway/);
    expect(page.url()).toContain('done=forced');
    expect((await t.call('GET', `/v1/tenants/acme/keys/${key.body.id}`)).body.scopes).toEqual(['read:users']);
  });

  it('rotates the signing key, and copies a new HS256 secret with the copy button', async () => {
    await page.goto(`${t.url}/console/tenants/acme/signing-keys`);
    await check();
    await click('Rotate the signing key');
    expect(page.url()).toContain('done=rotated');
    await click('New HS256 secret');
    const secret = await page.locator('#secret').inputValue();
    expect(secret.length).toBeGreaterThan(20);
    expect(page.url()).not.toContain(secret);
    await click('Copy secret');
    await expect(page.locator('#secret-status').textContent()).resolves.toContain('Copied');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);
  });

  it('shows the tenant’s settings and a refused deletion, with no serious accessibility violation, and fits a phone', async () => {
    await page.goto(`${t.url}/console/tenants`);
    await check();
    await page.goto(`${t.url}/console/tenants/acme`);
    await check();
    await page.getByLabel(/Type the slug/).fill('not-acme');
    await click(/Delete acme/);
    await expect(page.locator('[role="alert"]').textContent()).resolves.toContain('to confirm the deletion');
    await page.goto(`${t.url}/console/tenants/acme/apis`);
    await check();
    expect(violations).toEqual([]);
    await page.setViewportSize({ width: 375, height: 800 });
    for (const path of ['/console/tenants', '/console/tenants/acme', '/console/tenants/acme/apis', API_PAGE, '/console/tenants/acme/signing-keys']) {
      await page.goto(`${t.url}${path}`);
      expect(await overflowsSideways(page), path).toBe(false);
    }
    await page.emulateMedia({ colorScheme: 'dark' });
    for (const path of [API_PAGE, '/console/tenants/acme/signing-keys']) {
      await page.goto(`${t.url}${path}`);
      expect(await seriousViolations(page), `${path} (dark)`).toEqual([]);
    }
  });
});
