import { describe, expect, it } from 'vitest';
import { KeygateError } from '../../../src/domain/errors.js';
import { hostWithinSuffixes, parseHostSuffixes } from '../../../src/domain/gateway/host-policy.js';

describe('parseHostSuffixes', () => {
  it('reads comma-separated suffixes, lower-cased, a leading *. or . dropped', () => {
    expect(parseHostSuffixes(' {tenant}.GW.example.com, *.apis.example.net,.b.example.org, ')).toEqual(['{tenant}.gw.example.com', 'apis.example.net', 'b.example.org']);
    expect(parseHostSuffixes('')).toEqual([]);
  });

  it.each(['com', '*.com', 'gw.{tenant}x.example.com', 'bad_host.example.com', 'gw..example.com', 'https://gw.example.com'])('refuses %s', (value) => {
    expect(() => parseHostSuffixes(value)).toThrow(KeygateError);
  });
});

describe('hostWithinSuffixes', () => {
  const suffixes = ['{tenant}.gw.example.com', 'shared.example.net'];
  it.each<[string, string, boolean]>([
    ['acme.gw.example.com', 'acme', true],
    ['api.acme.gw.example.com:8443', 'acme', true],
    ['api.beta.gw.example.com', 'acme', false],
    ['evilacme.gw.example.com', 'acme', false],
    ['acme.gw.example.com.evil.test', 'acme', false],
    ['orders.shared.example.net', 'acme', true],
    ['example.net', 'acme', false],
  ])('%s for tenant %s: %s', (host, slug, expected) => {
    expect(hostWithinSuffixes(host, slug, suffixes)).toBe(expected);
  });

  it('allows nothing without suffixes', () => {
    expect(hostWithinSuffixes('api.example.com', 'acme', [])).toBe(false);
  });
});
