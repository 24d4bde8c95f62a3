import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { basic, postForm, registerMachineClient } from '../helpers/oauth.js';
import { snapshotAll, snapshotState } from '../helpers/snapshot.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli } from '../cli/run-cli.js';

const DAY = 86_400;
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An HS256 token signed by hand, so its claims can be anything a tenant's service might write. */
function hs256(secret: string, kid: string, claims: Record<string, unknown>): string {
  const input = `${b64url({ alg: 'HS256', kid })}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', Buffer.from(secret)).update(input).digest('base64url')}`;
}

/**
 * Invariant 9 (issue 7). A tenant's self-issued HS256 tokens are bounded by the tenant's cap on
 * `exp - iat` (default a day, `hs256MaxLifetime`); they must carry an `iat` that is not ahead of
 * Keygate's clock by more than the skew; dates that are no dates are MALFORMED, never a 500; a
 * cut-off binds every token whose `iat` precedes it; and revoking a jti Keygate never saw is
 * remembered as long as such a token could live, then pruned. `checkClaims` (domain/tokens/jwt.ts)
 * decides for verify over HTTP and in process, introspection and RFC 7009 revocation alike.
 */
describe.each(BACKENDS)('self-issued HS256 tokens are bounded (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let issuer: string;
  let kid: string;
  let secret: string;
  let introspector: { clientId: string; clientSecret: string };
  /** Keygate's clock stands still unless a test moves it: every iat a test writes is exactly where it means it. */
  let nowMs = Date.now();
  const now = (): number => nowMs;
  const nowSec = (): number => Math.floor(now() / 1000);

  const mint = (claims: Record<string, unknown> = {}): string =>
    hs256(secret, kid, { iss: issuer, aud: api, sub: 'svc-reports', scope: 'read:users', jti: randomUUID(), iat: nowSec(), exp: nowSec() + 300, ...claims });
  const verify = async (credential: string): Promise<{ code: string; valid: boolean }> => {
    const response = await t.call('POST', '/v1/verify', { credential, api, scopes: ['read:users'] });
    expectStatus(response, 200);
    return response.body;
  };
  const inProcess = async (credential: string): Promise<string> => (await t.server.keygate.verify({ credential, api, scopes: ['read:users'] })).code;
  const introspect = async (token: string): Promise<{ status: number; body: { active: boolean } }> =>
    postForm(t, '/t/acme/oauth/introspect', { token }, { authorization: basic(introspector.clientId, introspector.clientSecret) });
  const snapshot = (): Promise<string> => snapshotState(t);

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: now });
    ({ api } = await seedTenant(t));
    issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
    ({ kid, secret } = (await t.call('POST', '/v1/tenants/acme/hs256-secrets')).body);
    const registered = await registerMachineClient(t, { canIntrospect: true });
    introspector = { clientId: registered.clientId, clientSecret: registered.clientSecret! };
  });
  afterAll(() => t?.close());

  it('has a one-day cap by default, readable and settable over HTTP and the CLI, and only with tenants:write', async () => {
    expect((await t.call('GET', '/v1/tenants/acme')).body.hs256MaxLifetime).toBe(DAY);
    const people = await t.call('POST', '/v1/root-keys', { scopes: ['users:write', 'tenants:read'] });
    expectStatus(people, 201);
    const before = await snapshot();
    for (const bad of [0, -1, 1.5, 1e15, '3600', null, 31_536_001]) {
      const response = await t.call('PATCH', '/v1/tenants/acme', { hs256MaxLifetime: bad });
      expect([response.status, response.body.code], String(bad)).toEqual([400, 'INVALID_REQUEST']);
    }
    const refused = await t.call('PATCH', '/v1/tenants/acme', { hs256MaxLifetime: 31_536_000 }, { auth: people.body.key });
    expect([refused.status, refused.body.code]).toEqual([403, 'FORBIDDEN']);
    expect((await t.call('GET', '/v1/tenants/acme')).body.hs256MaxLifetime).toBe(DAY);
    expect(await snapshot()).toBe(before);

    const env = { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY };
    const updated = await runCli(['tenant', 'update', 'acme', '--hs256-max-lifetime', '2h'], { env });
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toMatch(/^hs256MaxLifetime\s+7200s$/m);
    const shown = await runCli(['tenant', 'get', 'acme', '--json'], { env });
    expect(JSON.parse(shown.stdout).hs256MaxLifetime).toBe(7200);
    expectStatus(await t.call('PATCH', '/v1/tenants/acme', { hs256MaxLifetime: DAY }), 200);
    expect((await t.call('GET', '/v1/tenants/acme')).body.hs256MaxLifetime).toBe(DAY);
  });

  it('refuses a token without iat, living longer than the cap, or issued ahead of the clock, on every path, and changes nothing', async () => {
    const iat = nowSec();
    const good = mint({ iat, exp: iat + DAY });
    expect((await verify(good)).code).toBe('VALID');
    expect(await inProcess(good)).toBe('VALID');
    expect((await introspect(good)).body.active).toBe(true);
    expect((await verify(mint({ iat: iat + 59, exp: iat + 300 }))).code).toBe('VALID');

    const cases: [string, string][] = [
      ['no iat', mint({ iat: undefined })],
      ['iat null', mint({ iat: null })],
      ['iat a string', mint({ iat: String(iat) })],
      ['a day and a second', mint({ iat, exp: iat + DAY + 1 })],
      ['a year', mint({ iat, exp: iat + 365 * DAY })],
      ['iat beyond the skew', mint({ iat: iat + 61, exp: iat + 300 })],
      ['iat in the far future', mint({ iat: 253_402_300_000, exp: 253_402_300_799 })],
      ['exp 1e15', mint({ exp: 1e15 })],
      ['exp 1e300', mint({ exp: 1e300 })],
      ['exp negative', mint({ iat: -100, exp: -1 })],
      ['exp fractional', mint({ exp: iat + 300.5 })],
      ['exp a string', mint({ exp: String(iat + 300) })],
      ['exp missing', mint({ exp: undefined })],
      ['nbf 1e15', mint({ nbf: 1e15 })],
    ];
    const before = await snapshot();
    for (const [name, token] of cases) {
      const viaHttp = await t.call('POST', '/v1/verify', { credential: token, api, scopes: ['read:users'] });
      expect([viaHttp.status, viaHttp.body.code], name).toEqual([200, 'MALFORMED']);
      expect(await inProcess(token), name).toBe('MALFORMED');
      const introspected = await introspect(token);
      expect([introspected.status, introspected.body], name).toEqual([200, { active: false }]);
    }
    expect(await snapshot()).toBe(before);
  });

  it('holds tokens already out to a cap lowered later', async () => {
    const iat = nowSec();
    const twoHours = mint({ iat, exp: iat + 7200 });
    expect((await verify(twoHours)).code).toBe('VALID');
    expectStatus(await t.call('PATCH', '/v1/tenants/acme', { hs256MaxLifetime: 3600 }), 200);
    expect((await verify(twoHours)).code).toBe('MALFORMED');
    expect(await inProcess(twoHours)).toBe('MALFORMED');
    expectStatus(await t.call('PATCH', '/v1/tenants/acme', { hs256MaxLifetime: DAY }), 200);
    expect((await verify(twoHours)).code).toBe('VALID');
  });

  it('RFC 7009 revocation of a token outside the bounds revokes nothing', async () => {
    const client = await registerMachineClient(t, { scopes: { [api]: ['read:users'] } });
    const token = async (): Promise<string> => {
      const issued = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: api }, { authorization: basic(client.clientId, client.clientSecret!) });
      expectStatus(issued, 200);
      return issued.body.access_token;
    };
    const access = await token();
    const before = await snapshot();
    // Tokens naming the client, minted with the tenant's secret: outside the bounds, their jti is nobody's to revoke.
    const jti = randomUUID();
    for (const bad of [mint({ client_id: client.clientId, jti, exp: 1e15 }), mint({ client_id: client.clientId, jti, iat: undefined }), mint({ client_id: client.clientId, jti, exp: nowSec() + 2 * DAY })]) {
      const revoked = await postForm(t, '/t/acme/oauth/revoke', { token: bad }, { authorization: basic(client.clientId, client.clientSecret!) });
      expect(revoked.status).toBe(200);
    }
    expect(await snapshot()).toBe(before);
    expect((await verify(mint({ client_id: client.clientId, jti }))).code).toBe('VALID');
    expect((await verify(access)).code).toBe('VALID');
  });

  it('applies a cut-off to every token whose iat precedes it; a token cannot dodge it with a missing or future iat', async () => {
    const sub = `consumer-${randomUUID()}`;
    const iat = nowSec() - 100;
    const old = mint({ sub, iat, exp: iat + 3600 });
    expect((await verify(old)).code).toBe('VALID');
    const cut = await t.call('POST', `/v1/tenants/acme/consumers/${sub}/revoke-tokens`);
    expectStatus(cut, 200);
    expect((await verify(old)).code).toBe('REVOKED');
    expect(await inProcess(old)).toBe('REVOKED');
    expect((await introspect(old)).body.active).toBe(false);
    // The cut-off's own second counts as before it.
    expect((await verify(mint({ sub, iat: nowSec() }))).code).toBe('REVOKED');
    for (const dodge of [mint({ sub, iat: undefined }), mint({ sub, iat: nowSec() + 3600, exp: nowSec() + 3700 }), mint({ sub, iat: String(nowSec() + 10) })]) {
      expect((await verify(dodge)).code).not.toBe('VALID');
      expect(await inProcess(dodge)).not.toBe('VALID');
    }
    nowMs += 5_000;
    expect((await verify(mint({ sub, iat: nowSec() }))).code).toBe('VALID');
  });

  it('remembers the revocation of a jti it never saw as long as such a token could live, then prunes it', async () => {
    const jti = `never-seen-${randomUUID()}`;
    const revokedAt = now();
    expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${jti}/revoke`), 200);
    // The longest any token of the tenant can live: the HS256 cap (a day) beats the APIs' access-token TTLs, plus the skew.
    const keptUntil = revokedAt + (DAY + 60) * 1000;
    const rows = async (): Promise<string[]> => (JSON.parse(await snapshotAll(t.backend)) as Record<string, string[]>)['revocations']!.filter((row) => row.includes(jti));
    expect(await rows()).toHaveLength(1);
    nowMs += DAY * 1000;
    const token = mint({ jti, iat: nowSec() - DAY + 120, exp: nowSec() + 120 });
    expect((await verify(token)).code).toBe('REVOKED');
    await t.server.keygate.store.pruneExpired(keptUntil - 1);
    expect(await rows()).toHaveLength(1);
    nowMs = keptUntil;
    await t.server.keygate.store.pruneExpired(now());
    expect(await rows()).toHaveLength(0);
  });
});
