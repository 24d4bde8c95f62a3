import * as client from 'openid-client';
import { Person } from './person.js';
import { expectStatus, type TestServer } from './server.js';

export const ORDERS_API = 'https://orders.acme.test';

/** Adds an orders API to tenant `acme` and registers a client for it; returns its credentials. */
export async function registerMachineClient(
  t: TestServer,
  body: Record<string, unknown> = {},
): Promise<{ clientId: string; clientSecret: string | null; issuer: string }> {
  const existing = await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent(ORDERS_API)}`);
  if (existing.status === 404) {
    expectStatus(
      await t.call('POST', '/v1/tenants/acme/apis', {
        identifier: ORDERS_API,
        name: 'Orders',
        accessTokenTtl: 600,
        scopes: [
          { name: 'read:orders', description: 'Read orders' },
          { name: 'write:orders', description: 'Create orders', implies: ['read:orders'] },
          { name: 'admin:orders', description: 'Everything' },
        ],
      }),
      201,
    );
  }
  const created = await t.call('POST', '/v1/tenants/acme/clients', {
    name: 'billing-service',
    grantTypes: ['client_credentials'],
    scopes: { [ORDERS_API]: ['read:orders', 'write:orders'] },
    ...body,
  });
  expectStatus(created, 201);
  const tenant = await t.call('GET', '/v1/tenants/acme');
  return { clientId: created.body.clientId, clientSecret: created.body.clientSecret, issuer: tenant.body.issuer };
}

/** POSTs a form to a tenant OAuth endpoint. */
export async function postForm(
  t: Pick<TestServer, 'url'>,
  path: string,
  form: Record<string, string> | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(t.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? null : JSON.parse(text) };
}

export function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/**
 * openid-client configured as one client of a test tenant (plain http allowed): a confidential
 * client with its secret (HTTP Basic), or a public app with its redirect URI.
 */
export function discoverAs(issuer: string, clientId: string, auth: { secret: string } | { redirectUri: string }): Promise<client.Configuration> {
  const options = { algorithm: 'oauth2' as const, execute: [client.allowInsecureRequests] };
  if ('secret' in auth) return client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretBasic(auth.secret), options);
  return client.discovery(new URL(issuer), clientId, { redirect_uris: [auth.redirectUri], token_endpoint_auth_method: 'none' }, client.None(), options);
}

/** Where the public test app of `registerPhoneApp` is sent back to (nothing listens there). */
export const PHONE_APP_CALLBACK = 'http://127.0.0.1:9/callback';

/** Refresh tokens on for the API of tenant `acme`, and a public app with refresh tokens registered for it. */
export async function registerPhoneApp(t: TestServer, api: string): Promise<{ app: client.Configuration; clientId: string }> {
  expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { refreshTokens: { enabled: true } }), 200);
  const registered = await t.call('POST', '/v1/tenants/acme/clients', {
    name: 'Phone app',
    grantTypes: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'none',
    redirectUris: [PHONE_APP_CALLBACK],
    scopes: { [api]: ['read:users'] },
  });
  expectStatus(registered, 201);
  const issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
  return { app: await discoverAs(issuer, registered.body.clientId, { redirectUri: PHONE_APP_CALLBACK }), clientId: registered.body.clientId };
}

/** The person's first (or next) tokens from the app of `registerPhoneApp`, through the code flow (`read:users`, PKCE). */
export async function authorizeApp(t: TestServer, app: client.Configuration, api: string, person: { email: string; password: string }): Promise<client.TokenEndpointResponse> {
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(app, { redirect_uri: PHONE_APP_CALLBACK, scope: 'read:users', resource: api, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const callback = await new Person(t.url).authorize(url.toString(), person);
  return client.authorizationCodeGrant(app, new URL(callback), { pkceCodeVerifier: verifier });
}
