import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { createRequire } from 'node:module';
import type { LookupFunction } from 'node:net';
import type { buildConnector } from 'undici';
import { isLoopbackAddress, upstreamAddressProblem } from '../domain/gateway/settings.js';

/**
 * Where Keygate may connect when it goes to an address an API owner chose (an upstream, a JWKS
 * URL): the rule `ApisService` applies when the URL is set, applied again to the addresses a name
 * resolves to at each connection. Checked only when set, a name could resolve to an allowed
 * address then and to 169.254.169.254 (or to Keygate's own port on loopback) later: DNS rebinding.
 */
export interface UpstreamAddressRules {
  /** `GATEWAY_LINK_LOCAL_UPSTREAMS=allow`: link-local and cloud-metadata addresses may be reached. */
  allowLinkLocal: boolean;
  /** Keygate's own ports: loopback on one of them is Keygate itself. */
  ownPorts: readonly number[];
  /** How names are resolved: `dns.lookup` unless given (tests give their own). */
  lookup?: LookupFunction;
}

/** A connection refused because of where it would go; `code` is stable, so a caller answers 502 by it. */
export class UpstreamAddressRefusedError extends Error {
  readonly code = 'UPSTREAM_ADDRESS_REFUSED';

  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(host === address ? `${host} is ${reason}` : `${host} resolves to ${address}, ${reason}`);
    this.name = 'UpstreamAddressRefusedError';
  }
}

/** What one connection may reach: on one of Keygate's own ports, loopback is refused too. */
interface Reach {
  allowLinkLocal: boolean;
  ownPort: number | null;
}

function reachOf(rules: UpstreamAddressRules, port: number): Reach {
  return { allowLinkLocal: rules.allowLinkLocal, ownPort: rules.ownPorts.includes(port) ? port : null };
}

function problemOf(address: string, reach: Reach): string | null {
  const problem = upstreamAddressProblem(address, reach);
  if (problem !== null) return problem;
  return reach.ownPort !== null && isLoopbackAddress(address) ? `Keygate's own port ${reach.ownPort} on loopback` : null;
}

/**
 * The refusal for a host as the URL names it, decided before any lookup, or null: a cloud
 * metadata name, or an IP literal the rules refuse. Sockets connect to a literal without calling
 * their `lookup`, so a literal is judged here.
 *
 * @example
 * refusedHost('169.254.169.254', 80, { allowLinkLocal: false, ownPorts: [] })?.code // 'UPSTREAM_ADDRESS_REFUSED'
 * refusedHost('backend.internal', 80, { allowLinkLocal: false, ownPorts: [] })     // null: its lookup decides
 */
export function refusedHost(hostname: string, port: number, rules: UpstreamAddressRules): UpstreamAddressRefusedError | null {
  const host = hostname.replace(/^\[|\]$/g, '');
  const problem = problemOf(host, reachOf(rules, port));
  return problem === null ? null : new UpstreamAddressRefusedError(host, host, problem);
}

/**
 * A `lookup` for `net.connect`, `http.request` and `tls.connect` to `port`: it resolves every
 * address of the name and fails with UpstreamAddressRefusedError when any of them is refused, so
 * the socket connects only to addresses checked at this very moment. Pair it with `refusedHost`
 * for IP literals, which never reach a lookup.
 *
 * @example
 * http.request(url, { lookup: checkedLookup({ allowLinkLocal: false, ownPorts: [4000], port: 443 }) })
 */
export function checkedLookup(options: UpstreamAddressRules & { port: number }): LookupFunction {
  return lookupWithin(options.lookup ?? dnsLookup, reachOf(options, options.port));
}

function lookupWithin(resolve: LookupFunction, reach: Reach): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    // Every address is checked, not only the one the socket tries first: with several addresses
    // it falls back to the next (happy eyeballs), and that one must be allowed too.
    resolve(hostname, { ...lookupOptions, all: true }, (err, found) => {
      if (err !== null) return callback(err, '');
      const addresses = found as LookupAddress[];
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
      for (const { address } of addresses) {
        const problem = problemOf(address, reach);
        if (problem !== null) return callback(new UpstreamAddressRefusedError(hostname, address, problem), '');
      }
      if (lookupOptions.all === true) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/**
 * undici's connector for the gateway's Agent (`new Agent({ connect: upstreamConnector(…) })`):
 * each new connection's host is checked against the rules, by name and by every address it
 * resolves to then; a refused one fails with UpstreamAddressRefusedError
 * (`code: 'UPSTREAM_ADDRESS_REFUSED'`) and no socket is opened. The socket keeps the URL's
 * hostname, so TLS sends it as SNI and checks the certificate against it; certificates are
 * always verified.
 *
 * @example
 * const agent = new Agent({ connect: upstreamConnector({ allowLinkLocal: false, ownPorts: [4000, 8080], timeoutMs: 30_000 }) });
 */
export function upstreamConnector(options: UpstreamAddressRules & { timeoutMs: number }): buildConnector.connector {
  const resolve = options.lookup ?? dnsLookup;
  // undici is loaded by the first connector made (the gateway's, a JWKS fetch's), not at every start.
  const { buildConnector: build } = createRequire(import.meta.url)('undici') as typeof import('undici');
  const connectorFor = (reach: Reach): buildConnector.connector =>
    build({ rejectUnauthorized: true, timeout: options.timeoutMs, lookup: lookupWithin(resolve, reach) });
  // One connector for every port but Keygate's own, one for each of those: a lookup is per
  // connector, and only the port says whether loopback is allowed.
  const elsewhere = connectorFor({ allowLinkLocal: options.allowLinkLocal, ownPort: null });
  const own = new Map(options.ownPorts.map((port) => [port, connectorFor({ allowLinkLocal: options.allowLinkLocal, ownPort: port })]));
  return (connection, callback) => {
    const port = Number(connection.port) || (connection.protocol === 'https:' ? 443 : 80);
    const refused = refusedHost(connection.hostname, port, options);
    if (refused !== null) return callback(refused, null);
    (own.get(port) ?? elsewhere)(connection, callback);
  };
}
