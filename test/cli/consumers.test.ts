import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_KEY, expectStatus, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli, type Run } from './run-cli.js';

/** `keygate consumer …` as a user runs it, against a real server: grants set and narrowed, a member's key, exit codes. */

const API = 'https://api.consumers.test';
let t: TestServer;
let alice: string;
let bob: string;

function keygate(args: string[]): Promise<Run> {
  return runCli(args, { env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' } });
}

beforeAll(async () => {
  t = await startTestServer('sqlite');
  expectStatus(await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' }), 201);
  const scopes = [{ name: 'read:users', description: 'r' }, { name: 'write:users', description: 'w' }];
  expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: API, name: 'API', scopes }), 201);
  alice = (await t.call('POST', '/v1/tenants/acme/users', { email: 'alice@corp.test', password: 'a long enough password' })).body.id;
  bob = (await t.call('POST', '/v1/tenants/acme/users', { email: 'bob@corp.test', password: 'a long enough password' })).body.id;
}, 30_000);
afterAll(() => t.close());

describe('keygate consumer', { timeout: 60_000 }, () => {
  it('creates a consumer with a grant, makes a member a key within it, narrows and removes the grant', async () => {
    const created = await keygate(['consumer', 'create', '--name', 'Corp', '--member', alice, '--grant', `api=${API},scopes=read:users write:users,maxKeys=5,ratelimit=requests:100:1m,credits=1000,refill=1000/monthly,expires=30d`, '--json']);
    expect(created.code, created.stderr).toBe(0);
    const consumer = JSON.parse(created.stdout);
    expect(consumer).toMatchObject({
      name: 'Corp',
      members: [alice],
      grants: [{ api: API, scopes: ['read:users', 'write:users'], maxKeys: 5, ratelimits: [{ name: 'requests', limit: 100, duration: 60_000 }], credits: { remaining: 1000, refill: { amount: 1000, interval: 'monthly' } } }],
    });

    const listed = await keygate(['consumer', 'list']);
    expect(listed.stdout).toMatch(/^ID\s+NAME\s+MEMBERS\s+GRANTS\s+CREATED$/m);
    expect(listed.stdout).toMatch(new RegExp(`^${consumer.id}\\s+Corp\\s+1\\s+${API}`, 'm'));
    const shown = await keygate(['consumer', 'get', consumer.id]);
    expect(shown.stdout).toMatch(new RegExp(`^grant ${API}\\s+scopes: read:users write:users; max keys: 5; limit requests: 100/60000 ms; credits: 1000 \\(\\+1000 monthly\\)`, 'm'));

    const key = await keygate(['consumer', 'key', 'create', consumer.id, '--api', API, '--member', alice, '--scope', 'write:users', '--name', 'ci']);
    expect(key.code, key.stderr).toBe(0);
    expect(key.stdout).toMatch(/shown only once/);
    const secret = /^\s+(kg_\S+)$/m.exec(key.stdout)![1]!;

    const narrowed = await keygate(['consumer', 'update', consumer.id, '--grant', `api=${API},scopes=read:users`, '--add-member', bob, '--json']);
    expect(narrowed.code, narrowed.stderr).toBe(0);
    // Fields the --grant leaves out keep their value.
    expect(JSON.parse(narrowed.stdout)).toMatchObject({ members: [alice, bob].sort(), grants: [{ scopes: ['read:users'], maxKeys: 5, credits: { remaining: 1000 } }] });
    const verified = await keygate(['key', 'verify', secret, '--api', API, '--scope', 'write:users', '--json']);
    expect(JSON.parse(verified.stdout).code).toBe('INSUFFICIENT_SCOPE');

    const keys = await keygate(['consumer', 'key', 'list', consumer.id]);
    expect(keys.stdout).toMatch(/^ID\s+START\s+STATUS\s+API\s+PARENT\s+NAME\s+SCOPES/m);
    expect(keys.stdout).toMatch(/\sactive\s+https:\S+\s+key_\S+\s+ci\s/);

    const unconfirmed = await keygate(['consumer', 'update', consumer.id, '--remove-grant', API]);
    expect(unconfirmed.code).not.toBe(0);
    const removed = await keygate(['consumer', 'update', consumer.id, '--remove-grant', API, '--yes', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout).grants).toEqual([]);
    expect(JSON.parse((await keygate(['key', 'verify', secret, '--api', API, '--json'])).stdout).code).toBe('REVOKED');

    const deleted = await keygate(['consumer', 'delete', consumer.id, '--yes']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/^Deleted consumer con_\S+; revoked 0 keys\.$/m);
  });

  it('creates a consumer under the id given with --id, unique in the tenant', async () => {
    const created = await keygate(['consumer', 'create', '--id', 'cus_42', '--name', 'Customer 42', '--member', alice, '--grant', `api=${API},scopes=read:users`, '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ id: 'cus_42', name: 'Customer 42', members: [alice] });
    const shown = await keygate(['consumer', 'get', 'cus_42']);
    expect(shown.stdout).toMatch(/^id\s+cus_42$/m);
    const key = await keygate(['consumer', 'key', 'create', 'cus_42', '--api', API, '--member', alice, '--scope', 'read:users', '--json']);
    expect(key.code, key.stderr).toBe(0);
    expect(JSON.parse(key.stdout).consumer).toBe('cus_42');

    const again = await keygate(['consumer', 'create', '--id', 'cus_42', '--name', 'Again']);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/CONSUMER_EXISTS/);
    const bad = await keygate(['consumer', 'create', '--id', '-cus', '--name', 'Bad']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/INVALID_REQUEST/);
    expect((await keygate(['consumer', 'delete', 'cus_42', '--yes'])).code).toBe(0);
  });

  it('exits 3 with the code for a refusal and 2 for a malformed grant', async () => {
    const created = JSON.parse((await keygate(['consumer', 'create', '--name', 'Other', '--grant', `api=${API},scopes=read:users`, '--json'])).stdout);
    const outsider = await keygate(['consumer', 'key', 'create', created.id, '--api', API, '--member', bob, '--scope', 'read:users']);
    expect(outsider.code).toBe(3);
    expect(outsider.stderr).toMatch(/NOT_A_MEMBER/);
    for (const grant of [`scopes=read:users`, `api=${API},scopes=read:users,colour=blue`, `api=${API},scopes=a,maxKeys=many`, `api=${API},scopes=a,refill=10/daily`]) {
      const run = await keygate(['consumer', 'create', '--name', 'Bad', '--grant', grant]);
      expect(run.code, grant).toBe(2);
    }
    const twice = await keygate(['consumer', 'create', '--name', 'Bad', '--grant', `api=${API},scopes=a`, '--grant', `api=${API},scopes=b`]);
    expect(twice.code).toBe(2);
    const nothing = await keygate(['consumer', 'update', created.id]);
    expect(nothing.code).toBe(2);
  });
});
