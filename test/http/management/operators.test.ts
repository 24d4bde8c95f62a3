import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_MANAGEMENT_SCOPES } from '../../../src/domain/management.js';
import { BACKENDS } from '../../helpers/backends.js';
import { ROOT_KEY, expectStatus, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotAll } from '../../helpers/snapshot.js';

const PASSWORD = 'correct horse battery staple';
const SOURCE = { ip: '192.0.2.10', requestId: 'req_test' };

/**
 * `/v1/operators`: the people who sign in to the console, managed like root keys. A caller
 * creates, sees and acts on only operators it could have created (scopes ⊆ its own, tenant the
 * same or narrower); anything else is refused and changes nothing.
 */
describe.each(BACKENDS)('/v1/operators (%s)', (backend) => {
  let t: TestServer;
  /** Global: keys:read + root_keys:write. Limited to acme: the same. Global: root_keys:read only. */
  let lesser: string;
  let limited: string;
  let reader: string;

  const snapshot = async (): Promise<string> => {
    await t.server.keygate.flush();
    return snapshotAll(t.backend);
  };
  const rootKey = async (body: Record<string, unknown>): Promise<string> => {
    const created = await t.call('POST', '/v1/root-keys', body);
    expectStatus(created, 201);
    return created.body.key;
  };
  const createOperator = async (body: Record<string, unknown>, auth = ROOT_KEY) => {
    const created = await t.call('POST', '/v1/operators', body, { auth });
    expectStatus(created, 201);
    return created.body;
  };
  const idsListedBy = async (auth: string): Promise<string[]> => {
    const listed = await t.call('GET', '/v1/operators?limit=100', undefined, { auth });
    expectStatus(listed, 200);
    return listed.body.items.map((o: { id: string }) => o.id);
  };
  /** Each attempt answers `status` (and `code`), and no row of any table changes. */
  async function expectRefused(attempts: [method: string, path: string, body: unknown, auth: string][], status: number, code?: string): Promise<void> {
    const before = await snapshot();
    for (const [method, path, body, auth] of attempts) {
      const response = await t.call(method, path, body, { auth });
      expect(response.status, `${method} ${path}`).toBe(status);
      if (code !== undefined) expect(response.body.code, `${method} ${path}`).toBe(code);
    }
    expect(await snapshot()).toBe(before);
  }

  beforeAll(async () => {
    t = await startTestServer(backend);
    for (const slug of ['acme', 'other']) expectStatus(await t.call('POST', '/v1/tenants', { slug, name: slug }), 201);
    lesser = await rootKey({ scopes: ['keys:read', 'root_keys:write'] });
    limited = await rootKey({ scopes: ['keys:read', 'root_keys:write'], tenant: 'acme' });
    reader = await rootKey({ scopes: ['root_keys:read'] });
  });
  afterAll(() => t?.close());

  it('creates an operator with a generated password shown once, and never shows a hash', async () => {
    const created = await createOperator({ email: 'Ada@Ops.Test', name: 'Ada', scopes: ['keys:write', 'tenants:read'] });
    expect(created).toMatchObject({ id: expect.stringMatching(/^usr_/), email: 'ada@ops.test', name: 'Ada', scopes: ['keys:write', 'tenants:read'], tenant: null, disabled: false, disabledAt: null });
    expect(created.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const shown = await t.call('GET', `/v1/operators/${created.id}`);
    expect(shown.body).toEqual({ ...created, password: undefined, createdAt: created.createdAt });
    expect(Object.keys(shown.body).sort()).toEqual(['createdAt', 'disabled', 'disabledAt', 'email', 'id', 'name', 'scopes', 'tenant']);
    expect(JSON.stringify(shown.body)).not.toMatch(/scrypt|password/);
    // The generated password signs in.
    expect(await t.server.keygate.operators.signIn('ada@ops.test', created.password, SOURCE)).toMatchObject({ operator: { id: created.id } });
  });

  it('takes a password given, answers without one, and refuses a weak one, a duplicate email and unknown scopes or tenants', async () => {
    const given = await createOperator({ email: 'grace@ops.test', password: PASSWORD, scopes: ['keys:read'] });
    expect(given.password).toBeUndefined();
    expect(await t.server.keygate.operators.signIn('grace@ops.test', PASSWORD, SOURCE)).toMatchObject({ operator: { id: given.id } });
    await expectRefused([['POST', '/v1/operators', { email: 'weak@ops.test', password: 'short', scopes: ['keys:read'] }, ROOT_KEY]], 400, 'WEAK_PASSWORD');
    await expectRefused([['POST', '/v1/operators', { email: 'GRACE@ops.test', scopes: ['keys:read'] }, ROOT_KEY]], 409, 'OPERATOR_EXISTS');
    await expectRefused([['POST', '/v1/operators', { email: 'new@ops.test', scopes: ['read:users'] }, ROOT_KEY]], 400, 'UNKNOWN_SCOPE');
    await expectRefused([['POST', '/v1/operators', { email: 'not-an-email', scopes: ['keys:read'] }, ROOT_KEY]], 400, 'INVALID_REQUEST');
    await expectRefused(
      [
        ['POST', '/v1/operators', { email: 'new@ops.test', scopes: ['keys:read'], tenant: 'ghost' }, ROOT_KEY],
        ['POST', '/v1/operators', { email: 'new@ops.test', scopes: ['keys:read'], tenant: '_system' }, ROOT_KEY],
      ],
      404,
      'TENANT_NOT_FOUND',
    );
  });

  it('creates only operators within the caller\'s scopes and tenant; a limited caller\'s operator is limited to its tenant', async () => {
    await expectRefused(
      [
        ['POST', '/v1/operators', { email: 'x@ops.test', scopes: ['keys:write'] }, lesser],
        ['POST', '/v1/operators', { email: 'x@ops.test', scopes: [...ALL_MANAGEMENT_SCOPES] }, lesser],
        ['POST', '/v1/operators', { email: 'x@ops.test', scopes: ['keys:read'], tenant: 'other' }, limited],
        ['POST', '/v1/operators', { email: 'x@ops.test', scopes: ['keys:write'] }, limited],
      ],
      403,
      'FORBIDDEN',
    );
    await expectRefused([['POST', '/v1/operators', { email: 'x@ops.test', scopes: ['keys:read'] }, reader]], 403, 'FORBIDDEN');
    const own = await createOperator({ email: 'limited@ops.test', scopes: ['keys:read'] }, limited);
    expect(own.tenant).toBe('acme');
    const lesserOwn = await createOperator({ email: 'lesser@ops.test', scopes: ['keys:read', 'root_keys:write'], tenant: 'other' }, lesser);
    expect(lesserOwn.tenant).toBe('other');
  });

  it('lists and shows only the operators the caller could have created; the others are 404 to every route', async () => {
    const strong = await createOperator({ email: 'strong@ops.test', scopes: ['keys:write'] });
    const otherTenant = await createOperator({ email: 'other@ops.test', scopes: ['keys:read'], tenant: 'other' });
    const acmeReader = await createOperator({ email: 'acme-reader@ops.test', scopes: ['keys:read'], tenant: 'acme' });
    const all = await idsListedBy(ROOT_KEY);
    expect(all).toEqual(expect.arrayContaining([strong.id, otherTenant.id, acmeReader.id]));
    expect(await idsListedBy(lesser)).toEqual(expect.arrayContaining([otherTenant.id, acmeReader.id]));
    expect(await idsListedBy(lesser)).not.toContain(strong.id);
    const seenByLimited = await idsListedBy(limited);
    expect(seenByLimited).toContain(acmeReader.id);
    expect(seenByLimited).not.toContain(otherTenant.id);
    expect(seenByLimited).not.toContain(strong.id);
    // Pages are filled from the operators the caller may see.
    const firstPage = await t.call('GET', '/v1/operators?limit=1', undefined, { auth: limited });
    expect(firstPage.body.items).toHaveLength(1);

    const attempts = (id: string, auth: string): [string, string, unknown, string][] => [
      ['GET', `/v1/operators/${id}`, undefined, auth],
      ['PATCH', `/v1/operators/${id}`, { disabled: true }, auth],
      ['POST', `/v1/operators/${id}/password`, {}, auth],
      ['DELETE', `/v1/operators/${id}`, undefined, auth],
    ];
    await expectRefused([...attempts(strong.id, lesser), ...attempts(strong.id, limited), ...attempts(otherTenant.id, limited), ...attempts('usr_nope', ROOT_KEY)], 404, 'OPERATOR_NOT_FOUND');
    // A portal user of a tenant is no operator, whoever asks.
    const user = await t.call('POST', '/v1/tenants/acme/users', { email: 'user@acme.test', password: PASSWORD });
    expectStatus(user, 201);
    await expectRefused(attempts(user.body.id, ROOT_KEY), 404, 'OPERATOR_NOT_FOUND');
    // A reader sees but does not change.
    expect(await idsListedBy(reader)).toEqual([]);
  });

  it('changes name, scopes and tenant within the caller\'s reach only', async () => {
    const op = await createOperator({ email: 'shape@ops.test', scopes: ['keys:read'], tenant: 'acme' });
    const renamed = await t.call('PATCH', `/v1/operators/${op.id}`, { name: 'Shape', scopes: ['keys:read', 'root_keys:write'] }, { auth: limited });
    expectStatus(renamed, 200);
    expect(renamed.body).toMatchObject({ name: 'Shape', scopes: ['keys:read', 'root_keys:write'], tenant: 'acme' });
    await expectRefused(
      [
        ['PATCH', `/v1/operators/${op.id}`, { tenant: null }, limited],
        ['PATCH', `/v1/operators/${op.id}`, { tenant: 'other' }, limited],
        ['PATCH', `/v1/operators/${op.id}`, { scopes: ['keys:write'] }, limited],
        ['PATCH', `/v1/operators/${op.id}`, { scopes: ['keys:write'] }, lesser],
      ],
      403,
      'FORBIDDEN',
    );
    await expectRefused([['PATCH', `/v1/operators/${op.id}`, { tenant: 'ghost' }, ROOT_KEY]], 404, 'TENANT_NOT_FOUND');
    await expectRefused([['PATCH', `/v1/operators/${op.id}`, {}, ROOT_KEY]], 400, 'INVALID_REQUEST');
    const global = await t.call('PATCH', `/v1/operators/${op.id}`, { tenant: null, name: null }, { auth: lesser });
    expectStatus(global, 200);
    expect(global.body).toMatchObject({ name: null, tenant: null });
    // Now beyond the limited key's reach.
    await expectRefused([['GET', `/v1/operators/${op.id}`, undefined, limited]], 404, 'OPERATOR_NOT_FOUND');
  });

  it('disables (ending sessions), enables, resets the password (ending sessions) and deletes, each audited without a secret', async () => {
    const op = await createOperator({ email: 'life@ops.test', password: PASSWORD, scopes: ['keys:read'], tenant: 'acme' });
    const operators = t.server.keygate.operators;
    const session = await operators.startSession((await operators.get({ scopes: new Set(ALL_MANAGEMENT_SCOPES), tenant: null }, op.id)));
    expect((await operators.resolveSession(session.value))?.id).toBe(op.id);

    const disabled = await t.call('PATCH', `/v1/operators/${op.id}`, { disabled: true }, { auth: limited });
    expectStatus(disabled, 200);
    expect(disabled.body).toMatchObject({ disabled: true, disabledAt: expect.any(String) });
    expect(await operators.resolveSession(session.value)).toBeNull();
    expect(await operators.signIn('life@ops.test', PASSWORD, SOURCE)).toEqual({ error: 'invalid' });
    const enabled = await t.call('PATCH', `/v1/operators/${op.id}`, { disabled: false }, { auth: limited });
    expect(enabled.body).toMatchObject({ disabled: false, disabledAt: null });

    const again = await operators.startSession((await operators.signIn('life@ops.test', PASSWORD, SOURCE) as { operator: never }).operator);
    const reset = await t.call('POST', `/v1/operators/${op.id}/password`, undefined, { auth: limited });
    expectStatus(reset, 200);
    expect(reset.body).toMatchObject({ id: op.id, password: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/) });
    expect(await operators.resolveSession(again.value)).toBeNull();
    expect(await operators.signIn('life@ops.test', reset.body.password, SOURCE)).toMatchObject({ operator: { id: op.id } });
    const chosen = await t.call('POST', `/v1/operators/${op.id}/password`, { password: 'another long password' }, { auth: limited });
    expectStatus(chosen, 200);
    expect(chosen.body.password).toBeUndefined();
    await expectRefused([['POST', `/v1/operators/${op.id}/password`, { password: 'short' }, limited]], 400, 'WEAK_PASSWORD');

    const deleted = await t.call('DELETE', `/v1/operators/${op.id}`, undefined, { auth: limited });
    expect(deleted.status).toBe(204);
    await expectRefused([['GET', `/v1/operators/${op.id}`, undefined, ROOT_KEY]], 404, 'OPERATOR_NOT_FOUND');
    expect(await operators.signIn('life@ops.test', 'another long password', SOURCE)).toEqual({ error: 'invalid' });

    await t.server.keygate.flush();
    const audit = await t.call('GET', `/v1/root-keys/audit?target=${op.id}&limit=50`);
    expectStatus(audit, 200);
    const actions = audit.body.items.map((e: { action: string }) => e.action).reverse();
    expect(actions).toEqual(expect.arrayContaining(['operator.create', 'operator.disable', 'operator.update', 'operator.sign_in', 'operator.password_reset', 'operator.delete']));
    const text = JSON.stringify(audit.body);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(reset.body.password);
    expect(text).not.toContain('scrypt');
  });

  it('disables the operators limited to a tenant when the tenant is deleted', async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'doomed', name: 'Doomed' }), 201);
    const op = await createOperator({ email: 'doomed@ops.test', password: PASSWORD, scopes: ['keys:read'], tenant: 'doomed' });
    const session = await t.server.keygate.operators.startSession((await t.server.keygate.operators.signIn('doomed@ops.test', PASSWORD, SOURCE) as { operator: never }).operator);
    expectStatus(await t.call('DELETE', '/v1/tenants/doomed'), 200);
    expect(await t.server.keygate.operators.resolveSession(session.value)).toBeNull();
    expect((await t.call('GET', `/v1/operators/${op.id}`)).body).toMatchObject({ disabled: true, tenant: 'doomed' });
  });
});
