import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { testClock } from '../../helpers/clock.js';
import type { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { createOperator, signedInOperator } from './operator-fixture.js';

const USAGE = '/console/tenants/acme/usage';

/** The rows of the table under the heading `id`, each as its cells' text. */
function rows(html: string, id: string): string[][] {
  const table = new RegExp(`aria-labelledby="${id}"><table[\\s\\S]*?</table>`).exec(html)?.[0] ?? '';
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].slice(1).map((row) => [...row[1]!.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((cell) => cell[1]!.replace(/<[^>]*>/g, '').trim()));
}

/**
 * The console's usage page reads `GET /v1/tenants/{slug}/usage` and `…/usage/breakdown` as the
 * operator: verify calls (allowed, missing scope, rate-limited, and a revoked key's) and gateway
 * requests show in the chart by outcome with the same numbers in its table, the denial reasons and
 * the top consumers, keys and operations; the period and API pickers narrow it; another tenant's operator gets 404 and an
 * operator without usage:read 403.
 */
describe.each(BACKENDS)('console: usage (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  // Keygate's clock stands at 12:00:30 UTC: every call lands in the 12:00 minute.
  const clock = testClock(Date.UTC(2026, 10, 23, 12, 0, 30));
  let viewer: Person;
  let limited: Person;
  let noScope: Person;
  let usageOnly: Person;
  let key1: { id: string; key: string };
  let key2: { id: string; key: string };
  let gatewayKey: { id: string; key: string };

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: clock.now });
    ({ api } = await seedTenant(t));
    await seedTenant(t, 'other');
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://billing.acme.test', name: 'Billing', scopes: [] }), 201);
    await createOperator(t, { email: 'viewer@ops.test', scopes: ['usage:read', 'apis:read'] });
    await createOperator(t, { email: 'other@ops.test', scopes: ['usage:read', 'apis:read'], tenant: 'other' });
    await createOperator(t, { email: 'audit@ops.test', scopes: ['audit:read'] });
    await createOperator(t, { email: 'usage@ops.test', scopes: ['usage:read'] });
    viewer = await signedInOperator(t, 'viewer@ops.test');
    limited = await signedInOperator(t, 'other@ops.test');
    noScope = await signedInOperator(t, 'audit@ops.test');
    usageOnly = await signedInOperator(t, 'usage@ops.test');

    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, consumer: 'cust-1', scopes: ['read:users'] });
    expectStatus(created, 201);
    key1 = created.body;
    const rated = await t.call('POST', '/v1/tenants/acme/keys', { api, consumer: 'cust-2', scopes: ['read:users'], ratelimits: [{ name: 'requests', limit: 1, duration: 60_000 }] });
    expectStatus(rated, 201);
    key2 = rated.body;
    const verify = async (credential: string, scopes: string[] = []) => expectStatus(await t.call('POST', '/v1/verify', { api, credential, scopes }), 200);
    for (let i = 0; i < 3; i += 1) await verify(key1.key, ['read:users']);
    for (let i = 0; i < 2; i += 1) await verify(key1.key, ['write:users']);
    for (let i = 0; i < 4; i += 1) await verify(key2.key);
    // The key is revoked, and the next call of it is refused: the denial shows in the chart.
    expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${key1.id}/revoke`, {}), 200);
    await verify(key1.key);
    // Gateway requests, recorded as the gateway records them: three of listUsers allowed and
    // forwarded, two to paths the API's document does not declare (NO_ROUTE: no key, no operation).
    gatewayKey = (await t.call('POST', '/v1/tenants/acme/keys', { api, consumer: 'cust-gw', scopes: ['read:users'] })).body;
    const keygate = t.server.keygate;
    const tenant = await keygate.tenants.get('acme');
    const apiId = (await keygate.apis.get(tenant, api)).id;
    const gateway = { tenantId: tenant.id, apiId, latencyMs: 3, at: clock.now() };
    for (let i = 0; i < 3; i += 1) keygate.analytics.record({ ...gateway, keyId: gatewayKey.id, consumer: 'cust-gw', operation: 'listUsers', outcome: 'allowed', upstreamStatus: 200 });
    for (let i = 0; i < 2; i += 1) keygate.analytics.record({ ...gateway, keyId: null, consumer: null, operation: null, outcome: 'NO_ROUTE', upstreamStatus: null });
    await keygate.flush();
  });
  afterAll(() => t.close());

  it('charts the requests by outcome with the same numbers in a table beside it', async () => {
    const page = await viewer.get(`${USAGE}?period=hour`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('<desc id="chart-summary">15 requests: 7 allowed, 2 missing scope, 2 no such operation, 3 rate limit reached, 1 key revoked.</desc>');
    expect(page.html).toContain('Last hour, by minute');
    expect(page.html).toMatch(/<rect [^>]*data-outcome="REVOKED" data-count="1">/);
    expect(page.html).toMatch(/<rect [^>]*data-outcome="RATE_LIMITED" data-count="3">/);
    const table = /<caption>Requests per minute \(UTC\)<\/caption>[\s\S]*?<\/table>/.exec(page.html)![0];
    expect(table).toContain('<th scope="row">12:00</th><td class="num">15</td><td class="num">7</td><td class="num">2</td><td class="num">2</td><td class="num">3</td><td class="num">1</td>');
  });

  it('lists the denial reasons and the top consumers and keys', async () => {
    const page = await viewer.get(USAGE);
    expect(page.html).toContain('Last day, by hour');
    expect(rows(page.html, 'denials')).toEqual([
      ['rate limit reached', 'RATE_LIMITED', '3', '20.0%'],
      ['missing scope', 'INSUFFICIENT_SCOPE', '2', '13.3%'],
      ['no such operation', 'NO_ROUTE', '2', '13.3%'],
      ['key revoked', 'REVOKED', '1', '6.7%'],
    ]);
    // Columns: requests, then allowed, missing scope, no such operation, rate limit reached, key revoked.
    expect(rows(page.html, 'top-consumers')).toEqual([
      ['cust-1', '6', '3', '2', '0', '0', '1'],
      ['cust-2', '4', '1', '0', '0', '3', '0'],
      ['cust-gw', '3', '3', '0', '0', '0', '0'],
      ['no consumer', '2', '0', '0', '2', '0', '0'],
    ]);
    expect(rows(page.html, 'top-keys').map((r) => r.slice(0, 2))).toEqual([
      [key1.id, '6'],
      [key2.id, '4'],
      [gatewayKey.id, '3'],
      ['no key (a credential that matched none)', '2'],
    ]);
    expect(rows(page.html, 'top-operations')).toEqual([
      ['none (verify calls, paths the API does not declare)', '12', '4', '2', '2', '3', '1'],
      ['listUsers', '3', '3', '0', '0', '0', '0'],
    ]);
    expect(page.html).toContain(`href="/console/tenants/acme/keys/${key1.id}"`);
    expect(page.html).toContain('href="/console/tenants/acme/keys?consumer=cust-2"');
  });

  it('narrows to a period and an API', async () => {
    const month = await viewer.get(`${USAGE}?period=month`);
    expect(month.html).toContain('Last 30 days, by day');
    expect(month.html).toContain('<desc id="chart-summary">15 requests:');
    expect(month.html).toContain('<option value="month" selected>');
    const billing = await viewer.get(`${USAGE}?api=${encodeURIComponent('https://billing.acme.test')}`);
    expect(billing.status).toBe(200);
    expect(billing.html).toContain('<desc id="chart-summary">0 requests: none.</desc>');
    expect(billing.html).toContain('<option value="https://billing.acme.test" selected>');
    const acme = await viewer.get(`${USAGE}?api=${encodeURIComponent(api)}`);
    expect(acme.html).toContain('<desc id="chart-summary">15 requests:');
    // An API the tenant does not have is /v1's 404, shown on the page with the form.
    const unknown = await viewer.get(`${USAGE}?api=${encodeURIComponent('https://nope.test')}`);
    expect(unknown.status).toBe(404);
    expect(unknown.html).toContain('API_NOT_FOUND');
    expect(unknown.html).toContain('role="alert"');
    expect(unknown.html).toContain('name="period"');
    // Without apis:read the API is typed in.
    const typed = await usageOnly.get(`${USAGE}?api=${encodeURIComponent(api)}`);
    expect(typed.status).toBe(200);
    expect(typed.html).toContain(`<input type="text" id="api" name="api" value="${api}">`);
    expect(typed.html).toContain('<desc id="chart-summary">15 requests:');
  });

  it('shows nothing to an operator limited to another tenant, or without usage:read', async () => {
    const other = await limited.get(USAGE);
    expect(other.status).toBe(404);
    expect(other.html).not.toContain(key1.id);
    expect(other.html).not.toContain('chart-summary');
    expect((await limited.get('/console/tenants/other/usage')).status).toBe(200);
    const refused = await noScope.get(USAGE);
    expect(refused.status).toBe(403);
    expect(refused.html).not.toContain('chart-summary');
  });
});
