import * as client from 'openid-client';
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
