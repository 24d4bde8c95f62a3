import { isIP } from 'node:net';
import { compileAllowlist } from './ip-allowlist.js';

/**
 * Which proxies' `X-Forwarded-For` to believe, as Express's `trust proxy` setting: `false` (the
 * socket peer is the caller), `true` (every hop: the left-most address), a hop count (that many
 * proxies in front), or proxy addresses and CIDRs (an array or a comma-separated string; the names
 * `loopback`, `linklocal` and `uniquelocal` stand for their ranges).
 */
export type TrustProxySetting = boolean | number | string | readonly string[];

/** Whether the hop with this address, `hop` steps from this server (0: the socket peer), is a proxy to believe. */
export type TrustProxy = (address: string, hop: number) => boolean;

const PRESETS: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** As many characters as the verify API accepts for `ip`; no IP address is longer. */
const MAX_ADDRESS_LENGTH = 64;

/**
 * Throws INVALID_CIDR for an address or CIDR that is neither (nor a preset name).
 *
 * @example
 * compileTrustProxy('loopback, 10.0.0.0/8')('10.1.2.3', 0) // true
 * compileTrustProxy(1)('203.0.113.9', 1)                   // false: only the first hop is a proxy
 */
export function compileTrustProxy(setting: TrustProxySetting): TrustProxy {
  if (setting === true) return () => true;
  if (setting === false) return () => false;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  const entries = (typeof setting === 'string' ? setting.split(',') : [...setting]).map((entry) => entry.trim()).filter((entry) => entry !== '');
  const list = compileAllowlist(entries.flatMap((entry) => PRESETS[entry] ?? [entry]));
  return (address) => list.allows(address);
}

/**
 * The caller's address, by the `X-Forwarded-For` hop rules of Express (proxy-addr): walk from the
 * socket peer leftwards through the header while the current hop is a trusted proxy; the first
 * untrusted hop (or the left-most entry) is the caller. Undefined when that is not an IP address
 * (a forged entry, or no socket), so a key with an IP allowlist is refused rather than matched
 * against junk.
 *
 * @example
 * clientAddress('10.0.0.2', '198.51.100.7, 203.0.113.9', compileTrustProxy(1))      // '203.0.113.9'
 * clientAddress('10.0.0.2', '198.51.100.7, 203.0.113.9', compileTrustProxy(false))  // '10.0.0.2'
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | readonly string[] | undefined, trust: TrustProxy): string | undefined {
  if (socketAddress === undefined) return undefined;
  let address = socketAddress;
  if (forwardedFor !== undefined) {
    const hops = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',')).split(',');
    for (let hop = 0; hop < hops.length && trust(address, hop); hop++) address = hops[hops.length - 1 - hop]!.trim();
  }
  return address.length <= MAX_ADDRESS_LENGTH && isIP(address) !== 0 ? address : undefined;
}

/**
 * The chain `X-Forwarded-For` should carry on to the next hop, client first: the addresses of the
 * believed proxies' header entries, walked from the socket peer leftwards by the same rule as
 * `clientAddress`, and the peer itself. Only the socket peer when no proxy is believed.
 *
 * @example
 * forwardedChain('10.0.0.2', '198.51.100.7, 203.0.113.9', compileTrustProxy(1)) // ['203.0.113.9', '10.0.0.2']
 */
export function forwardedChain(socketAddress: string, forwardedFor: string | readonly string[] | undefined, trust: TrustProxy): string[] {
  const chain = [socketAddress];
  if (forwardedFor !== undefined) {
    const hops = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',')).split(',');
    for (let hop = 0; hop < hops.length && trust(chain[0]!, hop); hop++) chain.unshift(hops[hops.length - 1 - hop]!.trim());
  }
  return chain;
}
