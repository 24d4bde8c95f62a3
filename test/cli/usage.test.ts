import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageSeries } from '../../src/cli/api-types.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli, type Run } from './run-cli.js';

/**
 * `keygate usage` (issue 10, item 6): a tenant's time series as a table (allowed, denied, the
 * denials by code) or as the API's JSON, with the route's filters and range passed through.
 */
describe('keygate usage', () => {
  let t: TestServer;
  let api: string;
  let keyId: string;
  // Keygate's clock stands at 08:15 UTC: every verify of the suite lands in the 08:00 hour.
  const nowMs = Date.UTC(2026, 2, 2, 8, 15, 0);
  const range = ['--from', '2026-03-02T07:00:00Z', '--to', '2026-03-02T09:00:00Z'];

  const keygate = (args: string[]): Promise<Run> => runCli(['usage', ...args], { env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' } });
  const rows = (stdout: string): string[][] => stdout.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));

  beforeAll(async () => {
    t = await startTestServer('sqlite', {}, { clock: () => nowMs });
    ({ api } = await seedTenant(t));
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], consumer: 'cust-1' });
    expectStatus(created, 201);
    keyId = created.body.id;
    for (let i = 0; i < 4; i++) expectStatus(await t.call('POST', '/v1/verify', { credential: created.body.key, api, scopes: ['read:users'] }), 200);
    for (let i = 0; i < 2; i++) expectStatus(await t.call('POST', '/v1/verify', { credential: created.body.key, api, scopes: ['write:users'] }), 200);
    await t.server.keygate.flush();
  });
  afterAll(() => t?.close());

  it('prints one row per hour: requests, allowed, denied and the denials by code', async () => {
    const run = await keygate(['--api', api, ...range]);
    expect(run.code, run.stderr).toBe(0);
    const [header, ...body] = rows(run.stdout);
    expect(header).toEqual(['AT', 'REQUESTS', 'ALLOWED', 'DENIED', '2XX', '3XX', '4XX', '5XX', 'P50 MS', 'P90 MS', 'P99 MS', 'DENIALS']);
    expect(body.map((cells) => [cells[0], ...cells.slice(1, 4), cells[11]])).toEqual([
      ['2026-03-02T07:00:00.000Z', '0', '0', '0', '-'],
      ['2026-03-02T08:00:00.000Z', '6', '4', '2', 'INSUFFICIENT_SCOPE=2'],
    ]);
  });

  it('prints the series as JSON with --json, narrowed by key and granularity', async () => {
    const run = await keygate(['--key', keyId, '--granularity', 'day', '--json', ...range]);
    expect(run.code, run.stderr).toBe(0);
    const series = JSON.parse(run.stdout) as UsageSeries;
    expect(series).toMatchObject({ granularity: 'day', from: '2026-03-02T00:00:00.000Z' });
    expect(series.points).toHaveLength(1);
    expect(series.points[0]).toMatchObject({ requests: 6, outcomes: { allowed: 4, INSUFFICIENT_SCOPE: 2 } });
  });

  it('prints the busiest keys or consumers with --by, and refuses --limit without it', async () => {
    const other = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], consumer: 'cust-2' });
    expectStatus(other, 201);
    expectStatus(await t.call('POST', '/v1/verify', { credential: other.body.key, api }), 200);
    await t.server.keygate.flush();
    const byConsumer = await keygate(['--by', 'consumer', ...range]);
    expect(byConsumer.code, byConsumer.stderr).toBe(0);
    expect(rows(byConsumer.stdout)).toEqual([
      ['CONSUMER', 'REQUESTS', 'ALLOWED', 'DENIED', 'DENIALS'],
      ['cust-1', '6', '4', '2', 'INSUFFICIENT_SCOPE=2'],
      ['cust-2', '1', '1', '0', '-'],
    ]);
    const top = await keygate(['--by', 'key', '--limit', '1', ...range]);
    expect(top.code, top.stderr).toBe(0);
    expect(top.stdout).toContain(keyId);
    expect(top.stdout).not.toContain(other.body.id);
    expect(top.stdout).toContain('The 1 busiest of 2.');
    const json = await keygate(['--by', 'operation', '--json', ...range]);
    expect(JSON.parse(json.stdout)).toMatchObject({ by: 'operation', items: [{ name: null, requests: 7 }], total: 1 });
    expect((await keygate(['--limit', '5'])).code).toBe(2);
    expect((await keygate(['--by', 'api'])).code).toBe(2);
  });

  it('says so when nothing was counted, and refuses an unknown granularity before sending anything', async () => {
    const empty = await keygate(['--consumer', 'nobody', ...range]);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout.trim()).toBe('No usage from 2026-03-02T07:00:00.000Z to 2026-03-02T09:00:00.000Z.');
    const wrong = await keygate(['--granularity', 'week']);
    expect(wrong.code).toBe(2);
  });
});
