import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { discoverAs } from '../helpers/oauth.js';
import { Person } from '../helpers/person.js';
import { snapshotAll } from '../helpers/snapshot.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli } from '../cli/run-cli.js';

const CALLBACK = 'http://127.0.0.1:9/callback';
const PASSWORD = 'correct horse battery staple';

/**
 * Invariant 11 (issue 7): a rotated refresh token presented again is a replay, and the family
 * dies with the grant's access tokens (RFC 9700 §4.14.2) — unless the API owner opted into a
 * reuse interval (`refreshTokens.reuseInterval`, seconds, default 0) for clients that refresh
 * concurrently.
 */
describe.each(BACKENDS)('refresh-token reuse (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let apiPath: string;
  let app: client.Configuration;

  let people = 0;

  /**
   * A new person's first tokens: each test has its own grant, so a grant cut off by one test (its
   * mark covers the whole second) cannot touch the next test's tokens.
   */
  async function tokens(): Promise<client.TokenEndpointResponse> {
    const person = { email: `person${++people}@example.com`, password: PASSWORD };
    expectStatus(await t.call('POST', '/v1/tenants/acme/users', person), 201);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(app, { redirect_uri: CALLBACK, scope: 'read:users', resource: api, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const callback = await new Person(t.url).authorize(url.toString(), person);
    return client.authorizationCodeGrant(app, new URL(callback), { pkceCodeVerifier: verifier });
  }
  const verifyCode = async (token: string): Promise<string> => (await t.call('POST', '/v1/verify', { credential: token, api })).body.code;
  const setReuseInterval = async (reuseInterval: number): Promise<void> => expectStatus(await t.call('PATCH', apiPath, { refreshTokens: { reuseInterval } }), 200);

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    apiPath = `/v1/tenants/acme/apis/${encodeURIComponent(api)}`;
    expectStatus(await t.call('PATCH', apiPath, { refreshTokens: { enabled: true } }), 200);
    const registered = await t.call('POST', '/v1/tenants/acme/clients', {
      name: 'Phone app',
      grantTypes: ['authorization_code', 'refresh_token'],
      tokenEndpointAuthMethod: 'none',
      redirectUris: [CALLBACK],
      scopes: { [api]: ['read:users'] },
    });
    expectStatus(registered, 201);
    const issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
    app = await discoverAs(issuer, registered.body.clientId, { redirectUri: CALLBACK });
  });
  afterAll(() => t.close());

  it('defaults to a reuse interval of 0, readable back', async () => {
    expect((await t.call('GET', apiPath)).body.refreshTokens).toMatchObject({ enabled: true, reuseInterval: 0 });
  });

  it('with the default, a reuse at once revokes the family and the access tokens of the grant', async () => {
    const first = await tokens();
    const second = await client.refreshTokenGrant(app, first.refresh_token!);
    await expect(client.refreshTokenGrant(app, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.refreshTokenGrant(app, second.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await verifyCode(second.access_token)).toBe('REVOKED');
    expect(await verifyCode(first.access_token)).toBe('REVOKED');
  });

  it('within a reuse interval of 5 s, a concurrent reuse is refused but the family lives', async () => {
    await setReuseInterval(5);
    try {
      const first = await tokens();
      const second = await client.refreshTokenGrant(app, first.refresh_token!);
      await expect(client.refreshTokenGrant(app, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect(await verifyCode(second.access_token)).toBe('VALID');
      const third = await client.refreshTokenGrant(app, second.refresh_token!);
      expect(await verifyCode(third.access_token)).toBe('VALID');
    } finally {
      await setReuseInterval(0);
    }
  });

  it.each([-1, 61, 1.5, '5'])('refuses a reuse interval of %j (400) and changes nothing', async (reuseInterval) => {
    await t.server.keygate.flush();
    const before = await t.call('GET', apiPath);
    const response = await t.call('PATCH', apiPath, { refreshTokens: { reuseInterval } });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('INVALID_REQUEST');
    expect((await t.call('GET', apiPath)).body).toEqual(before.body);
    const created = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://bad.acme.test', name: 'Bad', scopes: [], refreshTokens: { reuseInterval } });
    expect(created.status).toBe(400);
    expect((await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent('https://bad.acme.test')}`)).status).toBe(404);
    expect(JSON.stringify(await snapshotAll(t.backend))).not.toContain('bad.acme.test');
  });

  it('is set at creation and through the CLI, and shown back', async () => {
    const created = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://reports.acme.test', name: 'Reports', scopes: [], refreshTokens: { enabled: true, reuseInterval: 10 } });
    expectStatus(created, 201);
    expect(created.body.refreshTokens.reuseInterval).toBe(10);
    const env = { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY };
    const updated = await runCli(['api', 'update', '--tenant', 'acme', 'https://reports.acme.test', '--refresh-reuse-interval', '30s'], { env });
    expect(updated.stderr).toBe('');
    expect(updated.stdout).toMatch(/^refreshTokens\s+enabled \(idle 2w, absolute 90d, reuse interval 30s\)$/m);
    expect((await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent('https://reports.acme.test')}`)).body.refreshTokens.reuseInterval).toBe(30);
    const refused = await runCli(['api', 'update', '--tenant', 'acme', 'https://reports.acme.test', '--refresh-reuse-interval', '2m'], { env });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('reuseInterval');
  });
});
