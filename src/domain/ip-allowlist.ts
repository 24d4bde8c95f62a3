import { BlockList, isIP } from 'node:net';
import { KeygateError } from './errors.js';

/**
 * IPv4 and IPv6 CIDR allowlists. `node:net`'s BlockList does the matching (a pure data
 * structure, no I/O); this file validates entries and handles IPv4-mapped IPv6 callers.
 */
export interface IpAllowlist {
  allows(ip: string): boolean;
}

function parseCidr(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) throw new KeygateError('INVALID_CIDR', `"${entry}" is not an IPv4 or IPv6 CIDR`);
  const max = version === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : entry.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) {
    throw new KeygateError('INVALID_CIDR', `"${entry}" has a prefix length outside 0–${max}`);
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Throws INVALID_CIDR for the first invalid entry. */
export function validateAllowlist(entries: readonly string[]): void {
  for (const entry of entries) parseCidr(entry);
}

/**
 * @example
 * compileAllowlist(['10.0.0.0/8', '2001:db8::/32']).allows('10.1.2.3') // true
 */
export function compileAllowlist(entries: readonly string[]): IpAllowlist {
  const list = new BlockList();
  for (const entry of entries) {
    const { address, prefix, family } = parseCidr(entry);
    list.addSubnet(address, prefix, family);
  }
  return {
    allows(ip: string): boolean {
      const version = isIP(ip);
      if (version === 4) return list.check(ip, 'ipv4');
      if (version !== 6) return false;
      if (list.check(ip, 'ipv6')) return true;
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
      return mapped !== null && list.check(mapped[1]!, 'ipv4');
    },
  };
}
