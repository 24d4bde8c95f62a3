import { describe, expect, it } from 'vitest';
import { clientAddress, compileTrustProxy, forwardedChain, type TrustProxySetting } from '../../src/domain/client-address.js';
import { KeygateError } from '../../src/domain/errors.js';

/** The hop rules of Express's `trust proxy` (proxy-addr), case by case. */
describe('clientAddress', () => {
  const chain = '198.51.100.1, 203.0.113.9, 10.0.0.3';
  const cases: [string, TrustProxySetting, string | undefined, string | undefined][] = [
    ['off: the socket peer, whatever the header says', false, chain, '10.0.0.2'],
    ['true: the left-most entry', true, chain, '198.51.100.1'],
    ['0 hops: the socket peer', 0, chain, '10.0.0.2'],
    ['1 hop: the entry the proxy added', 1, chain, '10.0.0.3'],
    ['2 hops', 2, chain, '203.0.113.9'],
    ['more hops than entries: the left-most', 9, chain, '198.51.100.1'],
    ['trusted subnets: the first untrusted hop from the right', '10.0.0.0/8', chain, '203.0.113.9'],
    ['a preset and a list', ['loopback', 'uniquelocal'], chain, '203.0.113.9'],
    ['an untrusted socket peer ends the walk', '192.168.0.0/16', chain, '10.0.0.2'],
    ['no header: the socket peer', true, undefined, '10.0.0.2'],
    ['a forged, non-address entry: no address at all', true, 'evil, 10.0.0.3', undefined],
  ];
  for (const [name, setting, header, expected] of cases) {
    it(name, () => {
      expect(clientAddress('10.0.0.2', header, compileTrustProxy(setting))).toBe(expected);
    });
  }

  it('repeated headers count as one list', () => {
    expect(clientAddress('10.0.0.2', ['198.51.100.1', '203.0.113.9'], compileTrustProxy(1))).toBe('203.0.113.9');
  });

  it('an IPv4-mapped socket address matches IPv4 proxy ranges', () => {
    expect(clientAddress('::ffff:127.0.0.1', '203.0.113.9', compileTrustProxy('loopback'))).toBe('203.0.113.9');
  });

  it('no socket, or a socket address that is not an address: none', () => {
    expect(clientAddress(undefined, '203.0.113.9', compileTrustProxy(true))).toBeUndefined();
    expect(clientAddress('x'.repeat(100), undefined, compileTrustProxy(false))).toBeUndefined();
  });

  it('a proxy entry that is neither an address nor a CIDR is INVALID_CIDR', () => {
    expect(() => compileTrustProxy('10.0.0.0/33')).toThrow(KeygateError);
    expect(() => compileTrustProxy(['proxy.example.com'])).toThrow(KeygateError);
  });
});

/** What the gateway's `X-Forwarded-For` carries on: the believed hops and the peer, client first. */
describe('forwardedChain', () => {
  const chain = '198.51.100.1, 203.0.113.9, 10.0.0.3';
  it.each<[string, TrustProxySetting, string[]]>([
    ['off: the peer alone, the made-up header dropped', false, ['10.0.0.2']],
    ['1 hop: the proxy and what it saw', 1, ['10.0.0.3', '10.0.0.2']],
    ['a CIDR: walks while the hop is a believed proxy', '10.0.0.0/8', ['203.0.113.9', '10.0.0.3', '10.0.0.2']],
    ['true: every entry', true, ['198.51.100.1', '203.0.113.9', '10.0.0.3', '10.0.0.2']],
  ])('%s', (_name, setting, expected) => {
    expect(forwardedChain('10.0.0.2', chain, compileTrustProxy(setting))).toEqual(expected);
  });

  it('ends where clientAddress does', () => {
    for (const setting of [false, 1, 2, '10.0.0.0/8', true] as TrustProxySetting[]) {
      expect(forwardedChain('10.0.0.2', chain, compileTrustProxy(setting))[0]).toBe(clientAddress('10.0.0.2', chain, compileTrustProxy(setting)));
    }
  });
});
