import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server.js';
import { StartupError } from '../../src/services/startup-errors.js';
import { POSTGRES_URL } from '../helpers/backends.js';
import { ROOT_KEY } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PASSWORD = 'pw-never-printed';

/** Start-up failures say what failed and where, so an operator can fix them without a debugger. */
describe('start-up failures', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-startup-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('an unreachable DATABASE_URL names host, port and cause, never the password', async () => {
    const port = await closedPort();
    const refusal = await startServer(
      { port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, dataDir: tempDir(), databaseUrl: `postgres://keygate:${PASSWORD}@127.0.0.1:${port}/keygate` },
      { logger: false, env: {} },
    ).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(StartupError);
    const message = (refusal as Error).message;
    expect(message).toContain(`Cannot reach PostgreSQL at 127.0.0.1:${port}/keygate (DATABASE_URL): connect ECONNREFUSED 127.0.0.1:${port}.`);
    expect(message).not.toContain(PASSWORD);
  });

  it('a database PostgreSQL refuses names it and the reason', async () => {
    const url = new URL(POSTGRES_URL);
    url.pathname = '/keygate_no_such_database';
    const refusal = await startServer({ port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, dataDir: tempDir(), databaseUrl: url.toString() }, { logger: false, env: {} }).catch(
      (err: unknown) => err,
    );
    expect(refusal).toBeInstanceOf(StartupError);
    expect((refusal as Error).message).toContain(`Cannot use PostgreSQL at ${url.hostname}:${url.port || 5432}/keygate_no_such_database (DATABASE_URL): database "keygate_no_such_database" does not exist.`);
  });

  // Tests run as root, for whom permissions do not stop a write: a path through a file is unwritable for everyone.
  it('an unwritable data directory is named, for SQLite and for the master key beside PostgreSQL', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    const dataDir = join(file, 'data');
    for (const databaseUrl of [undefined, POSTGRES_URL]) {
      const refusal = await startServer({ port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, dataDir, databaseUrl, masterKey: undefined }, { logger: false, env: {} }).catch((err: unknown) => err);
      expect(refusal, databaseUrl ?? 'sqlite').toBeInstanceOf(StartupError);
      expect((refusal as Error).message).toMatch(new RegExp(`^Cannot write the data directory ${dataDir} \\(KEYGATE_DATA_DIR\\): ENOTDIR`));
    }
  });

  it('a port in use is named with the settings that chose it', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const refusal = await startServer({ port, host: '127.0.0.1', rootKey: ROOT_KEY, dataDir: tempDir(), databaseUrl: undefined }, { logger: false, env: {} }).catch((err: unknown) => err);
      expect(refusal).toBeInstanceOf(StartupError);
      expect((refusal as Error).message).toBe(
        `Cannot listen on 127.0.0.1:${port} (HOST and PORT): listen EADDRINUSE: address already in use 127.0.0.1:${port}. Another process listens there: stop it or choose another port, then start again.`,
      );
    } finally {
      busy.close();
    }
  });

  it('`keygate start` prints the failure alone and exits 1', async () => {
    const port = await closedPort();
    const run = await keygateStart({ DATABASE_URL: `postgres://keygate:${PASSWORD}@127.0.0.1:${port}/keygate`, KEYGATE_DATA_DIR: tempDir() }, () => false);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `keygate: Cannot reach PostgreSQL at 127.0.0.1:${port}/keygate (DATABASE_URL): connect ECONNREFUSED 127.0.0.1:${port}. Check that PostgreSQL runs and that this host can reach it, then start again.\n`,
    );
  });

  it('HOST=0.0.0.0 without PUBLIC_URL warns that issuers will say 0.0.0.0, and is quiet with PUBLIC_URL', async () => {
    const port = await closedPort();
    const listening = (out: string): boolean => out.includes('Keygate listening on');
    const bare = await keygateStart({ HOST: '0.0.0.0', PORT: String(port), KEYGATE_DATA_DIR: tempDir(), LOG_FORMAT: 'json' }, listening);
    const warning = bare.stdout.split('\n').find((line) => line.includes('PUBLIC_URL is not set'));
    expect(JSON.parse(warning!)).toMatchObject({
      level: 40,
      msg: `HOST is 0.0.0.0 and PUBLIC_URL is not set: tenant issuers, metadata and links say http://0.0.0.0:${port}, which clients cannot reach. Set PUBLIC_URL to the URL clients use (e.g. https://keygate.example.com).`,
    });
    const withUrl = await keygateStart({ HOST: '0.0.0.0', PORT: String(port), PUBLIC_URL: 'https://keygate.example.com', KEYGATE_DATA_DIR: tempDir(), LOG_FORMAT: 'json' }, listening);
    expect(listening(withUrl.stdout)).toBe(true);
    expect(withUrl.stdout).not.toContain('PUBLIC_URL is not set');
  });
});

/** A port nothing listens on (taken, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/**
 * `keygate start` with exactly the given settings; stopped (SIGTERM) once `done` says its output
 * holds what the test waits for, or left to exit by itself.
 */
function keygateStart(env: Record<string, string>, done: (stdout: string) => boolean): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(KEYGATE_|DATABASE_URL|REDIS_URL|PUBLIC_URL|HOST|PORT|LOG_)/.test(name)));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'start'], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (done(stdout)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
