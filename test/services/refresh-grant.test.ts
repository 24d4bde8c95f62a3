import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../src/crypto/secrets.js';
import { SYSTEM_ACTOR } from '../../src/services/context.js';
import { BACKENDS } from '../helpers/backends.js';
import { testClock } from '../helpers/clock.js';
import { startTwoInstances, type TwoInstances } from '../helpers/instances.js';
import { authorizeApp, registerPhoneApp } from '../helpers/oauth.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse battery staple';

/**
 * The refresh grant as issue 13 rebuilt it (`DelegationService.refresh`): the API read from the
 * directory cache by id, the grant and its person read by the rotating statement, and the next
 * refresh token written only while the grant is live and its person enabled. Every change to an
 * API is seen by the very next refresh, and a revoke that lands between the rotation and the
 * write hands nothing out.
 */
describe.each(BACKENDS)('refresh grant (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let apiPath: string;
  let app: client.Configuration;
  let people = 0;
  // Stands still unless a test moves it: no cache entry ages out, so only an invalidation can
  // make a refresh see a change.
  const clock = testClock();

  /** A new person's first tokens through the code flow: each test has its own grant. */
  async function tokens(): Promise<client.TokenEndpointResponse & { refresh_token: string }> {
    const person = { email: `refresh${++people}@example.com`, password: PASSWORD };
    expectStatus(await t.call('POST', '/v1/tenants/acme/users', person), 201);
    const answer = await authorizeApp(t, app, api, person);
    return answer as typeof answer & { refresh_token: string };
  }

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: clock.now });
    ({ api } = await seedTenant(t));
    apiPath = `/v1/tenants/acme/apis/${encodeURIComponent(api)}`;
    ({ app } = await registerPhoneApp(t, api));
  });
  afterAll(() => t?.close());

  it("sees a change to the API's token settings on the very next refresh", async () => {
    const first = await tokens();
    const second = await client.refreshTokenGrant(app, first.refresh_token); // the API is now cached by id
    expect(second.expires_in).toBe(3600);
    expectStatus(await t.call('PATCH', apiPath, { accessTokenTtl: 120 }), 200);
    const third = await client.refreshTokenGrant(app, second.refresh_token!);
    expect(third.expires_in).toBe(120);
    expect(decodeJwt(third.access_token).exp! - decodeJwt(third.access_token).iat!).toBe(120);
    expectStatus(await t.call('PATCH', apiPath, { refreshTokens: { enabled: false } }), 200);
    const fourth = await client.refreshTokenGrant(app, third.refresh_token!);
    expect(fourth.refresh_token).toBeUndefined();
    expectStatus(await t.call('PATCH', apiPath, { accessTokenTtl: 3600, refreshTokens: { enabled: true } }), 200);
  });

  it('records the grant as used by the minute: a refresh within the minute writes nothing more, the next one does', async () => {
    const first = await tokens();
    const grantId = decodeJwt(first.access_token)['gid'] as string;
    const tenant = await t.server.keygate.tenants.get('acme');
    const lastUsed = async () => (await t.server.keygate.store.people.findGrantById(tenant.id, grantId))!.lastUsedAt;
    const exchanged = clock.now();
    expect(await lastUsed()).toBe(exchanged);
    clock.advance(30_000);
    const second = await client.refreshTokenGrant(app, first.refresh_token);
    expect(await lastUsed()).toBe(exchanged);
    clock.advance(31_000);
    await client.refreshTokenGrant(app, second.refresh_token!);
    expect(await lastUsed()).toBe(exchanged + 61_000);
  });

  it('hands out nothing when the grant is revoked between the rotation and the write of the next token', async () => {
    const first = await tokens();
    const grantId = decodeJwt(first.access_token)['gid'] as string;
    const tenant = await t.server.keygate.tenants.get('acme');
    const store = t.server.keygate.store.people;
    const written: string[] = [];
    const create = store.createRefreshTokenOfLiveGrant.bind(store);
    store.createRefreshTokenOfLiveGrant = async (...args: Parameters<typeof create>) => {
      store.createRefreshTokenOfLiveGrant = create;
      written.push(args[0].hash);
      return create(...args);
    };
    const rotate = store.rotateRefreshToken.bind(store);
    store.rotateRefreshToken = async (...args: Parameters<typeof rotate>) => {
      store.rotateRefreshToken = rotate;
      const rotated = await rotate(...args);
      // The person disconnects the app after the rotation read the grant as live.
      expect(await t.server.keygate.delegation.revokeGrant(SYSTEM_ACTOR, tenant, grantId)).toBe(true);
      return rotated;
    };
    await expect(client.refreshTokenGrant(app, first.refresh_token)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await store.findGrantById(tenant.id, grantId))?.revokedAt).not.toBeNull();
    // No refresh token of the grant outlived the revoke: the rotated one is revoked, and the next one was refused.
    expect((await store.findRefreshToken(hashSecret(first.refresh_token)))?.revokedAt).not.toBeNull();
    expect(written).toHaveLength(1);
    expect(await store.findRefreshToken(written[0]!)).toBeNull();
  });
});

/** The API by id is a directory-cache entry like the others: a change on one instance reaches the other's. */
describe('two instances on PostgreSQL and Redis: an API changed on one is read anew by the other', () => {
  let instances: TwoInstances;

  beforeAll(async () => {
    instances = await startTwoInstances();
  });
  afterAll(async () => {
    await instances?.close();
  });

  it('drops the API by id on the other instance when it changes and when it is deleted', async () => {
    const { a, b } = instances;
    const tenant = await a.tenants.create(SYSTEM_ACTOR, { slug: 'byid', name: 'By id' });
    const created = await a.apis.create(SYSTEM_ACTOR, tenant, { identifier: 'https://api.byid.test', name: 'API', scopes: [{ name: 'read', description: 'r' }] });
    expect((await b.directory.apiById(created.id))?.accessTokenTtl).toBe(3600); // now cached in b
    await a.apis.update(SYSTEM_ACTOR, tenant, created.identifier, { accessTokenTtl: 60 });
    expect(await until(async () => (await b.directory.apiById(created.id))?.accessTokenTtl === 60)).toBe(true);
    await a.apis.delete(SYSTEM_ACTOR, tenant, created.identifier);
    expect(await until(async () => (await b.directory.apiById(created.id)) === null)).toBe(true);
  });
});

/** Polls `check` until it holds (an invalidation crosses Redis pub/sub asynchronously), at most 100 times. */
async function until(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}
