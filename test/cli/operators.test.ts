import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_KEY, expectStatus, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli, type Run } from './run-cli.js';

/** `keygate operator …` as a user runs it, against a real server: create, list, disable, reset, delete, and the reach of a lesser key. */

let t: TestServer;
let lesserKey: string;

function keygate(args: string[], options: { rootKey?: string; stdin?: string } = {}): Promise<Run> {
  return runCli(args, { env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: options.rootKey ?? ROOT_KEY }, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
}

const SOURCE = { ip: '192.0.2.20', requestId: 'req_cli' };

beforeAll(async () => {
  t = await startTestServer('sqlite');
  expectStatus(await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' }), 201);
  const lesser = await t.call('POST', '/v1/root-keys', { scopes: ['keys:read', 'root_keys:write'], tenant: 'acme' });
  expectStatus(lesser, 201);
  lesserKey = lesser.body.key;
}, 30_000);
afterAll(() => t.close());

describe('keygate operator', { timeout: 60_000 }, () => {
  it('creates an operator with a password shown once, lists, shows, disables, enables, resets and deletes it', async () => {
    const created = await keygate(['operator', 'create', '--email', 'ada@ops.test', '--scope', 'keys:write', '--scope', 'tenants:read', '--tenant', 'acme', '--name', 'Ada']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^email\s+ada@ops\.test$/m);
    expect(created.stdout).toMatch(/^scopes\s+keys:write tenants:read$/m);
    expect(created.stdout).toMatch(/^tenant\s+acme$/m);
    expect(created.stdout).toMatch(/shown only once/);
    const id = /^id\s+(usr_\S+)$/m.exec(created.stdout)![1]!;
    const password = /^\s+([A-Za-z0-9_-]{32})$/m.exec(created.stdout)![1]!;
    expect(await t.server.keygate.operators.signIn('ada@ops.test', password, SOURCE)).toMatchObject({ operator: { id } });

    const listed = await keygate(['operator', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+EMAIL\s+NAME\s+STATUS\s+TENANT\s+SCOPES\s+CREATED$/m);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+ada@ops\\.test\\s+Ada\\s+active\\s+acme\\s+keys:write tenants:read\\s`, 'm'));

    const disabled = await keygate(['operator', 'disable', id, '--json']);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ id, disabled: true });
    expect(await t.server.keygate.operators.signIn('ada@ops.test', password, SOURCE)).toEqual({ error: 'invalid' });
    const enabled = await keygate(['operator', 'enable', id]);
    expect(enabled.stdout).toMatch(/^status\s+active$/m);

    const reset = await keygate(['operator', 'reset', id]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/shown only once/);
    const newPassword = /^\s+([A-Za-z0-9_-]{32})$/m.exec(reset.stdout)![1]!;
    expect(newPassword).not.toBe(password);
    expect(await t.server.keygate.operators.signIn('ada@ops.test', newPassword, SOURCE)).toMatchObject({ operator: { id } });
    const chosen = await keygate(['operator', 'reset', id, '--password-stdin', '--json'], { stdin: 'a password of my own choosing\n' });
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(JSON.parse(chosen.stdout).password).toBeUndefined();
    expect(await t.server.keygate.operators.signIn('ada@ops.test', 'a password of my own choosing', SOURCE)).toMatchObject({ operator: { id } });

    const unconfirmed = await keygate(['operator', 'delete', id]);
    expect(unconfirmed.code).not.toBe(0);
    expect((await keygate(['operator', 'get', id, '--json'])).code).toBe(0);
    const deleted = await keygate(['operator', 'delete', id, '--yes', '--json']);
    expect(JSON.parse(deleted.stdout)).toEqual({ deleted: id });
    const gone = await keygate(['operator', 'get', id]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/OPERATOR_NOT_FOUND/);
  });

  it('limits a lesser key to operators within its scopes and tenant', async () => {
    const stronger = await keygate(['operator', 'create', '--email', 'strong@ops.test', '--scope', 'keys:write'], { rootKey: lesserKey });
    expect(stronger.code).toBe(3);
    expect(stronger.stderr).toMatch(/FORBIDDEN/);
    const own = await keygate(['operator', 'create', '--email', 'own@ops.test', '--scope', 'keys:read', '--json'], { rootKey: lesserKey });
    expect(own.code, own.stderr).toBe(0);
    expect(JSON.parse(own.stdout)).toMatchObject({ tenant: 'acme', scopes: ['keys:read'], password: expect.any(String) });
    const missing = await keygate(['operator', 'create', '--scope', 'keys:read']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--email/);
  });
});
