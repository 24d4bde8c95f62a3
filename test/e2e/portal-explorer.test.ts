import { existsSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { DOCUMENT, echoUpstream } from '../http/portal/explorer-fixture.js';
import { PASSWORD, createConsumer, createUser } from '../http/portal/member-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
/** A browser story of a dozen page loads and two axe runs: room for a machine busy with other suites. */
const STORY_TIMEOUT_MS = 120_000;

/** The serious and critical axe-core violations of the page as it is now, by rule and target. */
async function seriousViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`));
}

/** Whether anything makes the page wider than its viewport (a 375 px phone scrolling sideways). */
async function overflowsSideways(page: Page): Promise<boolean> {
  return (await page.evaluate('document.documentElement.scrollWidth > window.innerWidth')) as boolean;
}

/**
 * A member in Chromium: the explorer mints a token for one operation, Try it reaches a real
 * upstream through the gateway with it, and the debugger says that token is valid and the same
 * token with one changed character is not. Nothing lands in a URL or in localStorage; axe finds
 * no serious or critical violation on either page, at desktop width and at 375 px.
 */
describe.each(BACKENDS)('portal explorer and debugger in Chromium (%s)', (backend) => {
  let t: TestServer;
  let browser: Browser;
  let upstream: Awaited<ReturnType<typeof echoUpstream>>;
  let apiId: string;
  let consumerId: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
    t = await startTestServer(backend, { gatewayPort: 0 });
    upstream = await echoUpstream();
    const { api } = await seedTenant(t);
    const updated = await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { upstream: upstream.url });
    expectStatus(updated, 200);
    apiId = updated.body.id;
    expectStatus(await t.call('PUT', `/v1/tenants/acme/apis/${encodeURIComponent(api)}/openapi`, DOCUMENT), 200);
    const alice = await createUser(t, 'alice@corp.test');
    consumerId = (await createConsumer(t, { name: 'Initech', members: [alice], grants: [{ api, scopes: ['read:users', 'write:users'] }] })).id;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => upstream?.server.close(resolve));
    await t?.close();
  });

  it('mints a token for an operation, tries it through the gateway, and debugs it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const visited: string[] = [];
    page.on('request', (request) => visited.push(request.url()));
    await page.goto(`${t.url}/t/acme/portal/apis/${apiId}`);
    await page.getByLabel('Email').fill('alice@corp.test');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Acme API', level: 1 }).waitFor();

    const card = page.locator('article', { has: page.getByRole('heading', { name: /GET \/users\/\{id\}/ }) });
    await card.getByText('Get a token and try it').click();
    await expect(card.getByRole('checkbox', { name: /read:users/ }).isChecked()).resolves.toBe(true);
    await card.getByRole('button', { name: 'Get a token for this operation' }).click();
    await card.getByText(/A token for read:users, valid until/).waitFor();
    const token = await card.getByLabel(/^Token/).inputValue();
    expect(token.split('.')).toHaveLength(3);

    await card.getByLabel(/^id/).fill('42');
    await card.getByRole('button', { name: 'Try it' }).click();
    await card.getByRole('heading', { name: 'Response: 200 OK' }).waitFor();
    expect(JSON.parse(await card.getByLabel('Response body').innerText())).toEqual({ method: 'GET', path: '/users/42', subject: consumerId, body: '' });
    expect(upstream.seen.at(-1)?.headers['authorization']).toBeUndefined();
    expect(await seriousViolations(page)).toEqual([]);

    await card.getByRole('button', { name: 'Inspect this token in the debugger' }).click();
    await page.getByRole('heading', { name: 'Token debugger' }).waitFor();
    await page.locator('#verdict').getByText('Valid', { exact: true }).waitFor();
    expect(await page.locator('#jwt-claims').innerText()).toContain(`"sub": "${consumerId}"`);
    expect(await page.locator('#jwt-expiry').innerText()).toMatch(/^Expires in 1[45] minutes/);
    expect(await seriousViolations(page)).toEqual([]);

    const changed = `${token.slice(0, token.lastIndexOf('.') + 10)}${token[token.lastIndexOf('.') + 10] === 'A' ? 'B' : 'A'}${token.slice(token.lastIndexOf('.') + 11)}`;
    await page.getByLabel('Token').fill(changed);
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
    await page.goto(`${t.url}/t/acme/portal/debugger`);
    await page.getByLabel('Email').fill('alice@corp.test');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Token debugger' }).waitFor();
    for (const path of [`/t/acme/portal/apis/${apiId}`, '/t/acme/portal/debugger']) {
      await page.goto(`${t.url}${path}`);
      for (const summary of await page.getByText('Get a token and try it').all()) await summary.click();
      expect(await overflowsSideways(page), path).toBe(false);
      expect(await seriousViolations(page), path).toEqual([]);
    }
    await context.close();
  }, STORY_TIMEOUT_MS);
});
