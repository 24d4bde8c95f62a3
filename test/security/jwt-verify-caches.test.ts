import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An HS256 token signed by hand (node:crypto's HMAC), with a header of the caller's choice. */
function hs256(secret: string, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', Buffer.from(secret)).update(input).digest('base64url')}`;
}

/**
 * What the JWT verifier shares between tokens to be fast on a first-seen token — decoded headers
 * by their text, the HMAC pads per secret, the rules per tenant object, the held scopes per API
 * object and scope text, the tokens it authenticated — never outlives what it was made from:
 * a revoked secret refuses a token it already verified, a changed catalog changes what a token
 * verified before holds, and a token that only shares a header or a signature with a verified
 * one is checked in full.
 */
describe.each(BACKENDS)('the JWT verifier shares nothing that outlives its source (%s)', (backend) => {
  let t: TestServer;
  let api: string;
  let issuer: string;

  const mint = (secret: string, kid: string, claims: Record<string, unknown> = {}): string => {
    const iat = Math.floor(Date.now() / 1000);
    return hs256(secret, { alg: 'HS256', kid }, { iss: issuer, aud: api, sub: 'svc', scope: 'write:users', jti: randomUUID(), iat, exp: iat + 300, ...claims });
  };
  const verify = async (credential: string, scopes: string[] = ['read:users']): Promise<{ code: string; valid: boolean; scopes: string[] }> => {
    const response = await t.call('POST', '/v1/verify', { credential, api, scopes });
    expectStatus(response, 200);
    return response.body;
  };
  const newSecret = async (): Promise<{ kid: string; secret: string }> => (await t.call('POST', '/v1/tenants/acme/hs256-secrets')).body;

  beforeAll(async () => {
    t = await startTestServer(backend);
    ({ api } = await seedTenant(t));
    issuer = (await t.call('GET', '/v1/tenants/acme')).body.issuer;
  });
  afterAll(() => t?.close());

  it('refuses a token it verified before once its HS256 secret is revoked, in process too', async () => {
    const { kid, secret } = await newSecret();
    const token = mint(secret, kid);
    expect((await verify(token)).code).toBe('VALID');
    expect((await verify(token)).code).toBe('VALID');
    expectStatus(await t.call('POST', `/v1/tenants/acme/hs256-secrets/${kid}/revoke`), 204);
    expect((await verify(token)).code).toBe('NOT_FOUND');
    expect((await t.server.keygate.verify({ credential: token, api, scopes: ['read:users'] })).code).toBe('NOT_FOUND');
  });

  it('holds what the current catalog implies, for a token verified before the catalog changed', async () => {
    const { kid, secret } = await newSecret();
    const token = mint(secret, kid);
    const other = mint(secret, kid);
    expect((await verify(token, ['read:users'])).code).toBe('VALID'); // write:users implies read:users (seedTenant)
    const catalog = (await t.call('GET', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`)).body.scopes as { name: string; description: string; implies?: string[] }[];
    const without = catalog.map(({ name, description, implies }) => (name === 'write:users' ? { name, description } : { name, description, ...(implies ? { implies } : {}) }));
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { scopes: without }), 200);
    expect((await verify(token, ['read:users'])).code).toBe('INSUFFICIENT_SCOPE');
    expect((await verify(other, ['read:users'])).code).toBe('INSUFFICIENT_SCOPE');
    expect((await verify(token, ['write:users'])).code).toBe('VALID');
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { scopes: catalog }), 200);
    expect((await verify(token, ['read:users'])).code).toBe('VALID');
  });

  it('checks in full a token that shares only its header or its signature with one it verified', async () => {
    const { kid, secret } = await newSecret();
    const token = mint(secret, kid, { scope: 'read:users' });
    expect((await verify(token)).code).toBe('VALID');
    const [header, payload, signature] = token.split('.');
    // The same header text with other claims and the first token's signature: a forgery.
    const forged = `${header}.${b64url({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), scope: 'write:users' })}.${signature}`;
    expect((await verify(forged, ['write:users'])).code).toBe('MALFORMED');
    expect((await verify(token)).code).toBe('VALID');
    // Another header (no kid) before the same claims and signature.
    expect((await verify(`${b64url({ alg: 'HS256' })}.${payload}.${signature}`)).code).toBe('MALFORMED');
    // The same header text signed with another tenant's secret is no key of this tenant's.
    expect((await verify(mint('x'.repeat(43), kid))).code).toBe('MALFORMED');
  });

  it('answers results that callers cannot change, and a token of the same scope text alike', async () => {
    const { kid, secret } = await newSecret();
    const first = await t.server.keygate.verify({ credential: mint(secret, kid), api, scopes: ['read:users'] });
    const second = await t.server.keygate.verify({ credential: mint(secret, kid), api, scopes: ['read:users'] });
    expect(first.scopes).toEqual(['write:users']);
    expect(second.scopes).toEqual(first.scopes);
    expect(() => (first.scopes as string[]).push('admin')).toThrow(TypeError);
    expect((await verify(mint(secret, kid))).scopes).toEqual(['write:users']);
  });
});
