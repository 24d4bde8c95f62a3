import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import type { Person } from '../../helpers/person.js';
import { createConsumer, createUser, signedIn } from './member-fixture.js';

/**
 * The portal's usage page on both stores: the member's consumer's requests by outcome, per key
 * and per operation, and its refused requests with the reason in words — and nothing of any key
 * that is not the consumer's, not even an owner's key labelled with the consumer's id.
 */
describe.each(BACKENDS)('developer portal usage (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let alice: Person;
  let mine: { id: string; key: string };
  let theirs: { id: string; key: string };
  let labelled: { id: string; key: string };

  const verify = async (credential: string, scopes: string[]): Promise<void> => {
    expectStatus(await t.call('POST', '/v1/verify', { api, credential, scopes }), 200);
  };
  const start = (secret: string): string => secret.slice(0, secret.indexOf('_') + 5);

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    const aliceId = await createUser(t, 'alice@corp.test');
    const carolId = await createUser(t, 'carol@globex.test');
    const initech = await createConsumer(t, { name: 'Initech', members: [aliceId], grants: [{ api, scopes: ['read:users', 'write:users'] }] });
    const globex = await createConsumer(t, { name: 'Globex', members: [carolId], grants: [{ api, scopes: ['read:users', 'write:users'] }] });
    const key = async (consumerId: string, member: string, name: string): Promise<{ id: string; key: string }> => {
      const response = await t.call('POST', `/v1/tenants/acme/consumers/${consumerId}/keys`, { api, member, name, scopes: ['read:users'] });
      expectStatus(response, 201);
      return response.body;
    };
    mine = await key(initech.id, aliceId, 'mine');
    theirs = await key(globex.id, carolId, 'theirs');
    const owner = await t.call('POST', '/v1/tenants/acme/keys', { api, name: 'labelled', consumer: initech.id, scopes: ['write:users'] });
    expectStatus(owner, 201);
    labelled = owner.body;
    for (let i = 0; i < 3; i += 1) await verify(mine.key, ['read:users']);
    for (let i = 0; i < 2; i += 1) await verify(mine.key, ['write:users']);
    for (let i = 0; i < 7; i += 1) await verify(theirs.key, ['write:users']);
    for (let i = 0; i < 4; i += 1) await verify(labelled.key, ['read:billing']);
    await t.server.keygate.flush();
    alice = await signedIn(t, 'alice@corp.test');
  });
  afterAll(() => t.close());

  it("charts the consumer's requests by outcome, with the same numbers in a table", async () => {
    const page = await alice.get('/t/acme/portal/usage?window=hour');
    expect(page.status).toBe(200);
    expect(page.html).toContain('Last hour, by minute');
    expect(page.html).toContain('<desc id="chart-summary">5 requests: 3 allowed, 2 missing scope.</desc>');
    const bars = [...page.html.matchAll(/data-outcome="([^"]+)" data-count="(\d+)"/g)].map((m) => `${m[1]}=${m[2]}`);
    expect(bars.sort()).toEqual(['INSUFFICIENT_SCOPE=2', 'allowed=3']);
    expect(page.html).toMatch(/<td class="num">5<\/td><td class="num">3<\/td><td class="num">2<\/td><\/tr>/);
  });

  it('totals the requests per key and per operation', async () => {
    const page = (await alice.get('/t/acme/portal/usage?window=day')).html;
    expect(page).toContain('Last day, by hour');
    expect(page).toContain(`<th scope="row"><code>mine (${start(mine.key)}…)</code></th><td class="num">5</td>`);
    expect(page).toContain('<th scope="row"><code>(verify API)</code></th><td class="num">5</td>');
  });

  it("lists the consumer's refused requests with the reason in words", async () => {
    const page = (await alice.get('/t/acme/portal/usage')).html;
    expect(page).toContain(`<td><code>mine (${start(mine.key)}…)</code></td><td>missing scope: needs <code>write:users</code> </td><td class="num">2</td>`);
  });

  it("shows nothing of another consumer's key, nor of an owner's key labelled with the consumer", async () => {
    for (const window of ['hour', 'day', 'month']) {
      const page = (await alice.get(`/t/acme/portal/usage?window=${window}`)).html;
      for (const other of [theirs, labelled]) {
        expect(page).not.toContain(other.id);
        expect(page).not.toContain(start(other.key));
      }
      expect(page).not.toContain('read:billing');
      expect(page).not.toMatch(/>(7|4|9|11|16)<\/td>/);
    }
    const refused = await alice.get(`/t/acme/portal/usage?key=${theirs.id}`);
    expect(refused.status).toBe(404);
    expect(refused.html).toContain('Refused: your consumer has no such key.');
    expect(refused.html).not.toContain(start(theirs.key));
  });

  it('narrows the chart to one key and one operation', async () => {
    const page = (await alice.get(`/t/acme/portal/usage?window=month&key=${mine.id}&operation=${encodeURIComponent('(verify API)')}`)).html;
    expect(page).toContain('Last 30 days, by day');
    expect(page).toContain('<desc id="chart-summary">5 requests: 3 allowed, 2 missing scope.</desc>');
    const none = (await alice.get(`/t/acme/portal/usage?window=month&key=${mine.id}&operation=${encodeURIComponent('GET /nothing')}`)).html;
    expect(none).toContain('<desc id="chart-summary">0 requests: 0 allowed, 0 missing scope.</desc>');
  });
});
