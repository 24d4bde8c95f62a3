import { describe, expect, it } from 'vitest';
import { compileAllowlist, validateAllowlist } from '../../src/domain/ip-allowlist.js';

describe('IP allowlist', () => {
  const list = compileAllowlist(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32']);

  it('matches IPv4 and IPv6 CIDRs and single addresses', () => {
    expect(list.allows('10.200.3.4')).toBe(true);
    expect(list.allows('192.168.1.7')).toBe(true);
    expect(list.allows('192.168.1.8')).toBe(false);
    expect(list.allows('2001:db8:ffff::1')).toBe(true);
    expect(list.allows('2001:db9::1')).toBe(false);
  });

  it('matches an IPv4-mapped IPv6 caller against IPv4 entries', () => {
    expect(list.allows('::ffff:10.1.1.1')).toBe(true);
    expect(list.allows('::ffff:11.1.1.1')).toBe(false);
  });

  it('never matches garbage', () => {
    expect(list.allows('')).toBe(false);
    expect(list.allows('10.0.0')).toBe(false);
    expect(list.allows('not an ip')).toBe(false);
  });

  it('rejects invalid CIDRs with INVALID_CIDR', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0.0/-1', '10.0.0.256/8', 'fe80::/129', 'example.com', '10.0.0.0/8/8', '10.0.0.0/']) {
      expect(() => validateAllowlist([bad]), bad).toThrow(expect.objectContaining({ code: 'INVALID_CIDR' }));
    }
    expect(() => validateAllowlist(['0.0.0.0/0', '::/0'])).not.toThrow();
  });
});
