import { describe, expect, it } from 'vitest';
import { newId } from '../../src/crypto/secrets.js';
import { nextBase62Chars } from '../../src/domain/ids.js';

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
});
