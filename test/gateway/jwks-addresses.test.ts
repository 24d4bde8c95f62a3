import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REFRESH_TOKENS, type Api } from '../../src/domain/apis.js';
import { DEFAULT_GATEWAY_SETTINGS } from '../../src/domain/gateway/settings.js';
import { ExternalIssuerVerifier, JwksUnavailableError } from '../../src/services/external-issuers.js';
import { testClock } from '../helpers/clock.js';
import { scriptedLookup } from './scripted-lookup.js';

const ISSUER = 'https://idp.example.test';
const IDENTIFIER = 'https://api.acme.test';

function apiWithJwks(jwksUri: string): Api {
  return {
    id: 'api_jwks',
    tenantId: 'ten_jwks',
    identifier: IDENTIFIER,
    name: 'Acme API',
    keyPrefix: 'acme',
    scopes: [{ name: 'read:users', description: 'Read users' }],
    accessTokenTtl: 3600,
    refreshTokens: DEFAULT_REFRESH_TOKENS,
    gateway: { ...DEFAULT_GATEWAY_SETTINGS, upstream: 'http://127.0.0.1:1', externalIssuers: [{ issuer: ISSUER, jwksUri, audience: null }] },
    createdAt: 0,
  };
}

/**
 * Attacker review F5, for external issuers: a JWKS URL is any API owner's choice too, so its name
 * is checked at each connection like an upstream's, not only when it is set.
 */
describe("an external issuer's JWKS URL under the upstream address rule", () => {
  let jwks: Server;
  let port: number;
  let fetches = 0;
  let privateKey: CryptoKey;
  const clock = testClock();

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    const keys = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
    // Each answer closes its connection, so each fetch is a new connection and a new lookup.
    jwks = createServer((_request, response) => {
      fetches += 1;
      response.writeHead(200, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(keys));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', () => resolve()));
    port = (jwks.address() as AddressInfo).port;
  });
  afterAll(async () => {
    jwks?.closeAllConnections();
    await new Promise<void>((resolve) => (jwks ? jwks.close(() => resolve()) : resolve()));
  });

  function token(kid: string): Promise<string> {
    const now = Math.floor(clock.now() / 1000);
    return new SignJWT({ scope: 'read:users' }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(ISSUER).setSubject('cus_1').setAudience(IDENTIFIER).setIssuedAt(now).setExpirationTime(now + 600).sign(privateKey);
  }

  it('fetches the keys while the name resolves to an allowed address, and refuses the refetch once it rebinds to the metadata address', async () => {
    const { lookup } = scriptedLookup({ 'idp.rebind.test': [['127.0.0.1'], ['169.254.169.254']] });
    const verifier = new ExternalIssuerVerifier(clock.now, { allowLinkLocal: false, ownPorts: [], lookup });
    const api = apiWithJwks(`http://idp.rebind.test:${port}/keys`);
    fetches = 0;
    expect((await verifier.verify(await token('k1'), api, 'acme', [['read:users']])).code).toBe('VALID');
    // An unknown kid past the refetch cooldown makes the verifier fetch the set again: a new connection, a new lookup.
    clock.advance(31_000);
    expect((await verifier.verify(await token('k2'), api, 'acme', [['read:users']])).valid).toBe(false);
    expect(fetches).toBe(1);
  });

  it('refuses a metadata address by default, before any connection', async () => {
    const verifier = new ExternalIssuerVerifier(clock.now);
    const api = apiWithJwks('http://169.254.169.254/latest/keys');
    const failure = await verifier.verify(await token('k1'), api, 'acme', [['read:users']]).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(JwksUnavailableError);
    expect((failure as Error).message).toMatch(/169\.254\.169\.254 is a link-local or metadata address/);
  });

  it("refuses Keygate's own port on loopback, as a literal and by a name that resolves there", async () => {
    const { lookup } = scriptedLookup({ 'idp.self.test': [['127.0.0.1']] });
    const verifier = new ExternalIssuerVerifier(clock.now, { allowLinkLocal: false, ownPorts: [port], lookup });
    fetches = 0;
    for (const host of ['127.0.0.1', 'idp.self.test']) {
      const failure = await verifier.verify(await token('k1'), apiWithJwks(`http://${host}:${port}/keys`), 'acme', [['read:users']]).catch((err: unknown) => err);
      expect(failure, host).toBeInstanceOf(JwksUnavailableError);
    }
    expect(fetches).toBe(0);
  });
});
