import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { API, launchChromium, overflowsSideways, seriousViolations, signIn, startPortalWorld, type PortalWorld } from './portal-harness.js';

/**
 * A consumer's member in Chromium: creates a key with only read:users, copies it from the page,
 * gets 200 on a read and 403 on a write through the gateway, cannot tick (nor forge) a scope
 * outside the grant, revokes the key and is refused next, and sees those requests in the usage
 * chart. The secret is never in a URL or in storage; axe finds no serious or critical violation
 * on any page, at desktop width in the light colour scheme and at 375 px in the dark one.
 */
describe.each(BACKENDS)('portal keys in Chromium (%s)', (backend) => {
  let world: PortalWorld;
  let browser: Browser;

  beforeAll(async () => {
    world = await startPortalWorld(backend);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  it('creates, copies, uses, revokes a key and sees its usage', async () => {
    const context = await browser.newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: world.t.url });
    const page = await context.newPage();
    const visited: string[] = [];
    page.on('request', (request) => visited.push(request.url()));
    await signIn(page, world, '/t/acme/portal/keys');
    await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    const form = page.locator('form', { has: page.getByRole('heading', { name: 'New key for Acme API' }) });
    const offered = await form.getByRole('checkbox').evaluateAll((boxes) => boxes.map((box) => (box as unknown as { value: string }).value));
    expect(offered).toEqual(['read:users', 'write:users']);
    await form.getByLabel('Name').fill('CI');
    await form.getByRole('checkbox', { name: /read:users/ }).check();
    await form.getByRole('button', { name: 'Create key' }).click();
    await page.getByText("Copy this key now. You won't see it again").waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole('button', { name: 'Copy key' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    const secret = (await page.evaluate('navigator.clipboard.readText()')) as string;
    expect(secret).toBe(await page.getByLabel(/^Secret key/).inputValue());

    expect(await world.gateway('GET', '/users', secret)).toBe(200);
    expect(await world.gateway('POST', '/users', secret)).toBe(403);
    expect(world.upstreamSeen).toEqual([{ method: 'GET', url: '/users' }]);

    // A forged form: a checkbox turned into read:billing, which the grant does not hold.
    await page.goto(`${world.t.url}/t/acme/portal/keys`);
    await page.evaluate(`document.querySelector('input[name="scope"][value="write:users"]').value = 'read:billing'`);
    await form.getByRole('checkbox', { name: /write:users/ }).check();
    await form.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('alert').getByText('“read:billing” is not within what the key is created under').waitFor();
    expect(await page.locator('#secret').count()).toBe(0);

    await page.goto(`${world.t.url}/t/acme/portal/keys`);
    await page.getByRole('button', { name: 'Revoke CI' }).click();
    await page.getByText('The key and its sub-keys are revoked').waitFor();
    expect(await world.gateway('GET', '/users', secret)).toBe(401);

    await world.t.server.keygate.flush();
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByLabel('Window').selectOption('hour');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByRole('heading', { name: 'Last hour, by minute' }).waitFor();
    expect(await page.locator('#chart-summary').textContent()).toBe('3 requests: 1 allowed, 1 missing scope, 1 key revoked.');
    expect(await page.locator('svg.chart rect').count()).toBe(3);
    await page.getByRole('cell', { name: 'missing scope: needs write:users' }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole('link', { name: 'Home' }).click();
    await page.getByRole('heading', { name: 'Initech', level: 1 }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    expect(visited.filter((url) => url.includes(secret.slice(secret.indexOf('_') + 1)))).toEqual([]);
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    await context.close();
  });

  it('fits a 375 px phone without sideways scrolling, and stays accessible there in the dark colour scheme', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 740 }, colorScheme: 'dark' });
    const page = await context.newPage();
    const key = await world.t.call('POST', `/v1/tenants/acme/consumers/${world.consumerId}/keys`, { api: API, member: world.memberId, name: 'phone', scopes: ['read:users'] });
    expect(key.status).toBe(201);
    await signIn(page, world, '/t/acme/portal');
    for (const path of ['/t/acme/portal', '/t/acme/portal/keys', `/t/acme/portal/keys/${key.body.id}/subkey`, '/t/acme/portal/usage']) {
      await page.goto(`${world.t.url}${path}`);
      expect(await overflowsSideways(page), path).toBe(false);
      expect(await seriousViolations(page), path).toEqual([]);
    }
    await context.close();
  });
});
