import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { testClock } from '../helpers/clock.js';
import { ORDERS_API, registerMachineClient } from '../helpers/oauth.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/** Machine-to-machine OAuth driven by real client libraries, as a user's service would. */
describe.each(BACKENDS)('client credentials with openid-client and jose (%s)', (backend) => {
  let t: TestServer;
  let issuer: string;
  let config: client.Configuration;
  let clientId: string;
  const clock = testClock();

  beforeAll(async () => {
    t = await startTestServer(backend, {}, { clock: clock.now });
    await seedTenant(t);
    const registered = await registerMachineClient(t);
    clientId = registered.clientId;
    issuer = registered.issuer;
    config = await client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretBasic(registered.clientSecret!), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(() => t.close());

  it('discovers the authorization server through RFC 8414 metadata', () => {
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(issuer);
    expect(metadata.token_endpoint).toBe(`${issuer}/oauth/token`);
    expect(metadata.grant_types_supported).toContain('client_credentials');
  });

  it('issues an RFC 9068 access token that jose verifies against the JWKS', async () => {
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read:orders', resource: ORDERS_API });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expires_in).toBe(600);
    expect(tokens.scope).toBe('read:orders');
    const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer, audience: ORDERS_API, typ: 'at+jwt' });
    expect(protectedHeader.alg).toBe('EdDSA');
    expect(payload).toMatchObject({ sub: clientId, client_id: clientId, scope: 'read:orders' });
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBe(600);
  });

  it('grants the whole allowance when no scope is asked, and picks the only API when no resource is named', async () => {
    const tokens = await client.clientCredentialsGrant(config);
    expect(tokens.scope!.split(' ').sort()).toEqual(['read:orders', 'write:orders']);
  });

  it('introspects its own token, and revokes it so that verify and introspection see it dead', async () => {
    const tokens = await client.clientCredentialsGrant(config, { resource: ORDERS_API });
    const active = await client.tokenIntrospection(config, tokens.access_token);
    expect(active).toMatchObject({ active: true, client_id: clientId, sub: clientId, aud: ORDERS_API, iss: issuer, token_type: 'Bearer' });
    expect(active.scope!.split(' ').sort()).toEqual(['read:orders', 'write:orders']);
    const verified = await t.call('POST', '/v1/verify', { credential: tokens.access_token, api: ORDERS_API, scopes: ['read:orders'] });
    expect(verified.body).toMatchObject({ valid: true, code: 'VALID', tenant: 'acme', api: ORDERS_API, consumer: clientId });

    await client.tokenRevocation(config, tokens.access_token);
    expect(await client.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
    const after = await t.call('POST', '/v1/verify', { credential: tokens.access_token, api: ORDERS_API });
    expect(after.body.code).toBe('REVOKED');
  });

  it('cuts off every token a client was issued, without rolling its secret', async () => {
    const a = await client.clientCredentialsGrant(config, { resource: ORDERS_API });
    const b = await client.clientCredentialsGrant(config, { resource: ORDERS_API });
    expectStatus(await t.call('POST', `/v1/tenants/acme/clients/${clientId}/revoke-tokens`), 200);
    for (const token of [a.access_token, b.access_token]) {
      expect((await t.call('POST', '/v1/verify', { credential: token, api: ORDERS_API })).body.code).toBe('REVOKED');
    }
    clock.advance(1100);
    const fresh = await client.clientCredentialsGrant(config, { resource: ORDERS_API });
    expect((await t.call('POST', '/v1/verify', { credential: fresh.access_token, api: ORDERS_API })).body.code).toBe('VALID');
  });
});
