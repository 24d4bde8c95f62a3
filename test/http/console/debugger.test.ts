import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../../helpers/backends.js';
import { Person } from '../../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';
import { snapshotState } from '../../helpers/snapshot.js';
import { consoleCsrf, createOperator, signedInOperator } from './operator-fixture.js';

const DEBUGGER = '/console/debugger';

/** The JSON the page shows as /v1/verify's answer. */
function shownJson(html: string): unknown {
  const pre = /<pre id="verify-json"[^>]*>([\s\S]*?)<\/pre>/.exec(html)?.[1];
  if (pre === undefined) throw new Error('no verify JSON in the page');
  return JSON.parse(pre.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
}

/**
 * The console's verify tool and token debugger calls POST /v1/verify as the operator: VALID for
 * a good key, REVOKED for a revoked one, the JSON exactly as /v1 answers it, a JWT's header and
 * claims decoded, credits spent only when asked; the operator's tenant limit and keys:verify are
 * /v1's; the credential is only ever in POST bodies and answers, never in a URL or a log line.
 */
describe.each(BACKENDS)('console: verify and debug (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  const logs: string[] = [];
  let verifier: Person;
  let limited: Person;
  let noVerify: Person;
  let csrf: { verifier: string; limited: string; noVerify: string };
  let good: { id: string; key: string };
  let revoked: { id: string; key: string };
  let credited: { id: string; key: string };

  const debug = (person: Person, token: string, fields: Record<string, string>) => person.post(DEBUGGER, { csrf: token, scopes: '', match: 'all', cost: '0', ip: '', ...fields });

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { logStream: { write: (line) => void logs.push(line) } });
    ({ api } = await seedTenant(t));
    await seedTenant(t, 'other');
    await createOperator(t, { email: 'verifier@ops.test', scopes: ['keys:verify', 'apis:read', 'tenants:read'] });
    await createOperator(t, { email: 'other@ops.test', scopes: ['keys:verify', 'apis:read'], tenant: 'other' });
    await createOperator(t, { email: 'reader@ops.test', scopes: ['keys:read', 'apis:read'] });
    verifier = await signedInOperator(t, 'verifier@ops.test');
    limited = await signedInOperator(t, 'other@ops.test');
    noVerify = await signedInOperator(t, 'reader@ops.test');
    csrf = { verifier: await consoleCsrf(verifier), limited: await consoleCsrf(limited), noVerify: await consoleCsrf(noVerify) };
    const create = async (body: Record<string, unknown> = {}) => {
      const response = await t.call('POST', '/v1/tenants/acme/keys', { api, consumer: 'cust-1', scopes: ['read:users'], ...body });
      expectStatus(response, 201);
      return response.body as { id: string; key: string };
    };
    good = await create();
    revoked = await create();
    expectStatus(await t.call('POST', `/v1/tenants/acme/keys/${revoked.id}/revoke`, {}), 200);
    credited = await create({ credits: { remaining: 5 } });
  });
  afterAll(() => t.close());

  it('offers a text field instead of a picker when the instance has more tenants than the picker reads, and still verifies', async () => {
    const server = await startTestServer(backend);
    try {
      const seeded = await seedTenant(server);
      for (let i = 0; i < 25; i += 1) expectStatus(await server.call('POST', '/v1/tenants', { slug: `t${i}`, name: `T${i}` }), 201);
      await createOperator(server, { email: 'wide@ops.test', scopes: ['keys:verify', 'apis:read', 'tenants:read'] });
      const wide = await signedInOperator(server, 'wide@ops.test');
      const page = await wide.get(DEBUGGER);
      expect(page.html).not.toContain('<select id="api"');
      expect(page.html).toContain('<input type="text" id="api" name="api"');
      const key = await server.call('POST', '/v1/tenants/acme/keys', { api: seeded.api, scopes: ['read:users'] });
      const result = await debug(wide, Person.hidden(page.html, 'csrf'), { credential: key.body.key, api: seeded.api });
      expect(shownJson(result.html)).toMatchObject({ valid: true, code: 'VALID' });
    } finally {
      await server.close();
    }
  });

  it('offers the APIs of the operator\'s tenants, grouped by tenant, with a POST form', async () => {
    const page = await verifier.get(DEBUGGER);
    expect(page.status).toBe(200);
    expect(page.html).toContain('<form class="card" method="post" action="/console/debugger">');
    expect(page.html).toContain('<optgroup label="acme">');
    expect(page.html).toContain(`value="acme|${api}"`);
    expect(page.html).toContain(`value="other|${api}"`);
    const other = await limited.get(DEBUGGER);
    expect(other.html).toContain(`value="other|${api}"`);
    expect(other.html).not.toContain('value="acme|');
  });

  it('answers VALID for a good key and REVOKED for a revoked one, the JSON exactly as /v1/verify gives it', async () => {
    const valid = await debug(verifier, csrf.verifier, { credential: good.key, api: `acme|${api}`, scopes: 'read:users' });
    expect(valid.status).toBe(200);
    expect(valid.location).toBeNull();
    expect(valid.html).toContain('<strong>VALID</strong>: valid');
    const direct = await t.call('POST', '/v1/verify', { credential: good.key, api, scopes: ['read:users'], match: 'all', cost: 0 });
    expect(shownJson(valid.html)).toEqual(direct.body);

    const refused = await debug(verifier, csrf.verifier, { credential: revoked.key, api: `acme|${api}` });
    expect(refused.status).toBe(200);
    expect(refused.html).toContain('<strong>REVOKED</strong>: key revoked');
    expect(shownJson(refused.html)).toMatchObject({ valid: false, code: 'REVOKED', keyId: revoked.id, tenant: 'acme' });

    // Both tenants have an API of that identifier: the answer is /v1's, and the page says whose key it is.
    const elsewhere = await debug(verifier, csrf.verifier, { credential: good.key, api: `other|${api}` });
    expect(shownJson(elsewhere.html)).toMatchObject({ valid: true, tenant: 'acme' });
    expect(elsewhere.html).toContain('The credential belongs to tenant acme, not other.');
    const scope = await debug(verifier, csrf.verifier, { credential: good.key, api: `acme|${api}`, scopes: 'read:users write:users', match: 'any' });
    expect(shownJson(scope.html)).toMatchObject({ valid: true, code: 'VALID' });
    const missing = await debug(verifier, csrf.verifier, { credential: good.key, api: `acme|${api}`, scopes: 'write:users' });
    expect(shownJson(missing.html)).toMatchObject({ valid: false, code: 'INSUFFICIENT_SCOPE' });
    // The refusal is /v1's: audited like any verify call.
    await t.server.keygate.flush();
    const audit = await t.call('GET', `/v1/tenants/acme/audit?action=key.verify.denied&target=${revoked.id}`);
    expect(audit.body.items[0].data.code).toBe('REVOKED');
  });

  it('decodes a JWT\'s header and claims beside the verification', async () => {
    const issued = await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'cust-1', scopes: ['read:users'] });
    expectStatus(issued, 201);
    const page = await debug(verifier, csrf.verifier, { credential: issued.body.token, api: `acme|${api}`, scopes: 'read:users' });
    expect(page.html).toContain('<strong>VALID</strong>');
    const header = /<pre id="jwt-header"[^>]*>([\s\S]*?)<\/pre>/.exec(page.html)![1]!;
    expect(header).toContain('&quot;alg&quot;');
    const claims = /<pre id="jwt-claims"[^>]*>([\s\S]*?)<\/pre>/.exec(page.html)![1]!;
    expect(claims).toContain('&quot;scope&quot;');
    expect(page.html).toMatch(/<p id="jwt-expiry">Expires in /);
    // Not a JWT: no decode section.
    const key = await debug(verifier, csrf.verifier, { credential: good.key, api: `acme|${api}` });
    expect(key.html).not.toContain('id="jwt-header"');
  });

  it('spends credits only when asked', async () => {
    const check = await debug(verifier, csrf.verifier, { credential: credited.key, api: `acme|${api}` });
    expect(shownJson(check.html)).toMatchObject({ code: 'VALID', credits: { remaining: 5 } });
    const spend = await debug(verifier, csrf.verifier, { credential: credited.key, api: `acme|${api}`, cost: '2' });
    expect(shownJson(spend.html)).toMatchObject({ code: 'VALID', credits: { remaining: 3 } });
    expect((await t.call('GET', `/v1/tenants/acme/keys/${credited.id}`)).body.credits.remaining).toBe(3);
    // A value /v1 refuses is its 400, shown with the form filled again.
    const bad = await debug(verifier, csrf.verifier, { credential: credited.key, api: `acme|${api}`, cost: '-1' });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('role="alert"');
    expect(bad.html).toContain('value="-1"');
  });

  it('takes a typed API identifier from an operator who may not list tenants or APIs', async () => {
    await createOperator(t, { email: 'bare@ops.test', scopes: ['keys:verify'] });
    const bare = await signedInOperator(t, 'bare@ops.test');
    const page = await bare.get(DEBUGGER);
    expect(page.status).toBe(200);
    expect(page.html).toContain('<input type="text" id="api" name="api" value="" required>');
    const answer = await debug(bare, await consoleCsrf(bare), { credential: good.key, api });
    expect(shownJson(answer.html)).toMatchObject({ valid: true, code: 'VALID', tenant: 'acme' });
    expect(answer.html).toContain(`name="api" value="${api}"`);
  });

  it('keeps a tenant-limited operator to their tenant: another tenant\'s key is NOT_FOUND', async () => {
    const page = await debug(limited, csrf.limited, { credential: good.key, api: `other|${api}` });
    expect(page.status).toBe(200);
    expect(shownJson(page.html)).toMatchObject({ valid: false, code: 'NOT_FOUND', keyId: null, tenant: null });
    expect(page.html).not.toContain(good.id);
  });

  it('needs keys:verify and the form\'s CSRF token; a refusal changes nothing', async () => {
    // Credits asked to be spent (cost 1) are the tell of a verify call that got through.
    const before = await snapshotState(t);
    const page = await noVerify.get(DEBUGGER);
    expect(page.status).toBe(403);
    expect(page.html).not.toContain('name="credential"');
    const forged = await debug(noVerify, csrf.noVerify, { credential: credited.key, api: `acme|${api}`, cost: '1' });
    expect(forged.status).toBe(403);
    expect(forged.html).not.toContain('verify-json');
    const noCsrf = await verifier.post(DEBUGGER, { credential: credited.key, api: `acme|${api}`, cost: '1' });
    expect(noCsrf.status).toBe(403);
    expect(await snapshotState(t)).toBe(before);
  });

  it('never puts the credential in a URL or a log line', async () => {
    const page = await debug(verifier, csrf.verifier, { credential: good.key, api: `acme|${api}` });
    // Only in the textarea of the POST's own answer, which is not stored.
    expect(page.html.split(good.key)).toHaveLength(2);
    expect(page.html).toMatch(new RegExp(`<textarea [^>]*name="credential"[^>]*>${good.key}</textarea>`));
    for (const href of page.html.matchAll(/(?:href|action|src)="([^"]*)"/g)) expect(href[1]).not.toContain(good.key);
    await t.server.keygate.flush();
    const secrets = [good.key, revoked.key, credited.key];
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) for (const secret of secrets) expect(line).not.toContain(secret);
  });
});
