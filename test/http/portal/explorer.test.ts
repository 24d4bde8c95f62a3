import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { testClock } from '../../helpers/clock.js';
import { tokenVerdict } from '../../../src/services/token-verdict.js';
import { DOCUMENT, OP, echoUpstream } from './explorer-fixture.js';
import { createConsumer, createUser, signedIn } from './member-fixture.js';

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
}

/** The same token with one character of its signature changed. */
function tampered(token: string): string {
  const at = token.lastIndexOf('.') + 10;
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
}

describe.each(BACKENDS)('portal API explorer and token debugger (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let apiId: string;
  let consumerId: string;
  let alice: Person;
  let nobody: Person;
  let upstream: Awaited<ReturnType<typeof echoUpstream>>;
  let betaToken: string;

  beforeAll(async () => {
    t = await startTestServer(backend, { gatewayPort: 0 });
    upstream = await echoUpstream();
    ({ api } = await seedTenant(t));
    const updated = await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { upstream: upstream.url });
    expectStatus(updated, 200);
    apiId = updated.body.id;
    expectStatus(await t.call('PUT', `/v1/tenants/acme/apis/${encodeURIComponent(api)}/openapi`, DOCUMENT), 200);
    const aliceId = await createUser(t, 'alice@corp.test');
    await createUser(t, 'nobody@corp.test');
    consumerId = (await createConsumer(t, { name: 'Initech', members: [aliceId], grants: [{ api, scopes: ['read:users', 'write:users'] }] })).id;
    alice = await signedIn(t, 'alice@corp.test');
    nobody = await signedIn(t, 'nobody@corp.test');

    await seedTenant(t, 'beta');
    const bob = await createUser(t, 'bob@beta.test', 'beta');
    await createConsumer(t, { name: 'Beta Co', members: [bob], grants: [{ api, scopes: ['read:users'] }] }, 'beta');
    const beta = t.server.keygate;
    const betaTenant = (await beta.tenants.get('beta'))!;
    betaToken = (await beta.consumers.mintToken({ id: bob, requestId: null, ip: null }, betaTenant, (await beta.consumers.consumersOf(betaTenant, bob))[0]!.consumer.id, bob, { api, scopes: ['read:users'] })).token;
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => upstream?.server.close(resolve));
  });

  const explorer = () => `/t/acme/portal/apis/${apiId}`;

  async function csrfOf(person: Person): Promise<string> {
    return Person.hidden((await person.get(explorer())).html, 'csrf');
  }

  async function postJson(person: Person, path: string, fields: Record<string, string | string[]>): Promise<{ status: number; body: any }> {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
    const cookie = ['kg_session', 'kg_csrf'].map((name) => `${name}=${person.cookie(name)}`).join('; ');
    const response = await fetch(t.url + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', cookie }, body, redirect: 'manual' });
    const text = await response.text();
    return { status: response.status, body: (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
  }

  async function mint(scopes: string[], ttl = ''): Promise<{ status: number; body: any }> {
    return postJson(alice, `${explorer()}/token`, { csrf: await csrfOf(alice), op: String(OP.oneUser), scope: scopes, ttl });
  }

  async function unchanged(action: () => Promise<void>): Promise<void> {
    const before = await snapshotState(t);
    await action();
    expect(await snapshotState(t)).toBe(before);
  }

  it('lists the granted APIs and shows each operation with its requirement marked against the grant', async () => {
    const list = await alice.get('/t/acme/portal/apis');
    expect(list.html).toContain(`href="/t/acme/portal/apis/${apiId}"`);
    expect(list.html).toContain('6 operations');
    const page = (await alice.get(explorer())).html;
    expect(page).toContain('<span class="method">GET</span> <code>/users/{id}</code> <span>One user</span>');
    expect(page).toMatch(/<code>\/invoices<\/code>[\s\S]*<code>read:billing<\/code> <span class="outside">\(not within your grant\)<\/span>/);
    expect(page).toMatch(/<code>\/health<\/code>[\s\S]*<strong>Public:<\/strong> no token needed/);
    expect(page).toContain('<td><code>id</code></td><td>path</td><td>string</td><td>yes</td><td>The user id</td>');
    expect(page).toContain(`<script type="module" src="/t/acme/portal/assets/explorer.js"></script>`);
    const boxes = [...page.matchAll(/id="op-2-scope-\d" name="scope" value="([^"]+)"( checked)?/g)].map((m) => `${m[1]}${m[2] ?? ''}`);
    expect(boxes).toEqual(['read:users checked', 'write:users']);
  });

  it('does not show an API the consumer holds no grant on', async () => {
    const other = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://other.acme.test', name: 'Other', scopes: [{ name: 'read:x', description: 'x' }] });
    expectStatus(other, 201);
    expect((await alice.get(`/t/acme/portal/apis/${other.body.id}`)).status).toBe(404);
    expect((await nobody.get(explorer())).status).toBe(403);
  });

  it('mints a token with exactly the ticked scopes for the consumer, 15 minutes by default, that verifies', async () => {
    const minted = await mint(['read:users']);
    expect(minted.status).toBe(201);
    const claims = claimsOf(minted.body.token);
    expect(claims).toMatchObject({ sub: consumerId, aud: api, scope: 'read:users' });
    expect((claims['exp'] as number) - (claims['iat'] as number)).toBe(900);
    const check = async (scopes: string[]) => (await t.call('POST', '/v1/verify', { api, credential: minted.body.token, scopes })).body.code;
    expect(await check(['read:users'])).toBe('VALID');
    expect(await check(['write:users'])).toBe('INSUFFICIENT_SCOPE');
    const five = await mint(['read:users', 'write:users'], '5');
    const short = claimsOf(five.body.token);
    expect((short['exp'] as number) - (short['iat'] as number)).toBe(300);
    expect(short['scope']).toBe('read:users write:users');
  });

  it('shows the minted token in the answer page, never cached, when the form is posted without JS', async () => {
    const page = await alice.post(`${explorer()}/token`, { csrf: await csrfOf(alice), op: String(OP.oneUser), scope: 'read:users', ttl: '1' });
    expect(page.status).toBe(201);
    const token = /id="op-2-token" name="token"[^>]*>([^<]+)</.exec(page.html)?.[1];
    expect(claimsOf(token!)['scope']).toBe('read:users');
    expect(page.html).toContain('<details open>');
  });

  it('refuses a scope outside the grant, a lifetime over 15 minutes or under 1, and changes nothing', async () => {
    await unchanged(async () => {
      const outside = await mint(['read:users', 'read:billing']);
      expect(outside.status).toBe(403);
      expect(outside.body.error).toContain('grant does not hold “read:billing”');
      const noOperation = await postJson(alice, `${explorer()}/token`, { csrf: await csrfOf(alice), op: '99', scope: 'read:users' });
      expect(noOperation).toEqual({ status: 400, body: { error: 'Refused: the API declares no such operation.' } });
      for (const ttl of ['16', '0', 'soon']) {
        const refused = await mint(['read:users'], ttl);
        expect(refused.status).toBe(400);
        expect(refused.body.error).toContain('from 1 to 15');
      }
    });
  });

  it('never outlives the grant, and gives nothing while the grant could not mint a key', async () => {
    const keygate = t.server.keygate;
    const tenant = (await keygate.tenants.get('acme'))!;
    const memberId = (await t.call('GET', '/v1/tenants/acme/users?limit=100')).body.items.find((u: { email: string }) => u.email === 'alice@corp.test').id;
    const actor = { id: memberId, requestId: null, ip: null };
    const grantEnds = Date.now() + 600_000;
    const shortGrant = await createConsumer(t, { name: 'Short', members: [memberId], grants: [{ api, scopes: ['read:users'], expiresAt: new Date(grantEnds).toISOString() }] });
    const minted = await keygate.consumers.mintToken(actor, tenant, shortGrant.id, memberId, { api, scopes: ['read:users'] });
    expect(minted.expiresAt).toBeLessThanOrEqual(grantEnds);
    expect(claimsOf(minted.token)['exp']).toBe(Math.floor(minted.expiresAt / 1000));
    const ending = await createConsumer(t, { name: 'Ended', members: [memberId], grants: [{ api, scopes: ['read:users'], expiresAt: new Date(Date.now() + 1_000).toISOString() }] });
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await unchanged(async () => {
      await expect(keygate.consumers.mintToken(actor, tenant, ending.id, memberId, { api, scopes: ['read:users'] })).rejects.toMatchObject({ code: 'KEY_CANNOT_MINT' });
    });
  });

  it("gives no token under a metered grant, whose shared quota a token's requests would escape (portal review F1)", async () => {
    const keygate = t.server.keygate;
    const tenant = (await keygate.tenants.get('acme'))!;
    const memberId = (await t.call('GET', '/v1/tenants/acme/users?limit=100')).body.items.find((u: { email: string }) => u.email === 'alice@corp.test').id;
    const actor = { id: memberId, requestId: null, ip: null };
    const withCredits = await createConsumer(t, { name: 'Metered', members: [memberId], grants: [{ api, scopes: ['read:users'], credits: { remaining: 100 } }] });
    const withLimits = await createConsumer(t, { name: 'Limited', members: [memberId], grants: [{ api, scopes: ['read:users'], ratelimits: [{ name: 'per-minute', limit: 1, duration: 60_000 }] }] });
    await unchanged(async () => {
      for (const consumer of [withCredits, withLimits]) {
        await expect(keygate.consumers.mintToken(actor, tenant, consumer.id, memberId, { api, scopes: ['read:users'] })).rejects.toMatchObject({ code: 'GRANT_IS_METERED', status: 409 });
      }
    });
  });

  it("ends the consumer's minted tokens when its members or grants change and when it is deleted (portal review F2)", async () => {
    const keygate = t.server.keygate;
    const tenant = (await keygate.tenants.get('acme'))!;
    const memberId = (await t.call('GET', '/v1/tenants/acme/users?limit=100')).body.items.find((u: { email: string }) => u.email === 'alice@corp.test').id;
    const actor = { id: memberId, requestId: null, ip: null };
    const verify = async (token: string): Promise<string> => (await t.call('POST', '/v1/verify', { api, credential: token, scopes: ['read:users'] })).body.code;
    const consumer = await createConsumer(t, { name: 'Ending', members: [memberId], grants: [{ api, scopes: ['read:users', 'write:users'] }] });
    const mint = async (): Promise<string> => (await keygate.consumers.mintToken(actor, tenant, consumer.id, memberId, { api, scopes: ['read:users'] })).token;

    const beforeNarrowing = await mint();
    expect(await verify(beforeNarrowing)).toBe('VALID');
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/consumers/${consumer.id}`, { grants: [{ api, scopes: ['read:users'] }] }), 200);
    expect(await verify(beforeNarrowing)).toBe('REVOKED');

    // A token minted after the change (a second later: the cut-off is in whole seconds) is valid again.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const afterNarrowing = await mint();
    expect(await verify(afterNarrowing)).toBe('VALID');
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/consumers/${consumer.id}`, { members: [] }), 200);
    expect(await verify(afterNarrowing)).toBe('REVOKED');

    expectStatus(await t.call('PATCH', `/v1/tenants/acme/consumers/${consumer.id}`, { members: [memberId] }), 200);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const beforeDelete = await mint();
    expect(await verify(beforeDelete)).toBe('VALID');
    expectStatus(await t.call('DELETE', `/v1/tenants/acme/consumers/${consumer.id}`), 200);
    expect(await verify(beforeDelete)).toBe('REVOKED');
  });

  it('refuses a non-member and a post without the CSRF token, changing nothing', async () => {
    await unchanged(async () => {
      const stranger = await postJson(nobody, `${explorer()}/token`, { csrf: nobody.cookie('kg_csrf')!, op: '0', scope: 'read:users' });
      expect(stranger.status).toBe(403);
      const forged = await postJson(alice, `${explorer()}/token`, { csrf: 'x'.repeat(43), op: '0', scope: 'read:users' });
      expect(forged.status).toBe(403);
      const tenant = (await t.server.keygate.tenants.get('acme'))!;
      const nobodyId = (await t.call('GET', '/v1/tenants/acme/users?limit=100')).body.items.find((u: { email: string }) => u.email === 'nobody@corp.test').id;
      await expect(t.server.keygate.consumers.mintToken({ id: nobodyId, requestId: null, ip: null }, tenant, consumerId, nobodyId, { api, scopes: ['read:users'] })).rejects.toMatchObject({ code: 'NOT_A_MEMBER' });
    });
  });

  it('tries an operation through the gateway with the minted token and shows status, headers and body', async () => {
    const { token } = (await mint(['read:users'])).body;
    const tried = await postJson(alice, `${explorer()}/try`, { csrf: await csrfOf(alice), op: String(OP.oneUser), token, 'path.id': 'u 42' });
    expect(tried.status).toBe(200);
    expect(tried.body).toMatchObject({ kind: 'answered', status: 200, truncated: false });
    expect(tried.body.headers).toContainEqual(['x-upstream', 'echo']);
    expect(JSON.parse(tried.body.body)).toEqual({ method: 'GET', path: '/users/u%2042', subject: consumerId, body: '' });
    const refused = await postJson(alice, `${explorer()}/try`, { csrf: await csrfOf(alice), op: String(OP.invoices), token });
    expect(refused.body.status).toBe(403);
    const page = await alice.post(`${explorer()}/try`, { csrf: await csrfOf(alice), op: String(OP.createUser), token: (await mint(['write:users'])).body.token, contentType: 'application/json', body: '{"name":"<b>x</b>"}' });
    expect(page.status).toBe(200);
    expect(page.html).toContain('Response: 200 OK');
    expect(page.html).toContain('&quot;body&quot;: &quot;{\\&quot;name\\&quot;:\\&quot;&lt;b&gt;x&lt;/b&gt;\\&quot;}&quot;');
    expect(upstream.seen.at(-1)).toMatchObject({ method: 'POST', url: '/users', body: '{"name":"<b>x</b>"}' });
  });

  it('shows at most 256 KiB of an answer, and says it was cut off', async () => {
    const { token } = (await mint(['read:users'])).body;
    const tried = await postJson(alice, `${explorer()}/try`, { csrf: await csrfOf(alice), op: String(OP.export), token });
    expect(tried.body).toMatchObject({ kind: 'answered', status: 200, truncated: true });
    expect(tried.body.body).toBe('x'.repeat(256 * 1024));
  });

    it('sends only what the document declares: no other operation, path, parameter, header or body type', async () => {
    const { token } = (await mint(['read:users'])).body;
    const csrf = await csrfOf(alice);
    const before = upstream.seen.length;
    const attempts: Record<string, string>[] = [
      { op: '99' },
      { op: String(OP.oneUser), 'path.id': '..' },
      { op: String(OP.oneUser), 'path.id': '../invoices' },
      { op: String(OP.oneUser), 'path.id': '' },
      { op: String(OP.createUser), contentType: 'text/plain', body: 'x' },
      { op: String(OP.createUser) },
      { op: String(OP.listUsers), token: `${token}\r\nx-evil: 1` },
      { op: String(OP.listUsers), token: 'tökén' },
    ];
    for (const fields of attempts) {
      const refused = await postJson(alice, `${explorer()}/try`, { csrf, token, ...fields });
      expect(refused.status, JSON.stringify(fields)).toBe(400);
      expect(refused.body.kind).toBe('refused');
    }
    expect(upstream.seen.length).toBe(before);
    const page = await alice.post(`${explorer()}/try`, { csrf, token, op: '99' });
    expect(page.status).toBe(400);
    expect(page.html).toContain('<p class="error" role="alert">the API declares no such operation</p>');
    const extra = await postJson(alice, `${explorer()}/try`, {
      csrf,
      token,
      op: String(OP.listUsers),
      'query.limit': '5',
      'query.admin': '1',
      'header.x-evil': '1',
      'path.id': '7',
      url: 'http://169.254.169.254/latest',
      host: 'evil.test',
    });
    expect(extra.body.status).toBe(200);
    expect(upstream.seen.at(-1)!.url).toBe('/users?limit=5');
    expect(upstream.seen.at(-1)!.headers['x-evil']).toBeUndefined();
    expect(upstream.seen.at(-1)!.headers['x-forwarded-host']).toBe('api.acme.test');
    const forged = await postJson(alice, `${explorer()}/try`, { csrf: 'x'.repeat(43), token, op: String(OP.listUsers) });
    expect(forged.status).toBe(403);
    expect(upstream.seen.length).toBe(before + 1);
  });

  describe('debugger', () => {
    async function verify(person: Person, token: string, csrf?: string): Promise<{ status: number; body: any }> {
      return postJson(person, '/t/acme/portal/debugger/verify', { csrf: csrf ?? Person.hidden((await person.get('/t/acme/portal/debugger')).html, 'csrf'), token });
    }

    it('says a minted token is valid, and the same token with one changed character is not', async () => {
      const { token } = (await mint(['read:users'])).body;
      expect((await verify(alice, token)).body).toEqual({ signatureValid: true, expired: false, revoked: false, valid: true, reason: 'Signed by this tenant, within its lifetime and not revoked.' });
      const changed = await verify(alice, tampered(token));
      expect(changed.body).toMatchObject({ signatureValid: false, expired: null, revoked: null, valid: false });
      expect(changed.body.reason).toContain('does not verify');
    });

    it('says a revoked token is revoked', async () => {
      const { token } = (await mint(['read:users'])).body;
      expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${claimsOf(token)['jti']}/revoke`), 200);
      expect((await verify(alice, token)).body).toMatchObject({ signatureValid: true, revoked: true, valid: false });
    });

    it('answers another tenant’s genuine token exactly as a forged one from an unknown issuer, without detail', async () => {
      const genuine = await verify(alice, betaToken);
      const claims = claimsOf(betaToken);
      const forgedIssuer = [betaToken.split('.')[0], Buffer.from(JSON.stringify({ ...claims, iss: `${t.url}/t/nope` })).toString('base64url'), betaToken.split('.')[2]].join('.');
      const unknown = await verify(alice, forgedIssuer);
      expect(genuine.body).toEqual(unknown.body);
      expect(genuine.body).toMatchObject({ signatureValid: false, expired: null, revoked: null, valid: false });
      expect(genuine.body.reason).not.toContain('beta');
    });

    it('works without JS: the posted form comes back decoded with the verdict; a forged CSRF token is refused', async () => {
      const { token } = (await mint(['read:users'])).body;
      const csrf = Person.hidden((await alice.get('/t/acme/portal/debugger')).html, 'csrf');
      const page = await alice.post('/t/acme/portal/debugger', { csrf, token });
      expect(page.status).toBe(200);
      expect(page.html).toContain('&quot;alg&quot;: &quot;ES256&quot;'.replace('ES256', JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).alg));
      expect(page.html).toContain(`&quot;sub&quot;: &quot;${consumerId}&quot;`);
      expect(page.html).toMatch(/Expires in \d+ minutes/);
      expect(page.html).toContain('<dt>Signature</dt><dd>valid</dd>');
      expect((await verify(alice, token, 'x'.repeat(43))).status).toBe(403);
    });
  });
});

describe('portal Try it without a gateway', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('sqlite');
    const { api } = await seedTenant(t);
    const updated = await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { upstream: 'http://127.0.0.1:9' });
    expectStatus(await t.call('PUT', `/v1/tenants/acme/apis/${encodeURIComponent(api)}/openapi`, DOCUMENT), 200);
    const alice = await createUser(t, 'alice@corp.test');
    await createConsumer(t, { name: 'Initech', members: [alice], grants: [{ api, scopes: ['read:users'] }] });
    (t as TestServer & { apiId: string }).apiId = updated.body.id;
  });
  afterAll(() => t?.close());

  it('says so on the page and in the answer, sending nothing', async () => {
    const alice = await signedIn(t, 'alice@corp.test');
    const path = `/t/acme/portal/apis/${(t as TestServer & { apiId: string }).apiId}`;
    const page = await alice.get(path);
    expect(page.html).toContain('Try it is off here: Keygate runs no gateway (GATEWAY_PORT is not set)');
    const tried = await alice.post(`${path}/try`, { csrf: Person.hidden(page.html, 'csrf'), op: String(OP.health), token: '' });
    expect(tried.status).toBe(503);
    expect(tried.html).toContain('Keygate runs no gateway here (GATEWAY_PORT is not set)');
  });
});

describe('portal token minting and the debugger, on a stepped clock', () => {
  const clock = testClock();
  const consumerOf = { alice: '', api: '' };
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('sqlite', {}, { clock: clock.now });
  });
  afterAll(() => t?.close());

  it('gives a consumer’s members 30 tokens a minute, refuses the next without writing it, and gives again a minute later', async () => {
    const { api } = await seedTenant(t);
    const alice = await createUser(t, 'alice@corp.test');
    Object.assign(consumerOf, { alice, api });
    const initech = (await createConsumer(t, { name: 'Initech', members: [alice], grants: [{ api, scopes: ['read:users'] }] })).id;
    const globex = (await createConsumer(t, { name: 'Globex', members: [alice], grants: [{ api, scopes: ['read:users'] }] })).id;
    const keygate = t.server.keygate;
    const tenant = (await keygate.tenants.get('acme'))!;
    const mint = (consumer: string) => keygate.consumers.mintToken({ id: alice, requestId: null, ip: null }, tenant, consumer, alice, { api, scopes: ['read:users'] });
    for (let i = 0; i < 30; i += 1) await mint(initech);
    const before = await snapshotState(t);
    await expect(mint(initech)).rejects.toMatchObject({ code: 'TOKEN_MINT_LIMIT_REACHED', status: 429 });
    expect(await snapshotState(t)).toBe(before);
    await expect(mint(globex)).resolves.toMatchObject({ scopes: ['read:users'] });
    clock.advance(60_000);
    await expect(mint(initech)).resolves.toMatchObject({ scopes: ['read:users'] });
  });

  it('calls a token expired once its 15 minutes are over, and still reads its revocation', async () => {
    const keygate = t.server.keygate;
    const tenant = (await keygate.tenants.get('acme'))!;
    const { consumer } = (await keygate.consumers.consumersOf(tenant, consumerOf.alice))[0]!;
    const member = { id: consumerOf.alice, requestId: null, ip: null };
    const kept = await keygate.consumers.mintToken(member, tenant, consumer.id, consumerOf.alice, { api: consumerOf.api, scopes: ['read:users'] });
    const revoked = await keygate.consumers.mintToken(member, tenant, consumer.id, consumerOf.alice, { api: consumerOf.api, scopes: ['read:users'] });
    expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${revoked.jti}/revoke`), 200);
    clock.advance(15 * 60_000);
    expect(await tokenVerdict(keygate, tenant, kept.token)).toEqual({ signatureValid: true, expired: true, revoked: false, valid: false, reason: 'Expired.' });
    expect(await tokenVerdict(keygate, tenant, revoked.token)).toMatchObject({ signatureValid: true, expired: true, revoked: true, reason: 'Expired, and revoked too.' });
  });
});
