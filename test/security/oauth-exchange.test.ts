import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygateVerifier, type KeygateVerifier } from '../../src/middleware/core/index.js';
import { BACKENDS } from '../helpers/backends.js';
import { discoverAs } from '../helpers/oauth.js';
import { Person } from '../helpers/person.js';
import { snapshotState } from '../helpers/snapshot.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const CALLBACK = 'http://127.0.0.1:9/callback';
const PERSON = { email: 'ada@example.com', password: 'correct horse battery staple' };
const REPORTS_API = 'https://reports.acme.test';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * Invariant 4 (issue 7): a token never carries more authority than was granted for its
 * audience. A person's token for the Acme API (A) may be exchanged only by a client that serves
 * A, for scopes the token holds and the client may have on the target, and the exchanged token
 * dies with its subject token — on verify over HTTP and in-process, introspection and the
 * middleware (which follows the revocation feed offline).
 */
describe.each(BACKENDS)('token exchange cannot widen authority (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let issuer: string;
  let app: client.Configuration;
  let appId: string;
  /** A resource server of API A that calls the reports API (B) for the person. */
  let service: { config: client.Configuration; id: string };
  /** Exchange-capable, but serves only B: it never legitimately receives a token for A. */
  let outsider: { config: client.Configuration; id: string };
  let middleware: KeygateVerifier;

  async function confidentialClient(body: Record<string, unknown>): Promise<{ config: client.Configuration; id: string }> {
    const created = await t.call('POST', '/v1/tenants/acme/clients', { grantTypes: [TOKEN_EXCHANGE], ...body });
    expectStatus(created, 201);
    return { config: await discoverAs(issuer, created.body.clientId, { secret: created.body.clientSecret }), id: created.body.clientId };
  }

  /** A person's token for API A through the code flow (it carries their grant's `gid`). */
  async function personToken(scope = 'read:users write:users'): Promise<string> {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(app, { redirect_uri: CALLBACK, scope, resource: api, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const callback = await new Person(t.url).authorize(url.toString(), PERSON);
    return (await client.authorizationCodeGrant(app, new URL(callback), { pkceCodeVerifier: verifier })).access_token;
  }

  const exchange = (who: { config: client.Configuration }, subject: string, params: Record<string, string> = {}) =>
    client.genericGrantRequest(who.config, TOKEN_EXCHANGE, { subject_token: subject, subject_token_type: ACCESS_TOKEN_TYPE, resource: REPORTS_API, ...params });
  const verifyCode = async (token: string): Promise<string> => (await t.call('POST', '/v1/verify', { credential: token, api: REPORTS_API })).body.code;
  const inProcessCode = async (token: string): Promise<string> => (await t.server.keygate.verify({ credential: token, api: REPORTS_API })).code;
  const introspect = async (token: string): Promise<client.IntrospectionResponse> => client.tokenIntrospection(service.config, token);
  // The middleware polls the revocation feed with the root key: its usage counter moves on its own.
  const snapshot = (): Promise<string> => snapshotState(t);

  /** Polls until the middleware, following the feed, refuses the token (or gives up after 3 s). */
  async function middlewareRefuses(token: string): Promise<boolean> {
    const started = Date.now();
    for (;;) {
      const outcome = await middleware.verify(token);
      if (!outcome.ok) return true;
      if (Date.now() - started > 3000) return false;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
    expectStatus(
      await t.call('POST', '/v1/tenants/acme/apis', {
        identifier: REPORTS_API,
        name: 'Reports',
        scopes: [
          { name: 'read:users', description: 'Users in reports' },
          { name: 'read:billing', description: 'Invoices in reports' },
          { name: 'admin:reports', description: 'Everything' },
        ],
      }),
      201,
    );
    expectStatus(await t.call('POST', '/v1/tenants/acme/users', { ...PERSON, name: 'Ada' }), 201);
    const registered = await t.call('POST', '/v1/tenants/acme/clients', {
      name: 'Photo Printer',
      grantTypes: ['authorization_code'],
      tokenEndpointAuthMethod: 'none',
      redirectUris: [CALLBACK],
      scopes: { [api]: ['read:users', 'write:users'] },
    });
    expectStatus(registered, 201);
    appId = registered.body.clientId;
    app = await discoverAs(issuer, appId, { redirectUri: CALLBACK });
    service = await confidentialClient({ name: 'users-service', scopes: { [api]: ['read:users'], [REPORTS_API]: ['read:users', 'read:billing'] } });
    outsider = await confidentialClient({ name: 'reports-gateway', scopes: { [REPORTS_API]: ['read:users', 'read:billing', 'admin:reports'] } });
    middleware = createKeygateVerifier({ issuer, audience: REPORTS_API, rootKey: ROOT_KEY, revocationPollMs: 50, onWarning: () => {} });
  });
  afterAll(async () => {
    await middleware.close();
    await t.close();
  });

  it("refuses a client that does not serve the subject token's API (invalid_request, RFC 8693 §2.2.2), and issues nothing", async () => {
    const subject = await personToken();
    const before = await snapshot();
    for (const params of [{}, { scope: 'read:users' }, { resource: api }] as Record<string, string>[]) {
      await expect(exchange(outsider, subject, params)).rejects.toMatchObject({ error: params.resource === api ? 'invalid_target' : 'invalid_request' });
    }
    expect(await snapshot()).toBe(before);
  });

  it("narrows the new token to the subject's scopes ∩ the client's allowance on the target", async () => {
    const subject = await personToken('read:users');
    const exchanged = await exchange(service, subject);
    expect(exchanged.scope).toBe('read:users');
    expect(decodeJwt(exchanged.access_token)).toMatchObject({ aud: REPORTS_API, scope: 'read:users', act: { sub: service.id }, client_id: service.id });
    // Allowed for the client on the target, but not held by the subject token.
    await expect(exchange(service, subject, { scope: 'read:billing' })).rejects.toMatchObject({ error: 'invalid_scope' });
    // Held by the subject token (write implies read on A) but outside the allowance on the target.
    await expect(exchange(service, await personToken('write:users'), { scope: 'write:users' })).rejects.toMatchObject({ error: 'invalid_scope' });
  });

  it('gives the new token no longer a life than its subject token', async () => {
    const subject = await personToken();
    const exchanged = decodeJwt((await exchange(service, subject)).access_token);
    expect(exchanged.exp).toBeLessThanOrEqual(decodeJwt(subject).exp!);
  });

  describe('an exchanged token dies with its subject', () => {
    async function exchangedAndLive(subject: string): Promise<string> {
      const exchanged = (await exchange(service, subject)).access_token;
      expect(await verifyCode(exchanged)).toBe('VALID');
      expect(await inProcessCode(exchanged)).toBe('VALID');
      expect((await introspect(exchanged)).active).toBe(true);
      expect((await middleware.verify(exchanged)).ok).toBe(true);
      return exchanged;
    }
    async function expectRevokedEverywhere(exchanged: string): Promise<void> {
      expect(await verifyCode(exchanged)).toBe('REVOKED');
      expect(await inProcessCode(exchanged)).toBe('REVOKED');
      expect(await introspect(exchanged)).toEqual({ active: false });
      expect(await middlewareRefuses(exchanged)).toBe(true);
    }

    it("revoking the subject token's jti (RFC 7009, by the app it was issued to)", async () => {
      const subject = await personToken();
      const exchanged = await exchangedAndLive(subject);
      const other = await exchangedAndLive(await personToken());
      await client.tokenRevocation(app, subject);
      await expectRevokedEverywhere(exchanged);
      expect(await verifyCode(other)).toBe('VALID');
    });

    it("revoking the subject token's jti through the management API, also for a token exchanged twice", async () => {
      const subject = await personToken();
      const once = await exchangedAndLive(subject);
      // The service exchanges its own token for B again (a second hop keeps the lineage).
      const serviceOnB = await confidentialClient({ name: 'reports-worker', scopes: { [REPORTS_API]: ['read:users'] } });
      const twice = (await exchange(serviceOnB, once)).access_token;
      expect(await verifyCode(twice)).toBe('VALID');
      expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${decodeJwt(subject).jti}/revoke`), 200);
      await expectRevokedEverywhere(once);
      expect(await verifyCode(twice)).toBe('REVOKED');
      expect(await middlewareRefuses(twice)).toBe(true);
    });

    it("revoking the person's grant", async () => {
      const subject = await personToken();
      const exchanged = await exchangedAndLive(subject);
      const userId = decodeJwt(subject).sub!;
      expectStatus(await t.call('DELETE', `/v1/tenants/acme/users/${userId}/grants/${decodeJwt(subject).gid}`), 204);
      await expectRevokedEverywhere(exchanged);
    });

    it("cutting off the subject token's client", async () => {
      const subject = await personToken();
      const exchanged = await exchangedAndLive(subject);
      expectStatus(await t.call('POST', `/v1/tenants/acme/clients/${appId}/revoke-tokens`), 200);
      await expectRevokedEverywhere(exchanged);
    });
  });
});
