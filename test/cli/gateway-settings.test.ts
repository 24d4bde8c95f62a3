import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_KEY, expectStatus, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli, type Run } from './run-cli.js';

/** `keygate api` with the gateway settings and `keygate api openapi`, against a real server. */

const API = 'https://api.gateway-cli.test';
const DOCUMENT = `openapi: 3.1.0
info: { title: CLI, version: "1" }
servers: [{ url: /v1 }]
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
security: [{ bearer: [read:users] }]
paths:
  /users:
    get: { operationId: listUsers, responses: { "200": { description: ok } } }
    post: { security: [{ bearer: [write:users] }, { bearer: [admin] }], x-keygate-cost: 2, responses: { "201": { description: ok } } }
  /health:
    get: { security: [], x-keygate-public: true, responses: { "200": { description: ok } } }
`;

let t: TestServer;
let dir: string;

function keygate(args: string[]): Promise<Run> {
  return runCli(args, { env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' } });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keygate-cli-gateway-'));
  t = await startTestServer('sqlite');
  expectStatus(await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' }), 201);
  const scopes = ['read:users', 'write:users', 'admin'].map((name) => ({ name, description: name }));
  expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: API, name: 'API', scopes }), 201);
}, 30_000);
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.concurrent('keygate api: gateway settings and the OpenAPI document', { timeout: 60_000 }, () => {
  it('sets, shows and clears the gateway settings', async () => {
    const set = await keygate([
      'api', 'update', API, '--upstream', 'http://127.0.0.1:9/', '--gateway-hosts', 'localhost:8000, Shop.Test', '--credential-header', 'X-API-Key',
      '--external-issuer', 'issuer=https://login.test/,jwks=https://login.test/keys,audience=api', '--phantom-token', '--json',
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({
      upstream: 'http://127.0.0.1:9',
      gatewayHosts: ['localhost:8000', 'shop.test'],
      credentialHeader: 'x-api-key',
      externalIssuers: [{ issuer: 'https://login.test/', jwksUri: 'https://login.test/keys', audience: 'api' }],
      phantomToken: true,
      passthrough: false,
    });
    const shown = await keygate(['api', 'get', API]);
    expect(shown.stdout).toMatch(/upstream\s+http:\/\/127\.0\.0\.1:9/);
    expect(shown.stdout).toMatch(/credential\s+Authorization: Bearer, x-api-key header/);
    const cleared = await keygate(['api', 'update', API, '--no-credential-header', '--no-external-issuers', '--no-phantom-token', '--gateway-hosts', '', '--json']);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(JSON.parse(cleared.stdout)).toMatchObject({ credentialHeader: null, externalIssuers: [], phantomToken: false, gatewayHosts: [] });
    const refused = await keygate(['api', 'update', API, '--upstream', 'http://169.254.169.254']);
    expect([refused.code, refused.stderr]).toEqual([3, expect.stringContaining('UPSTREAM_NOT_ALLOWED')]);
    const badIssuer = await keygate(['api', 'update', API, '--external-issuer', 'issuer=https://x']);
    expect(badIssuer.code).toBe(2);
  });

  it('uploads a YAML document, shows what it compiled to, and prints it back byte for byte', async () => {
    const file = join(dir, 'openapi.yaml');
    writeFileSync(file, DOCUMENT);
    const set = await keygate(['api', 'openapi', 'set', API, '--file', file]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('served under /v1');
    expect(set.stdout).toMatch(/GET\s+\/users\s+listUsers\s+read:users\s+1/);
    expect(set.stdout).toMatch(/POST\s+\/users\s+-\s+write:users or admin\s+2/);
    expect(set.stdout).toMatch(/GET\s+\/health\s+-\s+public\s+1/);
    const json = await keygate(['api', 'openapi', 'set', API, '--file', file, '--json']);
    expect(JSON.parse(json.stdout).operations).toHaveLength(3);
    const got = await keygate(['api', 'openapi', 'get', API]);
    expect([got.code, got.stdout]).toEqual([0, DOCUMENT]);
    const listed = await keygate(['api', 'list', '--search', API.slice(-12).toUpperCase(), '--json']);
    expect(JSON.parse(listed.stdout).items.map((a: { identifier: string }) => a.identifier)).toEqual([API]);
    const again = await keygate(['api', 'openapi', 'operations', API]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/POST\s+\/users\s+-\s+write:users or admin\s+2/);
  });

  it('refuses a document naming a scope outside the catalog with exit 3 and the operation, and a missing file with exit 2', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ openapi: '3.0.3', info: { title: 'x', version: '1' }, paths: { '/a': { get: { operationId: 'getA', 'x-keygate-scopes': ['nope'], responses: { '200': { description: 'ok' } } } } } }));
    const refused = await keygate(['api', 'openapi', 'set', API, '--file', file]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('INVALID_OPENAPI: GET /a (getA): scope "nope" is not in the API\'s scope catalog');
    const missing = await keygate(['api', 'openapi', 'set', API, '--file', join(dir, 'nowhere.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
  });
});
