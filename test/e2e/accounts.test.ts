import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { createBackend, type Backend } from '../helpers/backends.js';
import { testClock } from '../helpers/clock.js';
import { postForm } from '../helpers/oauth.js';
import { Person } from '../helpers/person.js';
import { ROOT_KEY } from '../helpers/server.js';

const CALLBACK = 'http://127.0.0.1:9/callback';

/** Self sign-up, password reset through the hook, and refresh-token lifetimes. */
describe('accounts and refresh lifetimes', () => {
  let backend: Backend;
  let server: RunningServer;
  const resets: { email: string; url: string }[] = [];
  const clock = testClock();
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${ROOT_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (response.status === 204 ? null : await response.json()) as any };
  };

  beforeAll(async () => {
    backend = await createBackend('sqlite');
    // The hook is the documented way to send reset mail; here it captures the link.
    server = await startServer({ port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, ...backend.config }, { logger: false, clock: clock.now, onPasswordReset: (m) => void resets.push(m) });
    await call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' });
    await call('POST', '/v1/tenants/acme/apis', { identifier: 'https://api.acme.test', name: 'API', scopes: [{ name: 'read:users', description: 'Read users' }], refreshTokens: { enabled: true, idleTtl: 1, absoluteTtl: 3 } });
  });
  afterAll(async () => {
    await server.close();
    await backend.destroy();
  });

  it('refuses bad users and unknown grants with stable codes, creating nothing', async () => {
    const before = (await call('GET', '/v1/tenants/acme/users?limit=100')).body.items.length;
    expect((await call('POST', '/v1/tenants/acme/users', { email: 'not-an-email', password: 'long enough password' })).body.code).toBe('INVALID_REQUEST');
    expect((await call('POST', '/v1/tenants/acme/users', { email: 'weak@example.com', password: 'short' })).body.code).toBe('WEAK_PASSWORD');
    expect((await call('POST', '/v1/tenants/acme/users', { email: 'x@example.com', password: 'long enough password', admin: true })).body.code).toBe('INVALID_REQUEST');
    expect((await call('POST', '/v1/tenants/acme/users', { email: 'dup@example.com', password: 'long enough password' })).status).toBe(201);
    const dup = await call('POST', '/v1/tenants/acme/users', { email: 'DUP@example.com', password: 'another long password' });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('USER_EXISTS');
    expect((await call('GET', '/v1/tenants/acme/users?limit=100')).body.items.length).toBe(before + 1);
    const user = (await call('GET', '/v1/tenants/acme/users?limit=100')).body.items.find((u: { email: string }) => u.email === 'dup@example.com');
    const unknownGrant = await call('DELETE', `/v1/tenants/acme/users/${user.id}/grants/grt_unknown`);
    expect(unknownGrant.status).toBe(404);
    expect(unknownGrant.body.code).toBe('GRANT_NOT_FOUND');
    expect((await call('GET', '/v1/tenants/acme/users/usr_unknown/grants')).body.code).toBe('USER_NOT_FOUND');
  });

  it('lets people sign up only when the tenant allows it', async () => {
    const person = new Person(server.url);
    expect((await person.get(`${server.url}/t/acme/signup`)).status).toBe(404);
    expect((await call('PATCH', '/v1/tenants/acme', { selfSignup: true })).body.slug).toBe('acme');
    const page = await person.get(`${server.url}/t/acme/signup`);
    expect(page.status).toBe(200);
    const weak = await person.post(`${server.url}/t/acme/signup`, { csrf: Person.hidden(page.html, 'csrf'), name: 'Lin', email: 'lin@example.com', password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.html).toContain('at least 10 characters');
    const ok = await person.post(`${server.url}/t/acme/signup`, { csrf: Person.hidden(page.html, 'csrf'), name: 'Lin', email: 'Lin@Example.com', password: 'a long enough password' });
    expect(ok.status).toBe(303);
    expect(person.cookie('kg_session')).toBeDefined();
    const users = await call('GET', '/v1/tenants/acme/users');
    expect(users.body.items.map((u: { email: string }) => u.email)).toContain('lin@example.com');
  });

  it('resets a password with the one-time link the hook receives, and ends old sessions', async () => {
    await call('POST', '/v1/tenants/acme/users', { email: 'reset@example.com', password: 'the old password' });
    const person = new Person(server.url);
    const form = await person.get(`${server.url}/t/acme/password-reset`);
    const csrf = Person.hidden(form.html, 'csrf');
    const unknown = await person.post(`${server.url}/t/acme/password-reset`, { csrf, email: 'nobody@example.com' });
    const known = await person.post(`${server.url}/t/acme/password-reset`, { csrf, email: 'reset@example.com' });
    // Same answer whether or not the account exists.
    expect(unknown.html).toContain('If an account uses that email');
    expect(known.html).toContain('If an account uses that email');
    expect(resets.map((r) => r.email)).toEqual(['reset@example.com']);
    const link = new URL(resets[0]!.url);
    const confirm = await person.get(link.toString());
    const token = Person.hidden(confirm.html, 'token');
    expect((await person.post(`${server.url}/t/acme/password-reset/confirm`, { csrf, token, password: 'the new password!' })).status).toBe(303);
    expect((await person.post(`${server.url}/t/acme/password-reset/confirm`, { csrf, token, password: 'another password!' })).status).toBe(400);
    const login = await person.get(`${server.url}/t/acme/login`);
    const loginCsrf = Person.hidden(login.html, 'csrf');
    expect((await person.post(`${server.url}/t/acme/login`, { csrf: loginCsrf, email: 'reset@example.com', password: 'the old password' })).status).toBe(401);
    expect((await person.post(`${server.url}/t/acme/login`, { csrf: loginCsrf, email: 'reset@example.com', password: 'the new password!' })).status).toBe(303);
  });

  it('ends a refresh token after its idle lifetime', async () => {
    await call('POST', '/v1/tenants/acme/users', { email: 'idle@example.com', password: 'an idle password' });
    const registered = await call('POST', '/v1/tenants/acme/clients', { name: 'App', grantTypes: ['authorization_code', 'refresh_token'], tokenEndpointAuthMethod: 'none', redirectUris: [CALLBACK], scopes: { 'https://api.acme.test': ['read:users'] } });
    const verifier = client.randomPKCECodeVerifier();
    const url = `${server.url}/t/acme/oauth/authorize?${new URLSearchParams({ client_id: registered.body.clientId, redirect_uri: CALLBACK, response_type: 'code', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' })}`;
    const code = new URL(await new Person(server.url).authorize(url, { email: 'idle@example.com', password: 'an idle password' })).searchParams.get('code')!;
    const tokens = await postForm(server, '/t/acme/oauth/token', { grant_type: 'authorization_code', client_id: registered.body.clientId, code, redirect_uri: CALLBACK, code_verifier: verifier });
    expect(tokens.body.refresh_token).toMatch(/^kgrt_/);
    clock.advance(1100);
    const late = await postForm(server, '/t/acme/oauth/token', { grant_type: 'refresh_token', client_id: registered.body.clientId, refresh_token: tokens.body.refresh_token });
    expect(late.status).toBe(400);
    expect(late.body.error).toBe('invalid_grant');
  });
});
