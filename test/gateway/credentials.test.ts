import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { gatewayApi, op, startGateway, startUpstream, target, TestRoutes, type RunningGateway, type Upstream } from './helpers.js';

const ISSUER = 'https://login.idp.test/tenant-1/v2.0';

/** An identity provider's JWKS endpoint, counting its fetches. */
async function startJwks(keys: JWK[]): Promise<{ url: string; fetches: number; server: Server }> {
  const jwks = { url: '', fetches: 0, server: createServer((_request, response) => {
    jwks.fetches++;
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }).end(JSON.stringify({ keys }));
  }) };
  await new Promise<void>((resolve) => jwks.server.listen(0, '127.0.0.1', () => resolve()));
  jwks.url = `http://127.0.0.1:${(jwks.server.address() as AddressInfo).port}/discovery/v2.0/keys`;
  return jwks;
}

describe.each(BACKENDS)('gateway credentials: external issuers and phantom tokens (%s)', (backend) => {
  let t: TestServer;
  let upstream: Upstream;
  let gateway: RunningGateway;
  let api: string;
  let jwks: Awaited<ReturnType<typeof startJwks>>;
  let signing: Awaited<ReturnType<typeof generateKeyPair>>;
  let stranger: Awaited<ReturnType<typeof generateKeyPair>>;

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    signing = await generateKeyPair('RS256');
    stranger = await generateKeyPair('RS256');
    jwks = await startJwks([{ ...(await exportJWK(signing.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' }]);
    upstream = await startUpstream();
    const routes = new TestRoutes();
    const settings = { upstream: upstream.url, phantomToken: true, externalIssuers: [{ issuer: ISSUER, jwksUri: jwks.url, audience: 'api://acme' }] };
    routes.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, settings), 'acme', { basePath: '', operations: [op('GET', '/users', [['read:users']]), op('POST', '/users', [['write:users']])] }));
    gateway = await startGateway(t, routes);
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.stop();
    jwks?.server.close();
    await t?.close();
  });
  beforeEach(() => {
    upstream.received.length = 0;
  });

  async function idpToken(claims: Record<string, unknown>, options: { key?: Parameters<SignJWT['sign']>[0]; kid?: string; audience?: string; expiresIn?: string } = {}): Promise<string> {
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'idp-1', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject('user-7')
      .setAudience(options.audience ?? 'api://acme')
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? '5m')
      .sign(options.key ?? signing.privateKey);
  }

  async function call(method: string, token: string) {
    const response = await request(`${gateway.url}/users`, { method: method as 'GET', headers: { host: 'gw.acme.test', authorization: `Bearer ${token}` } });
    await response.body.text();
    return response;
  }

  it('accepts an external issuer token with scp as an array (Entra ID) or a string (Okta), or scope', async () => {
    expect((await call('GET', await idpToken({ scp: ['read:users'] }))).statusCode).toBe(200);
    expect(upstream.received[0]!.headers['keygate-subject']).toBe('user-7');
    expect(upstream.received[0]!.headers['keygate-scopes']).toBe('read:users');
    expect((await call('POST', await idpToken({ scp: 'read:users write:users' }))).statusCode).toBe(200);
    expect((await call('GET', await idpToken({ scope: 'read:users' }))).statusCode).toBe(200);
    expect((await call('POST', await idpToken({ scp: ['read:users'] }))).statusCode).toBe(403);
    expect(jwks.fetches).toBe(1);
  });

  it('answers 401 to a wrong audience, an expired token, an unknown kid and a key the issuer never published', async () => {
    const bad = [
      await idpToken({ scp: ['read:users'] }, { audience: 'api://other' }),
      await idpToken({ scp: ['read:users'] }, { expiresIn: '-5m' }),
      await idpToken({ scp: ['read:users'] }, { kid: 'invented' }),
      await idpToken({ scp: ['read:users'] }, { key: stranger.privateKey }),
    ];
    for (const token of bad) expect((await call('GET', token)).statusCode).toBe(401);
    expect(upstream.received).toEqual([]);
  });

  it('sends the upstream a phantom token it verifies offline with the tenant JWKS, never the caller key', async () => {
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], consumer: 'cus_9' });
    expectStatus(created, 201);
    expect((await call('GET', created.body.key)).statusCode).toBe(200);
    const seen = upstream.received[0]!.headers;
    expect(JSON.stringify(seen)).not.toContain(created.body.key);
    const phantom = seen['keygate-token'] as string;
    const { payload, protectedHeader } = await jwtVerify(phantom, createRemoteJWKSet(new URL(`${t.url}/t/acme/.well-known/jwks.json`)), { issuer: `${t.url}/t/acme`, audience: api });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ sub: 'cus_9', scope: 'read:users' });
    expect(payload.exp! - payload.iat!).toBe(60);
  });
});
