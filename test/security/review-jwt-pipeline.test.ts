import { createHmac, createPublicKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEvent as EventView } from '../../src/cli/api-types.js';
import { createKeygateVerifier, type KeygateVerifier } from '../../src/middleware/core/index.js';
import { testClock } from '../helpers/clock.js';
import { ORDERS_API, basic, postForm, registerMachineClient } from '../helpers/oauth.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review of issue 9.1 (e3cca12, 37cea51: one JWT pipeline for the verify service, the middleware
 * and private_key_jwt assertions), as an attacker holding a private_key_jwt client, a tenant
 * HS256 secret, a tenant's JWT and its public JWKS. Everything goes through the real server
 * (HTTP, or the in-process verifier where a tenant-limited verify is meant). Tokens are made by
 * hand (node:crypto), since the point is what a well-behaved signer would refuse to make.
 *
 * The tests named "held: …" pass: they record attacks that failed. The others show findings.
 */

const part = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const BILLING = 'https://billing.acme.test';

/** A compact JWS over exactly this header and payload, signed as `alg` says (or not at all). */
function jws(header: Record<string, unknown>, payload: Record<string, unknown> | string, key: KeyObject | Buffer | null): string {
  const input = `${part(header)}.${part(payload)}`;
  if (key === null) return `${input}.`;
  const alg = header['alg'];
  let signature: Buffer;
  if (Buffer.isBuffer(key)) signature = createHmac('sha256', key).update(input).digest();
  else if (alg === 'EdDSA') signature = sign(null, Buffer.from(input), key);
  else if (alg === 'ES256') signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'ES384') signature = sign('sha384', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else signature = sign('sha256', Buffer.from(input), key);
  return `${input}.${signature.toString('base64url')}`;
}

describe('review 9.1: the JWT pipeline attacked through the real server', () => {
  let t: TestServer;
  let api: string;
  let issuer: string;
  let globexIssuer: string;
  const clock = testClock();
  const nowSec = (): number => Math.floor(clock.now() / 1000);
  beforeEach(() => clock.catchUp());

  beforeAll(async () => {
    t = await startTestServer('sqlite', {}, { clock: clock.now });
    ({ api } = await seedTenant(t));
    await seedTenant(t, 'globex');
    expectStatus(await t.call('POST', '/v1/tenants/acme/apis', { identifier: BILLING, name: 'Billing', scopes: [{ name: 'read:billing', description: 'Read invoices' }] }), 201);
    issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
    globexIssuer = (await t.call('GET', '/v1/tenants/globex')).body.issuer;
  });
  afterAll(() => t?.close());

  const verify = async (credential: string, audience = api, scopes: string[] = []) => (await t.call('POST', '/v1/verify', { credential, api: audience, scopes })).body;
  const issue = async (body: Record<string, unknown> = {}): Promise<{ token: string; jti: string }> => {
    const issued = await t.call('POST', '/v1/tenants/acme/tokens', { api, consumer: 'customer_1', scopes: ['read:users'], ...body });
    expectStatus(issued, 201);
    return issued.body;
  };
  const deniedEvents = async (target: string): Promise<EventView[]> => {
    await t.server.keygate.flush();
    const page = await t.call('GET', `/v1/tenants/acme/audit?limit=100&action=token.verify.denied&target=${encodeURIComponent(target)}`);
    expectStatus(page, 200);
    return page.body.items;
  };

  describe('denials of genuine tokens', () => {
    it('a genuine token presented to the wrong API is audited and named on its first presentation, as on a later one', async () => {
      const seenBefore = await issue();
      expect((await verify(seenBefore.token)).code).toBe('VALID');
      const later = await verify(seenBefore.token, BILLING);
      expect(later).toMatchObject({ code: 'WRONG_AUDIENCE', keyId: seenBefore.jti, tenant: 'acme' });
      expect(await deniedEvents(seenBefore.jti), 'control: a kept token refused for another API is audited').toHaveLength(1);

      const firstSeen = await issue();
      const first = await verify(firstSeen.token, BILLING);
      expect(first.code).toBe('WRONG_AUDIENCE');
      expect(await deniedEvents(firstSeen.jti), 'the same denial on a first presentation leaves no token.verify.denied event').toHaveLength(1);
      expect(first, 'and the API owner is not told whose token it was').toMatchObject({ keyId: firstSeen.jti, tenant: 'acme', consumer: 'customer_1' });
    });

    it('a genuine token presented after its expiry is audited as EXPIRED', async () => {
      const short = await issue({ expiresAt: new Date(clock.now() + 60_000).toISOString() });
      clock.advance(61_000);
      const answer = await verify(short.token);
      expect(answer.code).toBe('EXPIRED');
      expect(await deniedEvents(short.jti), 'an expired token replayed leaves no token.verify.denied event').toHaveLength(1);
    });
  });

  describe('held: a kept (cached) token is checked again on every presentation', () => {
    it('held: for another API, another tenant, after its jti is revoked, and after its expiry', async () => {
      const kept = await issue({ expiresAt: new Date(clock.now() + 120_000).toISOString() });
      expect((await verify(kept.token)).code).toBe('VALID');
      expect((await verify(kept.token, BILLING)).code).toBe('WRONG_AUDIENCE');
      expect((await t.server.keygate.verify({ credential: kept.token, api }, { tenant: 'globex' })).code).toBe('NOT_FOUND');
      expect((await verify(kept.token)).code).toBe('VALID');
      clock.advance(121_000);
      expect((await verify(kept.token)).code).toBe('EXPIRED');

      clock.catchUp();
      const revoked = await issue();
      expect((await verify(revoked.token)).code).toBe('VALID');
      expectStatus(await t.call('POST', `/v1/tenants/acme/tokens/${revoked.jti}/revoke`), 200);
      expect((await verify(revoked.token)).code).toBe('REVOKED');
    });
  });

  describe('held: a tenant HS256 secret in the attacker\'s hands', () => {
    const claims = (extra: Record<string, unknown> = {}) => ({ iss: issuer, sub: 'svc', aud: api, iat: nowSec(), exp: nowSec() + 300, jti: randomUUID(), scope: 'read:users', ...extra });

    it('held: a kept token dies with its secret, and with a lowered lifetime cap', async () => {
      const first = (await t.call('POST', '/v1/tenants/acme/hs256-secrets')).body as { kid: string; secret: string };
      const token = jws({ alg: 'HS256', kid: first.kid }, claims({ exp: nowSec() + 3600 }), Buffer.from(first.secret));
      expect((await verify(token, api, ['read:users'])).code).toBe('VALID');
      expectStatus(await t.call('PATCH', '/v1/tenants/acme', { hs256MaxLifetime: 600 }), 200);
      expect((await verify(token)).code).toBe('MALFORMED');
      expectStatus(await t.call('PATCH', '/v1/tenants/acme', { hs256MaxLifetime: 86_400 }), 200);
      expect((await verify(token)).code).toBe('VALID');
      expectStatus(await t.call('POST', `/v1/tenants/acme/hs256-secrets/${first.kid}/revoke`), 204);
      expect((await verify(token)).code).toBe('NOT_FOUND');
    });

    it('a self-issued token carrying another client\'s jti does not let its client revoke that token (RFC 7009)', async () => {
      const victim = await registerMachineClient(t);
      const attacker = await registerMachineClient(t);
      const basicOf = (c: { clientId: string; clientSecret: string | null }) => basic(c.clientId, c.clientSecret!);
      const issued = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: ORDERS_API }, { authorization: basicOf(victim) });
      expectStatus(issued, 200);
      const victimToken = issued.body.access_token as string;
      const victimJti = JSON.parse(Buffer.from(victimToken.split('.')[1]!, 'base64url').toString()).jti as string;
      expect((await verify(victimToken, ORDERS_API)).code).toBe('VALID');

      const { kid, secret } = (await t.call('POST', '/v1/tenants/acme/hs256-secrets')).body as { kid: string; secret: string };
      const forged = jws({ alg: 'HS256', kid }, claims({ aud: ORDERS_API, jti: victimJti, client_id: attacker.clientId }), Buffer.from(secret));
      expectStatus(await postForm(t, '/t/acme/oauth/revoke', { token: forged }, { authorization: basicOf(attacker) }), 200);
      expect((await verify(victimToken, ORDERS_API)).code, "the attacker's client revoked the victim client's token").toBe('VALID');
    });

    it('held: claims out of bounds, another tenant\'s issuer, and another tenant\'s secret', async () => {
      const { kid, secret } = (await t.call('POST', '/v1/tenants/acme/hs256-secrets')).body as { kid: string; secret: string };
      const globex = (await t.call('POST', '/v1/tenants/globex/hs256-secrets')).body as { kid: string; secret: string };
      const mint = (extra: Record<string, unknown>, header: Record<string, unknown> = {}) => jws({ alg: 'HS256', kid, ...header }, claims(extra), Buffer.from(secret));
      expect((await verify(mint({}))).code).toBe('VALID');
      for (const extra of [{ iat: nowSec() + 120 }, { iat: undefined }, { exp: String(nowSec() + 300) }, { exp: nowSec() + 300.5 }, { exp: 1e15 }, { iss: 7 }, { sub: undefined }, { exp: nowSec() + 86_401, iat: nowSec() }]) {
        expect((await verify(mint(extra))).code, JSON.stringify(extra)).toBe('MALFORMED');
      }
      expect((await verify(mint({ iss: globexIssuer }))).code).toBe('NOT_FOUND');
      expect((await verify(jws({ alg: 'HS256', kid: globex.kid }, claims(), Buffer.from(globex.secret)))).code).toBe('NOT_FOUND');
      // The secret's kid with an asymmetric algorithm, or a signing key's kid with HS256: never the other kind's rules.
      expect((await verify(mint({}, { alg: 'EdDSA' }))).code).toBe('MALFORMED');
    });
  });

  describe('held: the tenant\'s public JWKS as a key the attacker chooses', () => {
    it('held: HS256 keyed with the published key (every encoding), alg none, and an embedded jwk are refused', async () => {
      const jwk = (await t.call('GET', '/t/acme/.well-known/jwks.json', undefined, { auth: null })).body.keys[0] as Record<string, string>;
      const publicKey = createPublicKey({ key: jwk as never, format: 'jwk' });
      const payload = { iss: issuer, sub: 'attacker', aud: api, iat: nowSec(), exp: nowSec() + 300, jti: randomUUID(), scope: 'read:users write:users' };
      const secrets = [Buffer.from(JSON.stringify(jwk)), Buffer.from(jwk['x']!, 'base64url'), Buffer.from(publicKey.export({ format: 'pem', type: 'spki' })), publicKey.export({ format: 'der', type: 'spki' })];
      for (const secret of secrets) {
        expect((await verify(jws({ alg: 'HS256', typ: 'at+jwt', kid: jwk['kid'] }, payload, secret))).code).toBe('MALFORMED');
        expect((await verify(jws({ alg: 'HS256', kid: `hs_${jwk['kid']}` }, payload, secret))).code).toBe('NOT_FOUND');
      }
      for (const alg of ['none', 'None']) expect((await verify(jws({ alg, typ: 'at+jwt', kid: jwk['kid'] }, payload, null))).code).toBe('MALFORMED');
      const attacker = generateKeyPairSync('ed25519');
      const embedded = jws({ alg: 'EdDSA', typ: 'at+jwt', kid: jwk['kid'], jwk: attacker.publicKey.export({ format: 'jwk' }) }, payload, attacker.privateKey);
      expect((await verify(embedded)).code).toBe('MALFORMED');
      expect((await verify(jws({ alg: 'EdDSA', typ: 'at+jwt', kid: jwk['kid'] }, payload, attacker.privateKey))).code).toBe('MALFORMED');
    });
  });

  describe('private_key_jwt assertions', () => {
    const audience = (): string => `${issuer}/oauth/token`;
    const claimsFor = (clientId: string, extra: Record<string, unknown> = {}) => ({ iss: clientId, sub: clientId, aud: audience(), jti: randomUUID(), iat: nowSec(), exp: nowSec() + 60, ...extra });
    const present = (assertion: string, clientId?: string) =>
      postForm(t, '/t/acme/oauth/token', {
        grant_type: 'client_credentials',
        resource: ORDERS_API,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: assertion,
        ...(clientId === undefined ? {} : { client_id: clientId }),
      });
    const register = async (keys: Record<string, unknown>[]): Promise<string> =>
      (await registerMachineClient(t, { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys } })).clientId;
    const publicJwk = (key: KeyObject, extra: Record<string, unknown> = {}) => ({ ...key.export({ format: 'jwk' }), ...extra });

    it('refuses an assertion signed with an RSA key under 2048 bits (2047) in the client\'s JWKS', async () => {
      const weak = generateKeyPairSync('rsa', { modulusLength: 2047 });
      const clientId = await register([publicJwk(weak.publicKey, { kid: 'weak', alg: 'RS256' })]);
      const answer = await present(jws({ alg: 'RS256', kid: 'weak' }, claimsFor(clientId), weak.privateKey));
      expect(answer.status, JSON.stringify(answer.body)).toBe(401);
    });

    it('folds failed assertions of one client into one audit row per reason, whatever kid or alg the attacker writes', async () => {
      const key = generateKeyPairSync('ed25519');
      const clientId = await register([publicJwk(key.publicKey, { kid: 'e' })]);
      for (let i = 0; i < 5; i++) {
        const invented = `${'k'.repeat(2000)}${i}`;
        expect((await present(jws({ alg: 'EdDSA', kid: invented }, claimsFor(clientId), key.privateKey))).status).toBe(401);
      }
      await t.server.keygate.flush();
      const rows = (await t.call('GET', `/v1/tenants/acme/audit?limit=100&action=client.auth.denied&target=${clientId}`)).body.items as EventView[];
      const reasons = rows.map((row) => String((row.data as { reason?: unknown }).reason));
      expect(rows.length, 'one row per invented kid: denials no longer fold (docs/audit.md, Aggregation)').toBe(1);
      expect(Math.max(...reasons.map((reason) => reason.length)), 'the reason carries the attacker\'s kid').toBeLessThan(200);
    });

    it('held: RSA-1024 in the JWKS, another client\'s key under a shared kid, an embedded jwk, HS256 with the public key', async () => {
      const tiny = generateKeyPairSync('rsa', { modulusLength: 1024 });
      const tinyClient = await register([publicJwk(tiny.publicKey, { kid: 'tiny' })]);
      expect((await present(jws({ alg: 'RS256', kid: 'tiny' }, claimsFor(tinyClient), tiny.privateKey))).status).toBe(401);

      const mine = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const theirs = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const victim = await register([publicJwk(theirs.publicKey, { kid: 'k1', alg: 'ES256' })]);
      const attacker = await register([publicJwk(mine.publicKey, { kid: 'k1', alg: 'ES256' })]);
      expect((await present(jws({ alg: 'ES256', kid: 'k1' }, claimsFor(attacker), mine.privateKey))).status, 'control').toBe(200);
      expect((await present(jws({ alg: 'ES256', kid: 'k1' }, claimsFor(victim), mine.privateKey))).status).toBe(401);
      expect((await present(jws({ alg: 'ES256', kid: 'k1' }, claimsFor(victim), mine.privateKey), victim)).status).toBe(401);
      expect((await present(jws({ alg: 'ES256', kid: 'k1' }, claimsFor(victim, { iss: attacker }), mine.privateKey), attacker)).status).toBe(401);
      expect((await present(jws({ alg: 'ES256', jwk: publicJwk(mine.publicKey) }, claimsFor(victim), mine.privateKey), victim)).status).toBe(401);
      const victimJwk = publicJwk(theirs.publicKey, { kid: 'k1', alg: 'ES256' });
      expect((await present(jws({ alg: 'HS256', kid: 'k1' }, claimsFor(victim), Buffer.from(JSON.stringify(victimJwk))), victim)).status).toBe(401);
      expect((await present(jws({ alg: 'none', kid: 'k1' }, claimsFor(victim), null), victim)).status).toBe(401);
    });

    it('held: ES256 with a P-384 key, several keys without kid, sub missing or another client\'s', async () => {
      const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const p384Client = await register([publicJwk(p384.publicKey, { kid: 'p' })]);
      expect((await present(jws({ alg: 'ES256', kid: 'p' }, claimsFor(p384Client), p384.privateKey))).status).toBe(401);
      expect((await present(jws({ alg: 'ES384', kid: 'p' }, claimsFor(p384Client), p384.privateKey))).status, 'control').toBe(200);

      const one = generateKeyPairSync('ed25519');
      const two = generateKeyPairSync('ed25519');
      const twoKeys = await register([publicJwk(one.publicKey), publicJwk(two.publicKey)]);
      expect((await present(jws({ alg: 'EdDSA' }, claimsFor(twoKeys), one.privateKey), twoKeys)).status).toBe(401);

      const key = generateKeyPairSync('ed25519');
      const clientId = await register([publicJwk(key.publicKey, { kid: 'e' })]);
      expect((await present(jws({ alg: 'EdDSA', kid: 'e' }, claimsFor(clientId, { sub: undefined }), key.privateKey))).status).toBe(401);
      expect((await present(jws({ alg: 'EdDSA', kid: 'e' }, claimsFor(clientId, { sub: twoKeys }), key.privateKey))).status).toBe(401);
      expect((await present(jws({ alg: 'EdDSA', kid: 'e' }, claimsFor(clientId, { aud: [7, `${globexIssuer}/oauth/token`] }), key.privateKey))).status).toBe(401);
      expect((await present(jws({ alg: 'EdDSA', kid: 'e' }, claimsFor(clientId, { exp: nowSec() + 601 }), key.privateKey))).status).toBe(401);
      expect((await present(jws({ alg: 'EdDSA', kid: 'e' }, claimsFor(clientId, { jti: 7 }), key.privateKey))).status).toBe(401);
    });

    it('held: 5 s of clock tolerance, no more, and a replay within it is refused; one jti per client, not per tenant', async () => {
      const key = generateKeyPairSync('ed25519');
      const clientId = await register([publicJwk(key.publicKey, { kid: 'e' })]);
      const late = jws({ alg: 'EdDSA', kid: 'e' }, claimsFor(clientId, { exp: nowSec() - 4 }), key.privateKey);
      expect((await present(late)).status).toBe(200);
      expect((await present(late)).status, 'replayed within the tolerance').toBe(401);
      expect((await present(jws({ alg: 'EdDSA', kid: 'e' }, claimsFor(clientId, { exp: nowSec() - 5 }), key.privateKey))).status).toBe(401);
      expect((await present(jws({ alg: 'EdDSA', kid: 'e' }, claimsFor(clientId, { nbf: nowSec() + 6 }), key.privateKey))).status).toBe(401);

      const other = await register([publicJwk(key.publicKey, { kid: 'e' })]);
      const jti = randomUUID();
      expect((await present(jws({ alg: 'EdDSA', kid: 'e' }, claimsFor(clientId, { jti }), key.privateKey))).status).toBe(200);
      expect((await present(jws({ alg: 'EdDSA', kid: 'e' }, claimsFor(other, { jti }), key.privateKey))).status).toBe(200);
    });

    it('held: a JWKS with private halves is refused at registration; an oct key never becomes an HMAC secret', async () => {
      const key = generateKeyPairSync('ed25519');
      const refused = await t.call('POST', '/v1/tenants/acme/clients', {
        name: 'leaky',
        grantTypes: ['client_credentials'],
        scopes: {},
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [{ ...key.privateKey.export({ format: 'jwk' }), kid: 'p' }] },
      });
      expect(refused.status).toBe(400);
      const secret = Buffer.alloc(32, 7);
      const created = await t.call('POST', '/v1/tenants/acme/clients', {
        name: 'symmetric',
        grantTypes: ['client_credentials'],
        scopes: { [ORDERS_API]: ['read:orders'] },
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [{ kty: 'oct', k: secret.toString('base64url'), kid: 'o' }, publicJwk(key.publicKey, { kid: 'e' })] },
      });
      if (created.status === 201) {
        const clientId = created.body.clientId as string;
        expect((await present(jws({ alg: 'HS256', kid: 'o' }, claimsFor(clientId), secret))).status).toBe(401);
      } else {
        expect(created.status).toBe(400);
      }
    });
  });

  describe('held: the middleware and the service agree on the same token', () => {
    let verifier: KeygateVerifier;
    beforeAll(async () => {
      const root = await t.call('POST', '/v1/root-keys', { scopes: ['keys:verify'] });
      expectStatus(root, 201);
      verifier = createKeygateVerifier({ issuer, audience: api, rootKey: root.body.key, apiKeyCacheMs: 0, clock: clock.now, onWarning: () => undefined });
    });
    afterAll(() => verifier?.close());

    it('held: Keygate\'s tokens and a tenant\'s HS256 tokens, in and out of bounds', async () => {
      const { kid, secret } = (await t.call('POST', '/v1/tenants/acme/hs256-secrets')).body as { kid: string; secret: string };
      const hs = (extra: Record<string, unknown>, header: Record<string, unknown> = {}) =>
        jws({ alg: 'HS256', kid, ...header }, { iss: issuer, sub: 'svc', aud: api, iat: nowSec(), exp: nowSec() + 300, jti: randomUUID(), scope: 'read:users', ...extra }, Buffer.from(secret));
      const signed = await issue();
      const billing = (await t.call('POST', '/v1/tenants/acme/tokens', { api: BILLING, consumer: 'c', scopes: [] })).body.token as string;
      const tokens: Record<string, string> = {
        signed: signed.token,
        'signed for another API': billing,
        hs: hs({}),
        'hs iat ahead': hs({ iat: nowSec() + 120 }),
        'hs over the cap': hs({ exp: nowSec() + 86_401 }),
        'hs of another issuer': hs({ iss: globexIssuer }),
        'hs typ at+jwt': hs({}, { typ: 'at+jwt' }),
        'hs with crit': hs({}, { crit: ['exp'] }),
        'hs aud list': hs({ aud: [BILLING, api] }),
      };
      for (const [name, token] of Object.entries(tokens)) {
        const service = await verify(token, api, ['read:users']);
        const middleware = await verifier.verify(token, { scopes: ['read:users'] });
        expect(middleware.ok, `${name}: service said ${service.code}`).toBe(service.valid);
      }
    });
  });
});
