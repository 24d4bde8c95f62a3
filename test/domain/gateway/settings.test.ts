import { describe, expect, it } from 'vitest';
import {
  DEFAULT_GATEWAY_SETTINGS,
  applyGatewaySettings,
  gatewayHostsOf,
  hostName,
  identifierHost,
  isLoopbackAddress,
  normaliseHost,
  normaliseUpstream,
  upstreamAddressProblem,
} from '../../../src/domain/gateway/settings.js';

const apply = (change: Parameters<typeof applyGatewaySettings>[1]) => applyGatewaySettings(DEFAULT_GATEWAY_SETTINGS, change);

describe('gateway settings', () => {
  it('default to an API outside the gateway', () => {
    expect(DEFAULT_GATEWAY_SETTINGS).toEqual({
      upstream: null,
      gatewayHosts: [],
      externalIssuers: [],
      phantomToken: false,
      credentialHeader: null,
      credentialQuery: null,
      passthrough: false,
      corsPreflight: 'refuse',
    });
    expect(apply({})).toEqual(DEFAULT_GATEWAY_SETTINGS);
  });

  it('apply a change over the current settings, leaving the rest, in canonical form', () => {
    const first = apply({ upstream: 'http://Backend:8080/v1/', gatewayHosts: ['API.Example.com', 'api.example.com.', 'localhost:8080'], credentialHeader: 'X-API-Key' });
    expect(first).toMatchObject({ upstream: 'http://backend:8080/v1', gatewayHosts: ['api.example.com', 'localhost:8080'], credentialHeader: 'x-api-key' });
    const second = applyGatewaySettings(first, { phantomToken: true, credentialHeader: null });
    expect(second).toMatchObject({ upstream: 'http://backend:8080/v1', phantomToken: true, credentialHeader: null, gatewayHosts: ['api.example.com', 'localhost:8080'] });
  });

  it.each([
    ['a relative URL', { upstream: '/v1' }, /absolute/],
    ['another scheme', { upstream: 'ftp://backend' }, /http or https/],
    ['credentials in the URL', { upstream: 'http://user:pw@backend' }, /credentials/],
    ['a query', { upstream: 'http://backend/?x=1' }, /query/],
    ['a fragment', { upstream: 'http://backend/#x' }, /fragment/],
    ['a host with a path', { gatewayHosts: ['example.com/x'] }, /not a host/],
    ['a host with a bad port', { gatewayHosts: ['example.com:99999'] }, /port/],
    ['too many hosts', { gatewayHosts: Array.from({ length: 33 }, (_, i) => `h${i}.test`) }, /at most 32/],
    ['a credential header the gateway owns', { credentialHeader: 'Host' }, /owns or forwards/],
    ['a Keygate-* credential header', { credentialHeader: 'keygate-subject' }, /owns or forwards/],
    ['a credential header that is not a header name', { credentialHeader: 'x api key' }, /header name/],
    ['a query name needing encoding', { credentialQuery: 'api key' }, /unreserved/],
    ['a CORS preflight mode that does not exist', { corsPreflight: 'allow' }, /corsPreflight must be refuse or forward/],
    ['an issuer listed twice', { externalIssuers: [{ issuer: 'https://i', jwksUri: 'https://i/jwks', audience: null }, { issuer: 'https://i', jwksUri: 'https://j/jwks', audience: null }] }, /twice/],
    ['a JWKS over plain http to another host', { externalIssuers: [{ issuer: 'https://i', jwksUri: 'http://i.test/jwks', audience: null }] }, /https/],
  ])('refuse %s', (_what, change, message) => {
    expect(() => apply(change as Parameters<typeof apply>[0])).toThrow(message);
  });

  it('accept a JWKS over http on loopback (tests, sidecars)', () => {
    const settings = apply({ externalIssuers: [{ issuer: 'https://idp.test', jwksUri: 'http://127.0.0.1:9999/jwks', audience: null }] });
    expect(settings.externalIssuers).toEqual([{ issuer: 'https://idp.test', jwksUri: 'http://127.0.0.1:9999/jwks', audience: null }]);
  });

  it('normalise hosts and upstreams', () => {
    expect(normaliseHost('[::1]:8080')).toBe('[::1]:8080');
    // Default ports are the name itself, as documented (review 2, #2a): one claim, not three.
    expect(['API.example.com:443', 'api.example.com.:80', 'api.example.com'].map(normaliseHost)).toEqual(['api.example.com', 'api.example.com', 'api.example.com']);
    expect(normaliseHost('[::1]:443')).toBe('[::1]');
    expect(hostName('api.example.com:8443')).toBe('api.example.com');
    expect(hostName('[::1]')).toBe('[::1]');
    expect(normaliseUpstream('https://backend')).toBe('https://backend');
    expect(identifierHost('https://api.example.com/v1')).toBe('api.example.com');
    expect(identifierHost('https://api.example.com:8443')).toBe('api.example.com:8443');
    expect(identifierHost('https://API.example.com./v1')).toBe('api.example.com');
    expect(identifierHost('https://api.example.com.:8443')).toBe('api.example.com:8443');
    expect(identifierHost('urn:orders')).toBeNull();
  });

  it('claim the identifier host and the gateway hosts, and nothing without an upstream', () => {
    const settings = apply({ upstream: 'http://backend', gatewayHosts: ['localhost:8080', 'api.example.com'] });
    expect(gatewayHostsOf('https://api.example.com', settings)).toEqual(['api.example.com', 'localhost:8080']);
    expect(gatewayHostsOf('urn:orders', settings)).toEqual(['localhost:8080', 'api.example.com']);
    expect(gatewayHostsOf('https://api.example.com', { ...settings, upstream: null })).toEqual([]);
  });
});

describe('upstreamAddressProblem: an API owner cannot point the gateway at the metadata service', () => {
  const refuse = { allowLinkLocal: false };
  it.each(['169.254.169.254', '169.254.0.1', '[fe80::1]', 'fe80::abcd', 'fd00:ec2::254', '::ffff:169.254.169.254', '[::ffff:a9fe:a9fe]', '0:0:0:0:0:ffff:a9fe:a9fe', 'metadata.google.internal', 'METADATA.google.internal.', 'metadata'])(
    'refuses %s',
    (address) => {
      expect(upstreamAddressProblem(address, refuse)).not.toBeNull();
    },
  );

  it.each(['0.0.0.0', '::', '[::]', '[::ffff:0:0]', '::ffff:0.0.0.0'])('refuses the unspecified address %s, even when link-local is allowed', (address) => {
    expect(upstreamAddressProblem(address, { allowLinkLocal: true })).toBe('an unspecified address');
  });

  it.each(['127.0.0.1', '10.0.0.7', '192.168.1.1', 'backend', 'api.example.com', '::1', '2001:db8::1'])('accepts %s', (address) => {
    expect(upstreamAddressProblem(address, refuse)).toBeNull();
  });

  it('knows loopback however it is spelled, the URL parser\'s IPv4-mapped form included (Keygate\'s own port is refused by it)', () => {
    expect(new URL('http://[::ffff:127.0.0.1]:4000/').hostname).toBe('[::ffff:7f00:1]');
    for (const address of ['127.0.0.1', '127.9.9.9', '::1', '[::1]', '::ffff:127.0.0.1', '[::ffff:7f00:1]', '0:0:0:0:0:ffff:7f00:0001']) expect(isLoopbackAddress(address), address).toBe(true);
    for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '2001:db8::1', 'localhost']) expect(isLoopbackAddress(address), address).toBe(false);
  });

  it('accepts link-local and metadata addresses when the operator allows them', () => {
    expect(upstreamAddressProblem('169.254.169.254', { allowLinkLocal: true })).toBeNull();
    expect(upstreamAddressProblem('metadata.google.internal', { allowLinkLocal: true })).toBeNull();
  });
});
