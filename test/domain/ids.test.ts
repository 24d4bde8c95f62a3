import { describe, expect, it } from 'vitest';
import { newId } from '../../src/crypto/secrets.js';
import { ID_PREFIXES, base62Chars, formatId, idFloor, idTime, nextBase62Chars, type IdKind } from '../../src/domain/ids.js';

describe('ids', () => {
  it('steps base62 strings in sort order', () => {
    expect(nextBase62Chars('00')).toBe('01');
    expect(nextBase62Chars('09')).toBe('0A');
    expect(nextBase62Chars('0z')).toBe('10');
    expect(nextBase62Chars('zz')).toBe('00');
    expect('0Z' < nextBase62Chars('0Z')).toBe(true);
  });

  it('mints audit event ids of one millisecond in the order they were made', () => {
    const ids = Array.from({ length: 50 }, () => newId('event', 1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(50);
  });

  it('keeps other ids unguessable from their neighbours', () => {
    const [a, b] = [newId('interaction', 1_700_000_000_000), newId('interaction', 1_700_000_000_000)];
    expect(a.slice(0, 16)).toBe(b.slice(0, 16));
    expect(a.slice(16, 30)).not.toBe(b.slice(16, 30));
  });

  it('lays an id out as prefix, 12 hex digits of ms time, then 16 base62 characters', () => {
    const random = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    const id = formatId('key', 0x0192f3a4b5c6, random);
    expect(id).toBe(`key_0192f3a4b5c6${base62Chars(random)}`);
    expect(id).toMatch(/^key_[0-9a-f]{12}[0-9A-Za-z]{16}$/);
    expect(base62Chars(Uint8Array.of(0, 9, 10, 35, 36, 61, 62, 255))).toBe('09AZaz07');
  });

  it('gives every kind its own prefix, so an id says what it names', () => {
    const prefixes = Object.values(ID_PREFIXES);
    expect(new Set(prefixes).size).toBe(prefixes.length);
    for (const kind of Object.keys(ID_PREFIXES) as IdKind[]) expect(newId(kind, 1_700_000_000_000).startsWith(`${ID_PREFIXES[kind]}_`)).toBe(true);
  });

  it('sorts ids as strings by creation time, across the digits of the hex time', () => {
    const times = [0, 15, 16, 255, 4_095, 1_700_000_000_000, 1_700_000_000_001, 2 ** 44];
    const ids = times.map((time) => newId('token', time));
    expect([...ids].sort()).toEqual(ids);
    expect(ids.map(idTime)).toEqual(times);
  });

  it('reads the time back from a typed id, and null from anything else', () => {
    expect(idTime(newId('tenant', 1_781_524_800_123))).toBe(1_781_524_800_123);
    expect(idTime('not-an-id')).toBeNull();
    expect(idTime('KEY_0192f3a4b5c6abc')).toBeNull();
    expect(idTime('key_0192f3')).toBeNull();
  });

  it('floors a time below every id minted at or after it, and above every id minted before it', () => {
    const floor = idFloor('revocation', 1_700_000_000_000);
    expect(idTime(floor)).toBe(1_700_000_000_000);
    for (let i = 0; i < 20; i++) {
      expect(newId('revocation', 1_700_000_000_000) >= floor).toBe(true);
      expect(newId('revocation', 1_699_999_999_999) < floor).toBe(true);
    }
    expect(idFloor('revocation', -5)).toBe(`rev_${'0'.repeat(28)}`);
  });
});
