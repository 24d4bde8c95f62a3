import { beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/crypto/secrets.js';
import type { Api } from '../../src/domain/apis.js';
import type { IssuedToken } from '../../src/domain/clients.js';
import type { Tenant } from '../../src/domain/tenants.js';
import type { Store, StoredSigningKey } from '../../src/store/store.js';
import { BACKENDS } from '../helpers/backends.js';
import { NOW as now, contractStore, seedTenant, tenantBuilders } from './fixtures.js';

/** The tokens aggregate on every backend: JWT API keys and their revocation, the revocation feed, signing keys, HS256 secrets. */
describe.each(BACKENDS)('Store contract: tokens (%s)', (backendName) => {
  const opened = contractStore(backendName);
  let store: Store;
  let tenant: Tenant;
  let api: Api;
  const { event } = tenantBuilders(() => tenant.id);
  const issued = (jti: string, overrides: Partial<IssuedToken> = {}): IssuedToken => ({
    jti, tenantId: tenant.id, apiId: api.id, consumer: 'cus_1', scopes: ['read:users'], claimsFormat: 'scope', kid: 'kid_1',
    issuedAt: now, expiresAt: now + 60_000, revokedAt: null, ...overrides,
  });
  const signingKey = (kid: string, activatesAt: number): StoredSigningKey => ({
    kid, tenantId: tenant.id, alg: 'EdDSA', publicJwk: { kty: 'OKP', crv: 'Ed25519', x: kid }, sealedPrivateKey: `sealed-${kid}`,
    createdAt: now, activatesAt, retiredAt: null, publishUntil: null,
  });

  beforeAll(async () => {
    store = opened();
    ({ tenant, api } = await seedTenant(store, 'acme', 'https://api'));
  });

  it('records a jti revocation once and keeps the feed in id order', async () => {
    const revocation = { id: newId('revocation', now), tenantId: tenant.id, kind: 'jti' as const, subject: 'jti-1', notBefore: null, expiresAt: now + 1000, createdAt: now };
    expect(await store.tokens.addRevocation(revocation, event('token.revoke'))).toBe(true);
    expect(await store.tokens.addRevocation({ ...revocation, id: newId('revocation', now + 1) }, event('token.revoke'))).toBe(false);
    await store.tokens.addRevocation({ id: newId('revocation', now + 2), tenantId: tenant.id, kind: 'grant', subject: 'grt_9', notBefore: 12, expiresAt: null, createdAt: now + 2 }, event('grant.revoke'));
    const feed = await store.tokens.listRevocations(tenant.id, { after: null, limit: 10 });
    expect(feed.items.map((r) => r.subject)).toEqual(['jti-1', 'grt_9']);
  });

  it('records JWT API keys, lists them by jti, and marks one revoked with its jti revocation', async () => {
    await store.tokens.createIssuedToken(issued('jti-a'), event('token.create'));
    await store.tokens.createIssuedToken(issued('jti-b', { consumer: 'cus_2', kid: 'kid_2', expiresAt: null }), event('token.create'));
    expect(await store.tokens.findIssuedToken(tenant.id, 'jti-a')).toEqual(issued('jti-a'));
    expect(await store.tokens.findIssuedToken('ten_other', 'jti-a')).toBeNull();
    const first = await store.tokens.listIssuedTokens(tenant.id, {}, { after: null, limit: 1 });
    expect(first.items.map((t) => t.jti)).toEqual(['jti-a']);
    expect((await store.tokens.listIssuedTokens(tenant.id, {}, { after: first.next, limit: 1 })).items.map((t) => t.jti)).toEqual(['jti-b']);
    expect((await store.tokens.listIssuedTokens(tenant.id, { consumer: 'cus_2', apiId: api.id }, { after: null, limit: 10 })).items.map((t) => t.jti)).toEqual(['jti-b']);
    expect(await store.tokens.lastIssuedTokenExpiry('kid_1')).toBe(now + 60_000);
    expect(await store.tokens.lastIssuedTokenExpiry('kid_2')).toBe(Infinity);
    expect(await store.tokens.lastIssuedTokenExpiry('kid_none')).toBeNull();
    await store.tokens.addRevocation({ id: newId('revocation', now + 10), tenantId: tenant.id, kind: 'jti', subject: 'jti-a', notBefore: null, expiresAt: now + 60_000, createdAt: now + 10 }, event('token.revoke'));
    expect((await store.tokens.findIssuedToken(tenant.id, 'jti-a'))!.revokedAt).toBe(now + 10);
    // A revoked JWT API key no longer keeps its signing key published.
    expect(await store.tokens.lastIssuedTokenExpiry('kid_1')).toBeNull();
  });

  it('adds signing keys, retiring the ones named, and records until when a key is published', async () => {
    await store.tokens.addSigningKey(signingKey('kid_old', now), { kids: [], retiredAt: now }, event('signing_key.create'));
    await store.tokens.addSigningKey(signingKey('kid_new', now + 1000), { kids: ['kid_old'], retiredAt: now + 1000 }, event('signing_key.rotate'));
    await store.tokens.setPublishUntil('kid_old', now + 5000);
    expect(await store.tokens.listSigningKeys(tenant.id)).toEqual([
      { ...signingKey('kid_old', now), retiredAt: now + 1000, publishUntil: now + 5000 },
      signingKey('kid_new', now + 1000),
    ]);
    expect(await store.tokens.listSigningKeys('ten_other')).toEqual([]);
  });

  it('keeps HS256 secrets sealed, per tenant, and revokes one once', async () => {
    const secret = { kid: 'hs_1', tenantId: tenant.id, createdAt: now, revokedAt: null };
    await store.tokens.createHs256Secret(secret, 'sealed-hs', event('hs256_secret.create'));
    expect(await store.tokens.findHs256Secret('hs_1')).toEqual({ ...secret, sealed: 'sealed-hs' });
    expect(await store.tokens.listHs256Secrets(tenant.id)).toEqual([secret]);
    expect(await store.tokens.revokeHs256Secret('ten_other', 'hs_1', now + 1, event('hs256_secret.revoke'))).toBe(false);
    expect(await store.tokens.revokeHs256Secret(tenant.id, 'hs_1', now + 1, event('hs256_secret.revoke'))).toBe(true);
    expect(await store.tokens.revokeHs256Secret(tenant.id, 'hs_1', now + 2, event('hs256_secret.revoke'))).toBe(false);
    expect(await store.tokens.listHs256Secrets(tenant.id)).toEqual([{ ...secret, revokedAt: now + 1 }]);
    expect(await store.tokens.findHs256Secret('hs_unknown')).toBeNull();
  });
});
