import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_SESSION_COOKIE } from '../../../src/http/console/cookies.js';
import { BACKENDS } from '../../helpers/backends.js';
import type { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { consoleCsrf, createOperator, signedInOperator } from './operator-fixture.js';

const PAGE = '/console/tenants/acme/signing-keys';

/** The kids listed under the heading of `state` on the page. */
function kidsUnder(page: string, state: 'current' | 'next' | 'retired'): string[] {
  const section = new RegExp(`<h2 id="keys-${state}">[\\s\\S]*?(?=<h2 )`).exec(page);
  if (section === null) throw new Error(`no ${state} section`);
  return [...section[0].matchAll(/<th scope="row"><code>([^<]+)<\/code>/g)].map((m) => m[1]!);
}

/**
 * The console's signing-keys page on both stores: it shows the keys /v1 publishes by state,
 * rotates through POST /v1/…/signing-keys/rotate as the operator, makes HS256 secrets (shown once,
 * in the POST's answer) that then sign tokens /v1/verify accepts, and revokes them; an operator
 * with tokens:read only sees no action and is refused on forged posts, one of another tenant gets
 * 404, and none of the refusals changes anything.
 */
describe.each(BACKENDS)('console: signing keys (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let admin: Person;
  let reader: Person;
  let limited: Person;
  let csrf: { admin: string; reader: string; limited: string };

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    await seedTenant(t, 'beta');
    await createOperator(t, { email: 'admin@ops.test', scopes: ['tokens:write', 'tenants:read'] });
    await createOperator(t, { email: 'reader@ops.test', scopes: ['tokens:read'] });
    await createOperator(t, { email: 'limited@ops.test', scopes: ['tokens:write'], tenant: 'beta' });
    await createOperator(t, { email: 'apis@ops.test', scopes: ['apis:read'] });
    admin = await signedInOperator(t, 'admin@ops.test');
    reader = await signedInOperator(t, 'reader@ops.test');
    limited = await signedInOperator(t, 'limited@ops.test');
    csrf = { admin: await consoleCsrf(admin), reader: await consoleCsrf(reader), limited: await consoleCsrf(limited) };
  });
  afterAll(() => t.close());

  async function unchanged(action: () => Promise<void>): Promise<void> {
    const before = await snapshotState(t);
    await action();
    expect(await snapshotState(t)).toBe(before);
  }

  const keys = async (): Promise<{ kid: string; alg: string; state: string }[]> => (await t.call('GET', '/v1/tenants/acme/signing-keys')).body.items;

  it('shows the key /v1 says signs now, with its algorithm and times, and the JWKS it is published in', async () => {
    const [current] = await keys();
    const page = await admin.get(PAGE);
    expect(page.status).toBe(200);
    expect(kidsUnder(page.html, 'current')).toEqual([current!.kid]);
    expect(kidsUnder(page.html, 'next')).toEqual([]);
    expect(page.html).toContain('No key is waiting');
    expect(page.html).toContain('href="/t/acme/.well-known/jwks.json"');
    expect(page.html).toMatch(/<td>EdDSA<\/td><td>\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/td>/);
  });

  it('rotates through /v1: the new key waits as next, and with no delay and another algorithm it signs at once and the old one retires', async () => {
    const [first] = await keys();
    const later = await admin.post(`${PAGE}/rotate`, { csrf: csrf.admin, activateAfterSeconds: '300', alg: 'EdDSA' });
    expect(later.status).toBe(303);
    expect(later.location).toMatch(/\/console\/tenants\/acme\/signing-keys\?done=rotated$/);
    const waiting = (await keys()).find((k) => k.state === 'next')!;
    const page = await admin.get(later.location!);
    expect(page.html).toContain('A new signing key is published.');
    expect(kidsUnder(page.html, 'next')).toEqual([waiting.kid]);
    expect(kidsUnder(page.html, 'current')).toEqual([first!.kid]);

    expect((await admin.post(`${PAGE}/rotate`, { csrf: csrf.admin, activateAfterSeconds: '0', alg: 'ES256' })).status).toBe(303);
    const after = await keys();
    const now = after.find((k) => k.state === 'current')!;
    expect(now.alg).toBe('ES256');
    expect(after.filter((k) => k.state === 'retired').map((k) => k.kid)).toEqual(expect.arrayContaining([first!.kid]));
    const shown = (await admin.get(PAGE)).html;
    expect(kidsUnder(shown, 'current')).toEqual([now.kid]);
    expect(kidsUnder(shown, 'retired')).toEqual(expect.arrayContaining([first!.kid]));
  });

  it('offers the tenant’s algorithm first, and shows /v1’s problem for a delay it refuses, changing nothing', async () => {
    expectStatus(await t.call('PATCH', '/v1/tenants/acme', { signingAlg: 'RS256' }), 200);
    expect((await admin.get(PAGE)).html).toContain('<option value="RS256" selected>');
    expectStatus(await t.call('PATCH', '/v1/tenants/acme', { signingAlg: 'EdDSA' }), 200);
    await unchanged(async () => {
      const refused = await admin.post(`${PAGE}/rotate`, { csrf: csrf.admin, activateAfterSeconds: '99999999', alg: 'EdDSA' });
      expect(refused.status).toBe(400);
      expect(refused.html).toContain('role="alert"');
    });
  });

  it('makes an HS256 secret shown once in the POST’s uncached answer, which signs tokens /v1/verify accepts until it is revoked', async () => {
    const raw = await fetch(`${t.url}${PAGE}/hs256-secrets`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${CONSOLE_SESSION_COOKIE}=${admin.cookie(CONSOLE_SESSION_COOKIE)}` },
      body: new URLSearchParams({ csrf: csrf.admin }).toString(),
      redirect: 'manual',
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('cache-control')).toBe('no-store');
    const html = await raw.text();
    const secret = /id="secret" value="([^"]+)"/.exec(html)![1]!;
    const kid = /Key id: <code>([^<]+)<\/code>/.exec(html)![1]!;
    expect(html).toContain('data-copy="secret"');
    expect(html).toContain('src="/console/assets/copy.js"');
    expect([...html.matchAll(/(?:href|action|src)="([^"]*)"/g)].map((m) => m[1]).join(' ')).not.toContain(secret);

    const listed = await admin.get(PAGE);
    expect(listed.html).toContain(`<code>${kid}</code>`);
    expect(listed.html).not.toContain(secret);

    const issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
    const token = await new SignJWT({ scope: 'read:users' }).setProtectedHeader({ alg: 'HS256', kid }).setIssuer(issuer).setAudience(api).setSubject('svc').setIssuedAt().setExpirationTime('5m').sign(Buffer.from(secret));
    const verify = async (): Promise<string> => (await t.call('POST', '/v1/verify', { api, credential: token, scopes: ['read:users'] })).body.code;
    expect(await verify()).toBe('VALID');

    const revoked = await admin.post(`${PAGE}/hs256-secrets/${kid}/revoke`, { csrf: csrf.admin });
    expect(revoked.status).toBe(303);
    expect(revoked.location).toContain('?done=revoked');
    expect((await t.call('GET', '/v1/tenants/acme/hs256-secrets')).body.items.find((s: { kid: string }) => s.kid === kid).revokedAt).not.toBeNull();
    expect(await verify()).not.toBe('VALID');
    expect((await admin.get(PAGE)).html).toMatch(new RegExp(`<code>${kid}</code></th><td>[^<]+</td><td>revoked `));
  });

  it('shows an operator with tokens:read the keys and secrets but no action, and refuses their forged posts (403), changing nothing', async () => {
    const page = await reader.get(PAGE);
    expect(page.status).toBe(200);
    expect(page.html).not.toContain('Rotate the signing key');
    expect(page.html).not.toContain('New HS256 secret');
    expect(page.html).not.toContain('/revoke');
    const [secret] = (await t.call('GET', '/v1/tenants/acme/hs256-secrets')).body.items;
    await unchanged(async () => {
      expect((await reader.post(`${PAGE}/rotate`, { csrf: csrf.reader, activateAfterSeconds: '0' })).status).toBe(403);
      expect((await reader.post(`${PAGE}/hs256-secrets`, { csrf: csrf.reader })).status).toBe(403);
      expect((await reader.post(`${PAGE}/hs256-secrets/${secret.kid}/revoke`, { csrf: csrf.reader })).status).toBe(403);
    });
  });

  it('answers 403 to an operator without tokens:read, and 404 to one limited to another tenant, on the page and forged posts', async () => {
    const apisOnly = await signedInOperator(t, 'apis@ops.test');
    expect((await apisOnly.get(PAGE)).status).toBe(403);
    expect((await limited.get(PAGE)).status).toBe(404);
    expect((await limited.get('/console/tenants/beta/signing-keys')).status).toBe(200);
    await unchanged(async () => {
      expect((await limited.post(`${PAGE}/rotate`, { csrf: csrf.limited, activateAfterSeconds: '0' })).status).toBe(404);
      expect((await limited.post(`${PAGE}/hs256-secrets`, { csrf: csrf.limited })).status).toBe(404);
      expect((await limited.post(`${PAGE}/hs256-secrets/x/revoke`, { csrf: csrf.limited })).status).toBe(404);
    });
  });

  it('refuses a post without the form’s CSRF token, changing nothing', async () => {
    await unchanged(async () => {
      expect((await admin.post(`${PAGE}/rotate`, { activateAfterSeconds: '0' })).status).toBe(403);
    });
  });
});
