import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) and their unofficial cousins: they describe one
 * connection, never the message, so no proxy passes them on. `te: trailers` is the one `te`
 * that may cross (HTTP/2 and gRPC need it).
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Headers a caller could use to make the upstream see another request than the one the policy
 * checked (a method or path override) or another client address than the gateway's forwarding
 * headers say.
 */
const OVERRIDES: ReadonlySet<string> = new Set([
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-original-uri',
  'x-original-method',
  'x-rewrite-url',
  'x-envoy-original-path',
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'client-ip',
  'x-cluster-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-azure-clientip',
]);

/** Where the caller's request came from, as the upstream is told (`X-Forwarded-*`). */
export interface ForwardedFrom {
  /** The caller's chain of addresses: believed proxies' `X-Forwarded-For` and the peer's address. */
  for: string;
  proto: string;
  host: string | undefined;
}

/**
 * The headers the upstream receives: the caller's, less hop-by-hop headers, every credential
 * (`Authorization`, the API's credential header), every `Keygate-*` header the caller sent (only
 * the gateway speaks for the caller's identity) and any forwarding headers the caller made up;
 * plus `X-Forwarded-For/-Proto/-Host` and the identity the gateway vouches for.
 *
 * @example
 * upstreamRequestHeaders(request.headers, { credentialHeader: 'x-api-key', identity: { 'keygate-subject': 'cus_1' }, forwarded })
 */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  options: { credentialHeader: string | null; identity: Record<string, string>; forwarded: ForwardedFrom },
): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  const named = connectionNames(headers.connection);
  for (const name in headers) {
    // Node gives header names lower-case. A name with `_` or `.` is dropped: CGI-style servers
    // and some frameworks read `Keygate_Subject` or `Keygate.Subject` as `Keygate-Subject`, so it
    // would pass for the gateway's own.
    if (name.includes('_') || name.includes('.') || name.startsWith('keygate-') || name.startsWith('x-forwarded-') || name === 'forwarded' || name === 'authorization' || name === options.credentialHeader) continue;
    if (HOP_BY_HOP.has(name) || OVERRIDES.has(name) || named.has(name)) continue;
    if (name === 'te' && headers.te !== 'trailers') continue;
    out[name] = headers[name];
  }
  out['x-forwarded-for'] = options.forwarded.for;
  out['x-forwarded-proto'] = options.forwarded.proto;
  if (options.forwarded.host !== undefined) out['x-forwarded-host'] = options.forwarded.host;
  for (const name in options.identity) out[name] = options.identity[name];
  return out;
}

/** The upstream's response headers as the caller gets them: without hop-by-hop headers, with the gateway's own added. */
export function callerResponseHeaders(headers: OutgoingHttpHeaders | IncomingHttpHeaders, added: Record<string, string> | null): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const named = connectionNames(headers['connection']);
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = headers[name];
  }
  if (added !== null) for (const name in added) out[name] = added[name];
  return out;
}

/**
 * Whether the request names its Host more than once. Node keeps the first `Host` and drops the
 * rest, while an upstream or another proxy in the path may read the last: the gateway would check
 * the request for one API and the next hop serve it as another's (RFC 9112 §3.2: such a request
 * is answered 400).
 *
 * @example
 * duplicateHost(['Host', 'a.example', 'host', 'b.example']) // true
 * duplicateHost(['Host', 'a.example', 'Accept', 'text/html']) // false
 */
export function duplicateHost(rawHeaders: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length !== 4 || name.toLowerCase() !== 'host') continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

/** The header names a `Connection` header lists: hop-by-hop for this connection only (RFC 9110 §7.6.1). */
function connectionNames(connection: unknown): ReadonlySet<string> {
  // The common values name no header: no Set for them on every request.
  if (connection === undefined || connection === 'keep-alive' || connection === 'close') return EMPTY;
  if (typeof connection !== 'string' && !Array.isArray(connection)) return EMPTY;
  const names = new Set<string>();
  for (const value of Array.isArray(connection) ? connection : [connection]) {
    for (const name of String(value).split(',')) if (name.trim() !== '') names.add(name.trim().toLowerCase());
  }
  return names;
}

const EMPTY: ReadonlySet<string> = new Set();
