import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackend, type Backend } from '../helpers/backends.js';

/**
 * What `keygate start` writes to stdout, read from a real child process: JSON lines when stdout
 * is not a terminal, readable lines with LOG_FORMAT=pretty, one start-up summary that says where
 * everything is (and never a password), and the request id on a request's lines.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const ROOT_KEY = 'logs-test-root-key-0123456789abcdef0123';

interface Started {
  child: ChildProcess;
  url: string;
  /** Everything written to stdout and to stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Sends SIGTERM and resolves with the whole stdout once the process has exited. */
  stop(): Promise<string>;
}

const running: Started[] = [];
const backends: Backend[] = [];

afterEach(async () => {
  for (const started of running.splice(0)) if (started.child.exitCode === null) await started.stop();
  for (const backend of backends.splice(0)) await backend.destroy();
});

/**
 * `keygate start` on a free port with exactly these settings; resolves once it printed its
 * summary. With `terminal`, its stdout is a terminal (util-linux `script` gives it a pty).
 */
function start(env: Record<string, string>, options: { terminal?: boolean } = {}): Promise<Started> {
  const childEnv: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_MASTER_KEY: randomBytes(32).toString('hex'), ...env };
  const args = ['--import', 'tsx', MAIN, 'start', '--port', '0', '--host', '127.0.0.1'];
  const child = options.terminal
    ? spawn('script', ['-qefc', [process.execPath, ...args].join(' '), '/dev/null'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`keygate start exited (${code}) before listening:\n${stdout}\n${stderr}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const url = /Keygate listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
      if (url === undefined) return;
      const started: Started = {
        child,
        url,
        stdout: () => stdout,
        stderr: () => stderr,
        async stop() {
          child.kill('SIGTERM');
          await exited;
          return stdout;
        },
      };
      running.push(started);
      resolve(started);
    });
  });
}

function jsonLines(stdout: string): Record<string, any>[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, any>);
}

describe('keygate start logs', () => {
  it('writes JSON lines when stdout is not a terminal, with one summary of where everything is', async () => {
    const backend = await createBackend('sqlite');
    backends.push(backend);
    const dataDir = backend.config.dataDir;
    const started = await start({ KEYGATE_DATA_DIR: dataDir });
    expect((await fetch(`${started.url}/healthz`)).status).toBe(200);
    const stdout = await started.stop();
    const lines = jsonLines(stdout);
    for (const line of lines) {
      expect(line).toMatchObject({ level: expect.any(Number), time: expect.any(Number), pid: started.child.pid, msg: expect.any(String) });
    }
    const summaries = lines.filter((line) => line.msg.startsWith('Keygate listening on'));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      level: 30,
      msg: `Keygate listening on ${started.url} · sqlite ${join(dataDir, 'keygate.db')} · no Redis`,
      url: started.url,
      publicUrl: started.url,
      store: `sqlite ${join(dataDir, 'keygate.db')}`,
      redis: 'off (rate limits and caches in this process only)',
      dataDir,
      metrics: `${started.url}/metrics (root key with metrics:read)`,
      docs: `${started.url}/docs (OpenAPI: ${started.url}/openapi.json)`,
      console: `${started.url}/console (operators sign in here; docs/console.md)`,
    });
    // No operator yet: the console's URL and how to create the first one.
    expect(stdout).toContain(`The console is at ${started.url}/console. No operator exists yet; create the first with the root key:`);
    expect(stdout).toContain('keygate operator create --email you@example.com --scope tenants:write');
    expect(lines.some((line) => line.msg === 'SIGTERM: shutting down')).toBe(true);
    expect(stdout).not.toContain(ROOT_KEY);
  });

  it('logs start-up warnings as lines of the same stream, not as bare text on stderr', async () => {
    const backend = await createBackend('sqlite');
    backends.push(backend);
    // No KEYGATE_MASTER_KEY: Keygate generates one and warns.
    const started = await start({ KEYGATE_DATA_DIR: backend.config.dataDir, KEYGATE_MASTER_KEY: '' });
    const stdout = await started.stop();
    const warning = jsonLines(stdout).find((line) => line.level === 40);
    expect(warning?.msg).toBe(
      `generated a master key in ${backend.config.dataDir}/master.key. It encrypts signing keys at rest: back it up, and set KEYGATE_MASTER_KEY instead when instances share a database.`,
    );
    expect(started.stderr()).toBe('');
  });

  it('names PostgreSQL and Redis by host, port and database, never with their passwords, and the METRICS_PORT listener', async () => {
    const backend = await createBackend('postgres');
    backends.push(backend);
    // PostgreSQL here trusts local connections, so a password in the URL is accepted and ignored.
    const databaseUrl = new URL(backend.config.databaseUrl!);
    databaseUrl.password = 'pg-secret-password';
    const started = await start({ KEYGATE_DATA_DIR: backend.config.dataDir, DATABASE_URL: databaseUrl.toString(), REDIS_URL: 'redis://127.0.0.1:6379/0', METRICS_PORT: '0' });
    const stdout = await started.stop();
    const summary = jsonLines(stdout).find((line) => line.msg.startsWith('Keygate listening on'))!;
    const database = databaseUrl.pathname.slice(1);
    expect(summary).toMatchObject({
      store: `postgres 127.0.0.1:5432/${database}`,
      redis: 'redis 127.0.0.1:6379/0',
      metrics: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/metrics \(no authentication\)$/),
    });
    expect(summary.msg).toBe(`Keygate listening on ${started.url} · postgres 127.0.0.1:5432/${database} · redis 127.0.0.1:6379/0`);
    expect(stdout).not.toContain('pg-secret-password');
    expect(stdout).not.toContain('METRICS_HOST is');
  });

  it('warns when the unauthenticated metrics listener is bound to every interface', async () => {
    const backend = await createBackend('sqlite');
    backends.push(backend);
    const started = await start({ KEYGATE_DATA_DIR: backend.config.dataDir, METRICS_PORT: '0', METRICS_HOST: '0.0.0.0' });
    const stdout = await started.stop();
    const warning = jsonLines(stdout).find((line) => line.msg.startsWith('METRICS_HOST is 0.0.0.0'));
    expect(warning).toMatchObject({ level: 40, msg: expect.stringMatching(/^METRICS_HOST is 0\.0\.0\.0: anyone who can reach this host reads http:\/\/0\.0\.0\.0:\d+\/metrics without a key\./) });
  });

  it('puts the request id on the lines of a request that failed, the id its problem answer names', async () => {
    const backend = await createBackend('postgres');
    backends.push(backend);
    const started = await start({ KEYGATE_DATA_DIR: backend.config.dataDir, DATABASE_URL: backend.config.databaseUrl! });
    // The database disappears under the running server: the next request that needs it fails.
    await backend.destroy();
    backends.splice(backends.indexOf(backend), 1);
    const response = await fetch(`${started.url}/v1/tenants/acme`, { headers: { authorization: `Bearer ${ROOT_KEY}` } });
    const problem = (await response.json()) as { status: number; requestId: string };
    expect(response.status).toBeGreaterThanOrEqual(500);
    const stdout = await started.stop();
    // Background work (batched writes, the revocation feed) may fail too; those lines belong to no request.
    const failed = jsonLines(stdout).filter((line) => line.msg === 'request failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 50, reqId: problem.requestId, err: { message: expect.any(String) } });
  });

  it('writes readable, coloured lines when stdout is a terminal and LOG_FORMAT is not set', async () => {
    const backend = await createBackend('sqlite');
    backends.push(backend);
    const started = await start({ KEYGATE_DATA_DIR: backend.config.dataDir }, { terminal: true });
    // A terminal may hand over the summary in pieces: wait (a bounded number of turns) for its last field.
    for (let i = 0; i < 500 && !started.stdout().includes('    docs: '); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const lines = started.stdout().split('\r\n');
    expect(lines.filter((line) => line.startsWith('{'))).toEqual([]);
    expect(lines).toContain(`    store: sqlite ${join(backend.config.dataDir, 'keygate.db')}`);
    expect(lines.find((line) => line.includes('Keygate listening on'))).toMatch(/^\d\d:\d\d:\d\d\.\d{3} \u001b\[32mINFO \u001b\[0m Keygate listening on /);
  });

  it('writes readable lines with LOG_FORMAT=pretty: time, level, message, then the summary fields', async () => {
    const backend = await createBackend('sqlite');
    backends.push(backend);
    const dataDir = backend.config.dataDir;
    const started = await start({ KEYGATE_DATA_DIR: dataDir, LOG_FORMAT: 'pretty' });
    const stdout = await started.stop();
    const lines = stdout.split('\n').filter((line) => line !== '');
    expect(lines.filter((line) => line.startsWith('{'))).toEqual([]);
    const head = lines.findIndex((line) => line.includes('Keygate listening on'));
    expect(lines[head]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  Keygate listening on http:\/\/127\.0\.0\.1:\d+ · sqlite .+ · no Redis$/);
    expect(lines.slice(head + 1, head + 8)).toEqual([
      `    url: ${started.url}`,
      `    publicUrl: ${started.url}`,
      `    store: sqlite ${join(dataDir, 'keygate.db')}`,
      '    redis: off (rate limits and caches in this process only)',
      `    dataDir: ${dataDir}`,
      `    metrics: ${started.url}/metrics (root key with metrics:read)`,
      `    docs: ${started.url}/docs (OpenAPI: ${started.url}/openapi.json)`,
    ]);
    expect(lines.at(-1)).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  SIGTERM: shutting down$/);
  });
});
