import { mkdirSync } from 'node:fs';
import { API, launchChromium, signIn, startPortalWorld } from '../test/e2e/portal-harness.js';

/**
 * Regenerates the developer portal's screenshots in docs/images/ (README, docs/portal.md): the
 * e2e harness's world on SQLite, a member in Debian's Chromium creating a key, some traffic
 * through the gateway, then each page. Run: `npx tsx scripts/portal-screenshots.ts`.
 */
const out = new URL('../docs/images/', import.meta.url);
mkdirSync(out, { recursive: true });
const world = await startPortalWorld('sqlite');
const browser = await launchChromium();
try {
  const older = await world.t.call('POST', `/v1/tenants/acme/consumers/${world.consumerId}/keys`, {
    api: API,
    member: world.memberId,
    name: 'billing job',
    scopes: ['read:users', 'write:users'],
    expiresAt: new Date(Date.now() + 9 * 86_400_000).toISOString(),
    credits: { remaining: 60, refill: { amount: 1000, interval: 'monthly' } },
  });
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: new URL(`portal-${name}.png`, out).pathname, fullPage: true });

  await signIn(page, world, '/t/acme/portal/keys');
  const form = page.locator('form', { has: page.getByRole('heading', { name: 'New key for Acme API' }) });
  await form.getByLabel('Name').fill('CI');
  await form.getByRole('checkbox', { name: /read:users/ }).check();
  await form.getByRole('button', { name: 'Create key' }).click();
  await page.getByText("Copy this key now. You won't see it again").waitFor();
  await shot('new-key');
  const secret = await page.getByLabel(/^Secret key/).inputValue();

  for (let i = 0; i < 12; i += 1) await world.gateway('GET', '/users', secret);
  for (let i = 0; i < 3; i += 1) await world.gateway('POST', '/users', secret);
  for (let i = 0; i < 5; i += 1) await world.gateway('POST', '/users', older.body.key);
  await world.t.server.keygate.flush();

  await page.goto(`${world.t.url}/t/acme/portal/keys`);
  await shot('keys');
  await page.goto(`${world.t.url}/t/acme/portal/usage?window=hour`);
  await shot('usage');
  await page.goto(`${world.t.url}/t/acme/portal`);
  await shot('home');

  await page.goto(`${world.t.url}/t/acme/portal/apis/${world.apiId}`);
  const card = page.locator('article', { has: page.getByRole('heading', { name: 'GET /users List users' }) });
  await card.getByText('Get a token and try it').click();
  await card.getByRole('button', { name: 'Get a token for this operation' }).click();
  await card.getByText(/A token for read:users, valid until/).waitFor();
  await card.getByRole('button', { name: 'Try it' }).click();
  await card.getByRole('heading', { name: 'Response: 200 OK' }).waitFor();
  await shot('explorer');
  await card.getByRole('button', { name: 'Inspect this token in the debugger' }).click();
  await page.locator('#verdict').getByText('Valid', { exact: true }).waitFor();
  await shot('debugger');
  console.log('wrote docs/images/portal-{new-key,keys,usage,home,explorer,debugger}.png');
} finally {
  await browser.close();
  await world.close();
}
