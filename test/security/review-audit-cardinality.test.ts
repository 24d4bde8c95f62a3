import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { basic, postForm } from '../helpers/oauth.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of issue 8, item 7 (an audit log that survives traffic): denials fold into one row per
 * target, reason and minute, and the target of a failed client authentication was the client id
 * as presented. Anyone can present any client id, so an unauthenticated caller wrote one row per
 * request by sending a new id each time (and each new id also dodged the per-client throttle).
 */
describe.each(BACKENDS)('failed client authentication with invented client ids (%s)', (backend) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(backend);
    await seedTenant(t);
  });
  afterAll(() => t?.close());

  it('folds into one aggregated row, whatever ids are invented', async () => {
    for (let i = 0; i < 30; i++) {
      const refused = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(`cli_invented_${i}`, 'secret') });
      expect(refused.status).toBe(401);
    }
    await t.server.keygate.flush();
    const page = await t.call('GET', '/v1/tenants/acme/audit?action=client.auth.denied&limit=100');
    expectStatus(page, 200);
    const rows = page.body.items as { target: string | null; count: number; data: Record<string, unknown> }[];
    // One minute boundary may fall inside the loop.
    expect(rows.length).toBeLessThanOrEqual(2);
    expect(rows.reduce((sum, r) => sum + r.count, 0)).toBe(30);
    expect(rows[0]).toMatchObject({ target: null, data: { reason: 'unknown client' } });
  });
});
