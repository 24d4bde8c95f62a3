import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Person } from '../../helpers/person.js';
import { expectStatus, startTestServer, type TestServer } from '../../helpers/server.js';
import { freePort } from '../../helpers/free-port.js';

const run = promisify(execFile);

/**
 * docs/portal.md's walkthrough: the owner's lines run verbatim in bash against a real server,
 * then the member's steps — sign in, create a read:users key, use it through the gateway, revoke
 * it, read the usage — over HTTP, checking what the doc says each step shows.
 */
describe('docs/portal.md walkthrough', () => {
  let t: TestServer;
  let standIn: number | null = null;
  const doc = readFileSync(new URL('../../../docs/portal.md', import.meta.url), 'utf8');
  const block = /<!-- portal:start -->\n```sh\n([\s\S]*?)```\n<!-- portal:end -->/.exec(doc)![1]!;
  const rootKey = /KEYGATE_ROOT_KEY=(\S+)/.exec(block)![1]!;
  const email = /"email": "([^"]+)"/.exec(block)![1]!;
  const password = /"password": "([^"]+)"/.exec(block)![1]!;

  beforeAll(async () => {
    t = await startTestServer('sqlite', { rootKey, gatewayPort: 0 });
  });
  afterAll(async () => {
    if (standIn !== null) process.kill(standIn);
    await t.close();
  });

  it('gets a member from sign-in to a key used, revoked and seen in the usage, then a token minted, tried and debugged', async () => {
    // Only the export line changes (ephemeral ports); the stand-in's output is let go so bash can
    // return while it runs, and its pid is printed to stop it afterwards.
    const script = `${block.replace(/^export KEYGATE_URL=.*$/m, '').replace(/' &\n/, "' > /dev/null 2>&1 &\n")}\necho "$!"`;
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], {
      env: { ...process.env, KEYGATE_URL: t.url, GATEWAY_URL: t.server.gatewayUrl!, UPSTREAM_PORT: String(await freePort()), KEYGATE_ROOT_KEY: rootKey },
    });
    standIn = Number(stdout.trim());
    const consumers = await t.call('GET', '/v1/tenants/acme/consumers', undefined, { auth: rootKey });
    expectStatus(consumers, 200);
    expect(consumers.body.items.map((c: { name: string }) => c.name)).toEqual(['Initech']);

    // 1. Sign in from the portal's address, and come back to it.
    const alice = new Person(t.url);
    const first = await alice.get('/t/acme/portal');
    const login = await alice.get(first.location!);
    const signIn = await alice.post('/t/acme/login', { csrf: Person.hidden(login.html, 'csrf'), next: Person.hidden(login.html, 'next'), email, password });
    expect(signIn.location).toBe(`${t.url}/t/acme/portal`);
    expect((await alice.get(signIn.location!)).html).toContain('Acting for <strong>Initech</strong>');

    // 2–3. The grant's two scopes, not read:billing; a read:users key, used through the gateway.
    const keys = await alice.get('/t/acme/portal/keys');
    expect(keys.html).toContain('New key for Acme API');
    expect([...keys.html.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1])).toEqual(['read:users', 'write:users']);
    const created = await alice.post('/t/acme/portal/keys', { csrf: Person.hidden(keys.html, 'csrf'), api: Person.hidden(keys.html, 'api'), name: 'CI', scope: 'read:users' });
    expect(created.html).toContain("You won't see it again");
    const key = /id="secret" value="([^"]+)"/.exec(created.html)![1]!;
    const read = await fetch(`${t.server.gatewayUrl}/users`, { headers: { authorization: `Bearer ${key}` } });
    expect([read.status, await read.text()]).toEqual([200, '{"path":"/users"}']);
    const write = await fetch(`${t.server.gatewayUrl}/users`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    expect(write.status).toBe(403);
    await write.text();

    // 4. Listed (last use is written once a second: flushed here), then revoked: the same call is 401.
    await t.server.keygate.flush();
    const listed = await alice.get('/t/acme/portal/keys');
    expect(listed.html).toMatch(/<td>CI<br>.*?<\/td>\s*<td><code>kg_.{4}<\/code><\/td><td><code>read:users<\/code> <\/td><td>never<\/td><td>\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/td><td>active<\/td>/s);
    const keyId = /action="\/t\/acme\/portal\/keys\/(key_[^/]+)\/revoke"/.exec(listed.html)![1]!;
    expect((await alice.post(`/t/acme/portal/keys/${keyId}/revoke`, { csrf: Person.hidden(listed.html, 'csrf') })).status).toBe(303);
    const again = await fetch(`${t.server.gatewayUrl}/users`, { headers: { authorization: `Bearer ${key}` } });
    expect(again.status).toBe(401);
    await again.text();

    // 5. The usage of the last hour.
    await t.server.keygate.flush();
    const usage = (await alice.get('/t/acme/portal/usage?window=hour')).html;
    expect(usage).toContain('<desc id="chart-summary">3 requests: 1 allowed, 1 missing scope, 1 key revoked.</desc>');
    expect(usage).toContain('missing scope: needs <code>write:users</code>');
    expect(usage).toMatch(/<td>key revoked<\/td>/);

    // 6. The explorer: GET /users with read:users ticked, a token for it, tried through the gateway.
    const explorerPath = /href="(\/t\/acme\/portal\/apis\/api_[^"]+)"/.exec((await alice.get('/t/acme/portal/apis')).html)![1]!;
    const explorer = (await alice.get(explorerPath)).html;
    expect(explorer).toContain('<span class="method">GET</span> <code>/users</code>');
    expect(explorer).toContain('id="op-0-scope-0" name="scope" value="read:users" checked');
    const csrf = Person.hidden(explorer, 'csrf');
    const minted = await alice.post(`${explorerPath}/token`, { csrf, op: '0', scope: 'read:users', ttl: '15' });
    expect(minted.html).toContain('A token for read:users, valid until');
    const token = /id="op-0-token" name="token"[^>]*>([^<]+)</.exec(minted.html)![1]!;
    const tried = await alice.post(`${explorerPath}/try`, { csrf, op: '0', token });
    expect(tried.html).toContain('Response: 200 OK');
    expect(tried.html).toContain('<code>{&quot;path&quot;:&quot;/users&quot;}</code>');

    // 7. The debugger: the token is valid; with one character of its signature changed, it is not.
    const debugged = (await alice.post('/t/acme/portal/debugger', { csrf, token })).html;
    expect(debugged).toMatch(/Expires in \d+ minutes/);
    expect(debugged).toContain('<strong>Valid</strong>');
    const at = token.lastIndexOf('.') + 10;
    const changed = (await alice.post('/t/acme/portal/debugger', { csrf, token: `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}` })).html;
    expect(changed).toContain('<strong>Not valid</strong>');
    expect(changed).toContain('<dt>Signature</dt><dd>invalid</dd>');
  });
});
