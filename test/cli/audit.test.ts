import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/cli/api-types.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli, type Run } from './run-cli.js';

/**
 * `keygate audit list` (issue 8, item 7): newest first, filters passed through, and a table that
 * shows a denial's reason (`data.code`) and how many occurrences an aggregated row stands for.
 */
describe('keygate audit list', () => {
  let t: TestServer;
  let api: string;
  let keyId: string;
  const nowMs = Date.UTC(2026, 2, 2, 8, 15, 0);

  const keygate = (args: string[]): Promise<Run> => runCli(['audit', 'list', ...args], { env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' } });
  const rows = (stdout: string): string[][] => stdout.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));

  beforeAll(async () => {
    t = await startTestServer('sqlite', {}, { clock: () => nowMs });
    ({ api } = await seedTenant(t));
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] });
    expectStatus(created, 201);
    keyId = created.body.id;
    for (let i = 0; i < 3; i++) await t.server.keygate.verify({ credential: created.body.key, api, scopes: ['write:users'] }, { requestId: `req-${i}` });
    await t.server.keygate.flush();
  });
  afterAll(() => t?.close());

  it('shows the reason and the count of an aggregated denial, newest first', async () => {
    const run = await keygate(['--target', keyId]);
    expect(run.code, run.stderr).toBe(0);
    const [header, ...body] = rows(run.stdout);
    expect(header).toEqual(['AT', 'ACTION', 'ACTOR', 'TARGET', 'REASON', 'COUNT', 'IP', 'REQUEST']);
    expect(body.map((cells) => cells.slice(1, 6))).toEqual([
      ['key.verify.denied', 'verify', keyId, 'INSUFFICIENT_SCOPE', '3'],
      ['key.create', expect.stringMatching(/^key_/), keyId, '-', '1'],
    ]);
    expect(body[0]![7]).toBe('req-0');
  });

  it('prints the listing as JSON with --json, filtered by action', async () => {
    const run = await keygate(['--action', 'key.verify.denied', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const items = JSON.parse(run.stdout).items as AuditEvent[];
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ target: keyId, count: 3, requestId: 'req-0', lastRequestId: 'req-2', data: { code: 'INSUFFICIENT_SCOPE' } });
  });

  it('refuses a malformed --from or --to itself: usage error (exit 2), nothing sent', async () => {
    // An unreachable URL: a request would end in exit 4, so exit 2 shows none was made.
    for (const args of [['--from', 'yesterday'], ['--to', '2026-02-30'], ['--from', '30d']]) {
      const run = await runCli(['audit', 'list', '--tenant', 'acme', ...args], { env: { KEYGATE_URL: 'http://127.0.0.1:1', KEYGATE_ROOT_KEY: ROOT_KEY } });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(args[0]);
      expect(run.stderr).toMatch(/ISO-8601|not a valid date/);
    }
  });

  it('passes the time filters to the server; a malformed or backwards one is refused', async () => {
    const later = new Date(nowMs + 1000).toISOString();
    const empty = await keygate(['--from', later]);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout.trim()).toBe('No audit events.');
    const bad = await keygate(['--from', 'yesterday']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/from/);
    const backwards = await keygate(['--from', later, '--to', new Date(nowMs).toISOString()]);
    expect(backwards.code).not.toBe(0);
    expect(backwards.stderr).toContain('`from` must be before `to`');
  });
});
