import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';

/**
 * Finding keys and consumers: `?start=` (the first characters of a key's start, case as typed),
 * `?name=` (a part of a key's name, any case) and a consumer `?search=`, each within the tenant;
 * and a key's tree (`GET …/keys/{id}/tree`), what revoking it takes down.
 */
describe.each(BACKENDS)('finding keys and consumers (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  const keys = new Map<string, { id: string; start: string; key: string }>();

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    await seedTenant(t, 'other');
    for (const name of ['Billing job', 'billing_cron', 'CI 100%', 'Mobile']) {
      const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], name, consumer: name === 'Mobile' ? 'cus_m' : null });
      expectStatus(created, 201);
      keys.set(name, created.body);
    }
    expectStatus(await t.call('POST', '/v1/tenants/other/keys', { api, scopes: [], name: 'Billing elsewhere' }), 201);
    for (const [id, name] of [['initech', 'Initech'], ['cus_42', 'Globex Corp'], ['hooli', 'Hooli 100%']] as const) {
      expectStatus(await t.call('POST', '/v1/tenants/acme/consumers', { id, name }), 201);
    }
    expectStatus(await t.call('POST', '/v1/tenants/other/consumers', { id: 'initech-2', name: 'Initech elsewhere' }), 201);
  });
  afterAll(() => t.close());

  const keyNames = async (query: string): Promise<string[]> => {
    const listed = await t.call('GET', `/v1/tenants/acme/keys?${query}`);
    expectStatus(listed, 200);
    return listed.body.items.map((k: { name: string }) => k.name).sort();
  };
  const consumerIds = async (query: string): Promise<string[]> => {
    const listed = await t.call('GET', `/v1/tenants/acme/consumers?${query}`);
    expectStatus(listed, 200);
    return listed.body.items.map((c: { id: string }) => c.id).sort();
  };

  it('finds a key by the first characters of its start, case-sensitive', async () => {
    const { start } = keys.get('Mobile')!;
    expect(await keyNames(`start=${start}`)).toContain('Mobile');
    expect(await keyNames(`start=${start.slice(0, start.length - 1)}`)).toContain('Mobile');
    const flipped = start.slice(0, 3) + [...start.slice(3)].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
    if (flipped !== start) expect(await keyNames(`start=${encodeURIComponent(flipped)}`)).not.toContain('Mobile');
    expect(await keyNames('start=kg_')).toHaveLength(4);
    expect(await keyNames('start=zz_')).toEqual([]);
  });

  it('refuses a start longer than any start: a whole secret is never searched for', async () => {
    const { key } = keys.get('Mobile')!;
    const refused = await t.call('GET', `/v1/tenants/acme/keys?start=${encodeURIComponent(key)}`);
    expect(refused.status).toBe(400);
  });

  it('finds keys by a part of the name in any case, literally, and combines the filters', async () => {
    expect(await keyNames('name=BILLING')).toEqual(['Billing job', 'billing_cron']);
    expect(await keyNames('name=g_c')).toEqual(['billing_cron']);
    expect(await keyNames('name=%25')).toEqual(['CI 100%']);
    expect(await keyNames('name=billing&consumer=cus_m')).toEqual([]);
    expect(await keyNames(`name=mob&consumer=cus_m&start=${keys.get('Mobile')!.start}`)).toEqual(['Mobile']);
    expect(await keyNames('name=')).toHaveLength(4);
  });

  it('pages through the matches, keeping the filter', async () => {
    const first = await t.call('GET', '/v1/tenants/acme/keys?name=billing&limit=1');
    expect(first.body.items).toHaveLength(1);
    const second = await t.call('GET', `/v1/tenants/acme/keys?name=billing&limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.nextCursor).toBeNull();
  });

  it('finds consumers by a part of the id or the name, in any case, in the tenant only', async () => {
    expect(await consumerIds('search=INITECH')).toEqual(['initech']);
    expect(await consumerIds('search=globex')).toEqual(['cus_42']);
    expect(await consumerIds('search=s_4')).toEqual(['cus_42']);
    expect(await consumerIds('search=%25')).toEqual(['hooli']);
    expect(await consumerIds('search=')).toHaveLength(3);
    expect((await t.call('GET', `/v1/tenants/acme/consumers?search=${'a'.repeat(201)}`)).status).toBe(400);
  });

  it('pages through consumers with the owner’s own ids (a cursor names one as well as a generated id)', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: any } = await t.call('GET', `/v1/tenants/acme/consumers?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expectStatus(page, 200);
      seen.push(...page.body.items.map((c: { id: string }) => c.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['cus_42', 'hooli', 'initech']);
    const forged = await t.call('GET', `/v1/tenants/acme/consumers?cursor=${Buffer.from('v1:../x').toString('base64url')}`);
    expect(forged.body.code).toBe('INVALID_CURSOR');
  });

  it('shows a key with its ancestors and its descendants, revoked ones too', async () => {
    const root = keys.get('CI 100%')!;
    const child = await t.call('POST', `/v1/tenants/acme/keys/${root.id}/subkeys`, { scopes: ['read:users'], name: 'child' });
    expectStatus(child, 201);
    const grandchild = await t.call('POST', `/v1/tenants/acme/keys/${child.body.id}/subkeys`, { scopes: [], name: 'grandchild' });
    expectStatus(grandchild, 201);
    const sibling = await t.call('POST', `/v1/tenants/acme/keys/${root.id}/subkeys`, { scopes: [], name: 'sibling' });
    expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${sibling.body.id}/revoke`), 200);

    const tree = await t.call('GET', `/v1/tenants/acme/keys/${root.id}/tree`);
    expectStatus(tree, 200);
    expect(tree.body.ancestors).toEqual([]);
    expect(tree.body.key.id).toBe(root.id);
    expect(tree.body.descendants.map((k: { name: string }) => k.name).sort()).toEqual(['child', 'grandchild', 'sibling']);
    expect(JSON.stringify(tree.body)).not.toContain(root.key);

    const fromBelow = await t.call('GET', `/v1/tenants/acme/keys/${grandchild.body.id}/tree`);
    expect(fromBelow.body.ancestors.map((k: { id: string }) => k.id)).toEqual([child.body.id, root.id]);
    expect(fromBelow.body.descendants).toEqual([]);

    expect((await t.call('GET', `/v1/tenants/other/keys/${root.id}/tree`)).body.code).toBe('KEY_NOT_FOUND');
  });
});
