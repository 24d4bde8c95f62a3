import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) and their unofficial cousins: they describe one
 * connection, never the message, so no proxy passes them on. `te: trailers` is the one `te`
 * that may cross (HTTP/2 and gRPC need it).
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'trailer', 'transfer-encoding', 'upgrade']);

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
  for (const name in headers) {
    // Node gives header names lower-case.
    if (name.startsWith('keygate-') || name.startsWith('x-forwarded-') || name === 'forwarded' || name === 'authorization' || name === options.credentialHeader) continue;
    if (HOP_BY_HOP.has(name)) continue;
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
  for (const name in headers) {
    if (HOP_BY_HOP.has(name)) continue;
    out[name] = headers[name];
  }
  if (added !== null) for (const name in added) out[name] = added[name];
  return out;
}
