import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';

/**
 * A resolver under the test's control: each name answers its lists of addresses in turn (the
 * last one from then on), as a DNS server an API owner runs would, with a short TTL.
 */
export function scriptedLookup(answers: Record<string, string[][]>): { lookup: LookupFunction; asked: string[] } {
  const asked: string[] = [];
  const lookup: LookupFunction = (hostname, options, callback) => {
    asked.push(hostname);
    const script = answers[hostname];
    if (script === undefined) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
    const addresses: LookupAddress[] = (script.length > 1 ? script.shift()! : script[0]!).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    if (options.all === true) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  return { lookup, asked };
}
