import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCluster } from '../../src/cluster/open-cluster.js';
import { BACKENDS, REDIS_URL } from '../helpers/backends.js';
import { ORDERS_API, registerMachineClient } from '../helpers/oauth.js';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { snapshotAll } from '../helpers/snapshot.js';

/**
 * GET /metrics after real traffic over HTTP, read by a strict parser of the Prometheus text
 * format (0.0.4): every sample belongs to a family declared by `# TYPE`, label values are
 * unescaped, histogram buckets are cumulative and end in `+Inf` equal to `_count`. The counters
 * must move by exactly the traffic sent, under the right labels.
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Parses Prometheus text; throws on anything the format does not allow. */
function parsePrometheus(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (!NAME.test(name!) || !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type!)) throw new Error(`bad TYPE line: ${line}`);
      if (types.has(name!)) throw new Error(`family declared twice: ${name}`);
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unexpected comment: ${line}`);
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    let rest = match[3] ?? '';
    while (rest !== '') {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/.exec(rest);
      if (label === null) throw new Error(`bad labels in: ${line}`);
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(label[0].length);
    }
    const raw = match[4]!;
    // Values are Go floats: NaN and ±Inf in any case (prom-client writes "Nan" for an empty gauge).
    const special = raw.toLowerCase();
    const value = special === '+inf' || special === 'inf' ? Infinity : special === '-inf' ? -Infinity : special === 'nan' ? NaN : Number(raw);
    if (Number.isNaN(value) && special !== 'nan') throw new Error(`bad value in: ${line}`);
    const family = familyOf(match[1]!, types);
    if (family === undefined) throw new Error(`sample before its # TYPE: ${line}`);
    samples.push({ name: match[1]!, labels, value });
  }
  checkHistograms(types, samples);
  return { types, samples };
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return types.get(base) === 'histogram' ? base : undefined;
}

function checkHistograms(types: Map<string, string>, samples: Sample[]): void {
  for (const [name, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const sample of samples.filter((s) => s.name === `${name}_bucket`)) {
      const { le, ...others } = sample.labels;
      if (le === undefined) throw new Error(`${name}_bucket without le`);
      const key = JSON.stringify(others);
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      for (let i = 1; i < buckets.length; i++) {
        if (Number(buckets[i]!.labels['le']) <= Number(buckets[i - 1]!.labels['le']) && buckets[i]!.labels['le'] !== '+Inf') throw new Error(`${name}: le not increasing`);
        if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`${name}: buckets not cumulative`);
      }
      const last = buckets[buckets.length - 1]!;
      const count = samples.find((s) => s.name === `${name}_count` && JSON.stringify(s.labels) === key);
      if (last.labels['le'] !== '+Inf' || count === undefined || count.value !== last.value) throw new Error(`${name}: +Inf bucket must equal _count`);
    }
  }
}

/** The value of one series (0 when absent). */
function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value ?? 0;
}

async function scrape(url: string, auth: string | null = ROOT_KEY): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(url, auth === null ? {} : { headers: { authorization: `Bearer ${auth}` } });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe.each(BACKENDS)('GET /metrics (%s)', (backendName) => {
  let t: TestServer;
  let api: string;

  beforeAll(async () => {
    t = await startTestServer(backendName, { metricsPort: 0 });
    ({ api } = await seedTenant(t));
  });
  afterAll(() => t?.close());

  it('counts verifications by kind and code, tokens by grant, and times both, by exactly the traffic sent', async () => {
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] });
    expectStatus(created, 201);
    const jwt = await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'cust_1', scopes: ['read:users'] });
    expectStatus(jwt, 201);
    const machine = await registerMachineClient(t);
    const oauth = await client.discovery(new URL(machine.issuer), machine.clientId, undefined, client.ClientSecretBasic(machine.clientSecret!), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    const wrongSecret = new client.Configuration(oauth.serverMetadata(), machine.clientId, undefined, client.ClientSecretBasic('wrong-secret'));
    client.allowInsecureRequests(wrongSecret);

    const before = parsePrometheus((await scrape(`${t.url}/metrics`)).text);
    const verify = (body: Record<string, unknown>) => t.call('POST', '/v1/verify', { api, ...body });
    for (let i = 0; i < 3; i++) expect((await verify({ credential: created.body.key, scopes: ['read:users'] })).body.code).toBe('VALID');
    for (let i = 0; i < 2; i++) expect((await verify({ credential: 'not-a-key' })).body.code).toBe('MALFORMED');
    expect((await verify({ credential: created.body.key, scopes: ['write:users'] })).body.code).toBe('INSUFFICIENT_SCOPE');
    expect((await verify({ credential: jwt.body.token, scopes: ['read:users'] })).body.code).toBe('VALID');
    for (let i = 0; i < 2; i++) await client.clientCredentialsGrant(oauth, { resource: ORDERS_API });
    await expect(client.clientCredentialsGrant(wrongSecret, { resource: ORDERS_API })).rejects.toThrow();
    // In-process verification counts too.
    expect((await t.server.keygate.verify({ credential: created.body.key, api, scopes: ['read:users'] })).code).toBe('VALID');
    const response = await scrape(`${t.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const after = parsePrometheus(response.text);
    const moved = (name: string, labels: Record<string, string> = {}): number => valueOf(after, name, labels) - valueOf(before, name, labels);

    expect(after.types.get('keygate_verifications_total')).toBe('counter');
    expect(moved('keygate_verifications_total', { kind: 'api_key', code: 'VALID' })).toBe(4);
    expect(moved('keygate_verifications_total', { kind: 'api_key', code: 'MALFORMED' })).toBe(2);
    expect(moved('keygate_verifications_total', { kind: 'api_key', code: 'INSUFFICIENT_SCOPE' })).toBe(1);
    expect(moved('keygate_verifications_total', { kind: 'jwt', code: 'VALID' })).toBe(1);
    const others = after.samples.filter((s) => s.name === 'keygate_verifications_total').reduce((sum, s) => sum + s.value, 0) - before.samples.filter((s) => s.name === 'keygate_verifications_total').reduce((sum, s) => sum + s.value, 0);
    expect(others).toBe(8);
    // Every HTTP verify is timed, whatever its answer; the in-process one is not an HTTP request.
    expect(after.types.get('keygate_verify_request_duration_seconds')).toBe('histogram');
    expect(moved('keygate_verify_request_duration_seconds_count')).toBe(7);
    expect(moved('keygate_verify_request_duration_seconds_sum')).toBeGreaterThan(0);
    // Cumulative buckets: +Inf holds every observation, and no bucket holds more than the next.
    expect(moved('keygate_verify_request_duration_seconds_bucket', { le: '+Inf' })).toBe(7);
    const buckets = after.samples.filter((s) => s.name === 'keygate_verify_request_duration_seconds_bucket').map((s) => s.value);
    expect(buckets.length).toBeGreaterThan(1);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(moved('keygate_tokens_issued_total', { grant_type: 'client_credentials' })).toBe(2);
    expect(moved('keygate_tokens_issued_total', { grant_type: 'refresh_token' })).toBe(0);
    expect(moved('keygate_token_request_duration_seconds_count')).toBe(3);
    expect(moved('keygate_key_cache_lookups_total', { result: 'hit' })).toBeGreaterThanOrEqual(4);
    // 7 verifies and the first scrape answered 200, the token endpoint twice 200 and once 401.
    expect(moved('keygate_http_responses_total', { class: '2xx' })).toBe(10);
    expect(moved('keygate_http_responses_total', { class: '4xx' })).toBe(1);
    expect(moved('keygate_http_responses_total', { class: '5xx' })).toBe(0);
    expect(moved('keygate_store_query_duration_seconds_count')).toBeGreaterThan(0);
  });

  it('counts no cache lookup for an invented credential or bearer, which is refused by its shape', async () => {
    const before = parsePrometheus((await scrape(`${t.url}/metrics`)).text);
    for (let i = 0; i < 5; i++) {
      expect((await t.call('POST', '/v1/verify', { api, credential: `kg_invented_${i}` })).body.code).toBe('MALFORMED');
      const refused = await fetch(`${t.url}/v1/tenants`, { headers: { authorization: `Bearer kg_invented_bearer_${i}` } });
      expect(refused.status).toBe(401);
    }
    const after = parsePrometheus((await scrape(`${t.url}/metrics`)).text);
    const moved = (result: string): number => valueOf(after, 'keygate_key_cache_lookups_total', { result }) - valueOf(before, 'keygate_key_cache_lookups_total', { result });
    expect(moved('miss')).toBe(0);
  });

  it('reports store conflicts, queues, the pool (PostgreSQL only) and process metrics', async () => {
    const before = parsePrometheus((await scrape(`${t.url}/metrics`)).text);
    // The slug is taken: the unique index refuses the insert.
    expect((await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'Again' })).status).toBe(409);
    const after = parsePrometheus((await scrape(`${t.url}/metrics`)).text);
    expect(valueOf(after, 'keygate_store_errors_total', { reason: 'conflict' }) - valueOf(before, 'keygate_store_errors_total', { reason: 'conflict' })).toBe(1);
    expect(valueOf(after, 'keygate_store_errors_total', { reason: 'unavailable' })).toBe(0);
    expect(after.types.get('keygate_audit_queue_events')).toBe('gauge');
    expect(after.types.get('keygate_usage_queue_keys')).toBe('gauge');
    const pool = after.samples.filter((s) => s.name === 'keygate_store_pool_clients');
    if (backendName === 'postgres') {
      expect(pool.map((s) => s.labels['state']).sort()).toEqual(['idle', 'total', 'waiting']);
      expect(valueOf(after, 'keygate_store_pool_clients', { state: 'total' })).toBeGreaterThanOrEqual(1);
    } else {
      expect(pool).toEqual([]);
    }
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(valueOf(after, name), name).toBeGreaterThan(0);
    }
  });

  it('puts no secret, key id, tenant or consumer in any label or value', async () => {
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], meta: { plan: 'gold' } });
    expect((await t.call('POST', '/v1/verify', { api, credential: created.body.key })).body.code).toBe('VALID');
    const { text } = await scrape(`${t.url}/metrics`);
    for (const secret of [created.body.key, created.body.id, created.body.key.slice(0, 12), ROOT_KEY, 'acme', 'cust_1', api, 'gold']) {
      expect(text, secret).not.toContain(secret);
    }
    const labelValues = new Set(parsePrometheus(text).samples.flatMap((s) => Object.entries(s.labels).filter(([k]) => k !== 'le').map(([k, v]) => `${k}=${v}`)));
    const allowed = /^(kind=(api_key|jwt)|code=[A-Z_]+|grant_type=[a-z_:.-]+|result=(hit|miss)|reason=(unavailable|conflict|other)|operation=(ratelimit|counters|publish)|cause=(away|timeout|error)|class=[1-5]xx|state=(total|idle|waiting)|version=v[\d.]+|major=\d+|minor=\d+|patch=\d+|kind=(minor|major|incremental|weakcb)|space=[a-z_]+|type=[A-Za-z]+)$/;
    expect([...labelValues].filter((label) => !allowed.test(label))).toEqual([]);
  });

  it('401 without a root key, 403 without metrics:read, for a tenant-limited root key and for an API key; nothing changes', async () => {
    const without = await t.call('POST', '/v1/root-keys', { scopes: ['keys:read', 'audit:read'] });
    const limited = await t.call('POST', '/v1/root-keys', { scopes: ['metrics:read'], tenant: 'acme' });
    const key = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] });
    const global = await t.call('POST', '/v1/root-keys', { scopes: ['metrics:read'] });
    await t.server.keygate.flush();
    const before = await snapshotAll(t.backend);
    const url = `${t.url}/metrics`;
    for (const auth of [null, 'not-a-key', `${ROOT_KEY}x`]) {
      const refused = await scrape(url, auth);
      expect([refused.status, JSON.parse(refused.text).code], String(auth)).toEqual([401, 'UNAUTHORIZED']);
    }
    for (const auth of [without.body.key, limited.body.key, key.body.key]) {
      const refused = await scrape(url, auth);
      expect([refused.status, JSON.parse(refused.text).code]).toEqual([403, 'FORBIDDEN']);
      expect(refused.text).not.toContain('keygate_verifications_total');
    }
    await t.server.keygate.flush();
    expect(await snapshotAll(t.backend)).toBe(before);
    const allowed = await scrape(url, global.body.key);
    expect(allowed.status).toBe(200);
    expect(allowed.text).toContain('keygate_verifications_total');
  });

  it('serves the same text without authentication on METRICS_PORT, bound to 127.0.0.1, and nothing else there', async () => {
    const metricsUrl = t.server.metricsUrl!;
    expect(new URL(metricsUrl).hostname).toBe('127.0.0.1');
    expect(new URL(metricsUrl).port).not.toBe(new URL(t.url).port);
    const open = await scrape(metricsUrl, null);
    expect(open.status).toBe(200);
    expect(open.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(parsePrometheus(open.text).types.get('keygate_verifications_total')).toBe('counter');
    for (const path of ['/', '/v1/tenants', '/metrics/x', '/healthz']) {
      expect((await fetch(new URL(path, metricsUrl))).status, path).toBe(404);
    }
    expect((await fetch(metricsUrl, { method: 'POST' })).status).toBe(404);
    // The main port still wants a key.
    expect((await scrape(`${t.url}/metrics`, null)).status).toBe(401);
  });
});

describe.each([
  { name: 'Redis answering', url: REDIS_URL, connected: 1, fallbacks: 0, codes: ['VALID', 'VALID', 'RATE_LIMITED'] },
  // Nothing listens on port 1: the instance starts degraded and limits count in this process.
  { name: 'Redis unreachable', url: 'redis://127.0.0.1:1', connected: 0, fallbacks: 3, codes: ['VALID', 'VALID', 'RATE_LIMITED'] },
])('GET /metrics with $name', ({ url, connected, fallbacks, codes }) => {
  let t: TestServer;

  beforeAll(async () => {
    const cluster = await openCluster({ redisUrl: url, redisPrefix: `kg-metrics-test-${process.pid}-${Date.now()}:` });
    t = await startTestServer('sqlite', {}, { cluster });
  });
  afterAll(() => t?.close());

  it('times each rate-limit check, counts the ones done without Redis, and says whether Redis is connected', async () => {
    const { api } = await seedTenant(t);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], ratelimits: [{ name: 'per-minute', limit: 2, duration: 60_000 }] });
    expectStatus(created, 201);
    const before = parsePrometheus((await scrape(`${t.url}/metrics`)).text);
    const answered: string[] = [];
    for (let i = 0; i < 3; i++) answered.push((await t.call('POST', '/v1/verify', { api, credential: created.body.key })).body.code);
    expect(answered).toEqual(codes);
    const after = parsePrometheus((await scrape(`${t.url}/metrics`)).text);
    const moved = (name: string, labels: Record<string, string>): number => valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(moved('keygate_redis_duration_seconds_count', { operation: 'ratelimit' })).toBe(3);
    expect(moved('keygate_redis_fallbacks_total', { cause: 'away' })).toBe(fallbacks);
    expect(valueOf(after, 'keygate_redis_connected')).toBe(connected);
    expect(after.types.get('keygate_redis_connected')).toBe('gauge');
    expect(moved('keygate_verifications_total', { kind: 'api_key', code: 'RATE_LIMITED' })).toBe(1);
  });
});

it('reports no Redis connection gauge without Redis, so an alert on it cannot fire', async () => {
  const t = await startTestServer('sqlite');
  try {
    const exposition = parsePrometheus((await scrape(`${t.url}/metrics`)).text);
    expect(exposition.types.has('keygate_redis_connected')).toBe(false);
    expect(valueOf(exposition, 'keygate_redis_fallbacks_total', { cause: 'away' })).toBe(0);
  } finally {
    await t.close();
  }
});
