import { existsSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { BackendName } from '../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { OPERATOR_PASSWORD } from '../http/console/operator-fixture.js';
import { PASSWORD, createConsumer, createUser } from '../http/portal/member-fixture.js';

/** Debian's Chromium: the only browser these tests drive (never a downloaded one). */
export const CHROMIUM = '/usr/bin/chromium';

/** The consumer's one member. */
export const MEMBER = { email: 'alice@corp.test', password: PASSWORD };

/** The API's identifier; the gateway reaches it by this identifier's host. */
export const API = 'https://api.acme.test';

/** The API's OpenAPI document: reading users needs read:users, creating one write:users. */
export const DOCUMENT = {
  openapi: '3.1.0',
  info: { title: 'Acme API', version: '1' },
  components: { securitySchemes: { keygate: { type: 'http', scheme: 'bearer' } } },
  security: [{ keygate: ['read:users'] }],
  paths: {
    '/users': {
      get: { operationId: 'listUsers', summary: 'List users', responses: { '200': { description: 'the users' } } },
      post: { operationId: 'createUser', summary: 'Create a user', security: [{ keygate: ['write:users'] }], responses: { '201': { description: 'created' } } },
    },
  },
};

/** Everything a portal story needs: Keygate with its gateway, an upstream, the API, a consumer granted `read:users write:users` with one member. */
export interface PortalWorld {
  t: TestServer;
  /** The upstream's requests, in order. */
  upstreamSeen: { method: string; url: string }[];
  apiId: string;
  consumerId: string;
  memberId: string;
  /** A request through the gateway to the API with `credential` as a bearer token; its status. */
  gateway(method: string, path: string, credential: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts Keygate (with a gateway on an ephemeral GATEWAY_PORT) on `backend` and seeds, as the
 * owner through the management API: an API with a node:http upstream and DOCUMENT, and a
 * consumer granted `read:users write:users` whose one member is MEMBER.
 */
export async function startPortalWorld(backend: BackendName): Promise<PortalWorld> {
  const upstreamSeen: { method: string; url: string }[] = [];
  const upstream: Server = createServer((request, response) => {
    upstreamSeen.push({ method: request.method!, url: request.url! });
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{"users":[]}'));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const t = await startTestServer(backend, { gatewayPort: 0 });
  await seedTenant(t);
  const updated = await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(API)}`, { upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` });
  expectStatus(updated, 200);
  expectStatus(await t.call('PUT', `/v1/tenants/acme/apis/${encodeURIComponent(API)}/openapi`, DOCUMENT), 200);
  const memberId = await createUser(t, MEMBER.email);
  const consumer = await createConsumer(t, { name: 'Initech', members: [memberId], grants: [{ api: API, scopes: ['read:users', 'write:users'] }] });
  const gatewayUrl = new URL(t.server.gatewayUrl!);
  return {
    t,
    upstreamSeen,
    apiId: updated.body.id,
    consumerId: consumer.id,
    memberId,
    gateway: (method, path, credential) =>
      new Promise((resolve, reject) => {
        // node:http, since fetch may not set Host: the gateway picks the API by it.
        const call = httpRequest({ host: gatewayUrl.hostname, port: gatewayUrl.port, method, path, headers: { host: new URL(API).host, authorization: `Bearer ${credential}` } }, (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode!));
        });
        call.on('error', reject);
        call.end();
      }),
    async close() {
      await t.close();
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    },
  };
}

/** Debian's Chromium, headless, with nothing that phones home. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Opens `path` on the tenant, signs in as MEMBER on the sign-in page it leads to, and waits to be back. */
export async function signIn(page: Page, world: PortalWorld, path: string): Promise<void> {
  await page.goto(`${world.t.url}${path}`);
  await page.getByLabel('Email').fill(MEMBER.email);
  await page.getByLabel('Password').fill(MEMBER.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${world.t.url}${path}`);
}

/** Opens the console's `path`, signs in as the operator on the sign-in page it leads to, and waits to be back. */
export async function signInToConsole(page: Page, origin: string, email: string, path = '/console'): Promise<void> {
  await page.goto(`${origin}${path}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(OPERATOR_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${origin}${path}`);
}

/** The serious and critical axe-core violations of the page as it is now, by rule and target. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`));
}

/** Whether anything makes the page wider than its viewport (a 375 px phone scrolling sideways). */
export async function overflowsSideways(page: Page): Promise<boolean> {
  return (await page.evaluate('document.documentElement.scrollWidth > window.innerWidth')) as boolean;
}
