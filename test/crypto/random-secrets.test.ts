import { describe, expect, it } from 'vitest';
import { randomBase64url } from '../../src/crypto/secrets.js';

/** The pooled source of secrets' random parts (refresh tokens): every draw fresh, across refills of the pool. */
describe('randomBase64url', () => {
  it('gives base64url of the size asked, never the same value twice, across many refills of the pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const value = randomBase64url(32);
      expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      seen.add(value);
    }
    expect(seen.size).toBe(1000);
    // Draws that do not divide the pool evenly still come whole.
    for (let i = 0; i < 200; i++) expect(Buffer.from(randomBase64url(33), 'base64url')).toHaveLength(33);
  });

  it('refuses a size that is not a whole number of bytes from 1 to 4096, and draws fresh bytes after a refusal', () => {
    for (const size of [Number.NaN, 0, -32, 2.5, 4097, Number.POSITIVE_INFINITY]) expect(() => randomBase64url(size)).toThrow(RangeError);
    const before = randomBase64url(32);
    const after = randomBase64url(32);
    expect(after).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(after).not.toBe(before);
    expect(Buffer.from(randomBase64url(4096), 'base64url')).toHaveLength(4096);
  });
});
