import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { runCli, type Run } from './run-cli.js';

/**
 * The CLI as a user runs it: a real child process against a real server started in this
 * process. Each run costs about a second of start-up, so the tests that do not depend on each
 * other run concurrently.
 */

const ROOT_KEY = 'test-root-key-0123456789abcdef0123456789';
const API = 'https://api.cli.test';

let server: RunningServer;
let dataDir: string;

function keygate(args: string[], options: { url?: string; rootKey?: string; stdin?: string } = {}): Promise<Run> {
  return runCli(args, { env: { KEYGATE_URL: options.url ?? server.url, KEYGATE_ROOT_KEY: options.rootKey ?? ROOT_KEY }, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
}

/** A port nothing listens on: bind one, then let it go. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'keygate-cli-'));
  server = await startServer({ port: 0, host: '127.0.0.1', dataDir, rootKey: ROOT_KEY }, { logger: false });
}, 30_000);

afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe.concurrent('keygate CLI', { timeout: 60_000 }, () => {
  it('walks through tenant → API → key → verify → revoke → verify, with the documented exit codes', async () => {
    const tenant = await keygate(['tenant', 'create', '--slug', 'acme', '--name', 'Acme Inc']);
    expect(tenant).toMatchObject({ code: 0, stderr: '' });
    expect(tenant.stdout).toMatch(/^slug\s+acme$/m);

    const api = await keygate([
      'api', 'create', '--tenant', 'acme', '--identifier', API, '--name', 'Acme API',
      '--scope', 'read:users=Read users', '--scope', 'write:users=Write users', '--implies', 'write:users=read:users',
    ]);
    expect(api.code).toBe(0);
    expect(api.stdout).toMatch(/^write:users\s+Write users\s+read:users$/m);

    const created = await keygate([
      'key', 'create', '--tenant', 'acme', '--api', API, '--scope', 'write:users', '--consumer', 'cus_1',
      '--expires-at', '30d', '--meta', '{"plan":"pro"}', '--ratelimit', 'requests:100:1m', '--credits', '50', '--json',
    ]);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string; scopes: string[]; ratelimits: unknown; credits: unknown; expiresAt: string };
    expect(key.key).toMatch(/^kg_/);
    expect(key).toMatchObject({ scopes: ['write:users'], ratelimits: [{ name: 'requests', limit: 100, duration: 60_000 }], credits: { remaining: 50 } });
    expect(Date.parse(key.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);

    // read:users is implied by write:users; the secret comes through stdin, as the docs advise.
    // Verify and list do not depend on each other, so they run side by side to save a start-up.
    const [valid, list] = await Promise.all([
      keygate(['key', 'verify', '--api', API, '--scope', 'read:users', '-'], { stdin: `${key.key}\n` }),
      keygate(['key', 'list', '--tenant', 'acme']),
    ]);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toMatch(/^valid\s+true$/m);
    expect(valid.stdout).toMatch(/^code\s+VALID$/m);
    expect(valid.stdout).toMatch(/^credits\s+49 left$/m);

    expect(list.code).toBe(0);
    const [header, row, ...rest] = list.stdout.trimEnd().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['ID', 'START', 'STATUS', 'API', 'CONSUMER', 'NAME', 'SCOPES', 'EXPIRES', 'LAST USED']);
    expect(row!.split(/\s{2,}/).slice(0, 5)).toEqual([key.id, key.key.slice(0, 7), 'active', API, 'cus_1']);
    expect(row!.indexOf(API)).toBe(header!.indexOf('API'));
    expect(rest).toEqual([]);

    const revoked = await keygate(['key', 'revoke', '--tenant', 'acme', key.id, '--yes']);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked 1 key: ${key.id}\n` });

    const invalid = await keygate(['key', 'verify', '--api', API, '--json', key.key]);
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.stdout)).toMatchObject({ valid: false, code: 'REVOKED', keyId: key.id });
  });

  it('prints a new secret with a shown-only-once warning', async () => {
    const run = await keygate(['root-key', 'create', '--scope', 'keys:verify', '--name', 'ci verifier']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^scopes\s+keys:verify$/m);
    expect(run.stdout).toMatch(/^tenant\s+all tenants$/m);
    expect(run.stdout).toMatch(/shown only once/);
    expect(run.stdout).toMatch(/^\s+kgroot_\S+$/m);
  });

  it('exits 2 and names the flag and its env var when --tenant is missing', async () => {
    const run = await keygate(['key', 'list']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('--tenant');
    expect(run.stderr).toContain('KEYGATE_TENANT');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 for a malformed flag value, through commander\'s own checks too', async () => {
    const run = await keygate(['key', 'roll', '--tenant', 'acme', 'key_x', '--grace', 'soon']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("'--grace <duration>'");
    expect(run.stderr).toContain('30d');
  });

  it('exits 3 with "code: detail" when the server answers a problem', async () => {
    await server.app.inject({ method: 'POST', url: '/v1/tenants', headers: { authorization: `Bearer ${ROOT_KEY}` }, payload: { slug: 'initech', name: 'Initech' } });
    const run = await keygate(['tenant', 'create', '--slug', 'initech', '--name', 'Initech again']);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error: TENANT_EXISTS: .+/m);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 4 and suggests "keygate start" when the server cannot be reached', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await keygate(['tenant', 'list'], { url });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(url);
    expect(run.stderr).toContain('keygate start');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
