import { readFileSync } from 'node:fs';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64url, decodeJwt } from '../../src/domain/tokens/jwt.js';
import { INTERACTION_BOUNDS } from '../../src/domain/people.js';
import { MAX_JSON_DEPTH, jsonNestsDeeperThan } from '../../src/http/json-body.js';
import { BACKENDS } from '../helpers/backends.js';
import { basic, postForm, registerMachineClient } from '../helpers/oauth.js';
import { snapshotAll, snapshotState } from '../helpers/snapshot.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const VECTORS = JSON.parse(readFileSync(new URL('../vectors/jws.json', import.meta.url), 'utf8')) as { title: string; jws: string }[];

/**
 * Spellings of one compact JWS that a lenient base64url decoder (Node's, jose's) reads as the
 * same bytes, and RFC 7515 §2 does not allow: padding, the base64 alphabet, whitespace, and
 * non-zero unused bits in the last character. Each must be MALFORMED, never the token itself.
 */
function misspellings(token: string): [string, string][] {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const at = signature.search(/[-_]/);
  const standard = at < 0 ? null : signature.slice(0, at) + (signature[at] === '-' ? '+' : '/') + signature.slice(at + 1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(signature.at(-1)!);
  const unusedBits = signature.length % 4 === 0 ? null : signature.slice(0, -1) + alphabet[last | 1];
  return [
    ['a padded signature', `${header}.${payload}.${signature}${'='.repeat((4 - (signature.length % 4)) % 4 || 4)}`],
    ['a padded payload', `${header}.${payload}=.${signature}`],
    ['whitespace in the signature', `${header}.${payload}.${signature.slice(0, 8)}\n${signature.slice(8)}`],
    ['a space in the signature', `${header}.${payload}.${signature.slice(0, 8)} ${signature.slice(8)}`],
    ...(standard === null ? [] : ([['+ or / in the signature', `${header}.${payload}.${standard}`]] as [string, string][])),
    ...(unusedBits === null || unusedBits === token ? [] : ([['non-zero unused bits in the signature', `${header}.${payload}.${unusedBits}`]] as [string, string][])),
  ];
}

/** `levels` nested arrays as JSON text (built as text: the test's own JSON.stringify would overflow its stack). */
const nested = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);

describe('decodeBase64url: the one decoder of JWS segments (RFC 7515 §2)', () => {
  it('decodes the RFC 7515 and RFC 8037 examples and refuses every other spelling of them', () => {
    for (const { title, jws } of VECTORS) {
      for (const segment of jws.split('.')) expect(Buffer.from(decodeBase64url(segment)!).equals(Buffer.from(segment, 'base64url')), title).toBe(true);
      for (const [name, bad] of misspellings(jws)) expect(bad.split('.').some((segment) => decodeBase64url(segment) === null), `${title}: ${name}`).toBe(true);
    }
    expect(decodeBase64url('')?.length).toBe(0);
    for (const bad of ['A', 'AB==', 'AB=', 'A+B/', 'AB C', 'ABé', 'AB\u0000', 'AR']) expect(decodeBase64url(bad), bad).toBeNull();
    expect(Buffer.from(decodeBase64url('AQ')!)).toEqual(Buffer.from([1]));
  });

  it('refuses a header or payload that is not UTF-8, and reads one with a byte order mark as TextDecoder does', () => {
    const segment = (bytes: Buffer): string => bytes.toString('base64url');
    const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
    const header = segment(json({ alg: 'HS256', kid: 'hs_1' }));
    const payload = segment(json({ iss: 'i', sub: 's' }));
    expect(decodeJwt(`${header}.${payload}.c2ln`)).toEqual({ header: { alg: 'HS256', kid: 'hs_1' }, payload: { iss: 'i', sub: 's' } });
    const invalid = Buffer.concat([Buffer.from('{"iss":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const overlong = Buffer.concat([Buffer.from('{"iss":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
    for (const bad of [invalid, overlong]) {
      expect(decodeJwt(`${header}.${segment(bad)}.c2ln`)).toBeNull();
      expect(decodeJwt(`${segment(bad)}.${payload}.c2ln`)).toBeNull();
    }
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json({ iss: 'i', sub: 's' })]);
    expect(decodeJwt(`${header}.${segment(bom)}.c2ln`)?.payload).toEqual({ iss: 'i', sub: 's' });
  });
});

describe('jsonNestsDeeperThan: the depth bound read off the text before parsing', () => {
  it('counts nesting, not brackets, and only outside strings', () => {
    expect(jsonNestsDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(jsonNestsDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    // Many brackets side by side (past the quick count) nest one level deep.
    expect(jsonNestsDeeperThan(`[${'[],{},'.repeat(100)}[]]`, 2)).toBe(false);
    expect(jsonNestsDeeperThan(`{"a":"${'['.repeat(100)}"}`, 1)).toBe(false);
    expect(jsonNestsDeeperThan(`{"a":"\\\\",${'['.repeat(3)}${']'.repeat(3)}}`, 3)).toBe(true);
    expect(jsonNestsDeeperThan('{"credential":"kg_x","api":"https://api.test","scopes":["read:users"]}', MAX_JSON_DEPTH)).toBe(false);
  });
});

/**
 * Invariant 10, strict and bounded parsers (issue 7): a JWS that is not strict base64url is
 * MALFORMED on verify (HTTP and in process), inactive on introspection, revokes nothing on RFC
 * 7009 revocation and authenticates no client (`decodeBase64url` in domain/tokens/jwt.ts decides
 * for all; the middleware's own suite tries it too); a JSON body nested deeper than
 * MAX_JSON_DEPTH is a 400 `JSON_TOO_DEEP`; pending `/authorize` requests are bounded per
 * source address and per client.
 */
describe.each(BACKENDS)('parsers are strict and bounded (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let client: { clientId: string; clientSecret: string };

  const accessToken = async (): Promise<string> => {
    const issued = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: api }, { authorization: basic(client.clientId, client.clientSecret) });
    expectStatus(issued, 200);
    return issued.body.access_token;
  };
  /** A token whose signature has a `-` or `_`, so the base64 alphabet can be swapped in. */
  const tokenWithDashOrUnderscore = async (mint: () => Promise<string>): Promise<string> => {
    for (;;) {
      const token = await mint();
      if (/[-_]/.test(token.split('.')[2]!)) return token;
    }
  };
  const verify = async (credential: string): Promise<string> => {
    const response = await t.call('POST', '/v1/verify', { credential, api, scopes: ['read:users'] });
    expectStatus(response, 200);
    return response.body.code;
  };
  const snapshot = (): Promise<string> => snapshotState(t);

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    const registered = await registerMachineClient(t, { scopes: { [api]: ['read:users'] }, canIntrospect: true });
    client = { clientId: registered.clientId, clientSecret: registered.clientSecret! };
  });
  afterAll(() => t?.close());

  it('refuses a Keygate token and a self-issued HS256 token spelled loosely, on verify, introspection and revocation, and changes nothing', async () => {
    const issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
    const { kid, secret } = (await t.call('POST', '/v1/tenants/acme/hs256-secrets')).body;
    const selfIssued = (): Promise<string> =>
      new SignJWT({ scope: 'read:users', client_id: client.clientId })
        .setProtectedHeader({ alg: 'HS256', kid })
        .setIssuer(issuer)
        .setAudience(api)
        .setSubject('svc')
        .setIssuedAt()
        .setJti(crypto.randomUUID())
        .setExpirationTime('5m')
        .sign(Buffer.from(secret));
    for (const good of [await tokenWithDashOrUnderscore(accessToken), await tokenWithDashOrUnderscore(selfIssued)]) {
      expect(await verify(good)).toBe('VALID');
      const before = await snapshot();
      const cases = misspellings(good);
      expect(cases.map(([name]) => name)).toContain('+ or / in the signature');
      for (const [name, bad] of cases) {
        expect(await verify(bad), name).toBe('MALFORMED');
        expect((await t.server.keygate.verify({ credential: bad, api, scopes: ['read:users'] })).code, name).toBe('MALFORMED');
        const introspected = await postForm(t, '/t/acme/oauth/introspect', { token: bad }, { authorization: basic(client.clientId, client.clientSecret) });
        expect([introspected.status, introspected.body], name).toEqual([200, { active: false }]);
        const revoked = await postForm(t, '/t/acme/oauth/revoke', { token: bad }, { authorization: basic(client.clientId, client.clientSecret) });
        expect([revoked.status, revoked.body], name).toEqual([200, null]);
      }
      expect(await snapshot()).toBe(before);
      expect(await verify(good)).toBe('VALID');
    }
  });

  it('authenticates no client with a loosely spelled private_key_jwt assertion, and does not use up its jti', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const registered = await registerMachineClient(t, { tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
    const tokenEndpoint = `${registered.issuer}/oauth/token`;
    const assertion = (): Promise<string> =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(registered.clientId)
        .setSubject(registered.clientId)
        .setAudience(tokenEndpoint)
        .setJti(crypto.randomUUID())
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(privateKey);
    const good = await tokenWithDashOrUnderscore(assertion);
    const form = (clientAssertion: string): Record<string, string> => ({
      grant_type: 'client_credentials',
      resource: 'https://orders.acme.test',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: clientAssertion,
    });
    const before = await snapshot();
    for (const [name, bad] of misspellings(good)) {
      const response = await postForm(t, '/t/acme/oauth/token', form(bad));
      expect([response.status, response.body.error], name).toEqual([401, 'invalid_client']);
    }
    expect(await snapshot()).toBe(before);
    // Had a misspelling been accepted, its jti would be spent and this would be a replay.
    expectStatus(await postForm(t, '/t/acme/oauth/token', form(good)), 200);
  });

  it(`answers a JSON body nested deeper than ${MAX_JSON_DEPTH} levels with 400 JSON_TOO_DEEP, on management routes and verify`, async () => {
    const before = await snapshot();
    const json = (value: unknown): string => JSON.stringify(value);
    // Root object + `meta` + 32 arrays: one level over.
    const requests: [string, string, string][] = [
      ['POST', '/v1/tenants/acme/keys', `{"api":${json(api)},"scopes":["read:users"],"meta":{"plan":${nested(MAX_JSON_DEPTH)}}}`],
      ['POST', '/v1/tenants/acme/keys', `{"api":${json(api)},"meta":{"plan":${nested(100_000)}}}`],
      ['PATCH', '/v1/tenants/acme', `{"name":${nested(5_000)}}`],
      ['POST', '/v1/verify', `{"credential":"x","api":${json(api)},"scopes":${nested(100_000)}}`],
    ];
    for (const [method, path, body] of requests) {
      const response = await t.call(method, path, body);
      expect([response.status, response.body.code], `${method} ${path}`).toEqual([400, 'JSON_TOO_DEEP']);
    }
    // Exactly at the bound, the body is parsed (and then refused by the route's schema, not by the parser).
    const atBound = await t.call('POST', '/v1/verify', `{"credential":"x","api":${json(api)},"scopes":${nested(MAX_JSON_DEPTH - 1)}}`);
    expect([atBound.status, atBound.body.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(await snapshot()).toBe(before);
    // Brackets inside strings are text, not nesting.
    const text = await t.call('POST', '/v1/verify', { credential: '['.repeat(10_000), api });
    expect([text.status, text.body.code]).toEqual([200, 'MALFORMED']);
  });

  it('keeps at most the bound of pending authorizations from one address, however many anonymous /authorize requests it sends', async () => {
    const app = await t.call('POST', '/v1/tenants/acme/clients', {
      name: 'web app',
      grantTypes: ['authorization_code'],
      redirectUris: ['https://app.example.com/callback'],
      scopes: { [api]: ['read:users'] },
    });
    expectStatus(app, 201);
    const query = (i: number): string =>
      new URLSearchParams({
        response_type: 'code',
        client_id: app.body.clientId,
        redirect_uri: 'https://app.example.com/callback',
        resource: api,
        state: `${i}`.padEnd(2048, 'x'),
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuNJSstw-cM',
        code_challenge_method: 'S256',
      }).toString();
    const pending = async (): Promise<string[]> => (JSON.parse(await snapshotAll(t.backend)) as Record<string, string[]>)['interactions']!;
    for (let i = 0; i < 1000; i += 50) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, j) => fetch(`${t.url}/t/acme/oauth/authorize?${query(i + j)}`, { redirect: 'manual' })),
      );
      for (const answer of answers) expect(answer.status).toBe(303);
    }
    // Requests that ran side by side may each have trimmed before seeing the others; the next one sees all.
    expect((await fetch(`${t.url}/t/acme/oauth/authorize?${query(999)}`, { redirect: 'manual' })).status).toBe(303);
    const rows = await pending();
    expect(rows.length).toBeLessThanOrEqual(INTERACTION_BOUNDS.perSource);
    expect(rows.length).toBeGreaterThan(0);
    // The newest are the ones kept: the last request's state is among them.
    expect(rows.some((row) => row.includes(`999${'x'.repeat(2045)}`))).toBe(true);
  });
});
