import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';

/** `?search=` on the client and user lists: a part of a name, id or email, any case, taken literally. */
describe.each(BACKENDS)('searching clients and users (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  const clientIds = new Map<string, string>();

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    await seedTenant(t, 'other');
    for (const name of ['Billing service', 'billing_job', 'Reports 100%', 'Mobile app']) {
      const created = await t.call('POST', '/v1/tenants/acme/clients', { name, grantTypes: ['client_credentials'], scopes: { [api]: ['read:users'] } });
      expectStatus(created, 201);
      clientIds.set(name, created.body.clientId);
    }
    expectStatus(await t.call('POST', '/v1/tenants/other/clients', { name: 'Billing elsewhere', grantTypes: ['client_credentials'], scopes: {} }), 201);
    for (const [email, name] of [['ada@example.com', 'Ada Lovelace'], ['grace@EXAMPLE.org', 'Grace Hopper'], ['alan@example.com', null]] as const) {
      expectStatus(await t.call('POST', '/v1/tenants/acme/users', { email, password: 'correct horse battery', ...(name ? { name } : {}) }), 201);
    }
    expectStatus(await t.call('POST', '/v1/tenants/other/users', { email: 'ada@other.example', password: 'correct horse battery' }), 201);
  });
  afterAll(() => t.close());

  const clientNames = async (query: string): Promise<string[]> => {
    const listed = await t.call('GET', `/v1/tenants/acme/clients?${query}`);
    expectStatus(listed, 200);
    return listed.body.items.map((c: { name: string }) => c.name).sort();
  };
  const userEmails = async (query: string): Promise<string[]> => {
    const listed = await t.call('GET', `/v1/tenants/acme/users?${query}`);
    expectStatus(listed, 200);
    return listed.body.items.map((u: { email: string }) => u.email).sort();
  };

  it('finds clients by a part of the name in any case, or by the client id, in the tenant only', async () => {
    expect(await clientNames('search=BILLING')).toEqual(['Billing service', 'billing_job']);
    expect(await clientNames(`search=${clientIds.get('Mobile app')!.slice(-10)}`)).toEqual(['Mobile app']);
    expect(await clientNames('search=nothing-like-it')).toEqual([]);
    expect(await clientNames('search=')).toHaveLength(4);
  });

  it('takes % and _ literally, not as patterns', async () => {
    expect(await clientNames('search=%25')).toEqual(['Reports 100%']);
    expect(await clientNames('search=g_j')).toEqual(['billing_job']);
    expect(await clientNames('search=g%25j')).toEqual([]);
  });

  it('pages through the matches with the cursor, keeping the search', async () => {
    const first = await t.call('GET', '/v1/tenants/acme/clients?search=billing&limit=1');
    expect(first.body.items).toHaveLength(1);
    expect(first.body.nextCursor).not.toBeNull();
    const second = await t.call('GET', `/v1/tenants/acme/clients?search=billing&limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.nextCursor).toBeNull();
    expect([first.body.items[0].name, second.body.items[0].name].sort()).toEqual(['Billing service', 'billing_job']);
  });

  it('finds users by a part of the email or the name, in any case, in the tenant only', async () => {
    expect(await userEmails('search=example.com')).toEqual(['ada@example.com', 'alan@example.com']);
    expect(await userEmails('search=example.ORG')).toEqual(['grace@example.org']);
    expect(await userEmails('search=hopper')).toEqual(['grace@example.org']);
    expect(await userEmails('search=ada')).toEqual(['ada@example.com']);
    expect(await userEmails('search=')).toHaveLength(3);
  });

  it('refuses a search longer than 200 characters', async () => {
    expect((await t.call('GET', `/v1/tenants/acme/users?search=${'a'.repeat(201)}`)).status).toBe(400);
    expect((await t.call('GET', `/v1/tenants/acme/clients?search=${'a'.repeat(201)}`)).status).toBe(400);
  });
});
