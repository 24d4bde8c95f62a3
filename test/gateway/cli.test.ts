import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startSummary } from '../../src/cli/start-summary.js';
import { loadConfig } from '../../src/config/schema.js';
import { createBackend, type Backend } from '../helpers/backends.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');

interface Gateway {
  child: ChildProcess;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/** `keygate gateway` as an operator runs it: a real child process whose stdout is read. */
function gateway(env: Record<string, string>): Gateway {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'gateway', '--host', '127.0.0.1'], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], KEYGATE_ROOT_KEY: 'gateway-cli-root-key-0123456789abcdef01', KEYGATE_MASTER_KEY: randomBytes(32).toString('hex'), LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

describe('keygate gateway', () => {
  const backends: Backend[] = [];
  afterAll(async () => {
    for (const backend of backends) await backend.destroy();
  });

  it('exits 2 without GATEWAY_PORT', async () => {
    const backend = await createBackend('sqlite');
    backends.push(backend);
    const started = gateway({ KEYGATE_DATA_DIR: backend.config.dataDir });
    expect(await started.exited).toBe(2);
    expect(started.stderr()).toContain('GATEWAY_PORT');
  });

  it('serves the gateway alone, and its summary line says where', async () => {
    const backend = await createBackend('sqlite');
    backends.push(backend);
    const started = gateway({ KEYGATE_DATA_DIR: backend.config.dataDir, GATEWAY_PORT: '0' });
    try {
      const deadline = Date.now() + 60_000;
      let summary: { msg: string; url: string; gateway: string } | undefined;
      while (summary === undefined && Date.now() < deadline) {
        summary = started
          .stdout()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { msg: string; url: string; gateway: string })
          .find((line) => line.msg.startsWith('Keygate gateway listening on'));
        if (summary === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(summary).toMatchObject({ msg: expect.stringMatching(/^Keygate gateway listening on http:\/\/127\.0\.0\.1:\d+ · sqlite /), url: 'off (keygate gateway)' });
      // No API is behind it yet: every request is a 404 of the gateway's own.
      const response = await fetch(`${summary!.gateway}/users`);
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ code: 'NO_ROUTE' });
    } finally {
      started.child.kill('SIGTERM');
      await started.exited;
    }
  });

  it('keygate start names the gateway in its summary line when GATEWAY_PORT is set, and says it is off otherwise', () => {
    const config = loadConfig({ env: { KEYGATE_DATA_DIR: '/srv/keygate' } });
    const on = startSummary(config, { url: 'http://127.0.0.1:4000', metricsUrl: null, gatewayUrl: 'http://127.0.0.1:8080' });
    expect(on.msg).toBe('Keygate listening on http://127.0.0.1:4000 · sqlite /srv/keygate/keygate.db · no Redis · gateway http://127.0.0.1:8080');
    expect(on.fields.gateway).toBe('http://127.0.0.1:8080');
    const off = startSummary(config, { url: 'http://127.0.0.1:4000', metricsUrl: null, gatewayUrl: null });
    expect(off.msg).toBe('Keygate listening on http://127.0.0.1:4000 · sqlite /srv/keygate/keygate.db · no Redis');
    expect(off.fields.gateway).toBe('off (GATEWAY_PORT unset)');
  });
});
