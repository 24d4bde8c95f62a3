import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { authorizeApp, postForm, registerPhoneApp } from '../helpers/oauth.js';
import { snapshotAll } from '../helpers/snapshot.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli } from '../cli/run-cli.js';

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
    return authorizeApp(t, app, api, person);
  }
  const verifyCode = async (token: string): Promise<string> => (await t.call('POST', '/v1/verify', { credential: token, api })).body.code;
  const setReuseInterval = async (reuseInterval: number): Promise<void> => expectStatus(await t.call('PATCH', apiPath, { refreshTokens: { reuseInterval } }), 200);

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    apiPath = `/v1/tenants/acme/apis/${encodeURIComponent(api)}`;
    app = (await registerPhoneApp(t, api)).app;
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

/**
 * A detected replay ends the grant, not only a moment of it. It used to revoke the family and
 * mark the grant's access tokens while the grant stayed live, so the app's next authorization
 * reused the grant silently and every token issued in the mark's second was revoked at birth
 * (the flaky "exchanges a token" test of test/e2e/authorization-code.test.ts).
 */
describe.each(BACKENDS)('a refresh-token replay ends the grant (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let app: client.Configuration;
  let clientId: string;
  let userId: string;
  const person = { email: 'ada@example.com', password: PASSWORD };
  /** Keygate's clock stands still: the replay's mark and the next tokens share one second. */
  const now = Date.now();
  const verifyCode = async (token: string): Promise<string> => (await t.call('POST', '/v1/verify', { credential: token, api })).body.code;
  const liveGrants = async (): Promise<{ id: string }[]> => (await t.call('GET', `/v1/tenants/acme/users/${userId}/grants`)).body.items;

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: () => now });
    ({ api } = await seedTenant(t));
    userId = (await t.call('POST', '/v1/tenants/acme/users', person)).body.id;
    ({ app, clientId } = await registerPhoneApp(t, api));
  });
  afterAll(() => t?.close());

  it('revokes the grant with every refresh token, and the next authorization gets a new grant whose tokens are valid', async () => {
    const first = await authorizeApp(t, app, api, person);
    const [grant] = await liveGrants();
    const otherDevice = await authorizeApp(t, app, api, person);
    const second = await client.refreshTokenGrant(app, first.refresh_token!);
    await expect(client.refreshTokenGrant(app, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await verifyCode(second.access_token)).toBe('REVOKED');
    expect(await liveGrants()).toEqual([]);
    expect((await postForm(t, '/t/acme/oauth/token', { grant_type: 'refresh_token', client_id: clientId, refresh_token: otherDevice.refresh_token! })).body.error).toBe('invalid_grant');
    const again = await authorizeApp(t, app, api, person);
    expect(await verifyCode(again.access_token)).toBe('VALID');
    expect((await liveGrants()).map((g) => g.id)).not.toContain(grant!.id);
  });
});
