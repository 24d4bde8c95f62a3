import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { testClock } from '../../helpers/clock.js';
import type { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { refusalInWords } from '../../../src/http/console/pages/audit.js';
import { consoleCsrf, createOperator, signedInOperator } from './operator-fixture.js';

const AUDIT = '/console/tenants/acme/audit';

/** The page's text without tags, spaces folded: what a reader sees. */
function text(html: string): string {
  return html.replace(/<[^>]*>/g, ' ').replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/\s+/g, ' ');
}

/**
 * The console's audit page reads `GET /v1/tenants/{slug}/audit` as the operator: an action the
 * operator took in the console is listed with the operator as actor, refusals of POST /v1/verify
 * are folded and said in words, the filters and pager are /v1's, and an operator limited to
 * another tenant, or without audit:read, sees nothing of it.
 */
describe.each(BACKENDS)('console: audit log (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  // Keygate's clock stands at 10:01:05 UTC and moves a second per refused call.
  const clock = testClock(Date.UTC(2026, 10, 23, 10, 1, 5));
  let auditor: Person;
  let auditorId: string;
  let limited: Person;
  let noScope: Person;
  let limitedKey: { id: string; key: string };

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: clock.now });
    ({ api } = await seedTenant(t));
    await seedTenant(t, 'other');
    auditorId = await createOperator(t, { email: 'auditor@ops.test', scopes: ['audit:read', 'keys:write', 'root_keys:read'] });
    await createOperator(t, { email: 'other@ops.test', scopes: ['audit:read'], tenant: 'other' });
    await createOperator(t, { email: 'keys@ops.test', scopes: ['keys:read'] });
    auditor = await signedInOperator(t, 'auditor@ops.test');
    limited = await signedInOperator(t, 'other@ops.test');
    noScope = await signedInOperator(t, 'keys@ops.test');

    // A key allowed one request a minute, asked five times: 1 allowed, 4 RATE_LIMITED folded into one row.
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], name: 'limited', ratelimits: [{ name: 'requests', limit: 1, duration: 60_000 }] });
    expectStatus(created, 201);
    limitedKey = created.body;
    for (let i = 0; i < 5; i += 1) {
      clock.advance(1000);
      expectStatus(await t.call('POST', '/v1/verify', { credential: limitedKey.key, api }), 200);
    }
    await t.server.keygate.flush();
  });
  afterAll(() => t.close());

  it('lists an action the operator took with the operator as actor, and a root key\'s with its id', async () => {
    const byRoot = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], name: 'by-root' });
    expectStatus(byRoot, 201);
    expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${byRoot.body.id}/revoke`, {}), 200);
    // The operator revokes a key on the console's key page.
    const byOperator = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], name: 'by-operator' });
    expectStatus(byOperator, 201);
    const revoked = await auditor.post(`/console/tenants/acme/keys/${byOperator.body.id}/revoke`, { csrf: await consoleCsrf(auditor) });
    expect(revoked.status).toBe(303);
    expect((await t.call('GET', `/v1/tenants/acme/keys/${byOperator.body.id}`)).body.revokedAt).not.toBeNull();
    const rootActor = (await t.call('GET', `/v1/tenants/acme/audit?action=key.revoke&target=${byRoot.body.id}`)).body.items[0].actor as string;
    expect(rootActor).toMatch(/^key_/);

    const audit = await auditor.get(`${AUDIT}?action=key.revoke`);
    expect(audit.status).toBe(200);
    const rows = audit.html.split('<tr>').slice(2);
    const operatorRow = rows.find((row) => row.includes(`<code>${byOperator.body.id}</code>`))!;
    expect(text(operatorRow)).toContain(`Operator auditor@ops.test (you) ${auditorId}`);
    const rootRow = rows.find((row) => row.includes(`<code>${byRoot.body.id}</code>`))!;
    expect(rootRow).toContain(`<code>${rootActor}</code>`);
    expect(rootRow).not.toContain('Operator');
    // Another operator who may list the operator (/v1/operators lists those the caller could have created) sees their email too; one who may not sees the id.
    await createOperator(t, { email: 'second@ops.test', scopes: ['audit:read', 'keys:write', 'root_keys:read'] });
    await createOperator(t, { email: 'third@ops.test', scopes: ['audit:read'] });
    const second = await (await signedInOperator(t, 'second@ops.test')).get(`${AUDIT}?action=key.revoke`);
    expect(text(second.html)).toContain(`Operator auditor@ops.test ${auditorId}`);
    const third = await (await signedInOperator(t, 'third@ops.test')).get(`${AUDIT}?action=key.revoke`);
    expect(third.html).toContain(`<code>${auditorId}</code>`);
    expect(third.html).not.toContain('auditor@ops.test');
    // The actor filter takes an operator's email as their id.
    const byEmail = await auditor.get(`${AUDIT}?actor=${encodeURIComponent('Auditor@ops.test')}`);
    expect(byEmail.status).toBe(200);
    expect([...byEmail.html.matchAll(/<td><code>([a-z_.]+)<\/code><\/td>/g)].map((m) => m[1])).toEqual(['key.revoke']);
    expect(byEmail.html).toContain(`<code>${byOperator.body.id}</code>`);
    const nobody = await auditor.get(`${AUDIT}?actor=${encodeURIComponent('nobody@ops.test')}`);
    expect(nobody.status).toBe(400);
    expect(nobody.html).toContain('role="alert"');
    expect(nobody.html).toContain('value="nobody@ops.test"');
  });

  it('says folded refusals in words: the reason, how many, between when', async () => {
    const page = await auditor.get(`${AUDIT}?action=key.verify.denied`);
    expect(page.status).toBe(200);
    const seen = text(page.html);
    expect(seen).toContain('RATE_LIMITED × 4 between 10:01:07 and 10:01:10 UTC');
    expect(seen).toContain('Refusals on this page');
    expect(seen).toMatch(/RATE_LIMITED × 4 between 2026-11-23 10:01:07 and 10:01:10 UTC \(key\.verify\.denied: rate limit reached, 1 target\)/);
    expect(page.html).toContain(`<code>${limitedKey.id}</code>`);
    // Thousands grouped; a fold within one second says when once.
    expect(refusalInWords({ at: '2026-11-23T10:01:07.000Z', lastAt: '2026-11-23T10:02:00.000Z', count: 1204, reason: 'RATE_LIMITED' })).toBe('RATE_LIMITED × 1,204 between 10:01:07 and 10:02:00 UTC');
    expect(refusalInWords({ at: '2026-11-23T10:01:07.000Z', lastAt: '2026-11-23T10:01:07.400Z', count: 3, reason: 'EXPIRED' })).toBe('EXPIRED × 3 at 10:01:07 UTC');
    expect(refusalInWords({ at: '2026-11-23T10:01:07.000Z', lastAt: null, count: 1, reason: null })).toBe('refused once');
    expect(refusalInWords({ at: '2026-11-23T23:59:30.000Z', lastAt: '2026-11-24T00:00:10.000Z', count: 2, reason: 'DISABLED' })).toBe('DISABLED × 2 between 23:59:30 and 2026-11-24 00:00:10 UTC');
  });

  it('filters by action, actor, target and time as /v1 does, newest first', async () => {
    const byTarget = await auditor.get(`${AUDIT}?target=${limitedKey.id}`);
    const actions = [...byTarget.html.matchAll(/<td><code>([a-z_.]+)<\/code><\/td>/g)].map((m) => m[1]);
    expect(actions).toEqual(['key.verify.denied', 'key.create']);
    const byActor = await auditor.get(`${AUDIT}?actor=verify`);
    expect([...byActor.html.matchAll(/<td><code>([a-z_.]+)<\/code><\/td>/g)].map((m) => m[1])).toEqual(['key.verify.denied']);
    // datetime-local values are UTC: the denials started at 10:01:07.
    const after = await auditor.get(`${AUDIT}?action=key.verify.denied&from=2026-11-23T10:02`);
    expect(text(after.html)).toContain('No events match.');
    const before = await auditor.get(`${AUDIT}?action=key.verify.denied&from=2026-11-23T10:01&to=2026-11-23T10:02`);
    expect(text(before.html)).toContain('RATE_LIMITED × 4');
    // The form is filled again with what was asked.
    expect(before.html).toContain('name="from" value="2026-11-23T10:01"');
    // A range /v1 refuses is shown on the page, with the form.
    const backwards = await auditor.get(`${AUDIT}?from=2026-11-23T11:00&to=2026-11-23T10:00`);
    expect(backwards.status).toBe(400);
    expect(backwards.html).toContain('role="alert"');
    expect(backwards.html).toContain('INVALID_TIME_RANGE');
    expect(backwards.html).toContain('name="to" value="2026-11-23T10:00"');
  });

  it('pages through /v1\'s cursor', async () => {
    for (let i = 0; i < 55; i += 1) expectStatus(await t.call('PATCH', `/v1/tenants/acme/keys/${limitedKey.id}`, { name: `renamed ${i}` }), 200);
    const first = await auditor.get(`${AUDIT}?action=key.update`);
    const next = /href="([^"]*cursor=[^"]*)" rel="next"/.exec(first.html)?.[1]?.replace(/&amp;/g, '&');
    expect(next).toBeDefined();
    expect(next).toContain('action=key.update');
    const rows = (html: string) => [...html.matchAll(/<td><code>key\.update<\/code><\/td>/g)].length;
    expect(rows(first.html)).toBe(50);
    const second = await auditor.get(next!);
    expect(second.status).toBe(200);
    expect(rows(second.html)).toBe(5);
    expect(second.html).not.toContain('rel="next"');
  });

  it('shows nothing to an operator limited to another tenant, or without audit:read', async () => {
    const other = await limited.get(AUDIT);
    expect(other.status).toBe(404);
    expect(other.html).not.toContain(limitedKey.id);
    expect((await limited.get('/console/tenants/other/audit')).status).toBe(200);
    // An actor given by email changes nothing: /v1's 404 comes first.
    expect((await limited.get(`${AUDIT}?actor=${encodeURIComponent('nobody@ops.test')}`)).status).toBe(404);
    const refused = await noScope.get(AUDIT);
    expect(refused.status).toBe(403);
    expect(refused.html).not.toContain(limitedKey.id);
  });
});
