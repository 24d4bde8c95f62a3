import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PasswordResetMessage } from '../../src/services/password-reset-delivery.js';
import { ROOT_KEY, expectStatus, startTestServer, type TestServer } from '../helpers/server.js';
import { runCli, type Run } from './run-cli.js';

/**
 * The admin lifecycle and the CLI's manners, as a user runs them: `keygate user|tenant|api …`
 * against a real server; destructive commands asking on a terminal (a real pseudo-terminal,
 * through util-linux `script`) and refusing without one; a closed pipe; an unknown command.
 */

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const API = 'https://api.lifecycle.test/v1';

let t: TestServer;
const sent: PasswordResetMessage[] = [];

function keygate(args: string[], options: { stdin?: string } = {}): Promise<Run> {
  return runCli(args, { env: { KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' }, ...options });
}

/** `keygate <args>` on a pseudo-terminal, typing `answer` at the prompt; the terminal's output and the exit code. */
function onTerminal(args: string[], answer: string): Promise<{ code: number | null; output: string }> {
  const command = ['node', '--import', 'tsx', MAIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('[y/N]') && !child.stdin.writableEnded) child.stdin.end(`${answer}\n`);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

beforeAll(async () => {
  t = await startTestServer('sqlite', {}, { onPasswordReset: (message) => void sent.push(message) });
  expectStatus(await t.call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' }), 201);
  expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: API, name: 'API', scopes: [{ name: 'read:users', description: 'r' }, { name: 'write:users', description: 'w' }] }), 201);
}, 30_000);
afterAll(() => t.close());

describe.concurrent('keygate CLI: the admin lifecycle', { timeout: 60_000 }, () => {
  it('manages users: create, list, get, update (disable), reset-password, delete, with tables and --json', async () => {
    const created = await keygate(['user', 'create', '--email', 'ada@acme.test', '--name', 'Ada', '--password-stdin', '--json'], { stdin: 'correct horse battery staple\n' });
    expect(created.code, created.stderr).toBe(0);
    const id = JSON.parse(created.stdout).id as string;
    const listed = await keygate(['user', 'list']);
    expect(listed.stdout).toMatch(/^ID\s+EMAIL\s+NAME\s+STATUS\s+CREATED$/m);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+ada@acme.test\\s+Ada\\s+active`, 'm'));
    const disabled = await keygate(['user', 'update', id, '--disable', '--email', 'ada.l@acme.test']);
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toMatch(/^status\s+disabled since \d{4}-/m);
    expect(disabled.stdout).toMatch(/^email\s+ada\.l@acme\.test$/m);
    const refused = await keygate(['user', 'reset-password', id]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('USER_DISABLED');
    expect(JSON.parse((await keygate(['user', 'update', id, '--enable', '--json'])).stdout).disabled).toBe(false);
    const reset = await keygate(['user', 'reset-password', id]);
    expect(reset).toMatchObject({ code: 0, stderr: '' });
    expect(sent.at(-1)!.email).toBe('ada.l@acme.test');
    expect((await keygate(['user', 'update', id])).code, 'nothing to change').toBe(2);

    const unconfirmed = await keygate(['user', 'delete', id]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('pass --yes');
    expect((await t.call('GET', `/v1/tenants/acme/users/${id}`)).status).toBe(200);
    expect(JSON.parse((await keygate(['user', 'delete', id, '--yes', '--json'])).stdout)).toEqual({ deleted: id });
    expect((await t.call('GET', `/v1/tenants/acme/users/${id}`)).status).toBe(404);
  });

  it('changes self sign-up and reads it back; deletes a tenant only when confirmed', async () => {
    expectStatus(await t.call('POST', '/v1/tenants', { slug: 'doomed', name: 'Doomed' }), 201);
    const opened = await keygate(['tenant', 'update', 'doomed', '--self-signup']);
    expect(opened.stdout).toMatch(/^selfSignup\s+yes$/m);
    expect(JSON.parse((await keygate(['tenant', 'get', 'doomed', '--json'])).stdout).selfSignup).toBe(true);
    expect(JSON.parse((await keygate(['tenant', 'update', 'doomed', '--no-self-signup', '--json'])).stdout).selfSignup).toBe(false);
    expect(JSON.parse((await keygate(['tenant', 'list', '--search', 'DOOM', '--json'])).stdout).items.map((x: { slug: string }) => x.slug)).toEqual(['doomed']);
    expect(JSON.parse((await keygate(['tenant', 'update', 'doomed', '--signing-alg', 'RS256', '--json'])).stdout).signingAlg).toBe('RS256');

    const unconfirmed = await keygate(['tenant', 'delete', 'doomed']);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/not confirmed.*pass --yes/);
    expect((await t.call('GET', '/v1/tenants/doomed')).status).toBe(200);

    const declined = await onTerminal(['tenant', 'delete', 'doomed'], 'n');
    expect(declined.output).toContain('Delete tenant "doomed"');
    expect(declined.code).toBe(2);
    expect((await t.call('GET', '/v1/tenants/doomed')).status).toBe(200);

    const confirmed = await onTerminal(['tenant', 'delete', 'doomed'], 'y');
    expect(confirmed.code).toBe(0);
    expect(confirmed.output).toContain('Deleted tenant doomed.');
    expect((await t.call('GET', '/v1/tenants/doomed')).status).toBe(404);
  });

  it('narrows keys with api update --force and deletes an API in use only with --force --yes', async () => {
    const identifier = 'https://orders.lifecycle.test';
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier, name: 'Orders', scopes: [{ name: 'read:orders', description: 'r' }, { name: 'write:orders', description: 'w' }] }), 201);
    const key = (await t.call('POST', '/v1/tenants/acme/keys', { api: identifier, scopes: ['write:orders'] })).body;
    const refused = await keygate(['api', 'update', identifier, '--scope', 'read:orders=r']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('SCOPES_IN_USE');
    expect((await keygate(['api', 'update', identifier, '--scope', 'read:orders=r', '--force'])).code).toBe(0);
    expect((await t.call('GET', `/v1/tenants/acme/keys/${key.id}`)).body.scopes).toEqual([]);

    const id = (await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent(identifier)}`)).body.id as string;
    const inUse = await keygate(['api', 'delete', id, '--yes']);
    expect(inUse.code).toBe(3);
    expect(inUse.stderr).toContain('API_IN_USE');
    const deleted = await keygate(['api', 'delete', id, '--yes', '--force']);
    expect(deleted).toMatchObject({ code: 0, stdout: `Deleted API ${id}.\n` });
    expect((await t.call('GET', `/v1/tenants/acme/keys/${key.id}`)).status).toBe(404);
  });

  it('says so and exits 1 when a revoked jti is no token Keygate issued', async () => {
    const jwt = (await t.call('POST', '/v1/tenants/acme/tokens', { api: API, consumer: 'cus_1', scopes: [] })).body;
    expect(await keygate(['token', 'revoke', jwt.jti, '--yes'])).toMatchObject({ code: 0, stdout: `Revoked token ${jwt.jti}.\n`, stderr: '' });
    const typo = await keygate(['token', 'revoke', `${jwt.jti}x`, '--yes']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain(`Keygate issued no JWT API key with jti ${jwt.jti}x`);
    const json = await keygate(['token', 'revoke', 'tok_never', '--yes', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ jti: 'tok_never', revoked: true, recorded: false });
  });

  it('asks for --yes before every revoke and delete when there is no terminal, and sends nothing', async () => {
    const key = (await t.call('POST', '/v1/tenants/acme/keys', { api: API, scopes: [] })).body;
    const destructive = [
      ['key', 'revoke', key.id],
      ['key', 'delete', key.id],
      ['client', 'delete', 'cli_x'],
      ['client', 'revoke-tokens', 'cli_x'],
      ['token', 'revoke', 'tok_x'],
      ['consumer', 'revoke-tokens', 'cus_x'],
      ['hs256-secret', 'revoke', 'hs_x'],
      ['root-key', 'revoke', 'key_x'],
      ['root-key', 'delete', 'key_x'],
      ['api', 'delete', API],
      ['user', 'delete', 'usr_x'],
      ['tenant', 'delete', 'acme'],
    ];
    const runs = await Promise.all(destructive.map((args) => keygate(args)));
    runs.forEach((run, i) => {
      expect(run.code, destructive[i]!.join(' ')).toBe(2);
      expect(run.stderr, destructive[i]!.join(' ')).toContain('pass --yes');
    });
    expect((await t.call('GET', `/v1/tenants/acme/keys/${key.id}`)).body.revokedAt).toBeNull();
    expect((await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent(API)}`)).status).toBe(200);
  });

  it('lists, rolls and revokes root keys, never printing a secret it did not just issue', async () => {
    const created = JSON.parse((await keygate(['root-key', 'create', '--scope', 'keys:verify', '--name', 'lifecycle', '--json'])).stdout);
    const list = await keygate(['root-key', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${created.id}\\s+kgroot_\\S{4}\\s+active\\s+all\\s+lifecycle\\s+keys:verify`, 'm'));
    expect(list.stdout).not.toContain(created.key);
    const rolled = await keygate(['root-key', 'roll', created.id, '--grace', '1h']);
    expect(rolled.code, rolled.stderr).toBe(0);
    const secret = /^\s+(kgroot_\S+)$/m.exec(rolled.stdout)![1]!;
    expect(secret).not.toBe(created.key);
    expect(rolled.stdout).toContain('The previous secret keeps working for 1h.');
    // Both secrets authenticate during the grace period.
    for (const bearer of [created.key, secret]) expect((await t.call('POST', '/v1/verify', { credential: 'kg_x', api: API }, { auth: bearer })).status).toBe(200);
    const revoked = await keygate(['root-key', 'revoke', created.id, '--yes']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/^status\s+revoked$/m);
    expect(revoked.stdout).not.toContain(secret);
    expect((await t.call('POST', '/v1/verify', { credential: 'kg_x', api: API }, { auth: secret })).status).toBe(401);
  });

  it('refuses a malformed new flag before sending anything (exit 2)', async () => {
    // An unreachable server: a request would end in exit 4, so exit 2 shows none was made.
    const offline = (args: string[], stdin?: string): Promise<Run> =>
      runCli(args, { env: { KEYGATE_URL: 'http://127.0.0.1:1', KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' }, ...(stdin !== undefined ? { stdin } : {}) });
    for (const [args, flag] of [
      [['tenant', 'create', '--slug', 'x', '--name', 'X', '--hs256-max-lifetime', 'forever'], '--hs256-max-lifetime'],
      [['tenant', 'update', 'acme', '--hs256-max-lifetime', '3600'], '3600s'],
      [['tenant', 'update', 'acme'], 'nothing to change'],
      [['api', 'update', API, '--refresh-reuse-interval', 'soon'], '--refresh-reuse-interval'],
      [['api', 'update', API, '--refresh-reuse-interval', '1500ms'], 'whole number of seconds'],
      [['root-key', 'roll', 'key_x', '--grace', 'later'], '--grace'],
      [['user', 'create', '--email', 'a@acme.test'], '--password-stdin'],
      [['user', 'update', 'usr_x', '--disable', '--enable'], '--enable'],
      [['audit', 'list', '--to', 'noon'], '--to'],
    ] as const) {
      const run = await offline([...args]);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr, args.join(' ')).toContain(flag);
    }
  });

  it('exits 2 on an unknown command, at the top and in a group', async () => {
    for (const args of [['nosuch'], ['tenant', 'nosuch']]) {
      const run = await keygate(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toContain('unknown command');
    }
  });

  it('ends quietly when the reader of its output goes away (keygate api get | head -1)', async () => {
    const identifier = 'https://big.lifecycle.test';
    const scopes = Array.from({ length: 1000 }, (_, i) => ({ name: `scope:${i}`, description: 'x'.repeat(200) }));
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier, name: 'Big', scopes }), 201);
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'api', 'get', identifier, '--json'], {
        env: { ...process.env, KEYGATE_URL: t.url, KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_TENANT: 'acme' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      // Like `head -1`: read the first chunk, then close the pipe with most of the output unread.
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});
