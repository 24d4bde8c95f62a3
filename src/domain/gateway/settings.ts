import { BlockList, isIP } from 'node:net';
import { KeygateError } from '../errors.js';

/** A JWT issuer outside Keygate whose tokens the gateway accepts for one API (Entra ID, Okta, …). */
export interface ExternalIssuer {
  issuer: string;
  jwksUri: string;
  audience: string | null;
}

/** How the gateway fronts one API. Every field has a default, so an API without a gateway keeps working. */
export interface GatewaySettings {
  /** Absolute http(s) URL the gateway forwards to; null = the API is not behind the gateway. */
  upstream: string | null;
  /** Host values (host or host:port, lower-case) besides the identifier's own that reach this API. */
  gatewayHosts: string[];
  externalIssuers: ExternalIssuer[];
  /** Whether the upstream also receives a short-lived tenant-signed JWT (`Keygate-Token`). */
  phantomToken: boolean;
  /** A header (lower-case, e.g. `x-api-key`) read besides `Authorization: Bearer`. */
  credentialHeader: string | null;
  /** A query parameter read for the credential; only when set, since URLs end up in logs. */
  credentialQuery: string | null;
  /** Whether paths and methods the OpenAPI document does not declare are forwarded (they answer 404/405 otherwise). */
  passthrough: boolean;
  /** What a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) on a declared path that declares no `OPTIONS` gets: 405, or forwarded without a credential. */
  corsPreflight: CorsPreflight;
}

/** `refuse` (the default) answers a CORS preflight 405 like any undeclared method; `forward` lets the upstream answer it. */
export const CORS_PREFLIGHT_MODES = ['refuse', 'forward'] as const;
export type CorsPreflight = (typeof CORS_PREFLIGHT_MODES)[number];

/** Frozen, lists included: every API outside the gateway shares this object, so no caller may change it. */
export const DEFAULT_GATEWAY_SETTINGS: GatewaySettings = Object.freeze({
  upstream: null,
  gatewayHosts: Object.freeze([]) as unknown as string[],
  externalIssuers: Object.freeze([]) as unknown as ExternalIssuer[],
  phantomToken: false,
  credentialHeader: null,
  credentialQuery: null,
  passthrough: false,
  corsPreflight: 'refuse',
});

/** The most hosts and external issuers one API may list: a gateway route, not a registry. */
export const MAX_GATEWAY_HOSTS = 32;
export const MAX_EXTERNAL_ISSUERS = 8;

/** RFC 7230 token characters, lower-case: a header name the caller can send. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]{1,64}$/;
/** Unreserved URL characters (RFC 3986 §2.3): a query name that needs no encoding. */
const QUERY_NAME = /^[A-Za-z0-9\-._~]{1,64}$/;
/** A DNS name or IPv4 literal, optional port; or a bracketed IPv6 literal, optional port. */
const HOST_VALUE = /^(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;
/** Headers the gateway owns or that carry hop-by-hop meaning; a credential there would be dropped or forged. */
const RESERVED_HEADERS = new Set([
  'host', 'connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'content-length', 'content-type', 'cookie', 'forwarded',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
]);

function invalid(message: string): KeygateError {
  return new KeygateError('INVALID_REQUEST', message);
}

/**
 * An absolute http(s) URL without credentials, query or fragment, returned in its canonical form
 * (no trailing slash). Whether its address may be reached is the service's decision (DNS is I/O).
 *
 * @example
 * normaliseUpstream('http://Backend:8080/v1/') // 'http://backend:8080/v1'
 */
export function normaliseUpstream(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('upstream must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('upstream must be an http or https URL');
  if (url.username !== '' || url.password !== '') throw invalid('upstream must not carry credentials');
  if (url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#')) {
    throw invalid('upstream must not have a query or a fragment');
  }
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

/**
 * A Host value as the gateway compares it: lower-case, no trailing dot, default ports dropped
 * (`example.com:443` and `example.com` are one host for HTTPS callers, so one claim).
 *
 * @example
 * normaliseHost('API.Example.com.')    // 'api.example.com'
 * normaliseHost('api.example.com:443') // 'api.example.com'
 */
export function normaliseHost(value: string): string {
  const lower = value.trim().toLowerCase().replace(/\.(?=:\d+$|$)/, '');
  if (!HOST_VALUE.test(lower)) throw invalid(`"${value}" is not a host or host:port`);
  const port = /:(\d+)$/.exec(lower)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) throw invalid(`"${value}" has a port outside 1–65535`);
  return lower.replace(/:(?:80|443)$/, '');
}

/**
 * A host without its port: what a claim is owned by, since callers of a gateway on another port
 * send `name:port` for the same name, and the routing table falls back from `name:port` to `name`.
 *
 * @example
 * hostName('api.example.com:8443') // 'api.example.com'
 * hostName('[::1]:8080')           // '[::1]'
 */
export function hostName(host: string): string {
  return host.replace(/:\d+$/, '');
}

/**
 * The Host an API identifier names when it is an http(s) URL (`https://api.example.com` →
 * `api.example.com`), else null: identifiers like `urn:orders` name no host.
 */
export function identifierHost(identifier: string): string | null {
  let url: URL;
  try {
    url = new URL(identifier);
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '') return null;
  // `api.acme.com.` is `api.acme.com` to DNS and to callers: one name, one claim.
  return url.host.toLowerCase().replace(/\.+(?=:\d+$|$)/, '');
}

/**
 * The Hosts an API answers to at the gateway: its identifier's host and its gateway hosts; none
 * without an upstream, so an API outside the gateway claims nothing.
 *
 * @example
 * gatewayHostsOf('https://api.example.com', { ...settings, upstream: 'http://backend:8080', gatewayHosts: ['localhost:8080'] })
 * // ['api.example.com', 'localhost:8080']
 */
export function gatewayHostsOf(identifier: string, settings: GatewaySettings): string[] {
  if (settings.upstream === null) return [];
  const own = identifierHost(identifier);
  return [...new Set([...(own === null ? [] : [own]), ...settings.gatewayHosts])];
}

function normaliseIssuer(value: ExternalIssuer): ExternalIssuer {
  if (value.issuer.length === 0 || value.issuer.length > 512) throw invalid('an external issuer needs an issuer of 1–512 characters');
  let jwks: URL;
  try {
    jwks = new URL(value.jwksUri);
  } catch {
    throw invalid(`jwksUri of issuer "${value.issuer}" must be an absolute https URL`);
  }
  const loopback = jwks.hostname === 'localhost' || jwks.hostname === '127.0.0.1' || jwks.hostname === '[::1]';
  if (jwks.protocol !== 'https:' && !(jwks.protocol === 'http:' && loopback)) {
    throw invalid(`jwksUri of issuer "${value.issuer}" must be https (http only on loopback)`);
  }
  const audience = value.audience ?? null;
  if (audience !== null && (audience.length === 0 || audience.length > 512)) {
    throw invalid(`audience of issuer "${value.issuer}" must be 1–512 characters`);
  }
  return { issuer: value.issuer, jwksUri: jwks.href, audience };
}

/**
 * Applies a change to settings and returns the whole, validated and canonical: hosts lower-case
 * and unique, the upstream without a trailing slash, header names lower-case. Throws
 * INVALID_REQUEST naming the field. The upstream's address rule lives in the service.
 *
 * @example
 * applyGatewaySettings(DEFAULT_GATEWAY_SETTINGS, { upstream: 'http://backend:8080/', credentialHeader: 'X-API-Key' })
 * // { upstream: 'http://backend:8080', credentialHeader: 'x-api-key', ... }
 */
export function applyGatewaySettings(current: GatewaySettings, change: Partial<GatewaySettings>): GatewaySettings {
  const next: GatewaySettings = { ...current, ...stripUndefined(change) };
  const upstream = next.upstream === null ? null : normaliseUpstream(next.upstream);

  if (next.gatewayHosts.length > MAX_GATEWAY_HOSTS) throw invalid(`gatewayHosts lists at most ${MAX_GATEWAY_HOSTS} hosts`);
  const gatewayHosts = [...new Set(next.gatewayHosts.map(normaliseHost))];

  if (next.externalIssuers.length > MAX_EXTERNAL_ISSUERS) throw invalid(`externalIssuers lists at most ${MAX_EXTERNAL_ISSUERS} issuers`);
  const externalIssuers = next.externalIssuers.map(normaliseIssuer);
  const issuers = new Set<string>();
  for (const { issuer } of externalIssuers) {
    if (issuers.has(issuer)) throw invalid(`external issuer "${issuer}" is listed twice`);
    issuers.add(issuer);
  }

  let credentialHeader = next.credentialHeader;
  if (credentialHeader !== null) {
    credentialHeader = credentialHeader.toLowerCase();
    if (!HEADER_NAME.test(credentialHeader)) throw invalid('credentialHeader must be an HTTP header name');
    if (RESERVED_HEADERS.has(credentialHeader) || credentialHeader.startsWith('keygate-')) {
      throw invalid(`credentialHeader "${credentialHeader}" is a header the gateway owns or forwards`);
    }
  }
  if (next.credentialQuery !== null && !QUERY_NAME.test(next.credentialQuery)) {
    throw invalid('credentialQuery must be 1–64 unreserved URL characters');
  }
  if (!CORS_PREFLIGHT_MODES.includes(next.corsPreflight)) throw invalid(`corsPreflight must be ${CORS_PREFLIGHT_MODES.join(' or ')}`);

  return {
    upstream,
    gatewayHosts,
    externalIssuers,
    phantomToken: next.phantomToken,
    credentialHeader,
    credentialQuery: next.credentialQuery,
    passthrough: next.passthrough,
    corsPreflight: next.corsPreflight,
  };
}

function stripUndefined(change: Partial<GatewaySettings>): Partial<GatewaySettings> {
  return Object.fromEntries(Object.entries(change).filter(([, value]) => value !== undefined)) as Partial<GatewaySettings>;
}

/** Names that resolve to a cloud provider's instance metadata service. */
const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal']);

const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');
// AWS's IPv6 metadata address sits in unique-local space, not link-local.
LINK_LOCAL.addAddress('fd00:ec2::254', 'ipv6');
// 169.254.0.0/16 inside the IPv6 prefixes that carry IPv4 to another network: a NAT64 gateway
// (64:ff9b::/96, RFC 6052) or a 6to4 relay (2002::/16, RFC 3056) delivers them to that range.
LINK_LOCAL.addSubnet('64:ff9b::a9fe:0', 112, 'ipv6');
LINK_LOCAL.addSubnet('2002:a9fe::', 32, 'ipv6');

/**
 * Why the gateway must not forward to this address, or null. Link-local addresses are where cloud
 * metadata services answer (169.254.169.254 hands out instance credentials): an API owner who may
 * set an upstream must not reach them through Keygate unless the operator allows it. Unspecified
 * addresses (0.0.0.0, ::) reach the gateway's own host on every interface and are refused always.
 * The same rule holds when the upstream is set and at every connection (`upstream-connector.ts`),
 * so a name that resolves elsewhere later gains nothing.
 *
 * @example
 * upstreamAddressProblem('169.254.169.254', { allowLinkLocal: false })  // 'a link-local or metadata address'
 * upstreamAddressProblem('64:ff9b::a9fe:a9fe', { allowLinkLocal: false }) // the same, through NAT64
 * upstreamAddressProblem('10.0.0.7', { allowLinkLocal: false })        // null
 */
export function upstreamAddressProblem(address: string, options: { allowLinkLocal: boolean }): string | null {
  const host = address.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  if (METADATA_NAMES.has(host)) return options.allowLinkLocal ? null : 'a cloud metadata name';
  const literal = ipLiteral(host);
  if (literal === null) return null;
  const { ip, family } = literal;
  if (ip === '0.0.0.0' || ip === '::') return 'an unspecified address';
  if (!options.allowLinkLocal && LINK_LOCAL.check(ip, family)) return 'a link-local or metadata address';
  return null;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Whether an address is this host's loopback, however it is spelled (`127.x`, `::1`, `::ffff:7f00:1`, `::127.0.0.1`). */
export function isLoopbackAddress(address: string): boolean {
  const literal = ipLiteral(address.replace(/^\[|\]$/g, '').toLowerCase());
  return literal !== null && LOOPBACK.check(literal.ip, literal.family);
}

/**
 * An IP literal as the address it names, so no rule can be dodged by spelling IPv4 as IPv6: an
 * IPv4-mapped address (`::ffff:127.0.0.1`, or `::ffff:7f00:1` as the URL parser writes it) and an
 * IPv4-compatible one (`::127.0.0.1`, deprecated but still parsed) are their IPv4 address; `::`
 * (however written: `::0.0.0.0`) and `::1` stay IPv6. A zone (`fe80::1%eth0`) is dropped: it names an interface, not an address.
 * Null for a name.
 */
function ipLiteral(host: string): { ip: string; family: 'ipv4' | 'ipv6' } | null {
  const version = isIP(host);
  if (version === 0) return null;
  if (version === 4) return { ip: host, family: 'ipv4' };
  const ip = host.replace(/%.*$/, '');
  const groups = ipv6Groups(ip);
  if (groups.every((group) => group === 0)) return { ip: '::', family: 'ipv6' };
  const zeros = groups.slice(0, 5).every((group) => group === 0);
  const mapped = zeros && groups[5] === 0xffff;
  const compatible = zeros && groups[5] === 0 && (groups[6] !== 0 || groups[7]! > 1);
  if (mapped || compatible) return { ip: `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`, family: 'ipv4' };
  return { ip, family: 'ipv6' };
}

/** The eight 16-bit groups of a valid IPv6 address, `::` expanded and a dotted IPv4 tail read as two groups. */
function ipv6Groups(ip: string): number[] {
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  const tail = dotted === null ? [] : [Number(dotted[1]) * 256 + Number(dotted[2]), Number(dotted[3]) * 256 + Number(dotted[4])];
  const hex = dotted === null ? ip : ip.slice(0, dotted.index);
  const [before, after] = hex.split('::') as [string, string | undefined];
  const read = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.replace(/:$/, '').split(':').map((group) => parseInt(group, 16)));
  const head = read(before);
  const rest = [...read(after), ...tail];
  return after === undefined ? [...head, ...rest] : [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
}
