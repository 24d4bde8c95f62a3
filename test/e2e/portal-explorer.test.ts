import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { BACKENDS } from '../helpers/backends.js';
import { launchChromium, overflowsSideways, seriousViolations, signIn, startPortalWorld, type PortalWorld } from './portal-harness.js';

/** A browser story of a dozen page loads and two axe runs: room for a machine busy with other suites. */
const STORY_TIMEOUT_MS = 120_000;

/**
 * A member in Chromium: the explorer mints a token for one operation, Try it reaches a real
 * upstream through the gateway with it, and the debugger says that token is valid and the same
 * token with one changed character is not. Nothing lands in a URL or in localStorage; axe finds
 * no serious or critical violation on either page, at desktop width and at 375 px.
 */
describe.each(BACKENDS)('portal explorer and debugger in Chromium (%s)', (backend) => {
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

  it('mints a token for an operation, tries it through the gateway, and debugs it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const visited: string[] = [];
    page.on('request', (request) => visited.push(request.url()));
    await signIn(page, world, `/t/acme/portal/apis/${world.apiId}`);
    await page.getByRole('heading', { name: 'Acme API', level: 1 }).waitFor();

    const card = page.locator('article', { has: page.getByRole('heading', { name: 'GET /users List users' }) });
    await card.getByText('Get a token and try it').click();
    await expect(card.getByRole('checkbox', { name: /read:users/ }).isChecked()).resolves.toBe(true);
    await card.getByRole('button', { name: 'Get a token for this operation' }).click();
    await card.getByText(/A token for read:users, valid until/).waitFor();
    const token = await card.getByLabel(/^Token/).inputValue();
    expect(token.split('.')).toHaveLength(3);

    const before = world.upstreamSeen.length;
    await card.getByRole('button', { name: 'Try it' }).press('Enter');
    await card.getByRole('heading', { name: 'Response: 200 OK' }).waitFor();
    expect(await page.evaluate('document.activeElement.textContent'), 'the answer takes the focus').toBe('Response: 200 OK');
    expect(JSON.parse(await card.getByLabel('Response body').innerText())).toEqual({ users: [] });
    expect(world.upstreamSeen.slice(before)).toEqual([{ method: 'GET', url: '/users' }]);
    expect(await seriousViolations(page)).toEqual([]);

    await card.getByRole('button', { name: 'Inspect this token in the debugger' }).click();
    await page.getByRole('heading', { name: 'Token debugger' }).waitFor();
    await page.locator('#verdict').getByText('Valid', { exact: true }).waitFor();
    expect(await page.locator('#jwt-claims').innerText()).toContain(`"sub": "${world.consumerId}"`);
    expect(await page.locator('#jwt-expiry').innerText()).toMatch(/^Expires in \d+ minutes/);
    expect(await seriousViolations(page)).toEqual([]);

    const changed = `${token.slice(0, token.lastIndexOf('.') + 10)}${token[token.lastIndexOf('.') + 10] === 'A' ? 'B' : 'A'}${token.slice(token.lastIndexOf('.') + 11)}`;
    await page.getByLabel('Token').fill('');
    expect(await page.locator('#jwt-claims').innerText()).toBe('');
    const requestsBefore = visited.length;
    await page.getByLabel('Token').fill(changed);
    expect(await page.locator('#jwt-claims').innerText()).toContain(`"sub": "${world.consumerId}"`);
    expect(visited.length, 'decoded in the browser, nothing sent').toBe(requestsBefore);
    await page.getByRole('button', { name: 'Decode and verify' }).click();
    await page.locator('#verdict').getByText('Not valid', { exact: true }).waitFor();
    expect(await page.locator('#verdict').innerText()).toContain('Signature\ninvalid');

    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Decode and verify' }).click();
    await page.locator('#verdict').getByText('Valid', { exact: true }).waitFor();

    expect(visited.filter((url) => url.includes(token.split('.')[2]!) || url.includes(changed.split('.')[2]!))).toEqual([]);
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
    await context.close();
  }, STORY_TIMEOUT_MS);

  it('fits a 375 px phone without sideways scrolling, and stays accessible there', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 740 } });
    const page = await context.newPage();
    await signIn(page, world, '/t/acme/portal/debugger');
    for (const path of [`/t/acme/portal/apis/${world.apiId}`, '/t/acme/portal/debugger']) {
      await page.goto(`${world.t.url}${path}`);
      for (const summary of await page.getByText('Get a token and try it').all()) await summary.click();
      expect(await overflowsSideways(page), path).toBe(false);
      expect(await seriousViolations(page), path).toEqual([]);
    }
    await context.close();
  }, STORY_TIMEOUT_MS);
});
