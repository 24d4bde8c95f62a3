import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, REDIS_URL, type Backend } from '../helpers/backends.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DRIVERS = ['better-sqlite3', 'pg', 'ioredis'];

/**
 * Imports `entry` in a fresh Node process (through tsx, so no build is needed), optionally opens
 * Keygate with `config`, and answers which of `packages` the process has loaded. They are all
 * CommonJS packages, so whatever imports them — statically or dynamically, from ESM or not —
 * leaves their files in the one CommonJS module cache.
 */
async function packagesLoaded(entry: string, config?: Record<string, unknown>, packages: string[] = DRIVERS): Promise<string[]> {
  const script = `
    import { createRequire } from 'node:module';
    const entry = await import(${JSON.stringify(join(ROOT, entry))});
    const config = ${JSON.stringify(config ?? null)};
    if (config) await (await entry.createKeygate({ config, logger: { warn() {}, error() {} } })).close();
    const names = Object.keys(createRequire(${JSON.stringify(join(ROOT, 'package.json'))}).cache)
      .map((file) => /[\\\\/]node_modules[\\\\/]([^\\\\/]+)[\\\\/]/.exec(file)?.[1])
      .filter((name) => ${JSON.stringify(packages)}.includes(name));
    console.log(JSON.stringify([...new Set(names)].sort()));
  `;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['DATABASE_URL'];
  delete env['REDIS_URL'];
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as string[];
}

describe('entry points', () => {
  it('`keygate` (the offline verifier, types and errors) loads no database driver and no Redis client', async () => {
    expect(await packagesLoaded('src/index.ts')).toEqual([]);
  });

  it('`keygate/server` loads none until createKeygate opens a store, and then only the one configured', async () => {
    expect(await packagesLoaded('src/server.ts')).toEqual([]);
    const sqlite = await createBackend('sqlite');
    try {
      // Also proves the probe sees a loaded driver: the first test cannot pass by seeing nothing.
      expect(await packagesLoaded('src/server.ts', sqlite.config)).toEqual(['better-sqlite3']);
    } finally {
      await sqlite.destroy();
    }
  });

  it('package.json publishes both entries with their types, and keeps the middleware subpaths', () => {
    const { exports } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
    expect(exports['./server']).toEqual({ types: './dist/server.d.ts', import: './dist/server.js' });
    for (const framework of ['express', 'fastify', 'hono']) {
      expect(exports[`./middleware/${framework}`]).toEqual({ types: `./dist/middleware/${framework}/index.d.ts`, import: `./dist/middleware/${framework}/index.js` });
    }
  });

  it('the CLI loads no Fastify and no driver: its wire types come from the route schemas by `import type` alone', async () => {
    const server = ['fastify', ...DRIVERS];
    expect(await packagesLoaded('src/cli/program.ts', undefined, server)).toEqual([]);
    // The probe sees Fastify where it is loaded.
    expect(await packagesLoaded('src/http/app.ts', undefined, server)).toEqual(['fastify']);
  });

  describe('with PostgreSQL and Redis configured', () => {
    let postgres: Backend;
    beforeAll(async () => {
      postgres = await createBackend('postgres');
    });
    afterAll(() => postgres.destroy());

    it('loads pg and ioredis, never better-sqlite3', async () => {
      const config = { ...postgres.config, redisUrl: REDIS_URL };
      expect(await packagesLoaded('src/server.ts', config)).toEqual(['ioredis', 'pg']);
    });
  });
});
