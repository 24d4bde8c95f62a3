import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MAX_KEY_LENGTH, displayStart, generateKey, parseKey } from '../../src/domain/keys/format.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** An independent checksum: node's own CRC-32, written as 6 base62 digits. */
function referenceChecksum(head: string): string {
  let n = (zlib as unknown as { crc32(data: string): number }).crc32(head);
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

describe('API key format', () => {
  it('is prefix_random22 + a CRC-32 checksum that node:zlib agrees with', () => {
    for (let i = 0; i < 200; i++) {
      const key = generateKey('kg', randomBytes);
      expect(key).toMatch(/^kg_[0-9A-Za-z]{28}$/);
      expect(key.slice(-6)).toBe(referenceChecksum(key.slice(0, -6)));
      expect(parseKey(key)).toBe('kg');
    }
  });

  it('draws random characters without bias from bytes ≥ 248 and keeps the prefix', () => {
    const allHigh = () => new Uint8Array(32).fill(250);
    let calls = 0;
    const mostlyHigh = (n: number) => (calls++ === 0 ? allHigh() : randomBytes(n));
    const key = generateKey('acme1', mostlyHigh);
    expect(calls).toBeGreaterThan(1);
    expect(parseKey(key)).toBe('acme1');
  });

  it('rejects every single-character typo through the checksum', () => {
    const key = generateKey('kg', randomBytes);
    for (let i = 3; i < key.length; i++) {
      const replacement = key[i] === 'a' ? 'b' : 'a';
      expect(parseKey(key.slice(0, i) + replacement + key.slice(i + 1))).toBeNull();
    }
  });

  it('rejects wrong shapes without throwing', () => {
    const key = generateKey('kg', randomBytes);
    for (const bad of ['', '_', 'kg_', key + 'x', key.slice(0, -1), key.replace('kg_', 'KG_'), key.replace('kg_', '1g_'), 'x'.repeat(10_000), key.slice(0, 10) + '-' + key.slice(11), `kg_${'é'.repeat(28)}`]) {
      expect(parseKey(bad)).toBeNull();
    }
    expect(MAX_KEY_LENGTH).toBe(45);
  });

  it('refuses an invalid prefix at generation time (a caller bug, so a TypeError)', () => {
    expect(() => generateKey('Bad_Prefix', randomBytes)).toThrow(TypeError);
  });

  it('displays only the prefix and four random characters', () => {
    expect(displayStart('kg_AbCdEfGhIjKlMnOpQrStUv123456')).toBe('kg_AbCd');
  });
});
