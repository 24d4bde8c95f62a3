import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request as httpRequest } from 'node:http';
import { startTestServer } from '../test/helpers/server.js';
import { createOperator } from '../test/http/console/operator-fixture.js';
import { DOCUMENT, launchChromium, signInToConsole } from '../test/e2e/portal-harness.js';

/**
 * Regenerates the console's screenshots in docs/images/ (README, docs/console.md): Keygate on
 * SQLite with its gateway, a world seeded through the management API (a tenant, an API with its
 * document and upstream, a consumer, keys with sub-keys, a client, traffic through the gateway),
 * then an operator in Debian's Chromium on each page. Run: `npx tsx scripts/console-screenshots.ts`.
 */
const out = new URL('../docs/images/', import.meta.url);
mkdirSync(out, { recursive: true });
const API = 'https://api.acme.test';
const upstream = createServer((request, response) => {
  request.resume();
  request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{"users":[]}'));
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const t = await startTestServer('sqlite', { gatewayPort: 0 });
const browser = await launchChromium();
try {
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await t.call(method, path, body);
    if (response.status >= 400) throw new Error(`${method} ${path}: ${JSON.stringify(response.body)}`);
    return response.body;
  };
  await call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme Inc.' });
  await call('POST', '/v1/tenants', { slug: 'globex', name: 'Globex' });
  await call('POST', '/v1/tenants/acme/apis', {
    identifier: API,
    name: 'Acme API',
    upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    scopes: [
      { name: 'read:users', description: 'Read user profiles' },
      { name: 'write:users', description: 'Change user profiles', implies: ['read:users'] },
    ],
  });
  await call('PUT', `/v1/tenants/acme/apis/${encodeURIComponent(API)}/openapi`, DOCUMENT);
  const consumer = await call('POST', '/v1/tenants/acme/consumers', { name: 'Initech', grants: [{ api: API, scopes: ['read:users', 'write:users'], ratelimits: [{ name: 'per-minute', limit: 600, duration: 60_000 }] }] });
  const parent = await call('POST', '/v1/tenants/acme/keys', { api: API, name: 'billing service', consumer: consumer.id, scopes: ['read:users', 'write:users'], credits: { remaining: 5000, refill: { amount: 10000, interval: 'monthly' } } });
  await call('POST', `/v1/tenants/acme/keys/${parent.id}/subkeys`, { name: 'billing reports', scopes: ['read:users'] });
  const worker = await call('POST', '/v1/tenants/acme/keys', { api: API, name: 'nightly export', scopes: ['read:users'] });
  await call('POST', '/v1/tenants/acme/clients', { name: 'Billing worker', grantTypes: ['client_credentials'], scopes: { [API]: ['read:users'] } });
  const gatewayUrl = new URL(t.server.gatewayUrl!);
  const gateway = (method: string, path: string, credential: string) =>
    new Promise<void>((resolve, reject) => {
      const request = httpRequest({ host: gatewayUrl.hostname, port: gatewayUrl.port, method, path, headers: { host: new URL(API).host, authorization: `Bearer ${credential}` } }, (response) => {
        response.resume();
        response.on('end', resolve);
      });
      request.on('error', reject);
      request.end();
    });
  for (let i = 0; i < 20; i += 1) await gateway('GET', '/users', parent.key);
  for (let i = 0; i < 6; i += 1) await gateway('POST', '/users', worker.key);

  await createOperator(t, {
    email: 'ada@example.com',
    name: 'Ada',
    scopes: ['tenants:write', 'apis:write', 'consumers:write', 'keys:write', 'clients:write', 'users:write', 'tokens:write', 'audit:read', 'usage:read', 'keys:verify', 'root_keys:write'],
  });
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: new URL(`console-${name}.png`, out).pathname, fullPage: true });
  await signInToConsole(page, t.url, 'ada@example.com');
  // The operator revokes the export key on its page, then the key is refused at the gateway.
  await page.goto(`${t.url}/console/tenants/acme/keys/${worker.id}/revoke`);
  await page.getByRole('button', { name: 'Revoke the key' }).click();
  await page.waitForLoadState('load');
  for (let i = 0; i < 4; i += 1) await gateway('GET', '/users', worker.key);
  await t.server.keygate.flush();

  await page.goto(`${t.url}/console/tenants`);
  await shot('tenants');
  await page.goto(`${t.url}/console/tenants/acme/apis/${encodeURIComponent(API)}`);
  await shot('api');
  await page.goto(`${t.url}/console/tenants/acme/keys/${parent.id}`);
  await shot('key');
  await page.goto(`${t.url}/console/tenants/acme/audit`);
  await shot('audit');
  await page.goto(`${t.url}/console/tenants/acme/usage`);
  await shot('usage');
  await page.goto(`${t.url}/console/debugger`);
  await page.locator('#credential').fill(parent.key);
  await page.getByLabel('Tenant and API').selectOption({ label: `acme: Acme API (${API})` });
  await page.locator('#scopes').fill('write:users');
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForLoadState('load');
  await shot('debugger');
  console.log('wrote docs/images/console-{tenants,api,key,audit,usage,debugger}.png');
} finally {
  await browser.close();
  await t.close();
  upstream.closeAllConnections();
  upstream.close();
}
