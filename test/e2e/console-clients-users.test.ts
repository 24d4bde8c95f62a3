import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postForm } from '../helpers/oauth.js';
import { seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { createOperator } from '../http/console/operator-fixture.js';
import { launchChromium, overflowsSideways, seriousViolations, signInToConsole } from './portal-harness.js';

/**
 * The console's client and user pages in Chromium: an operator registers a client, copies its
 * secret with the copy button and gets a token with it; rotates it; creates a user and disables
 * them. The secret is never in a URL or in storage; axe finds no serious or critical violation on
 * any page, at desktop width in the light colour scheme and at 375 px in the dark one.
 */
// What a browser does here is the same on every store; both stores run these pages' HTTP tests
// and the console's whole story (console.test.ts), so the browser runs once, on SQLite.
describe.each(['sqlite'] as const)('console clients and users in Chromium (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let browser: Browser;

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    await createOperator(t, { email: 'admin@ops.test', scopes: ['clients:write', 'apis:read', 'tokens:write', 'users:write'] });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const signIn = (page: Page, path: string): Promise<void> => signInToConsole(page, t.url, 'admin@ops.test', path);

  async function token(clientId: string, secret: string): Promise<number> {
    const basic = Buffer.from(`${clientId}:${secret}`).toString('base64');
    return (await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials' }, { authorization: `Basic ${basic}` })).status;
  }

  it('registers a client, copies its secret from the page, gets a token with it, and rotates it', async () => {
    const context = await browser.newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    const page = await context.newPage();
    const visited: string[] = [];
    page.on('request', (request) => visited.push(request.url()));
    await signIn(page, '/console/tenants/acme/clients');
    await page.getByRole('heading', { name: 'Clients', level: 1 }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    const form = page.getByRole('form', { name: 'Register a client' });
    await form.getByLabel(/^Name/).fill('Billing service');
    await form.getByRole('checkbox', { name: /^read:users/ }).check();
    await form.getByRole('button', { name: 'Register client' }).click();
    await page.getByText("Copy the secret now. You won't see it again").waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Copy secret' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    const secret = (await page.evaluate('navigator.clipboard.readText()')) as string;
    expect(secret).toBe(await page.getByLabel('Client secret').inputValue());
    const clientId = await page.getByLabel('Client id').inputValue();
    expect(await token(clientId, secret)).toBe(200);
    expect((await t.call('GET', `/v1/tenants/acme/clients/${clientId}`)).body.scopes).toEqual({ [api]: ['read:users'] });

    await page.getByRole('link', { name: 'Go to Billing service' }).click();
    await page.getByRole('heading', { name: 'Billing service', level: 1 }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel('The old secret keeps working for').selectOption({ label: 'none: the old secret stops now' });
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByText('The old secret stopped working now.').waitFor();
    const rotated = await page.getByLabel('Client secret').inputValue();
    expect(await token(clientId, secret)).toBe(401);
    expect(await token(clientId, rotated)).toBe(200);

    for (const value of [secret, rotated]) expect(visited.filter((url) => url.includes(value.slice(5)))).toEqual([]);
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    await context.close();
  });

  it('creates a user and disables them', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, '/console/tenants/acme/users');
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    const form = page.getByRole('form', { name: 'Create a user' });
    await form.getByLabel('Email').fill('ada@acme.test');
    await form.getByLabel(/^Initial password/).fill('correct horse battery staple');
    await form.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('The user is created').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Disable user' }).click();
    await page.getByText('The user is disabled').waitFor();
    const users = (await t.call('GET', '/v1/tenants/acme/users?search=ada@acme.test')).body.items;
    expect(users).toMatchObject([{ email: 'ada@acme.test', disabled: true }]);
    await context.close();
  });

  it('fits a 375 px phone without sideways scrolling, and stays accessible there in the dark colour scheme', async () => {
    const client = (await t.call('POST', '/v1/tenants/acme/clients', { name: 'Phone check', grantTypes: ['authorization_code'], redirectUris: ['https://app.test/cb'], scopes: { [api]: ['read:users'] } })).body;
    const user = (await t.call('POST', '/v1/tenants/acme/users', { email: 'phone@acme.test', password: 'correct horse battery staple' })).body;
    const context = await browser.newContext({ viewport: { width: 375, height: 740 }, colorScheme: 'dark' });
    const page = await context.newPage();
    await signIn(page, '/console/tenants/acme/clients');
    for (const path of ['/console/tenants/acme/clients', `/console/tenants/acme/clients/${client.clientId}`, '/console/tenants/acme/users', `/console/tenants/acme/users/${user.id}`]) {
      await page.goto(`${t.url}${path}`);
      expect(await overflowsSideways(page), path).toBe(false);
      expect(await seriousViolations(page), path).toEqual([]);
    }
    await context.close();
  });
});
