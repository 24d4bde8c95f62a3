import { createHash } from 'node:crypto';
import { request as httpRequest, STATUS_CODES, type ClientRequest, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Clock } from '../../domain/clock.js';
import { gatewayProblem, type GatewayService, type GatewayUsage } from '../../services/gateway-service.js';
import type { UsageAnalytics } from '../../services/usage-analytics.js';
import { duplicateHost, upstreamRequestHeaders } from './headers.js';
import { checkedLookup, refusedHost, type UpstreamAddressRules } from '../../services/upstream-connector.js';

/**
 * WebSocket through the gateway: the handshake goes through the same policy as every request —
 * Host, operation (a `GET` of the document), credential, scopes — so a connection is checked
 * once, when it opens. An allowed handshake is sent to the upstream with the same header rules
 * (credential out, identity in); once the upstream answers a genuine WebSocket 101 the two
 * sockets are joined byte for byte. Anything else the upstream answers goes back as it is.
 *
 * Only WebSocket (RFC 6455) is tunnelled, and only when the upstream's 101 proves it speaks it
 * (`Sec-WebSocket-Accept` for the caller's key): any other Upgrade (`h2c`, a made-up protocol)
 * would turn the joined sockets into a channel to the upstream that no later request of which
 * is checked.
 */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const NOT_WEBSOCKET = '{"code":"UPGRADE_NOT_ALLOWED","status":400,"detail":"only WebSocket upgrades (RFC 6455: GET, Upgrade: websocket, Sec-WebSocket-Key, Sec-WebSocket-Version 13) pass the gateway"}';
const UPSTREAM_UNAVAILABLE = JSON.stringify(gatewayProblem(502, 'UPSTREAM_UNAVAILABLE', 'the upstream refused the connection or failed before answering').body);
const BAD_HOST = JSON.stringify(gatewayProblem(400, 'BAD_HOST', 'the request names its Host more than once').body);

export interface TunnelOptions {
  timeoutMs: number;
  log: { error(fields: object, message: string): void; warn(fields: object, message: string): void };
  /** Each handshake is counted like a request: its outcome, and the upstream's answer to it. */
  analytics: Pick<UsageAnalytics, 'count'>;
  clock: Clock;
  /** Where the upstream connection may go: the rules of the gateway's HTTP connector (`upstream-connector.ts`). */
  addresses: UpstreamAddressRules;
  /**
   * The caller by KEYGATE_TRUST_PROXY, as for any gateway request: `ip` for the policy (IP
   * allowlists), `ips` (client first, as `X-Forwarded-For` spells it) and `proto` for the upstream.
   */
  clientAddress(request: IncomingMessage): { ip: string; ips: string[]; proto: string };
}

/** The tunnels of one server; `close` ends them all. */
export interface Tunnels {
  /**
   * Destroys every tunnel and every handshake in progress, both sides, and refuses upgrades from
   * then on: an open WebSocket would otherwise hold the server's close (and the final flush of
   * usage and audit) for as long as the connection lives.
   */
  close(): void;
}

/**
 * Checks and tunnels the server's WebSocket upgrades.
 *
 * @example
 * const tunnels = tunnelUpgrades(server, gateway, { timeoutMs, log, analytics, clock, addresses, clientAddress });
 * // on shutdown, before waiting for server.close():
 * tunnels.close();
 */
export function tunnelUpgrades(server: Server, gateway: GatewayService, options: TunnelOptions): Tunnels {
  const live = new Set<Duplex | ClientRequest>();
  let closing = false;
  const track = (stream: Duplex | ClientRequest): void => {
    live.add(stream);
    stream.once('close', () => live.delete(stream));
  };
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (closing) {
      socket.destroy();
      return;
    }
    track(socket);
    handshake(request, socket, head, gateway, { ...options, track }).catch((err: unknown) => {
      options.log.error({ err }, 'gateway upgrade failed');
      refuse(socket, 500, { 'content-type': 'application/problem+json' }, '{"code":"INTERNAL","status":500}');
    });
  });
  return {
    close() {
      closing = true;
      for (const stream of live) stream.destroy();
      live.clear();
    },
  };
}

/** The caller's handshake is a WebSocket opening handshake (RFC 6455 §4.1); its key, or null. */
function websocketKey(request: IncomingMessage): string | null {
  const key = request.headers['sec-websocket-key'];
  if (request.method !== 'GET' || request.headers.upgrade?.toLowerCase() !== 'websocket' || request.headers['sec-websocket-version'] !== '13') return null;
  return typeof key === 'string' && /^[A-Za-z0-9+/]{22}==$/.test(key) ? key : null;
}

async function handshake(
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  gateway: GatewayService,
  options: TunnelOptions & { track(stream: Duplex | ClientRequest): void },
): Promise<void> {
  // Node reads the first Host; an upstream or another proxy may read the last. Which API is meant is not for the caller to leave open.
  if (duplicateHost(request.rawHeaders)) {
    refuse(socket, 400, { 'content-type': 'application/problem+json' }, BAD_HOST);
    return;
  }
  const key = websocketKey(request);
  if (key === null) {
    refuse(socket, 400, { 'content-type': 'application/problem+json' }, NOT_WEBSOCKET);
    return;
  }
  const accept = createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
  const startedAt = options.clock();
  const count = (usage: GatewayUsage | null, upstreamStatus: number | null): void => {
    if (usage !== null) options.analytics.count(usage, upstreamStatus, options.clock() - startedAt, startedAt);
  };
  const caller = options.clientAddress(request);
  const decision = await gateway.decide({ host: request.headers.host, method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers, ip: caller.ip });
  // The caller left, or the server closed its tunnels, while the policy decided: nothing to open.
  if (socket.destroyed) return;
  if (decision.kind === 'refuse') {
    count(decision.usage, null);
    refuse(socket, decision.status, { ...decision.headers, 'content-type': decision.contentType }, JSON.stringify(decision.body));
    return;
  }
  const target = new URL(decision.query === '' ? decision.url : `${decision.url}?${decision.query}`);
  const headers = upstreamRequestHeaders(request.headers, {
    credentialHeader: decision.credentialHeader,
    identity: decision.identity,
    forwarded: { for: caller.ips.join(', '), proto: caller.proto, host: request.headers.host },
  });
  // The upgrade itself is hop-by-hop, and the one thing this request is for: asked again explicitly.
  headers['connection'] = 'Upgrade';
  headers['upgrade'] = 'websocket';
  headers['host'] = target.host;
  const port = Number(target.port) || (target.protocol === 'https:' ? 443 : 80);
  const refused = refusedHost(target.hostname, port, options.addresses);
  if (refused !== null) {
    options.log.warn({ code: refused.code, reason: refused.message }, 'gateway upgrade refused by the upstream address rules');
    count(decision.usage, 502);
    refuse(socket, 502, { 'content-type': 'application/problem+json' }, UPSTREAM_UNAVAILABLE);
    return;
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const upstream = send(target, { method: request.method, headers, timeout: options.timeoutMs, lookup: checkedLookup({ ...options.addresses, port }) });
  options.track(upstream);
  socket.once('close', () => upstream.destroy());
  upstream.on('timeout', () => upstream.destroy(new Error('upstream timeout')));
  upstream.on('error', (err: Error & { code?: string }) => {
    if (err.code === 'UPSTREAM_ADDRESS_REFUSED') options.log.warn({ code: err.code, reason: err.message }, 'gateway upgrade refused by the upstream address rules');
    if (!socket.writable) return;
    count(decision.usage, 502);
    refuse(socket, 502, { 'content-type': 'application/problem+json' }, UPSTREAM_UNAVAILABLE);
  });
  upstream.on('response', (response) => {
    count(decision.usage, response.statusCode ?? 502);
    // No upgrade: the upstream's answer (a 401 of its own, a 404) goes back, its body delimited by the connection's close.
    socket.write(statusLine(response.statusCode ?? 502) + rawHeaders(response.rawHeaders, ['transfer-encoding', 'connection', 'keep-alive']) + 'connection: close\r\n\r\n');
    response.pipe(socket);
  });
  upstream.on('upgrade', (response, upstreamSocket, upstreamHead) => {
    upstream.setTimeout(0);
    if (response.headers.upgrade?.toLowerCase() !== 'websocket' || response.headers['sec-websocket-accept'] !== accept) {
      // Not the WebSocket the caller asked for: nothing is joined.
      upstreamSocket.destroy();
      count(decision.usage, 502);
      refuse(socket, 502, { 'content-type': 'application/problem+json' }, UPSTREAM_UNAVAILABLE);
      return;
    }
    options.track(upstreamSocket);
    count(decision.usage, 101);
    socket.write(statusLine(101) + rawHeaders(response.rawHeaders) + '\r\n');
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstreamSocket.write(head);
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('error', () => upstreamSocket.destroy());
    upstreamSocket.on('close', () => socket.destroy());
    socket.on('close', () => upstreamSocket.destroy());
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });
  upstream.end();
}

function refuse(socket: Duplex, status: number, headers: Record<string, string>, body: string): void {
  if (!socket.writable) return;
  const lines = Object.entries({ ...headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close' }).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(statusLine(status) + lines.join('') + '\r\n' + body);
}

function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
}

function rawHeaders(raw: readonly string[], except: readonly string[] = []): string {
  let text = '';
  for (let i = 0; i < raw.length; i += 2) if (!except.includes(raw[i]!.toLowerCase())) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return text;
}
