import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Keygate } from '../../src/index.js';
import { SYSTEM_ACTOR } from '../../src/services/context.js';
import type { Tenant } from '../../src/domain/tenants.js';
import { REDIS_URL } from '../helpers/backends.js';
import { startTwoInstances, verifyUntil, type TwoInstances } from '../helpers/instances.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

const API = 'https://api.push.test';
/** Longer than the test: a revocation seen by the other instance can only have been pushed. */
const NO_POLL_MS = 3_600_000;
/** The channel RedisBus announces revocations on (default prefix). */
const CHANNEL = 'keygate:revocations';

describe('revocations are pushed to every instance through Redis (PostgreSQL + Redis, feed poll off)', () => {
  let instances: TwoInstances;
  let a: Keygate;
  let b: Keygate;
  let tenant: Tenant;
  let attacker: Redis;

  beforeAll(async () => {
    instances = await startTwoInstances({ config: { revocationPollMs: NO_POLL_MS } });
    ({ a, b } = instances);
    tenant = await a.tenants.create(SYSTEM_ACTOR, { slug: 'push', name: 'Push' });
    await a.apis.create(SYSTEM_ACTOR, tenant, { identifier: API, name: 'API', scopes: [{ name: 'read:users', description: 'r' }] });
    attacker = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    attacker?.disconnect();
    await instances?.close();
  });

  const jwtKey = async (consumer = 'cus_1'): Promise<{ jti: string; token: string }> => {
    const { record, token } = await a.tokens.issueApiKeyToken(SYSTEM_ACTOR, tenant, { api: API, consumer, scopes: ['read:users'] });
    return { jti: record.jti, token };
  };
  const accessToken = async (claims: { clientId: string; grantId?: string; exchangedFrom?: { jti: string; client_id: string; iat: number }[] }): Promise<string> => {
    const api = await a.apis.get(tenant, API);
    return (await a.tokens.issueAccessToken({ tenant, api, subject: 'usr_1', scopes: ['read:users'], ...claims })).token;
  };
  /** Valid on B first, so B holds the tenant's revocations in memory before the revocation. */
  const validOnB = async (token: string): Promise<void> => {
    expect((await b.verify({ credential: token, api: API })).code).toBe('VALID');
  };
  const revokedOnB = (token: string): Promise<string> => verifyUntil(b, { credential: token, api: API }, 'REVOKED');

  it('a jti revoked on A is refused by B', async () => {
    const { jti, token } = await jwtKey();
    await validOnB(token);
    expect(await a.revocations.revokeToken(SYSTEM_ACTOR, tenant, jti)).toBe(true);
    expect(await revokedOnB(token)).toBe('REVOKED');
  });

  it("a client cut-off on A revokes the client's tokens on B", async () => {
    const token = await accessToken({ clientId: 'cli_push' });
    await validOnB(token);
    await a.revocations.cutOff(SYSTEM_ACTOR, tenant, 'client', 'cli_push');
    expect(await revokedOnB(token)).toBe('REVOKED');
  });

  it("a consumer cut-off on A revokes the consumer's tokens on B", async () => {
    const { token } = await jwtKey('cus_cut');
    await validOnB(token);
    await a.revocations.cutOff(SYSTEM_ACTOR, tenant, 'consumer', 'cus_cut');
    expect(await revokedOnB(token)).toBe('REVOKED');
  });

  it("a grant cut-off on A revokes the grant's tokens on B", async () => {
    const token = await accessToken({ clientId: 'cli_app', grantId: 'grt_push' });
    await validOnB(token);
    await a.revocations.cutOff(SYSTEM_ACTOR, tenant, 'grant', 'grt_push');
    expect(await revokedOnB(token)).toBe('REVOKED');
  });

  it('revoking the subject token on A revokes a token exchanged from it on B (RFC 8693 lineage)', async () => {
    const subject = await jwtKey();
    const exchanged = await accessToken({ clientId: 'cli_svc', exchangedFrom: [{ jti: subject.jti, client_id: 'cli_origin', iat: Math.floor(Date.now() / 1000) }] });
    await validOnB(exchanged);
    await a.revocations.revokeToken(SYSTEM_ACTOR, tenant, subject.jti);
    expect(await revokedOnB(exchanged)).toBe('REVOKED');
  });

  it('a Redis writer can only make B read the feed sooner: forged and malformed messages revoke nothing, un-revoke nothing, crash nothing', async () => {
    const kept = await jwtKey();
    const revoked = await jwtKey();
    await validOnB(kept.token);
    await a.revocations.revokeToken(SYSTEM_ACTOR, tenant, revoked.jti);
    expect(await revokedOnB(revoked.token)).toBe('REVOKED');

    const forged = [
      JSON.stringify([tenant.id]),
      JSON.stringify([{ kind: 'jti', tenantId: tenant.id, subject: kept.jti }]),
      JSON.stringify({ tenantId: tenant.id, jti: kept.jti }),
      JSON.stringify(Array.from({ length: 20_000 }, () => tenant.id)),
      'not json',
      '',
    ];
    for (const message of forged) await attacker.publish(CHANNEL, message);
    // Messages on a channel arrive in order: once B sees this revocation, it has handled every forged one.
    const marker = await jwtKey();
    await validOnB(marker.token);
    await a.revocations.revokeToken(SYSTEM_ACTOR, tenant, marker.jti);
    expect(await revokedOnB(marker.token)).toBe('REVOKED');

    expect((await b.verify({ credential: kept.token, api: API })).code).toBe('VALID');
    expect((await b.verify({ credential: revoked.token, api: API })).code).toBe('REVOKED');
  });
});

describe('a revocation made while Redis is away reaches the other instance when it is back (feed poll off)', () => {
  let redis: RedisServer;
  let instances: TwoInstances;

  beforeAll(async () => {
    redis = await startRedisServer();
    instances = await startTwoInstances({ config: { redisUrl: redis.url, revocationPollMs: NO_POLL_MS } });
  });
  afterAll(async () => {
    await instances?.close();
    await redis?.stop('SIGKILL');
  });

  it('catches up from the feed on reconnect, although the push was lost', async () => {
    const { a, b } = instances;
    const tenant = await a.tenants.create(SYSTEM_ACTOR, { slug: 'outage', name: 'Outage' });
    await a.apis.create(SYSTEM_ACTOR, tenant, { identifier: API, name: 'API', scopes: [{ name: 'read:users', description: 'r' }] });
    const { record, token } = await a.tokens.issueApiKeyToken(SYSTEM_ACTOR, tenant, { api: API, consumer: 'cus_1', scopes: ['read:users'] });
    expect((await b.verify({ credential: token, api: API })).code).toBe('VALID');

    await redis.stop('SIGKILL');
    // The revocation is stored (and A refuses the token) though nobody can be told.
    expect(await a.revocations.revokeToken(SYSTEM_ACTOR, tenant, record.jti)).toBe(true);
    expect((await a.verify({ credential: token, api: API })).code).toBe('REVOKED');
    expect((await b.verify({ credential: token, api: API })).code).toBe('VALID');

    await redis.start();
    expect(await b.cluster.connection.whenConnected(15_000)).toBe(true);
    let code = '';
    for (let i = 0; i < 100 && code !== 'REVOKED'; i++) {
      code = (await b.verify({ credential: token, api: API })).code;
      if (code !== 'REVOKED') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(code).toBe('REVOKED');
  });
});
