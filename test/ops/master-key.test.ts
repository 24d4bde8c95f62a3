import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { MASTER_KEY_FILE } from '../../src/crypto/master-key.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { SYSTEM_ACTOR } from '../../src/services/context.js';
// From the package's main export, as an embedding application would catch it.
import { StartupError } from '../../src/index.js';
import { createBackend, type Backend } from '../helpers/backends.js';
import { ORDERS_API, basic, postForm, registerMachineClient } from '../helpers/oauth.js';
import { ROOT_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { snapshotAll } from '../helpers/snapshot.js';

const OTHER_KEY = 'ab'.repeat(32);

/**
 * Instances sharing one PostgreSQL database must share one master key: the database keeps a
 * check value sealed with the key of its first start, and an instance whose key cannot open it
 * refuses to start, instead of starting and answering 500 on every token it tries to sign.
 */
describe('master key shared by instances on one PostgreSQL database', () => {
  let first: TestServer;
  let firstKey: string;
  let machine: { clientId: string; clientSecret: string | null };
  const started: RunningServer[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    // The README's scale-out recipe without KEYGATE_MASTER_KEY: the first instance generates one.
    first = await startTestServer('postgres', { masterKey: undefined });
    firstKey = readFileSync(join(first.backend.config.dataDir, MASTER_KEY_FILE), 'utf8').trim();
    await first.call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' });
    machine = await registerMachineClient(first);
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await first.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Every table of the first instance, after it wrote its batched usage (its own requests touch the root key's). */
  async function settled(): Promise<string> {
    await first.server.keygate.flush();
    return snapshotAll(first.backend);
  }

  function secondInstance(overrides: Partial<Config>): Promise<RunningServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'keygate-second-'));
    dirs.push(dataDir);
    return startServer({ port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, databaseUrl: first.backend.config.databaseUrl, dataDir, ...overrides }, { logger: false, env: {} }).then((s) => {
      started.push(s);
      return s;
    });
  }

  /** Client credentials at one instance's token endpoint, as a load balancer would route it. */
  async function issueToken(url: string): Promise<string> {
    const response = await postForm({ url }, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: ORDERS_API }, { authorization: basic(machine.clientId, machine.clientSecret!) });
    expect(response.status).toBe(200);
    return response.body.access_token as string;
  }

  it('refuses to start an instance that would generate its own key, and leaves no key file and no row behind', async () => {
    const before = await settled();
    const refusal = await secondInstance({ masterKey: undefined }).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(StartupError);
    expect((refusal as Error).message).toMatch(/^KEYGATE_MASTER_KEY is not set and .*master\.key does not exist, but the database at 127\.0\.0\.1:5432\/kg_test_/);
    expect((refusal as Error).message).toContain('Set KEYGATE_MASTER_KEY to the master key the other instances use');
    expect(existsSync(join(dirs.at(-1)!, MASTER_KEY_FILE))).toBe(false);
    expect(await settled()).toBe(before);
  });

  it('refuses to start an instance configured with another key', async () => {
    const before = await settled();
    const refusal = await secondInstance({ masterKey: OTHER_KEY }).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(StartupError);
    expect((refusal as Error).message).toMatch(/^The master key in KEYGATE_MASTER_KEY cannot open the master-key check .* Set KEYGATE_MASTER_KEY to/);
    expect(await settled()).toBe(before);
  });

  it('starts an instance given the same key, and both issue tokens the other accepts', async () => {
    // Behind one load balancer, instances share PUBLIC_URL and so the tenant's issuer.
    const second = await secondInstance({ masterKey: firstKey, publicUrl: first.url });
    const fromFirst = await issueToken(first.url);
    const fromSecond = await issueToken(second.url);
    for (const [url, token] of [
      [second.url, fromFirst],
      [first.url, fromSecond],
    ] as const) {
      const verified = await fetch(`${url}/v1/verify`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ROOT_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ credential: token, api: ORDERS_API }),
      });
      expect(await verified.json()).toMatchObject({ valid: true, code: 'VALID' });
    }
  });

  it('`keygate start` with another key exits non-zero with the message and no stack trace', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keygate-cli-'));
    dirs.push(dataDir);
    const run = await runStart({ DATABASE_URL: first.backend.config.databaseUrl!, KEYGATE_MASTER_KEY: OTHER_KEY, KEYGATE_DATA_DIR: dataDir, KEYGATE_ROOT_KEY: ROOT_KEY });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^keygate: The master key in KEYGATE_MASTER_KEY cannot open the master-key check/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('master key check on databases that have none yet', () => {
  let backend: Backend;
  beforeEach(async () => {
    backend = await createBackend('postgres');
  });
  afterEach(() => backend.destroy());

  it('lets exactly one of two instances started together on an empty database generate the key', async () => {
    const dataDirs = [mkdtempSync(join(tmpdir(), 'keygate-race-')), mkdtempSync(join(tmpdir(), 'keygate-race-'))];
    const results = await Promise.allSettled(
      dataDirs.map((dataDir) => startServer({ port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, databaseUrl: backend.config.databaseUrl, dataDir, masterKey: undefined }, { logger: false, env: {} })),
    );
    const running = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    await Promise.all(running.map((s) => s.close()));
    expect(running).toHaveLength(1);
    expect(refused[0]).toBeInstanceOf(StartupError);
    expect(dataDirs.filter((dir) => existsSync(join(dir, MASTER_KEY_FILE)))).toHaveLength(1);
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('seals a check into a database from before it only with a key that opens its signing keys', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keygate-old-'));
    const config = { port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, databaseUrl: backend.config.databaseUrl, dataDir };
    const old = await startServer({ ...config, masterKey: OTHER_KEY.replace(/a/g, 'c') }, { logger: false, env: {} });
    await old.keygate.tenants.create(SYSTEM_ACTOR, { slug: 'legacy', name: 'Legacy' });
    await old.close();
    // What a database written before the check existed looks like: signing keys, no check.
    await sql(backend, 'delete from keygate_meta');
    const before = await snapshotAll(backend);

    const refusal = await startServer({ ...config, masterKey: OTHER_KEY }, { logger: false, env: {} }).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(StartupError);
    expect((refusal as Error).message).toMatch(/^The master key in KEYGATE_MASTER_KEY cannot open the signing keys already in this database/);
    expect(await snapshotAll(backend)).toBe(before);

    const right = await startServer({ ...config, masterKey: OTHER_KEY.replace(/a/g, 'c') }, { logger: false, env: {} });
    await right.close();
    expect(await sql(backend, 'select name from keygate_meta')).toEqual([{ name: 'master_key_check' }]);
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('master key on the embedded SQLite database', () => {
  it('refuses to replace a lost master.key with a new one once the database holds data', async () => {
    const backend = await createBackend('sqlite');
    const config = { port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, ...backend.config, masterKey: undefined };
    const server = await startServer(config, { logger: false, env: {} });
    await server.keygate.tenants.create(SYSTEM_ACTOR, { slug: 'acme', name: 'Acme' });
    await server.close();
    rmSync(join(backend.config.dataDir, MASTER_KEY_FILE));

    const refusal = await startServer(config, { logger: false, env: {} }).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(StartupError);
    expect((refusal as Error).message).toMatch(/^A newly generated master key \(KEYGATE_MASTER_KEY is not set and .* does not exist\) cannot open the master-key check/);
    expect(existsSync(join(backend.config.dataDir, MASTER_KEY_FILE))).toBe(false);
    await backend.destroy();
  });
});

async function sql(backend: Backend, text: string): Promise<unknown[]> {
  const connection = new pg.Client({ connectionString: backend.config.databaseUrl });
  await connection.connect();
  try {
    return (await connection.query(text)).rows;
  } finally {
    await connection.end();
  }
}

/** `keygate start` as an operator runs it, with exactly the given settings. */
function runStart(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(KEYGATE_|DATABASE_URL|REDIS_URL|PUBLIC_URL|HOST|PORT)/.test(name)));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'start', '--port', '0'], { cwd: root, env: { ...clean, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}
