import { describe, expect, it } from 'vitest';
import { MAX_KEY_CHAIN, effectiveKey, inheritedMetaName, mintRefusal } from '../../src/domain/keys/effective-key.js';
import { newKey, type ApiKey } from '../../src/domain/keys/key.js';

const now = Date.UTC(2026, 5, 15, 12);
const catalog = [
  { name: 'write:users', description: 'w', implies: ['read:users'] },
  { name: 'read:users', description: 'r' },
  { name: 'read:billing', description: 'b' },
];

function key(id: string, parentId: string | null, fields: Partial<ApiKey> = {}): ApiKey {
  return { ...newKey({ id, tenantId: 'tenant_1', apiId: 'api_1', parentId, now: now - 1000 }), ...fields };
}

describe('effectiveKey: a key over its chain', () => {
  it('is the key itself when it has no parent', () => {
    const root = key('key_a', null, { scopes: ['write:users'], meta: { plan: 'pro' } });
    const effective = effectiveKey([root], catalog);
    expect(effective).toMatchObject({ revokedAt: null, expiresAt: null, enabled: true, scopes: ['write:users'], ratelimits: null, credits: [] });
    expect(effective.meta).toBe(root.meta);
    expect([...effective.heldScopes].sort()).toEqual(['read:users', 'write:users']);
  });

  it('intersects scopes, takes the earliest expiry and revocation, and any disabled ancestor disables', () => {
    const root = key('key_r', null, { scopes: ['read:users'], expiresAt: now + 10, enabled: false });
    const parent = key('key_p', 'key_r', { scopes: ['write:users', 'read:billing'], revokedAt: now + 5 });
    const child = key('key_c', 'key_p', { scopes: ['read:users', 'read:billing'], expiresAt: now + 20 });
    const effective = effectiveKey([child, parent, root], catalog);
    expect(effective).toMatchObject({ expiresAt: now + 10, revokedAt: now + 5, enabled: false, scopes: ['read:users'] });
    expect([...effective.heldScopes]).toEqual(['read:users']);
  });

  it('treats a chain whose ancestor is missing as revoked', () => {
    expect(effectiveKey([key('key_c', 'key_gone')], catalog).revokedAt).toBe(0);
  });

  it('allows an address only when every allowlist of the chain does', () => {
    const parent = key('key_p', null, { ipAllowlist: ['10.0.0.0/8'] });
    const child = key('key_c', 'key_p', { ipAllowlist: ['0.0.0.0/0'] });
    const { allowlist } = effectiveKey([child, parent], catalog);
    expect(allowlist!.allows('10.1.1.1')).toBe(true);
    expect(allowlist!.allows('192.0.2.1')).toBe(false);
  });

  it('merges meta with ancestors winning, and lists the limits and credit holders of the whole chain', () => {
    const limits = [{ name: 'm', limit: 3, duration: 60_000 }];
    const root = key('key_b', null, { meta: { plan: 'pro' }, ratelimits: limits, credits: { remaining: 2, refill: null } });
    const child = key('key_a', 'key_b', { meta: { plan: 'free', team: 'ci' }, credits: { remaining: 9, refill: null } });
    const effective = effectiveKey([child, root], catalog);
    expect(effective.meta).toEqual({ plan: 'pro', team: 'ci' });
    expect(effective.ratelimits).toEqual({ family: 'key_b', subjects: [{ keyId: 'key_b', limits }] });
    expect(effective.credits.map((c) => c.keyId)).toEqual(['key_a', 'key_b']);
    expect(inheritedMetaName({ team: 'x', plan: 'y' }, [root])).toBe('plan');
    expect(inheritedMetaName({ team: 'x' }, [root])).toBeNull();
  });

  it('keeps a stored __proto__ meta name as data when merging, never as the prototype', () => {
    const root = key('key_b', null, { meta: { plan: 'pro' } });
    const child = key('key_a', 'key_b', { meta: JSON.parse('{"__proto__": {"admin": true}, "team": "ci"}') as Record<string, unknown> });
    const meta = effectiveKey([child, root], catalog).meta;
    expect(Object.getPrototypeOf(meta)).toBe(Object.prototype);
    expect(meta['admin']).toBeUndefined();
    expect(JSON.parse(JSON.stringify(meta))).toEqual(JSON.parse('{"__proto__": {"admin": true}, "team": "ci", "plan": "pro"}'));
  });
});

describe('mintRefusal', () => {
  const refusal = (chain: ApiKey[], rateLimited = false): string | null => mintRefusal(effectiveKey(chain, catalog), chain, { rateLimited }, now);

  it('refuses under an expired, revoked or disabled ancestor, when rate limited, or when any key is out of credits', () => {
    const child = key('key_c', 'key_p');
    expect(refusal([child, key('key_p', null, { expiresAt: now - 1 })])).toBe('EXPIRED');
    expect(refusal([child, key('key_p', null, { revokedAt: now - 1 })])).toBe('REVOKED');
    expect(refusal([child, key('key_p', null, { enabled: false })])).toBe('DISABLED');
    expect(refusal([child, key('key_p', null)], true)).toBe('RATE_LIMITED');
    expect(refusal([child, key('key_p', null, { credits: { remaining: 0, refill: null } })])).toBe('USAGE_EXCEEDED');
    expect(refusal([child, key('key_p', null)])).toBeNull();
  });

  it(`refuses a key whose chain already holds MAX_KEY_CHAIN (${MAX_KEY_CHAIN}) keys`, () => {
    const chain = Array.from({ length: MAX_KEY_CHAIN }, (_, i) => key(`key_${i}`, i === MAX_KEY_CHAIN - 1 ? null : `key_${i + 1}`));
    expect(refusal(chain)).toBe('TOO_DEEP');
    expect(refusal(chain.slice(1))).toBeNull();
  });

  it('lets a key out of credits mint once its refill is due', () => {
    const parent = key('key_p', null, { credits: { remaining: 0, refill: { amount: 5, interval: 'daily' } }, creditsRefilledAt: now - 86_400_000 });
    expect(refusal([parent])).toBeNull();
    expect(refusal([{ ...parent, creditsRefilledAt: now - 1 }])).toBe('USAGE_EXCEEDED');
  });
});
