import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../helpers/backends.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIRST = 'first-root-key-value-0123456789abcdefghij';
const SECOND = 'second-root-key-value-0123456789abcdefghi';

/**
 * An embedder's createKeygate that fails after opening the store and the cluster (here: a
 * retired KEYGATE_ROOT_KEY) must close what it opened. Otherwise the Redis link keeps
 * reconnecting, the pool stays open, and a process that handled the error never exits.
 */
describe('a createKeygate that fails mid-way', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'keygate-failed-start-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('closes the store and the Redis link it opened, so the process can exit', async () => {
    const script = `
      const { createKeygate } = await import(${JSON.stringify(join(ROOT, 'src/server.ts'))});
      const quiet = { warn() {}, error() {} };
      const config = (rootKey) => ({ dataDir: ${JSON.stringify(dataDir)}, redisUrl: ${JSON.stringify(REDIS_URL)}, rootKey });
      await (await createKeygate({ config: config(${JSON.stringify(FIRST)}), logger: quiet })).close();
      await (await createKeygate({ config: config(${JSON.stringify(SECOND)}), logger: quiet })).close();
      try {
        await createKeygate({ config: config(${JSON.stringify(FIRST)}), logger: quiet });
        console.log('started');
      } catch (err) {
        console.log(err.name);
      }
    `;
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['DATABASE_URL'];
    delete env['REDIS_URL'];
    delete env['KEYGATE_ROOT_KEY'];
    // Left open, the Redis connections keep the event loop alive until the timeout kills the child.
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env, timeout: 20_000 });
    expect(stdout.trim().split('\n').at(-1)).toBe('StartupError');
  }, 30_000);
});
