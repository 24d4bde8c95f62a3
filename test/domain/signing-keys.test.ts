import { describe, expect, it } from 'vitest';
import { currentKey, publishedKeys, type SigningKey } from '../../src/domain/signing-keys.js';

const now = Date.UTC(2026, 5, 15, 12);

function key(kid: string, fields: Partial<SigningKey> = {}): SigningKey {
  return { kid, tenantId: 'ten_1', alg: 'EdDSA', publicJwk: { kid }, createdAt: now - 86_400_000, activatesAt: now - 86_400_000, retiredAt: null, publishUntil: null, ...fields };
}

describe('currentKey: the key that signs now', () => {
  it('is none without an active key', () => {
    expect(currentKey([], now)).toBeNull();
    expect(currentKey([key('sk_next', { activatesAt: now + 1 })], now)).toBeNull();
    expect(currentKey([key('sk_old', { retiredAt: now })], now)).toBeNull();
  });

  it('hands over at the activation instant of a rotation: the new key signs from activatesAt, the old one until then', () => {
    const old = key('sk_old', { retiredAt: now + 300_000 });
    const next = key('sk_new', { createdAt: now, activatesAt: now + 300_000 });
    expect(currentKey([old, next], now)?.kid).toBe('sk_old');
    expect(currentKey([old, next], now + 299_999)?.kid).toBe('sk_old');
    expect(currentKey([old, next], now + 300_000)?.kid).toBe('sk_new');
  });

  it('prefers the most recently activated of several active keys, whatever their order', () => {
    const keys = [key('sk_b', { activatesAt: now - 1_000 }), key('sk_c', { activatesAt: now - 10 }), key('sk_a', { activatesAt: now - 5_000 })];
    expect(currentKey(keys, now)?.kid).toBe('sk_c');
    expect(currentKey([...keys].reverse(), now)?.kid).toBe('sk_c');
  });

  it('never picks a retired key, even the most recently activated one', () => {
    const keys = [key('sk_a', { activatesAt: now - 5_000 }), key('sk_b', { activatesAt: now - 10, retiredAt: now - 1 })];
    expect(currentKey(keys, now)?.kid).toBe('sk_a');
  });
});

describe('publishedKeys: what the JWKS lists', () => {
  it('lists upcoming, current and retired keys whose tokens may live, and drops a key at publishUntil', () => {
    const keys = [
      key('sk_next', { activatesAt: now + 300_000 }),
      key('sk_current'),
      key('sk_retired_open', { retiredAt: now - 1_000, publishUntil: null }),
      key('sk_retired_live', { retiredAt: now - 1_000, publishUntil: now + 1 }),
      key('sk_retired_done', { retiredAt: now - 10_000, publishUntil: now }),
    ];
    expect(publishedKeys(keys, now).map((k) => k.kid)).toEqual(['sk_next', 'sk_current', 'sk_retired_open', 'sk_retired_live']);
    expect(publishedKeys(keys, now + 1).map((k) => k.kid)).toEqual(['sk_next', 'sk_current', 'sk_retired_open']);
  });
});
