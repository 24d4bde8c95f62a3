import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { runCli, type Run } from './run-cli.js';

/**
 * The token commands as a user runs them: OAuth clients, JWT API keys, signing keys, HS256
 * secrets and `decode`, each a child process against a real server in this process. Tenants
 * and APIs are seeded over HTTP (their commands are tested in cli.test.ts), one tenant per test
 * so the tests run side by side.
 */

const ROOT_KEY = 'test-root-key-0123456789abcdef0123456789';
const API = 'https://orders.cli.test';

let server: RunningServer;
let dataDir: string;

function keygate(args: string[], options: { stdin?: string } = {}): Promise<Run> {
  return runCli(args, { env: { KEYGATE_URL: server.url, KEYGATE_ROOT_KEY: ROOT_KEY }, ...options });
}

async function call<T>(method: 'GET' | 'POST', url: string, payload?: object): Promise<T> {
  const response = await server.app.inject({ method, url, headers: { authorization: `Bearer ${ROOT_KEY}` }, ...(payload ? { payload } : {}) });
  if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
  return response.json<T>();
}

async function seedTenant(slug: string): Promise<{ issuer: string }> {
  const tenant = await call<{ issuer: string }>('POST', '/v1/tenants', { slug, name: slug });
  await call('POST', `/v1/tenants/${slug}/apis`, {
    identifier: API,
    name: 'Orders',
    scopes: [
      { name: 'read:orders', description: 'Read orders' },
      { name: 'write:orders', description: 'Create orders' },
    ],
  });
  return tenant;
}

/** The rows of a table, each split into its cells. */
function rows(stdout: string): string[][] {
  return stdout.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'keygate-cli-tokens-'));
  server = await startServer({ port: 0, host: '127.0.0.1', dataDir, rootKey: ROOT_KEY }, { logger: false });
}, 30_000);

afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe.concurrent('keygate token commands', { timeout: 60_000 }, () => {
  it('walks through client create → token get → decode (valid) → client revoke-tokens → decode (revoked)', async () => {
    const { issuer } = await seedTenant('acme');
    const created = await keygate(['client', 'create', '--tenant', 'acme', '--name', 'billing', '--scope', `${API}=read:orders,write:orders`, '--json']);
    expect(created.code).toBe(0);
    const client = JSON.parse(created.stdout) as { clientId: string; clientSecret: string; grantTypes: string[]; scopes: unknown };
    expect(client).toMatchObject({ grantTypes: ['client_credentials'], scopes: { [API]: ['read:orders', 'write:orders'] } });
    expect(client.clientSecret).toEqual(expect.any(String));

    // The secret goes through the env var, as the docs advise; a wrong one is the RFC's invalid_client.
    const credentials = { KEYGATE_ISSUER: issuer, KEYGATE_CLIENT_ID: client.clientId };
    const [got, refused] = await Promise.all([
      runCli(['token', 'get', '--scope', 'read:orders'], { env: { ...credentials, KEYGATE_CLIENT_SECRET: client.clientSecret } }),
      runCli(['token', 'get', '--client-secret', 'wrong'], { env: credentials }),
    ]);
    expect(got.code).toBe(0);
    const token = got.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^error: invalid_client/m);

    // With a root key decode asks the server's verify about revocation.
    const valid = await keygate(['decode', '-'], { stdin: `${token}\n` });
    expect(valid.code).toBe(0);
    expect(valid.stdout).toContain(`"client_id": "${client.clientId}"`);
    expect(valid.stdout).toMatch(/^typ\s+at\+jwt/m);
    expect(valid.stdout).toMatch(/^issuedAt\s+\S+ \(issued (just now|\d+ seconds? ago)\)$/m);
    expect(valid.stdout).toMatch(/^expiresAt\s+\S+ \(expires in 59 minutes\)$/m);
    expect(valid.stdout).toMatch(new RegExp(`^signature\\s+valid \\(kid sk_\\S+, from ${issuer}/\\.well-known/jwks\\.json\\)$`, 'm'));
    expect(valid.stdout).toMatch(/^revocation\s+not revoked \(verify at \S+ answered VALID\)$/m);

    const revoked = await keygate(['client', 'revoke-tokens', '--tenant', 'acme', client.clientId, '--yes']);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`Revoked every token issued to client ${client.clientId} up to `);

    const after = await keygate(['decode', '--json', token]);
    expect(after.code).toBe(1);
    const report = JSON.parse(after.stdout) as { expiresIn: number };
    expect(report).toMatchObject({ header: { typ: 'at+jwt' }, claims: { client_id: client.clientId }, signature: 'valid', revocation: 'REVOKED' });
    expect(report.expiresIn).toBeGreaterThan(3500);
  });

  it('issues, lists and revokes JWT API keys, and cuts off a consumer', async () => {
    await seedTenant('globex');
    const issued = await keygate(['token', 'issue', '--tenant', 'globex', '--api', API, '--consumer', 'cus_1', '--scope', 'read:orders', '--expires-at', '30d', '--json']);
    expect(issued.code).toBe(0);
    const jwt = JSON.parse(issued.stdout) as { jti: string; token: string; kid: string };
    expect(jwt).toMatchObject({ api: API, consumer: 'cus_1', scopes: ['read:orders'], claimsFormat: 'scope', revokedAt: null });
    const other = await call<{ token: string }>('POST', '/v1/tenants/globex/tokens', { api: API, consumer: 'cus_2', scopes: [] });

    const [list, decoded] = await Promise.all([keygate(['token', 'list', '--tenant', 'globex', '--consumer', 'cus_1']), keygate(['decode', jwt.token])]);
    expect(list.code).toBe(0);
    const [header, row, ...rest] = rows(list.stdout);
    expect(header).toEqual(['JTI', 'STATUS', 'API', 'CONSUMER', 'SCOPES', 'KID', 'ISSUED', 'EXPIRES']);
    expect(row!.slice(0, 6)).toEqual([jwt.jti, 'active', API, 'cus_1', 'read:orders', jwt.kid]);
    expect(rest).toEqual([]);
    expect(decoded.code).toBe(0);
    expect(decoded.stdout).toMatch(/\(expires in 29 days\)$/m);

    const [revoked, cutOff] = await Promise.all([
      keygate(['token', 'revoke', '--tenant', 'globex', jwt.jti, '--yes']),
      keygate(['consumer', 'revoke-tokens', '--tenant', 'globex', 'cus_2', '--json', '--yes']),
    ]);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked token ${jwt.jti}.\n` });
    expect(cutOff.code).toBe(0);
    expect(JSON.parse(cutOff.stdout)).toEqual({ notBefore: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    const verify = (credential: string) => call<{ code: string }>('POST', '/v1/verify', { credential, api: API });
    expect((await verify(other.token)).code).toBe('REVOKED');

    const again = await call<{ items: { jti: string; revokedAt: string | null }[] }>('GET', '/v1/tenants/globex/tokens?consumer=cus_1');
    expect(again.items).toEqual([expect.objectContaining({ jti: jwt.jti, revokedAt: expect.any(String) })]);
  });

  it('creates a tenant with a signing algorithm, rotates its key ahead of use and lists the states', async () => {
    const tenant = await keygate(['tenant', 'create', '--slug', 'initech', '--name', 'Initech', '--signing-alg', 'ES256']);
    expect(tenant.code).toBe(0);
    expect(tenant.stdout).toMatch(/^signingAlg\s+ES256$/m);
    expect(tenant.stdout).toMatch(new RegExp(`^issuer\\s+${server.url}/t/initech$`, 'm'));

    const rotated = await keygate(['signing-key', 'rotate', '--tenant', 'initech', '--activate-after', '5m', '--alg', 'EdDSA', '--json']);
    expect(rotated.code).toBe(0);
    const next = JSON.parse(rotated.stdout) as { kid: string; activatesAt: string };
    expect(next).toMatchObject({ alg: 'EdDSA', state: 'next', publicJwk: { kty: 'OKP' } });
    expect(Date.parse(next.activatesAt) - Date.now()).toBeGreaterThan(4 * 60_000);

    const list = await keygate(['signing-key', 'list', '--tenant', 'initech']);
    expect(list.code).toBe(0);
    const [header, ...keys] = rows(list.stdout);
    expect(header).toEqual(['KID', 'ALG', 'STATE', 'ACTIVATES', 'RETIRED', 'PUBLISHED UNTIL']);
    expect(keys.map((k) => k.slice(1, 3))).toEqual([
      ['ES256', 'current'],
      ['EdDSA', 'next'],
    ]);
    expect(keys[1]![0]).toBe(next.kid);
    // The current key stops signing when the next one starts.
    expect(keys[0]![4]).toBe(next.activatesAt);
  });

  it('creates, lists and revokes HS256 secrets', async () => {
    await call('POST', '/v1/tenants', { slug: 'hooli', name: 'Hooli' });
    const created = await keygate(['hs256-secret', 'create', '--tenant', 'hooli']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/shown only once; Keygate keeps it sealed/);
    const kid = /^kid\s+(hs_\S+)$/m.exec(created.stdout)?.[1];
    expect(kid).toBeDefined();

    const before = await call<{ items: { kid: string; revokedAt: string | null }[] }>('GET', '/v1/tenants/hooli/hs256-secrets');
    expect(before.items).toEqual([expect.objectContaining({ kid, revokedAt: null })]);

    const revoked = await keygate(['hs256-secret', 'revoke', '--tenant', 'hooli', kid!, '--json', '--yes']);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ kid, revoked: true });

    const after = await keygate(['hs256-secret', 'list', '--tenant', 'hooli']);
    const [header, row] = rows(after.stdout);
    expect(header).toEqual(['KID', 'STATUS', 'CREATED', 'REVOKED']);
    expect(row!.slice(0, 2)).toEqual([kid, 'revoked']);
  });

  it('changes an API\'s token lifetimes with api update', async () => {
    await seedTenant('umbrella');
    const run = await keygate(['api', 'update', '--tenant', 'umbrella', API, '--access-token-ttl', '10m', '--refresh-tokens', '--refresh-idle-ttl', '1d']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^accessTokenTtl\s+10m$/m);
    expect(run.stdout).toMatch(/^refreshTokens\s+enabled \(idle 1d, /m);
  });

  it('exits 2 when decode is given something that is not a JWT', async () => {
    const run = await runCli(['decode', 'not-a-jwt'], { env: {} });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error: not a JWT/m);
  });

  it('exits 1 when decode is given a token whose claims were changed after signing', async () => {
    await seedTenant('tampered');
    const { token } = await call<{ token: string }>('POST', '/v1/tenants/tampered/tokens', { api: API, consumer: 'cus_1', scopes: ['read:orders'] });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = [header, Buffer.from(JSON.stringify({ ...claims, scope: 'read:orders write:orders' })).toString('base64url'), signature].join('.');

    // No root key and no --url: decode still checks the signature against the issuer's JWKS.
    const run = await runCli(['decode', forged], { env: {} });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('"scope": "read:orders write:orders"');
    expect(run.stdout).toMatch(/^signature\s+INVALID: the signature does not verify/m);
    expect(run.stdout).toMatch(/^revocation\s+not checked: no root key/m);
  });
});
