import { describe, expect, it } from 'vitest';
import { isLoopbackAddress, upstreamAddressProblem } from '../../../src/domain/gateway/settings.js';

/**
 * IPv6 spellings that carry an IPv4 address (attacker review F5): each must meet the rule of the
 * IPv4 address it carries, or a resolver answering AAAA records walks around the IPv4 rule.
 */
describe('upstreamAddressProblem: IPv4 carried in IPv6', () => {
  const refuse = { allowLinkLocal: false };

  it.each([
    ['NAT64 (64:ff9b::/96), hex', '64:ff9b::a9fe:a9fe'],
    ['NAT64, dotted', '64:ff9b::169.254.169.254'],
    ['NAT64, written out', '[0064:ff9b:0000:0000:0000:0000:a9fe:0001]'],
    ['6to4 (2002::/16)', '2002:a9fe:a9fe::1'],
    ['6to4, a whole /48 site', '[2002:a9fe:0001:ffff:1:2:3:4]'],
    ['IPv4-compatible, dotted', '::169.254.169.254'],
    ['IPv4-compatible, hex', '[::a9fe:a9fe]'],
    ['IPv4-compatible, written out', '0:0:0:0:0:0:a9fe:a9fe'],
    ['a link-local address with a zone', 'fe80::1%eth0'],
  ])('refuses the metadata range as %s (%s)', (_form, address) => {
    expect(upstreamAddressProblem(address, refuse)).toBe('a link-local or metadata address');
  });

  it.each(['64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::1', '::169.254.169.254'])('accepts %s when the operator allows link-local upstreams', (address) => {
    expect(upstreamAddressProblem(address, { allowLinkLocal: true })).toBeNull();
  });

  it.each(['64:ff9b::a00:7', '64:ff9b::10.0.0.7', '2002:0a00:0007::', '2002:a9ff::1', '64:ff9b:1::a9fe:a9fe', '::2', '2001:db8::169.254.169.254'])(
    'accepts %s: another IPv4 carried, or no IPv4 of the metadata range',
    (address) => {
      expect(upstreamAddressProblem(address, refuse)).toBeNull();
    },
  );

  it('reads an IPv4-compatible 0.0.0.0 as unspecified, and ::1 as IPv6 loopback, not 0.0.0.1', () => {
    expect(upstreamAddressProblem('::0.0.0.0', { allowLinkLocal: true })).toBe('an unspecified address');
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(upstreamAddressProblem('::1', refuse)).toBeNull();
  });

  it('knows an IPv4-compatible loopback as loopback (Keygate\'s own port is refused by it)', () => {
    for (const address of ['::127.0.0.1', '[::7f00:1]', '0:0:0:0:0:0:7f00:0001']) expect(isLoopbackAddress(address), address).toBe(true);
    for (const address of ['::10.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::']) expect(isLoopbackAddress(address), address).toBe(false);
  });
});
