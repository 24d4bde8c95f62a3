import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import * as client from 'openid-client';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keygateAuth } from '../../src/middleware/express/index.js';
import { postForm } from '../helpers/oauth.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const PERSON = { email: 'grace@example.com', password: 'a very long passphrase' };

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

/**
 * The whole story, with real parts: openid-client is the app, Chromium (driven by Playwright) is
 * the person, an Express API guarded by the middleware is the resource server.
 */
describe('a person lets an app act for them, then takes it back (Chromium)', () => {
  let t: TestServer;
  let browser: Browser;
  let appServer: Server;
  let apiServer: Server;
  let appUrl: string;
  let apiUrl: string;
  let auth: ReturnType<typeof keygateAuth>;
  let config: client.Configuration;
  const session: { verifier?: string; state?: string; tokens?: client.TokenEndpointResponse } = {};

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
    t = await startTestServer('sqlite');
    const { api } = await seedTenant(t);
    const issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { refreshTokens: { enabled: true } }), 200);
    expectStatus(await t.call('POST', '/v1/tenants/acme/users', PERSON), 201);

    appServer = createServer();
    appUrl = await listen(appServer);
    const registered = await t.call('POST', '/v1/tenants/acme/clients', {
      name: 'Photo Printer',
      grantTypes: ['authorization_code', 'refresh_token'],
      tokenEndpointAuthMethod: 'none',
      redirectUris: [`${appUrl}/callback`],
      scopes: { [api]: ['read:users', 'write:users'] },
    });
    config = await client.discovery(new URL(issuer), registered.body.clientId, { redirect_uris: [`${appUrl}/callback`], token_endpoint_auth_method: 'none' }, client.None(), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    appServer.on('request', (req, res) => {
      void (async () => {
        const url = new URL(req.url!, appUrl);
        if (url.pathname === '/start') {
          session.verifier = client.randomPKCECodeVerifier();
          session.state = client.randomState();
          const target = client.buildAuthorizationUrl(config, {
            redirect_uri: `${appUrl}/callback`,
            scope: 'read:users write:users',
            resource: api,
            code_challenge: await client.calculatePKCECodeChallenge(session.verifier),
            code_challenge_method: 'S256',
            state: session.state,
          });
          res.writeHead(302, { location: target.toString() }).end();
        } else if (url.pathname === '/callback') {
          session.tokens = await client.authorizationCodeGrant(config, url, { pkceCodeVerifier: session.verifier!, expectedState: session.state! });
          res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Connected</h1>');
        } else res.writeHead(404).end();
      })().catch((err) => res.writeHead(500).end(String(err)));
    });

    auth = keygateAuth({ issuer, audience: api, rootKey: ROOT_KEY, revocationPollMs: 100 });
    const resource = express();
    resource.get('/me', auth.requireScopes(['read:users']) as express.RequestHandler, (req, res) => {
      res.json({ subject: (req as unknown as { keygate: { subject: string } }).keygate.subject });
    });
    apiServer = createServer(resource);
    apiUrl = await listen(apiServer);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await auth?.close();
    await new Promise((resolve) => apiServer?.close(resolve));
    await new Promise((resolve) => appServer?.close(resolve));
    await t?.close();
  });

  it('signs in, unticks a scope, consents; the app refreshes and calls the API; revoking the app ends it all', async () => {
    const page = await browser.newPage();
    await page.goto(`${appUrl}/start`);

    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await page.getByLabel('Email').fill(PERSON.email);
    await page.getByLabel('Password').fill(PERSON.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.getByRole('heading', { name: 'Photo Printer wants access' }).waitFor();
    const writeBox = page.getByRole('checkbox', { name: /write:users/ });
    expect(await page.getByText('Change users').isVisible()).toBe(true);
    await writeBox.uncheck();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Connected' }).waitFor();
    await page.screenshot({ path: `${t.backend.config.dataDir}/connected.png` });

    expect(session.tokens!.scope).toBe('read:users');
    const refreshed = await client.refreshTokenGrant(config, session.tokens!.refresh_token!);
    const call = (token: string) => fetch(`${apiUrl}/me`, { headers: { authorization: `Bearer ${token}` } });
    const me = await call(refreshed.access_token);
    expect(me.status).toBe(200);
    expect(((await me.json()) as { subject: string }).subject).toMatch(/^usr_/);

    await page.goto(`${t.url}/t/acme/account/apps`);
    await page.getByRole('heading', { name: 'Connected apps' }).waitFor();
    expect(await page.getByText('Photo Printer').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Revoke access for Photo Printer' }).click();
    await page.getByText('No apps have access.').waitFor();

    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await t.call('POST', '/v1/verify', { credential: refreshed.access_token, api: 'https://api.acme.test' })).body.code).toBe('REVOKED');
    const clientId = config.clientMetadata().client_id;
    const introspected = await postForm(t, '/t/acme/oauth/introspect', { token: refreshed.access_token, client_id: clientId });
    expect(introspected.status === 401 || introspected.body?.active === false).toBe(true);
    let status = 200;
    for (let i = 0; i < 50 && status === 200; i++) {
      status = (await call(refreshed.access_token)).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(401);
  });
});
