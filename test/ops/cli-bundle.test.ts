import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `npm start` and the `keygate` bin run dist/cli/main.js, which `npm run build` bundles
 * (scripts/bundle-cli.ts) after tsc; every other test runs src/ through tsx. This one bundles
 * this checkout's src/ into a scratch copy and starts it as users do, to see that what the
 * bundle carries works there: the server, its lazily loaded surfaces, files found next to their
 * modules (the console's scripts), and the CLI's commands.
 */
describe('the bundled keygate command', () => {
  let scratch: string;
  let main: string;
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'keygate-bundle-'));
    symlinkSync(join(ROOT, 'src'), join(scratch, 'src'));
    symlinkSync(join(ROOT, 'node_modules'), join(scratch, 'node_modules'));
    for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) copyFileSync(join(ROOT, file), join(scratch, file));
    // What tsc would put in dist/ that the bundle reads at run time: the script folders.
    for (const folder of ['http/console/assets', 'http/portal/assets']) {
      mkdirSync(join(scratch, 'dist', folder), { recursive: true });
      cpSync(join(ROOT, 'src', folder), join(scratch, 'dist', folder), { recursive: true, filter: (path) => !path.endsWith('.ts') });
    }
    await run(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bundle-cli.ts'), '--root', scratch], { cwd: ROOT });
    main = join(scratch, 'dist/cli/main.js');
  }, 120_000);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('starts on SQLite and serves every surface, those loaded on demand too', async () => {
    const port = await freePort();
    const server = spawn(process.execPath, [main, 'start'], {
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], PORT: String(port), HOST: '127.0.0.1', KEYGATE_DATA_DIR: join(scratch, 'data'), LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const rootKey = await bootstrapKey(server);
      const url = `http://127.0.0.1:${port}`;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const verify = await fetch(`${url}/v1/verify`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rootKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ credential: 'kg_not_a_key', api: 'https://api.example' }),
      });
      expect(verify.status).toBe(200);
      expect(((await verify.json()) as { valid: boolean }).valid).toBe(false);
      const document = (await (await fetch(`${url}/openapi.json`)).json()) as { openapi: string; paths: object };
      expect(document.openapi).toBe('3.1.0');
      expect(Object.keys(document.paths).length).toBeGreaterThan(50);
      expect(await (await fetch(`${url}/docs`)).text()).toContain('Keygate API reference');
      const script = await fetch(`${url}/console/assets/copy.js`);
      expect(script.status).toBe(200);
      expect(script.headers.get('content-type')).toContain('text/javascript');
      expect((await fetch(`${url}/console/login`)).status).toBe(200);
      expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${rootKey}` } })).status).toBe(200);
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
  });

  it('runs the management commands', async () => {
    const { stdout } = await run(process.execPath, [main, '--help']);
    for (const command of ['start', 'gateway', 'tenant', 'api', 'key', 'decode']) expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    const decoded = await run(process.execPath, [main, 'decode', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']).catch((err: { stdout: string }) => err);
    expect(decoded.stdout).toContain('"sub": "x"');
  });
});

/** The root key a first start prints once, which also says the server has started. */
function bootstrapKey(server: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    server.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const key = /kgroot_[A-Za-z0-9_-]+/.exec(output)?.[0];
      if (key !== undefined && output.includes('Keygate listening on')) resolve(key);
    });
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.once('exit', (code) => reject(new Error(`keygate start exited (${code}):\n${output}`)));
  });
}
