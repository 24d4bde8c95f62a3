import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { populateTenant, type PopulatedTenant } from '../../helpers/populated-tenant.js';
import { expectStatus, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotAll, snapshotState } from '../../helpers/snapshot.js';

type Rows = Record<string, Record<string, unknown>[]>;

async function rows(t: TestServer): Promise<Rows> {
  await t.server.keygate.flush();
  const tables = JSON.parse(await snapshotAll(t.backend)) as Record<string, string[]>;
  return Object.fromEntries(Object.entries(tables).map(([name, list]) => [name, list.map((row) => JSON.parse(row) as Record<string, unknown>)]));
}

/** Whether a row is the tenant's: its tenant_id, or the secret of one of its keys or clients. */
function ownedBy(tenantId: string, before: Rows): (table: string, row: Record<string, unknown>) => boolean {
  const keys = new Set(before['keys']!.filter((k) => k['tenant_id'] === tenantId).map((k) => k['id']));
  const clients = new Set(before['clients']!.filter((c) => c['tenant_id'] === tenantId).map((c) => c['id']));
  return (table, row) =>
    (table === 'tenants' && row['id'] === tenantId) || row['tenant_id'] === tenantId || (table === 'key_secrets' && keys.has(row['key_id'])) || (table === 'client_secrets' && clients.has(row['client_id']));
}

const sorted = (list: Record<string, unknown>[]): string[] => list.map((row) => JSON.stringify(row)).sort();

describe.each(BACKENDS)('tenant lifecycle (%s)', (backend) => {
  let t: TestServer;
  let acme: PopulatedTenant;
  let beta: PopulatedTenant;

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { onPasswordReset: () => {} });
    acme = await populateTenant(t, 'acme');
    beta = await populateTenant(t, 'beta');
  });
  afterAll(() => t.close());

  it('reads back every field it writes, selfSignup included, at creation and on update', async () => {
    const created = await t.call('POST', '/v1/tenants', { slug: 'gamma', name: 'Gamma', selfSignup: true });
    expectStatus(created, 201);
    expect(created.body.selfSignup).toBe(true);
    const updated = await t.call('PATCH', '/v1/tenants/gamma', { name: 'Gamma Inc', selfSignup: false, hs256MaxLifetime: 600 });
    expect(updated.body).toMatchObject({ name: 'Gamma Inc', selfSignup: false, hs256MaxLifetime: 600 });
    expect((await t.call('GET', '/v1/tenants/gamma')).body).toMatchObject({ name: 'Gamma Inc', selfSignup: false, hs256MaxLifetime: 600 });
  });

  it('lists the tenants whose slug or name contains ?search=, ignoring case; a key limited to a tenant finds only its own', async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'findme', name: 'Needle Corp' }), 201);
    const slugs = async (query: string, auth?: string): Promise<string[]> => {
      const response = await t.call('GET', `/v1/tenants${query}`, undefined, auth === undefined ? {} : { auth });
      expectStatus(response, 200);
      return response.body.items.map((tenant: { slug: string }) => tenant.slug);
    };
    expect(await slugs('?search=NEEDLE')).toEqual(['findme']);
    expect(await slugs('?search=findm')).toEqual(['findme']);
    expect(await slugs('?search=zzz')).toEqual([]);
    expect((await slugs('')).length).toBeGreaterThan(2);
    expect(await slugs('?search=bet', beta.rootKey.secret)).toEqual(['beta']);
    expect(await slugs('?search=findme', beta.rootKey.secret)).toEqual([]);
    expect((await t.call('GET', `/v1/tenants?search=${'x'.repeat(201)}`)).status).toBe(400);
  });

  it('changes the signing algorithm for later rotations: the current key signs until the next one', async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'algo', name: 'Algo' }), 201);
    const before = (await t.call('GET', '/v1/tenants/algo/signing-keys')).body.items;
    expect(before.map((k: { alg: string; state: string }) => [k.alg, k.state])).toEqual([['EdDSA', 'current']]);
    const changed = await t.call('PATCH', '/v1/tenants/algo', { signingAlg: 'ES256' });
    expectStatus(changed, 200);
    expect(changed.body.signingAlg).toBe('ES256');
    expect((await t.call('GET', '/v1/tenants/algo/signing-keys')).body.items).toEqual(before);
    const rotated = await t.call('POST', '/v1/tenants/algo/signing-keys/rotate', { activateAfterSeconds: 0 });
    expectStatus(rotated, 201);
    expect(rotated.body.alg).toBe('ES256');
    expect((await t.call('PATCH', '/v1/tenants/algo', { signingAlg: 'HS256' })).status).toBe(400);
  });

  it('changes a tenant only with tenants:write, whatever the field (users:write is not enough), changing nothing when refused', async () => {
    const peopleAdmin = (await t.call('POST', '/v1/root-keys', { scopes: ['users:write', 'tenants:read'] })).body.key;
    const before = await snapshotState(t);
    for (const body of [{ selfSignup: true }, { name: 'x' }, { hs256MaxLifetime: 60 }, { signingAlg: 'RS256' }]) {
      const refused = await t.call('PATCH', '/v1/tenants/beta', body, { auth: peopleAdmin });
      expect(refused.status, JSON.stringify(body)).toBe(403);
      expect(refused.body.detail).toContain('tenants:write');
    }
    expect(await snapshotState(t)).toBe(before);
  });

  it('a root key limited to a tenant cannot create a tenant, whatever its scopes, and nothing is written', async () => {
    const before = await snapshotState(t);
    const refused = await t.call('POST', '/v1/tenants', { slug: 'delta', name: 'Delta' }, { auth: beta.rootKey.secret });
    expect([refused.status, refused.body.code]).toEqual([403, 'FORBIDDEN']);
    expect(refused.body.detail).toContain('"beta"');
    expect(await snapshotState(t)).toBe(before);
  });

  it('a root key limited to a tenant cannot delete it without tenants:write, nor any other tenant, nor a reserved one', async () => {
    const reader = (await t.call('POST', '/v1/root-keys', { scopes: ['tenants:read'], tenant: 'beta' })).body.key;
    const before = await snapshotState(t);
    expect((await t.call('DELETE', '/v1/tenants/beta', undefined, { auth: reader })).status).toBe(403);
    expect((await t.call('DELETE', '/v1/tenants/acme', undefined, { auth: beta.rootKey.secret })).body.code).toBe('TENANT_NOT_FOUND');
    expect((await t.call('DELETE', '/v1/tenants/_system')).body.code).toBe('TENANT_NOT_FOUND');
    expect((await t.call('DELETE', '/v1/tenants/nobody')).body.code).toBe('TENANT_NOT_FOUND');
    expect(await snapshotState(t)).toBe(before);
  });

  it('deletes a tenant with every row it owns in one go, touches no other tenant, and audits it in the root-key log', async () => {
    const before = await rows(t);
    const owned = ownedBy(acme.tenantId, before);
    for (const table of ['apis', 'keys', 'key_secrets', 'clients', 'client_secrets', 'issued_tokens', 'revocations', 'hs256_secrets', 'signing_keys', 'users', 'sessions', 'interactions', 'grants', 'authorization_codes', 'refresh_tokens', 'password_resets', 'audit_events']) {
      expect(before[table]!.some((row) => owned(table, row)), `acme has a row in ${table}`).toBe(true);
    }

    const deleted = await t.call('DELETE', '/v1/tenants/acme', undefined, { auth: acme.rootKey.secret });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ deleted: 'acme', revokedRootKeys: [acme.rootKey.id] });

    const after = await rows(t);
    for (const [table, list] of Object.entries(after)) {
      const left = list.filter((row) => owned(table, row) || JSON.stringify(row).includes(acme.tenantId));
      if (table === 'audit_events') {
        expect(left.map((e) => [e['action'], e['target']]), 'only the deletion names the tenant').toEqual([['tenant.delete', acme.tenantId]]);
      } else {
        expect(left, `no row of acme left in ${table}`).toEqual([]);
      }
      if (table === 'audit_events' || table === 'keys') continue;
      expect(sorted(list), `${table}: everything else as it was`).toEqual(sorted(before[table]!.filter((row) => !owned(table, row))));
    }
    const otherKeys = (list: Rows) => sorted(list['keys']!.filter((k) => k['tenant_id'] === beta.tenantId));
    expect(otherKeys(after)).toEqual(otherKeys(before));
    const audit = await t.call('GET', '/v1/root-keys/audit?limit=100');
    expect(audit.body.items).toContainEqual(expect.objectContaining({ action: 'tenant.delete', target: acme.tenantId, actor: acme.rootKey.id }));
  });

  it('leaves nothing of the deleted tenant working, and a tenant made again under its slug is out of reach of its old keys', async () => {
    const verify = (credential: string, api: string) => t.call('POST', '/v1/verify', { credential, api });
    expect((await verify(acme.keySecret, acme.api)).body.valid).toBe(false);
    expect((await verify(acme.jwtKey, acme.api)).body.valid).toBe(false);
    expect((await verify(acme.accessToken, acme.api)).body.valid).toBe(false);
    expect((await t.call('GET', '/v1/tenants/acme')).status).toBe(404);
    expect((await t.call('GET', '/v1/tenants', undefined, { auth: acme.rootKey.secret })).status).toBe(401);

    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'New Acme' }), 201);
    expect((await t.call('GET', '/v1/tenants/acme', undefined, { auth: acme.rootKey.secret })).status).toBe(401);
    expect((await t.call('GET', '/v1/tenants/acme/users')).body.items).toEqual([]);
    expect((await t.call('GET', '/v1/tenants/acme/audit')).body.items.map((e: { action: string }) => e.action)).toEqual(['tenant.create']);

    expect((await verify(beta.keySecret, beta.api)).body.code).toBe('VALID');
    expect((await verify(beta.accessToken, beta.api)).body.code).toBe('VALID');
  });
});
