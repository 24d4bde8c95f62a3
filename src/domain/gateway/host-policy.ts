import { KeygateError } from '../errors.js';

/**
 * Which hosts a tenant's own administrators may make the gateway answer to. A root key for every
 * tenant (an operator) may claim any host; a root key limited to one tenant only hosts under the
 * operator's suffixes (`GATEWAY_HOST_SUFFIXES`), where `{tenant}` stands for its tenant's slug —
 * so on a shared Keygate no tenant can take, ahead of its owner, a host another tenant will need.
 */
export type HostAuthority = 'instance' | 'tenant';

const SUFFIX = /^(?:\{tenant\}|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?:\{tenant\}|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))+$/;

/**
 * The suffixes of `GATEWAY_HOST_SUFFIXES`: comma-separated DNS names, a leading `*.` or `.`
 * allowed, `{tenant}` a whole label; at least two labels, so no one suffix covers a whole TLD.
 * Throws INVALID_REQUEST naming the entry.
 *
 * @example
 * parseHostSuffixes('{tenant}.gw.example.com, *.apis.example.net') // ['{tenant}.gw.example.com', 'apis.example.net']
 */
export function parseHostSuffixes(value: string): string[] {
  const suffixes: string[] = [];
  for (const entry of value.split(',')) {
    const suffix = entry.trim().toLowerCase().replace(/^\*?\./, '');
    if (suffix === '') continue;
    if (!SUFFIX.test(suffix)) throw new KeygateError('INVALID_REQUEST', `"${entry.trim()}" is not a DNS suffix of two labels or more ({tenant} may stand for a whole label)`);
    suffixes.push(suffix);
  }
  return suffixes;
}

/**
 * Whether a tenant may claim a gateway host (`host` or `host:port`) by the operator's suffixes:
 * the host is a suffix (with the tenant's slug in place of `{tenant}`) or a name under one.
 *
 * @example
 * hostWithinSuffixes('api.acme.gw.example.com', 'acme', ['{tenant}.gw.example.com']) // true
 * hostWithinSuffixes('api.beta.gw.example.com', 'acme', ['{tenant}.gw.example.com']) // false
 */
export function hostWithinSuffixes(host: string, tenantSlug: string, suffixes: readonly string[]): boolean {
  const name = host.replace(/:\d+$/, '');
  for (const pattern of suffixes) {
    const suffix = pattern.replaceAll('{tenant}', tenantSlug);
    if (name === suffix || name.endsWith(`.${suffix}`)) return true;
  }
  return false;
}
