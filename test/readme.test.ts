import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);

/** The README's walkthrough must work verbatim: run it in bash against a real server. */
describe('README walkthrough', () => {
  let t: TestServer;
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /<!-- walkthrough:start -->\n```sh\n([\s\S]*?)```\n<!-- walkthrough:end -->/.exec(readme)![1]!;
  const rootKey = /KEYGATE_ROOT_KEY=(\S+)/.exec(block)![1]!;

  beforeAll(async () => {
    t = await startTestServer('sqlite', { rootKey });
  });
  afterAll(() => t.close());

  it('creates a tenant, an API and a key, and verifies it', async () => {
    // Only the export line changes: the test server listens on an ephemeral port.
    const script = block.replace(/^export KEYGATE_URL=.*$/m, '');
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], {
      env: { ...process.env, KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: rootKey },
    });
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[0]!)).toMatchObject({ slug: 'acme', name: 'Acme Inc.' });
    expect(JSON.parse(lines[1]!)).toMatchObject({ identifier: 'https://api.acme.com', keyPrefix: 'kg' });
    expect(lines[2]).toMatch(/^kg_[0-9A-Za-z]{28}$/);
    const result = JSON.parse(lines[3]!);
    expect(result).toMatchObject({ valid: true, code: 'VALID', consumer: 'customer_42', credits: { remaining: 999 } });
    expect(result.ratelimits[0]).toMatchObject({ name: 'per-second', limit: 10, remaining: 9 });
    // The printed example has the same shape as the real answers, line by line.
    const printed = /prints\n\n```json\n([\s\S]*?)```/.exec(readme)![1]!.trim().split('\n');
    for (const i of [0, 1, 3]) expect(Object.keys(JSON.parse(printed[i]!))).toEqual(Object.keys(JSON.parse(lines[i]!)));
  });

  it('continues with an OAuth client, a token, its verification and the client cut-off', async () => {
    const m2m = /<!-- m2m:start -->\n```sh\n([\s\S]*?)```\n<!-- m2m:end -->/.exec(readme)![1]!;
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', m2m], {
      env: { ...process.env, KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: rootKey },
    });
    const lines = stdout.trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ valid: true, code: 'VALID', api: 'https://api.acme.com', scopes: ['read:users'] });
    expect(JSON.parse(lines[1]!).notBefore).toMatch(/Z$/);
    expect(lines[2]).toBe('REVOKED');
    const printed = [...readme.matchAll(/prints\n\n```json\n([\s\S]*?)```/g)][1]![1]!.trim().split('\n');
    for (const i of [0, 1]) expect(Object.keys(JSON.parse(printed[i]!))).toEqual(Object.keys(JSON.parse(lines[i]!)));
  });
});
