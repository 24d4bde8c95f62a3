import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli } from './run-cli.js';

/** `keygate client list --search` and `keygate user list --search`: the /v1 lists' `?search=`. */
let t: TestServer;

async function listed(args: string[]): Promise<string[]> {
  const run = await runCli([...args, '--json'], { env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' } });
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { items: { name?: string; email?: string }[] }).items.map((item) => item.name ?? item.email!).sort();
}

beforeAll(async () => {
  t = await startTestServer('sqlite');
  const { api } = await seedTenant(t);
  for (const name of ['Billing service', 'Mobile app']) {
    expectStatus(await t.call('POST', '/v1/tenants/acme/clients', { name, grantTypes: ['client_credentials'], scopes: { [api]: ['read:users'] } }), 201);
  }
  for (const email of ['ada@acme.test', 'grace@acme.test']) expectStatus(await t.call('POST', '/v1/tenants/acme/users', { email, password: 'correct horse battery staple' }), 201);
}, 30_000);
afterAll(() => t.close());

describe.concurrent('keygate client list / user list --search', { timeout: 30_000 }, () => {
  it('lists only the clients whose name contains the text, ignoring case', async () => {
    expect(await listed(['client', 'list', '--search', 'BILL'])).toEqual(['Billing service']);
    expect(await listed(['client', 'list', '--search', 'nothing'])).toEqual([]);
  });

  it('lists only the users whose email contains the text, ignoring case', async () => {
    expect(await listed(['user', 'list', '--search', 'GRACE@'])).toEqual(['grace@acme.test']);
    expect(await listed(['user', 'list'])).toEqual(['ada@acme.test', 'grace@acme.test']);
  });
});
