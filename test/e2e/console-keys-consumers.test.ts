import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { createOperator } from '../http/console/operator-fixture.js';
import { launchChromium, overflowsSideways, seriousViolations, signInToConsole } from './portal-harness.js';

/**
 * The console's consumer and key pages in Chromium: an operator creates a consumer with a member
 * and a grant, creates a key, copies it with the copy button and verifies it, then revokes it
 * after the page showing what goes with it, and the key answers REVOKED. The secret is never in
 * a URL or in storage; axe finds no serious or critical violation on any page, at desktop width
 * in the light colour scheme and at 375 px in the dark one.
 */
// What a browser does here is the same on every store; both stores run these pages' HTTP tests
// and the console's whole story (console.test.ts), so the browser runs once, on SQLite.
describe.each(['sqlite'] as const)('console consumers and keys in Chromium (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let browser: Browser;
  let alice: string;

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    const user = await t.call('POST', '/v1/tenants/acme/users', { email: 'alice@initech.test', password: 'correct horse battery staple' });
    expectStatus(user, 201);
    alice = user.body.id;
    await createOperator(t, { email: 'admin@ops.test', scopes: ['consumers:write', 'keys:write', 'apis:read', 'users:read'] });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const signIn = (page: Page, path: string): Promise<void> => signInToConsole(page, t.url, 'admin@ops.test', path);

  async function verify(credential: string): Promise<string> {
    const response = await t.call('POST', '/v1/verify', { api, credential, scopes: ['read:users'] });
    expectStatus(response, 200);
    return response.body.code;
  }

  it('creates a consumer with a grant, then a key copied from the page that verifies, and revokes it after seeing what goes', async () => {
    const context = await browser.newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    const page = await context.newPage();
    const visited: string[] = [];
    page.on('request', (request) => visited.push(request.url()));
    await signIn(page, '/console/tenants/acme/consumers');
    await page.getByRole('heading', { name: 'Consumers', level: 1 }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    const create = page.getByRole('form', { name: 'Create a consumer' });
    await create.getByLabel(/^Name/).fill('Initech');
    await create.getByLabel(/^Id/).fill('initech');
    await create.getByLabel(/^Members/).fill(alice);
    await create.getByRole('checkbox', { name: `Grant ${api}` }).check();
    await create.getByRole('checkbox', { name: /^read:users/ }).check();
    await create.getByRole('button', { name: 'Create consumer' }).click();
    await page.getByText('The consumer is created').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    expect((await t.call('GET', '/v1/tenants/acme/consumers/initech')).body).toMatchObject({ members: [alice], grants: [{ api, scopes: ['read:users'] }] });

    await page.goto(`${t.url}/console/tenants/acme/keys/new`);
    await page.getByRole('heading', { name: 'New key for Acme API', level: 1 }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    const form = page.getByRole('form', { name: 'New key' });
    await form.getByLabel(/^Name/).fill('CI');
    await form.getByRole('checkbox', { name: /^read:users/ }).check();
    await form.getByLabel(/^Consumer/).fill('initech');
    await form.getByRole('button', { name: 'Create key' }).click();
    await page.getByText("Copy this key now. You won't see it again").waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    const secret = (await page.evaluate('navigator.clipboard.readText()')) as string;
    expect(secret).toBe(await page.getByLabel(/^Secret key for/).inputValue());
    expect(await verify(secret)).toBe('VALID');

    await page.getByRole('link', { name: 'Go to the key' }).click();
    await page.getByRole('heading', { name: 'CI', level: 1 }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('link', { name: 'Revoke CI…' }).click();
    await page.getByRole('heading', { name: 'Revoke CI?', level: 1 }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Revoke the key' }).click();
    await page.getByText('The key and every sub-key under it are revoked').waitFor();
    expect(await verify(secret)).toBe('REVOKED');

    expect(visited.filter((url) => url.includes(secret.slice(8)))).toEqual([]);
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    await context.close();
  });

  it('fits a 375 px phone without sideways scrolling, and stays accessible there in the dark colour scheme', async () => {
    const corp = await t.call('POST', '/v1/tenants/acme/consumers', { id: 'phone-corp', name: 'Phone Corp', members: [alice], grants: [{ api, scopes: ['read:users', 'write:users'] }] });
    expectStatus(corp, 201);
    const key = await t.call('POST', '/v1/tenants/acme/consumers/phone-corp/keys', { api, member: alice, name: 'Phone key', scopes: ['read:users'] });
    expectStatus(key, 201);
    const sub = await t.call('POST', `/v1/tenants/acme/keys/${key.body.id}/subkeys`, { scopes: ['read:users'], name: 'Phone sub-key' });
    expectStatus(sub, 201);
    const context = await browser.newContext({ viewport: { width: 375, height: 740 }, colorScheme: 'dark' });
    const page = await context.newPage();
    await signIn(page, '/console/tenants/acme/keys');
    for (const path of [
      '/console/tenants/acme/keys',
      '/console/tenants/acme/keys/new',
      `/console/tenants/acme/keys/${key.body.id}`,
      `/console/tenants/acme/keys/${key.body.id}/revoke`,
      '/console/tenants/acme/consumers',
      '/console/tenants/acme/consumers/phone-corp',
    ]) {
      await page.goto(`${t.url}${path}`);
      expect(await overflowsSideways(page), path).toBe(false);
      expect(await seriousViolations(page), path).toEqual([]);
    }
    await context.close();
  });
});
