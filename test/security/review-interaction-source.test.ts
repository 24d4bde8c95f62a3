import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERACTION_BOUNDS } from '../../src/domain/people.js';
import { BACKENDS } from '../helpers/backends.js';
import { snapshotAll } from '../helpers/snapshot.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of invariant 10 (issue 7): pending `/authorize` interactions are bounded per source the
 * way every throttle counts sources (`throttleSource`: an IPv6 caller by its /64). Counted by the
 * full address, one IPv6 host walked through its /64 and stored a row per address, up to the
 * per-client bound, pushing out the pending sign-ins of everyone else using the app.
 */
describe.each(BACKENDS)('pending authorizations from one IPv6 /64 (%s)', (backend) => {
  let t: TestServer;
  let api: string;

  beforeAll(async () => {
    t = await startTestServer(backend, { trustProxy: 'true' });
    ({ api } = await seedTenant(t));
  });
  afterAll(() => t?.close());

  it('are bounded as one source, whichever addresses of the /64 they come from', async () => {
    const app = await t.call('POST', '/v1/tenants/acme/clients', { name: 'Web app', grantTypes: ['authorization_code'], redirectUris: ['https://app.example.com/callback'], scopes: { [api]: ['read:users'] } });
    expectStatus(app, 201);
    const query = new URLSearchParams({ response_type: 'code', client_id: app.body.clientId, redirect_uri: 'https://app.example.com/callback', resource: api }).toString();
    const total = INTERACTION_BOUNDS.perSource + 50;
    for (let i = 0; i < total; i += 25) {
      const answers = await Promise.all(
        Array.from({ length: 25 }, (_, j) => fetch(`${t.url}/t/acme/oauth/authorize?${query}`, { redirect: 'manual', headers: { 'x-forwarded-for': `2001:db8:7:7::${(i + j + 1).toString(16)}` } })),
      );
      for (const answer of answers) expect(answer.status).toBe(303);
    }
    // Requests that ran side by side may each have trimmed before seeing the others; the next one sees all.
    expect((await fetch(`${t.url}/t/acme/oauth/authorize?${query}`, { redirect: 'manual', headers: { 'x-forwarded-for': '2001:db8:7:7:ffff::1' } })).status).toBe(303);
    const rows = (JSON.parse(await snapshotAll(t.backend)) as Record<string, string[]>)['interactions']!;
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThanOrEqual(INTERACTION_BOUNDS.perSource);
  });
});
