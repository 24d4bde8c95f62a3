import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { testClock } from '../../helpers/clock.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { createConsumer, createUser, signedIn } from './member-fixture.js';

const DAY = 86_400_000;

/**
 * The portal's home on both stores: alerts for the consumer's keys that expire within 14 days,
 * run under 10 % of their credits (the grant's shared credits too) or have gone unused for 90
 * days — and none for another consumer's keys or revoked ones.
 */
describe.each(BACKENDS)('developer portal home alerts (%s)', (backend) => {
  const clock = testClock();
  let t: TestServer;
  let api: string;
  let consumerId: string;
  let aliceId: string;

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: clock.now });
    ({ api } = await seedTenant(t));
    aliceId = await createUser(t, 'alice@corp.test');
    const carolId = await createUser(t, 'carol@globex.test');
    consumerId = (await createConsumer(t, { name: 'Initech', members: [aliceId], grants: [{ api, scopes: ['read:users'], credits: { remaining: 40, refill: { amount: 1000, interval: 'monthly' } } }] })).id;
    const globex = await createConsumer(t, { name: 'Globex', members: [carolId], grants: [{ api, scopes: ['read:users'] }] });
    expectStatus(await t.call('POST', `/v1/tenants/acme/consumers/${globex.id}/keys`, { api, member: carolId, name: 'globex-soon', scopes: ['read:users'], expiresAt: new Date(clock.now() + 2 * DAY).toISOString() }), 201);
  });
  afterAll(() => t.close());

  async function key(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
    const response = await t.call('POST', `/v1/tenants/acme/consumers/${consumerId}/keys`, { api, member: aliceId, scopes: ['read:users'], ...body });
    expectStatus(response, 201);
    return response.body;
  }

  async function alerts(): Promise<string[]> {
    const page = (await (await signedIn(t, 'alice@corp.test')).get('/t/acme/portal')).html;
    const list = /<ul class="alerts"[^>]*>(.*?)<\/ul>/s.exec(page)?.[1] ?? '';
    return [...list.matchAll(/<li>(.*?)<\/li>/gs)].map((m) => m[1]!.replace(/<[^>]+>/g, '').replace(/&#39;/g, "'"));
  }

  it('lists what needs attention now, and then again 91 days later', async () => {
    const soon = await key({ name: 'soon', expiresAt: new Date(clock.now() + 10 * DAY).toISOString() });
    await key({ name: 'later', expiresAt: new Date(clock.now() + 100 * DAY).toISOString() });
    await key({ name: 'thrifty', credits: { remaining: 5, refill: { amount: 100, interval: 'monthly' } } });
    const busy = await key({ name: 'busy' });
    const gone = await key({ name: 'gone', expiresAt: new Date(clock.now() + 3 * DAY).toISOString() });
    expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${gone.id}/revoke`), 200);
    const start = (secret: string): string => secret.slice(0, secret.indexOf('_') + 5);

    const now = await alerts();
    expect(now).toHaveLength(3);
    expect(now).toEqual(expect.arrayContaining([
      `Initech's grant on Acme API has 40 credits left of the 1000 each refill tops up, shared by all of your keys on it.`,
      expect.stringMatching(new RegExp(`^Key soon \\(${start(soon.key)}…\\) expires \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC\\. Create a replacement before then\\.$`)),
      expect.stringMatching(/^Key thrifty \(.*\) has 5 credits left of the 100 each refill tops up\.$/),
    ]));

    clock.advance(91 * DAY);
    expectStatus(await t.call('POST', '/v1/verify', { api, credential: busy.key, scopes: ['read:users'] }), 200);
    await t.server.keygate.flush();
    const later = await alerts();
    expect(later.filter((a) => a.startsWith('Key later'))).toEqual([expect.stringMatching(/^Key later \(.*\) expires .* UTC\. Create a replacement before then\.$/), expect.stringMatching(/^Key later \(.*\) has never been used: revoke it if nobody needs it\.$/)]);
    expect(later.some((a) => a.startsWith('Key busy'))).toBe(false);
    expect(later.some((a) => a.startsWith('Key soon'))).toBe(false);
    expect(later.join('\n')).not.toContain('globex');
    expect(later.join('\n')).not.toContain('gone');
  });
});
