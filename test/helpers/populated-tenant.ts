import * as client from 'openid-client';
import { Person } from './person.js';
import { expectStatus, seedTenant, type TestServer } from './server.js';

const CALLBACK = 'http://127.0.0.1:9/callback';

/** What `populateTenant` made, to look for afterwards. */
export interface PopulatedTenant {
  slug: string;
  tenantId: string;
  api: string;
  apiId: string;
  keyId: string;
  subkeyId: string;
  /** A secret of a live key of the tenant. */
  keySecret: string;
  clientId: string;
  userId: string;
  person: { email: string; password: string };
  /** An access token of the person's grant, and the refresh token beside it. */
  accessToken: string;
  refreshToken: string;
  /** A JWT API key of the tenant. */
  jwtKey: string;
  /** A root key limited to this tenant. */
  rootKey: { id: string; secret: string };
  /** The app (openid-client) the person authorised, and a fresh authorization URL of it. */
  app: client.Configuration;
  authorizationUrl(): Promise<string>;
}

/**
 * A tenant with a row in every table a tenant can have: API, keys and a sub-key with their
 * secrets, a revoked key, a client with a secret, a JWT API key and a revoked one, a consumer
 * cut-off, an HS256 secret, signing keys, a user with a session, a grant, a used code and
 * refresh tokens, a pending authorization, a password reset, and its audit log; plus a root key
 * limited to it. The server must deliver resets (`onPasswordReset`).
 */
export async function populateTenant(t: TestServer, slug: string): Promise<PopulatedTenant> {
  const { api } = await seedTenant(t, slug);
  const base = `/v1/tenants/${slug}`;
  const tenant = (await t.call('GET', base)).body;
  const apiView = (await t.call('GET', `${base}/apis/${encodeURIComponent(api)}`)).body;
  expectStatus(await t.call('PATCH', `${base}/apis/${encodeURIComponent(api)}`, { refreshTokens: { enabled: true, idleTtl: 3600, absoluteTtl: 86_400 } }), 200);
  const key = (await t.call('POST', `${base}/keys`, { api, scopes: ['write:users'], consumer: 'cust_1' })).body;
  const subkey = (await t.call('POST', `${base}/keys/${key.id}/subkeys`, { scopes: ['read:users'] })).body;
  const revoked = (await t.call('POST', `${base}/keys`, { api, scopes: ['read:users'] })).body;
  expectStatus(await t.call('POST', `${base}/keys/${revoked.id}/revoke`), 200);
  const jwt = await t.call('POST', `${base}/tokens`, { api, consumer: 'cust_1', scopes: ['read:users'] });
  expectStatus(jwt, 201);
  const revokedJwt = (await t.call('POST', `${base}/tokens`, { api, consumer: 'cust_2', scopes: ['read:users'] })).body;
  expectStatus(await t.call('POST', `${base}/tokens/${revokedJwt.jti}/revoke`), 200);
  expectStatus(await t.call('POST', `${base}/consumers/cust_3/revoke-tokens`), 200);
  expectStatus(await t.call('POST', `${base}/hs256-secrets`), 201);
  const person = { email: `ada@${slug}.test`, password: 'correct horse battery staple' };
  const user = (await t.call('POST', `${base}/users`, { ...person, name: 'Ada' })).body;
  const registered = await t.call('POST', `${base}/clients`, {
    name: 'Photo Printer',
    grantTypes: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    redirectUris: [CALLBACK],
    scopes: { [api]: ['read:users', 'write:users'] },
  });
  expectStatus(registered, 201);
  const config = await client.discovery(new URL(tenant.issuer), registered.body.clientId, { redirect_uris: [CALLBACK] }, client.ClientSecretBasic(registered.body.clientSecret), {
    algorithm: 'oauth2',
    execute: [client.allowInsecureRequests],
  });
  const authorizationUrl = async (verifier: string) =>
    client
      .buildAuthorizationUrl(config, {
        redirect_uri: CALLBACK,
        scope: 'read:users',
        resource: api,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      })
      .toString();
  const verifier = client.randomPKCECodeVerifier();
  const callback = await new Person(t.url).authorize(await authorizationUrl(verifier), person);
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier });
  // A second refresh token (the first rotated) and a pending authorization nobody finished.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
  await new Person(t.url).get(await authorizationUrl(client.randomPKCECodeVerifier()));
  expectStatus(await t.call('POST', `${base}/users/${user.id}/password-reset`), 202);
  const rootKey = await t.call('POST', '/v1/root-keys', { scopes: ['tenants:read', 'tenants:write', 'keys:read'], tenant: slug });
  expectStatus(rootKey, 201);
  return {
    slug,
    tenantId: tenant.id,
    api,
    apiId: apiView.id,
    keyId: key.id,
    subkeyId: subkey.id,
    keySecret: key.key,
    clientId: registered.body.clientId,
    userId: user.id,
    person,
    accessToken: refreshed.access_token,
    refreshToken: refreshed.refresh_token!,
    jwtKey: jwt.body.token,
    rootKey: { id: rootKey.body.id, secret: rootKey.body.key },
    app: config,
    authorizationUrl: () => authorizationUrl(client.randomPKCECodeVerifier()),
  };
}
