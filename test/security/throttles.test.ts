import { request as httpRequest } from 'node:http';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from '../../src/cluster/cluster.js';
import { createRedisCluster } from '../../src/cluster/redis/redis-cluster.js';
import { PasswordHasher } from '../../src/crypto/passwords.js';
import { throttleSource } from '../../src/domain/throttle-source.js';
import { FAILURES_PER_SOURCE } from '../../src/services/client-authenticator.js';
import { SIGN_IN_ATTEMPTS_PER_ACCOUNT, SIGN_IN_WINDOW_MS } from '../../src/services/users-service.js';
import { BACKENDS, REDIS_URL } from '../helpers/backends.js';
import { ORDERS_API, basic, registerMachineClient } from '../helpers/oauth.js';
import { Person } from '../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'the right password';
const ADDRESS_A = '127.0.0.1';
const ADDRESS_B = '127.0.0.2';

/**
 * A fetch whose requests leave from `localAddress`, so one test can be two callers: on Linux the
 * whole of 127.0.0.0/8 is loopback, and the server sees each as its own `request.ip`.
 */
function fetchFrom(localAddress: string): typeof fetch {
  return ((input: string | URL | Request, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const headers = Object.fromEntries(new Headers(init.headers));
      const outgoing = httpRequest(url, { method: init.method ?? 'GET', headers, localAddress }, (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(incoming.headers)) for (const v of [value ?? []].flat()) responseHeaders.append(name, v);
          const status = incoming.statusCode ?? 500;
          resolve(new Response(status === 204 || chunks.length === 0 ? null : Buffer.concat(chunks), { status, headers: responseHeaders }));
        });
      });
      outgoing.on('error', reject);
      outgoing.end(init.body === undefined || init.body === null ? undefined : String(init.body));
    })) as typeof fetch;
}

/** Sign-in over HTTP as a person at a browser: the login page for CSRF, then the form. */
async function signInAttempts(t: TestServer, passwords: string[]): Promise<{ statuses: number[]; retryAfter: (string | null)[]; person: Person }> {
  const person = new Person(t.url);
  const csrf = Person.hidden((await person.get(`${t.url}/t/acme/login`)).html, 'csrf');
  const responses = await Promise.all(
    passwords.map((password) =>
      fetch(`${t.url}/t/acme/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `kg_csrf=${person.cookie('kg_csrf')}` },
        body: new URLSearchParams({ csrf, email: 'victim@example.com', password }).toString(),
      }),
    ),
  );
  return { statuses: responses.map((r) => r.status), retryAfter: responses.map((r) => r.headers.get('retry-after')), person };
}

function tally(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

const variants = [...BACKENDS.map((backend) => ({ backend, counters: 'memory' as const })), { backend: 'sqlite' as const, counters: 'redis' as const }];

/** Shared counters in Redis (in Redis time; expiries reported on `now`) under a prefix of this run's own. */
function privateCluster(counters: 'memory' | 'redis', now: () => number): { cluster?: Cluster } {
  if (counters === 'memory') return {};
  return { cluster: createRedisCluster({ url: REDIS_URL, prefix: `kg-test-${process.pid}-${Math.random().toString(36).slice(2)}:`, now }) };
}

describe.each(variants)('sign-in throttle under concurrency ($backend, $counters counters)', ({ backend, counters }) => {
  let t: TestServer;
  let now = Date.parse('2026-03-01T10:00:00Z');

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: () => now, ...privateCluster(counters, () => now) });
    await seedTenant(t);
    expectStatus(await t.call('POST', '/v1/tenants/acme/users', { email: 'victim@example.com', password: PASSWORD }), 201);
  });
  afterAll(() => t.close());

  it('never throttles a person who keeps signing in successfully: a success takes its counted attempt back', async () => {
    expectStatus(await t.call('POST', '/v1/tenants/acme/users', { email: 'regular@example.com', password: PASSWORD }), 201);
    const person = new Person(t.url);
    const csrf = Person.hidden((await person.get(`${t.url}/t/acme/login`)).html, 'csrf');
    const statuses: number[] = [];
    for (let i = 0; i < SIGN_IN_ATTEMPTS_PER_ACCOUNT * 2; i++) statuses.push((await person.post(`${t.url}/t/acme/login`, { csrf, email: 'regular@example.com', password: PASSWORD })).status);
    expect(statuses).toEqual(Array(SIGN_IN_ATTEMPTS_PER_ACCOUNT * 2).fill(303));
  });

  it(`runs at most ${SIGN_IN_ATTEMPTS_PER_ACCOUNT} scrypt checks for 60 parallel wrong passwords, then refuses the right one until the window passes`, async () => {
    const before = t.server.keygate.passwords.evaluations;
    const burst = await signInAttempts(t, Array.from({ length: 60 }, (_, i) => `wrong password ${i}`));
    expect(t.server.keygate.passwords.evaluations - before).toBeLessThanOrEqual(SIGN_IN_ATTEMPTS_PER_ACCOUNT);
    const counts = tally(burst.statuses);
    expect(counts[401]).toBeLessThanOrEqual(SIGN_IN_ATTEMPTS_PER_ACCOUNT);
    expect(counts[429]).toBe(60 - (counts[401] ?? 0));
    expect(burst.retryAfter.filter((value) => value !== null).every((value) => Number(value) > 0 && Number(value) <= SIGN_IN_WINDOW_MS / 1000)).toBe(true);

    const refused = await signInAttempts(t, [PASSWORD]);
    expect(refused.statuses).toEqual([429]);
    // Refused before any password work, and no session was made.
    expect(t.server.keygate.passwords.evaluations - before).toBeLessThanOrEqual(SIGN_IN_ATTEMPTS_PER_ACCOUNT);
    expect(refused.person.cookie('kg_session')).toBeUndefined();
  });

  it.skipIf(counters === 'redis')('lets the right password in once the window has passed (Redis keeps its own time)', async () => {
    now += SIGN_IN_WINDOW_MS + 1000;
    const person = new Person(t.url);
    const csrf = Person.hidden((await person.get(`${t.url}/t/acme/login`)).html, 'csrf');
    const signedIn = await person.post(`${t.url}/t/acme/login`, { csrf, email: 'victim@example.com', password: PASSWORD });
    expect(signedIn.status).toBe(303);
    expect(person.cookie('kg_session')).toBeDefined();
  });
});

describe('the password-hashing bound', () => {
  it('runs at most `concurrency` derivations, queues at most `queue`, and refuses the rest at once', async () => {
    const passwords = new PasswordHasher({ concurrency: 2, queue: 1 });
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => passwords.hash(`password number ${i}`)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect((results[3] as PromiseRejectedResult).reason.code).toBe('PASSWORD_HASHING_BUSY');
    expect(passwords.evaluations).toBe(3);
    // Slots are handed back: the hasher works again afterwards.
    expect(await passwords.verify('password number 1', (results[0] as PromiseFulfilledResult<string>).value)).toBe(true);
  });
});

describe('sign-in while password work is saturated', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('sqlite', { passwordHashConcurrency: 1, passwordHashQueue: 0 });
    await seedTenant(t);
    expectStatus(await t.call('POST', '/v1/tenants/acme/users', { email: 'busy@example.com', password: PASSWORD }), 201);
  });
  afterAll(() => t.close());

  it('answers throttled at once, without counting the attempt against the person', async () => {
    const { keygate } = t.server;
    const tenant = await keygate.tenants.get('acme');
    // Holds the only slot: scrypt finishes on a libuv thread, which cannot complete before the
    // sign-in below reaches its password check (that path is counters and SQLite, no I/O wait).
    const before = keygate.passwords.evaluations;
    const holding = keygate.passwords.hash('a password that holds the slot');
    expect(await keygate.users.signIn(tenant, 'busy@example.com', PASSWORD, { ip: '192.0.2.1', requestId: 'req-throttle' })).toEqual({ error: 'throttled', retryAfter: 1 });
    await holding;
    expect(keygate.passwords.evaluations).toBe(before + 1);
    // Nothing was counted: all the account's attempts are still there.
    for (let i = 0; i < SIGN_IN_ATTEMPTS_PER_ACCOUNT - 1; i++) expect(await keygate.users.signIn(tenant, 'busy@example.com', 'wrong password', { ip: '192.0.2.1', requestId: 'req-throttle' })).toEqual({ error: 'invalid' });
    expect('user' in (await keygate.users.signIn(tenant, 'busy@example.com', PASSWORD, { ip: '192.0.2.1', requestId: 'req-throttle' }))).toBe(true);
  });

  it('refuses user creation beyond the bound with PASSWORD_HASHING_BUSY (a 503), creating nothing', async () => {
    const { keygate } = t.server;
    const tenant = await keygate.tenants.get('acme');
    const holding = keygate.passwords.hash('a password that holds the slot');
    const refused = keygate.users.create({ id: 'test', requestId: null, ip: null }, tenant, { email: 'later@example.com', password: PASSWORD });
    await expect(refused).rejects.toMatchObject({ code: 'PASSWORD_HASHING_BUSY', status: 503 });
    await holding;
    const users = await t.call('GET', '/v1/tenants/acme/users?limit=100');
    expect(users.body.items.map((u: { email: string }) => u.email)).not.toContain('later@example.com');
  });
});

describe('throttle sources', () => {
  it('counts IPv4 addresses one by one and IPv6 addresses by their /64', () => {
    expect(throttleSource('203.0.113.7')).toBe('203.0.113.7');
    expect(throttleSource('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(throttleSource('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(throttleSource('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(throttleSource('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(throttleSource('::1')).toBe('0:0:0:0::/64');
  });
});

describe.each(variants)('client authentication failures throttle the source, not the holder ($backend, $counters counters)', ({ backend, counters }) => {
  let t: TestServer;
  let clientId: string;
  let secret: string;
  let issuer: string;

  beforeAll(async () => {
    t = await startTestServer(backend, {}, privateCluster(counters, Date.now));
    await seedTenant(t);
    const registered = await registerMachineClient(t, { canIntrospect: true });
    clientId = registered.clientId;
    secret = registered.clientSecret!;
    issuer = registered.issuer;
  });
  afterAll(() => t.close());

  const tokenRequestFrom = async (address: string, clientSecret: string) => {
    const response = await fetchFrom(address)(`${t.url}/t/acme/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(clientId, clientSecret) },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: ORDERS_API }).toString(),
    });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { error?: string; access_token?: string } };
  };

  it('after 20 wrong secrets from A, A waits (429 invalid_client, Retry-After) and B with the right secret gets tokens, introspects and revokes', async () => {
    const attacks = [];
    for (let i = 0; i < 20; i++) attacks.push(await tokenRequestFrom(ADDRESS_A, `wrong secret ${i}`));
    expect(attacks.slice(0, FAILURES_PER_SOURCE).map((a) => [a.status, a.body.error, a.retryAfter])).toEqual(Array(FAILURES_PER_SOURCE).fill([401, 'invalid_client', null]));
    for (const attack of attacks.slice(FAILURES_PER_SOURCE)) {
      expect([attack.status, attack.body.error]).toEqual([429, 'invalid_client']);
      expect(Number(attack.retryAfter)).toBeGreaterThan(0);
    }
    const throttled = await tokenRequestFrom(ADDRESS_A, secret);
    expect([throttled.status, throttled.body.error, throttled.body.access_token]).toEqual([429, 'invalid_client', undefined]);
    expect(Number(throttled.retryAfter)).toBeLessThanOrEqual(60);

    // The holder, from its own address, with a real OAuth client.
    const holder = await client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretBasic(secret), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
      [client.customFetch]: fetchFrom(ADDRESS_B),
    });
    const tokens = await client.clientCredentialsGrant(holder, { resource: ORDERS_API });
    expect(tokens.access_token).toBeTruthy();
    expect((await client.tokenIntrospection(holder, tokens.access_token)).active).toBe(true);
    await client.tokenRevocation(holder, tokens.access_token);
    expect((await client.tokenIntrospection(holder, tokens.access_token)).active).toBe(false);
  });

  it('answers a wrong secret from B with a plain invalid_client (no Retry-After): B is not throttled by A', async () => {
    const wrong = await tokenRequestFrom(ADDRESS_B, 'not the secret');
    expect([wrong.status, wrong.body.error, wrong.retryAfter]).toEqual([401, 'invalid_client', null]);
  });
});
