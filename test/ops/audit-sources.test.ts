import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/cli/api-types.js';
import { BACKENDS } from '../helpers/backends.js';
import { basic, discoverAs, postForm, registerMachineClient } from '../helpers/oauth.js';
import { Person } from '../helpers/person.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const REDIRECT = 'http://127.0.0.1:9/after-consent';
const LOOPBACK = '127.0.0.1';
const REQUEST_ID = /^req_/;

/**
 * Issue 8, item 7: denials and changes made over OAuth and the portal are audited with the
 * request id and the source address the HTTP layer saw (they were null): failed client
 * authentication, refresh-token reuse and the grant it ends, failed sign-in, consent.
 */
describe.each(BACKENDS)('audit events of OAuth and the portal carry request and source (%s)', (backend) => {
  let t: TestServer;
  let api: string;

  const events = async (action: string): Promise<AuditEvent[]> => {
    await t.server.keygate.flush();
    const page = await t.call('GET', `/v1/tenants/acme/audit?action=${action}`);
    expectStatus(page, 200);
    return page.body.items;
  };
  const expectSourced = (event: AuditEvent | undefined): void => {
    expect(event?.requestId).toMatch(REQUEST_ID);
    expect(event?.ip).toBe(LOOPBACK);
  };

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
  });
  afterAll(() => t?.close());

  it('failed client authentication: the first and last request of the aggregated row, and the address', async () => {
    const { clientId } = await registerMachineClient(t);
    for (let i = 0; i < 2; i++) {
      const refused = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(clientId, 'not-the-secret') });
      expect(refused.status).toBe(401);
    }
    const [denied, ...more] = await events('client.auth.denied');
    expect(more).toEqual([]);
    expect(denied).toMatchObject({ actor: 'oauth', target: clientId, count: 2, data: { reason: 'wrong secret' } });
    expectSourced(denied);
    expect(denied!.lastRequestId).toMatch(REQUEST_ID);
    expect(denied!.lastRequestId).not.toBe(denied!.requestId);
  });

  it('consent, failed sign-in, refresh-token reuse and the grant it revokes', async () => {
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { refreshTokens: { enabled: true } }), 200);
    const registered = await t.call('POST', '/v1/tenants/acme/clients', {
      name: 'Notes app',
      grantTypes: ['authorization_code', 'refresh_token'],
      tokenEndpointAuthMethod: 'none',
      redirectUris: [REDIRECT],
      scopes: { [api]: ['read:users'] },
    });
    expectStatus(registered, 201);
    const clientId: string = registered.body.clientId;
    const notes = await discoverAs((await t.call('GET', '/v1/tenants/acme')).body.issuer, clientId, { redirectUri: REDIRECT });
    const person = { email: 'ada@example.com', password: 'correct horse battery staple' };
    expectStatus(await t.call('POST', '/v1/tenants/acme/users', person), 201);

    const verifier = client.randomPKCECodeVerifier();
    const start = client.buildAuthorizationUrl(notes, { redirect_uri: REDIRECT, scope: 'read:users', resource: api, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const browser = new Person(t.url);
    const login = await browser.get(start.toString());
    const form = await browser.get(login.location!);
    const wrong = await browser.post(login.location!.split('?')[0]!, { csrf: Person.hidden(form.html, 'csrf'), interaction: Person.hidden(form.html, 'interaction'), email: person.email, password: 'wrong' });
    expect(wrong.status).toBe(401);
    const [signInDenied] = await events('user.sign_in.denied');
    expect(signInDenied).toMatchObject({ actor: 'sign-in', count: 1 });
    expectSourced(signInDenied);

    const callback = await browser.authorize(start.toString(), person);
    const [granted] = await events('grant.create');
    expect(granted?.data).toMatchObject({ clientId });
    expectSourced(granted);

    const first = await client.authorizationCodeGrant(notes, new URL(callback), { pkceCodeVerifier: verifier });
    await client.refreshTokenGrant(notes, first.refresh_token!);
    await expect(client.refreshTokenGrant(notes, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const [reuse] = await events('refresh_token.reuse');
    expect(reuse).toMatchObject({ actor: clientId });
    expectSourced(reuse);
    const [revoked] = await events('grant.revoke');
    expect(revoked).toMatchObject({ actor: clientId, target: granted!.target, requestId: reuse!.requestId });
    expectSourced(revoked);
  });
});
